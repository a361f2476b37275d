"""The create-link and edit-link forms: browser fields in, the fields of ``create_link``
(or the changes of ``links.edit``) out.

Only the shape of the form is checked here (is it a number, a date, key=value); what a
link may be is decided once, by the domain's ``link_terms``. Every message names the
form field it is about, so the page can put it beside that field. The edit form is the
create form's inputs for what an edit may change, read by the same parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from paylink_es.application.details import LinkDetails
from paylink_es.domain.errors import DomainError, InvalidFieldError
from paylink_es.domain.fields import CUSTOMER_PARTS, LABEL_LANGUAGES, MAX_CUSTOM_FIELDS
from paylink_es.domain.link import EDITABLE
from paylink_es.locale import WIB, Language
from paylink_es.locale.dashboard import error_said
from paylink_es.notify import CHANNELS, NewLinkMessages

ITEM_ROWS = 5
CUSTOM_ROWS = MAX_CUSTOM_FIELDS
_GROUPED = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_ITEM_FIELD = re.compile(r"line_items\[(\d+)\]\.(name|quantity|unit_amount)")
ITEM_INPUT = {"name": "item_name", "quantity": "item_qty", "unit_amount": "item_unit"}
# Paid in parts: the box, the least first part and the policy at the expiry.
PARTIAL_INPUTS = ("allow_partial", "partial_min", "partial_expiry")
# The create form's inputs that send the new link and remind its customer.
MESSAGE_INPUTS = ("notify_email", "notify_whatsapp", "notify_sms", "notify_language", "reminders")
_LIST = re.compile(r"[\s,;]+")
# custom_fields[1].label.en -> (1, "label", "en"); custom_fields[0].options[2] -> (0, "options")
_CUSTOM_FIELD = re.compile(r"custom_fields\[(\d+)\](?:\.(\w+)(?:\.(\w+))?)?.*")
# One custom field's inputs of a form row: cf_<part>_<row>.
CUSTOM_PARTS = ("key", "type", "label_id", "label_en", "required", "options")
CUSTOMER_INPUTS = tuple(f"customer_{part}" for part in CUSTOMER_PARTS)
ASK_INPUTS = tuple(f"ask_{part}" for part in CUSTOMER_PARTS)
# The inputs of the terms an edit may change that are not one input of the same name.
TERM_INPUTS: dict[str, tuple[str, ...]] = {
    "customer": CUSTOMER_INPUTS,
    "customer_fields": ASK_INPUTS,
    "custom_fields": tuple(
        f"cf_{part}_{row}" for part in CUSTOM_PARTS for row in range(CUSTOM_ROWS)
    ),
}
# The inputs of the edit form: what an edit may change (and "form", for what belongs to
# none of them).
EDIT_INPUTS = frozenset({"form"}.union(*(TERM_INPUTS.get(name, (name,)) for name in EDITABLE)))


@dataclass
class LinkForm:
    """What was typed (to show again) and what it means (to create the link)."""

    values: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    item_rows: list[int] = field(default_factory=list)  # form row of each line item sent
    custom_rows: list[int] = field(default_factory=list)  # form row of each custom field sent

    def input_for(self, field_name: str | None) -> str:
        """The input a domain error's field belongs to (``customer.email`` → customer_email,
        ``customer_fields.phone`` → ask_phone, ``custom_fields[0].options`` → cf_options_0)."""
        if not field_name:
            return "form"
        item = _ITEM_FIELD.fullmatch(field_name)
        if item is not None:
            return f"{ITEM_INPUT[item.group(2)]}_{_row(self.item_rows, item.group(1))}"
        custom = _CUSTOM_FIELD.fullmatch(field_name)
        if custom is not None:
            part = custom.group(2) or "key"
            if part == "label":
                part = f"label_{custom.group(3) or 'id'}"
            part = part if part in CUSTOM_PARTS else "key"
            return f"cf_{part}_{_row(self.custom_rows, custom.group(1))}"
        head = re.split(r"[\[. ]", field_name, maxsplit=1)[0]
        if head == "customer":
            return field_name.replace(".", "_")
        part = field_name.partition(".")[2]
        if head == "customer_fields" and part in CUSTOMER_PARTS:
            return f"ask_{part}"
        # What the page asks as a whole (a link with payments keeps it): the form's.
        return {
            "line_items": "item_name_0",
            "customer_fields": "form",
            "custom_fields": "form",
        }.get(head, head)


def _row(rows: list[int], index: str) -> int:
    """The form row of the ``index``-th entry sent (rows left empty are not sent)."""
    number = int(index)
    return rows[number] if number < len(rows) else number


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def whole_number(text: str, currency: str) -> int | None:
    """A whole number as people type it (150000, or 150.000 in rupiah); None if it is not."""
    compact = text.replace(" ", "").replace("_", "")
    if currency == "IDR" and _GROUPED.fullmatch(compact):
        compact = compact.replace(".", "").replace(",", "")
    return int(compact) if compact.isdigit() and len(compact) <= 20 else None


def parse_link_form(form: FormData, words: dict[str, str]) -> LinkForm:
    """Read the form; shape errors go in ``errors`` keyed by input name."""
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in (
            "description",
            "amount_kind",
            "amount",
            "amount_min",
            "amount_max",
            "currency",
            "reference_id",
            "slug",
            "expires_at",
            "usage",
            "usage_limit",
            *CUSTOMER_INPUTS,
            *ASK_INPUTS,
            "success_url",
            "failure_url",
            "metadata",
            *PARTIAL_INPUTS,
        )
    }
    values["methods"] = [m for m in form.getlist("methods") if isinstance(m, str)]
    values["items"] = [
        {
            "name": _text(form, f"item_name_{row}"),
            "quantity": _text(form, f"item_qty_{row}"),
            "unit_amount": _text(form, f"item_unit_{row}"),
        }
        for row in range(ITEM_ROWS)
    ]
    values["custom"] = [
        {part: _text(form, f"cf_{part}_{row}") for part in CUSTOM_PARTS}
        for row in range(CUSTOM_ROWS)
    ]
    parsed = LinkForm(values)
    currency = values["currency"] or "IDR"
    fields = parsed.fields
    fields["currency"] = currency
    fields["description"] = values["description"]
    if not values["description"]:
        parsed.errors["description"] = words["required"]
    _amounts(parsed, currency, words)
    if values["reference_id"]:
        fields["reference_id"] = values["reference_id"]
    if values["slug"]:
        fields["slug"] = values["slug"]
    if values["methods"]:
        fields["methods"] = values["methods"]
    else:
        parsed.errors["methods"] = words["required"]
    _expiry(parsed, words)
    _usage(parsed, words)
    if values["amount_kind"] != "open":  # the form hides the items for an open amount
        _items(parsed, currency, words)
    customer = {
        part: values[f"customer_{part}"] for part in CUSTOMER_PARTS if values[f"customer_{part}"]
    }
    if customer:
        fields["customer"] = customer
    _asks(parsed)
    for name in ("success_url", "failure_url"):
        if values[name]:
            fields[name] = values[name]
    _metadata(parsed, words)
    _partial(parsed, currency, words)
    return parsed


def _partial(parsed: LinkForm, currency: str, words: dict[str, str]) -> None:
    """Paid in parts when the box is ticked: the least first part is then required."""
    values, fields = parsed.values, parsed.fields
    fields["allow_partial"] = bool(values["allow_partial"])
    if not fields["allow_partial"]:
        return
    if not values["partial_min"]:
        parsed.errors["partial_min"] = words["required"]
    elif (least := whole_number(values["partial_min"], currency)) is None:
        parsed.errors["partial_min"] = words["must_be_number"]
    else:
        fields["partial_min"] = least
    if values["partial_expiry"]:
        fields["partial_expiry"] = values["partial_expiry"]


def _amounts(parsed: LinkForm, currency: str, words: dict[str, str]) -> None:
    kind = parsed.values["amount_kind"] or "fixed"
    names = {"fixed": ("amount",), "open": ("amount_min", "amount_max"), "items": ()}
    for name in names.get(kind, ("amount",)):
        text = parsed.values[name]
        if not text:
            if name == "amount":
                parsed.errors[name] = words["required"]
            continue
        number = whole_number(text, currency)
        if number is None:
            parsed.errors[name] = words["must_be_number"]
        else:
            parsed.fields[name] = number


def _expiry(parsed: LinkForm, words: dict[str, str]) -> None:
    text = parsed.values["expires_at"]
    if not text:
        return
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        parsed.errors["expires_at"] = words["bad_instant"]
        return
    # A datetime-local input has no zone: the merchant means Jakarta time.
    parsed.fields["expires_at"] = instant if instant.tzinfo else instant.replace(tzinfo=WIB)


def _usage(parsed: LinkForm, words: dict[str, str]) -> None:
    usage = parsed.values["usage"] or "single"
    if usage == "unlimited":
        parsed.fields["usage_limit"] = None
    elif usage == "many":
        number = whole_number(parsed.values["usage_limit"], "")
        if number is None:
            parsed.errors["usage_limit"] = words["must_be_number"]
        else:
            parsed.fields["usage_limit"] = number
    else:
        parsed.fields["usage_limit"] = 1


def _items(parsed: LinkForm, currency: str, words: dict[str, str]) -> None:
    items = []
    for row, item in enumerate(parsed.values["items"]):
        if not any(item.values()):
            continue
        quantity = whole_number(item["quantity"] or "1", "")
        unit = whole_number(item["unit_amount"], currency)
        if quantity is None:
            parsed.errors[f"item_qty_{row}"] = words["must_be_number"]
        if unit is None:
            parsed.errors[f"item_unit_{row}"] = words["must_be_number"]
        if quantity is not None and unit is not None:
            items.append({"name": item["name"], "quantity": quantity, "unit_amount": unit})
            parsed.item_rows.append(row)
    if items:
        parsed.fields["line_items"] = items


def _asks(parsed: LinkForm) -> None:
    """What the link's page asks payers: customer details (``ask_<part>``: empty for not
    asked, ``optional``, ``required``) and the custom fields of the rows filled in."""
    values = parsed.values
    parsed.fields["customer_fields"] = {
        part: values[f"ask_{part}"] for part in CUSTOMER_PARTS if values[f"ask_{part}"]
    }
    definitions = []
    for row, given in enumerate(values["custom"]):
        if not any(given[part] for part in ("key", "label_id", "label_en", "options")):
            continue
        definition: dict[str, Any] = {
            "key": given["key"],
            "type": given["type"] or "text",
            "label": {
                lang: given[f"label_{lang}"] for lang in LABEL_LANGUAGES if given[f"label_{lang}"]
            },
            "required": bool(given["required"]),
        }
        options = [line.strip() for line in given["options"].splitlines() if line.strip()]
        if options or definition["type"] == "dropdown":
            definition["options"] = options
        definitions.append(definition)
        parsed.custom_rows.append(row)
    parsed.fields["custom_fields"] = definitions


def _metadata(parsed: LinkForm, words: dict[str, str]) -> None:
    text = parsed.values["metadata"]
    if not text:
        return
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            parsed.errors["metadata"] = words["bad_line"].format(line=number)
            return
        pairs[key.strip()] = value.strip()
    parsed.fields["metadata"] = pairs


def error_text(error: DomainError, words: dict[str, str]) -> str:
    """What the form says beside an input about a domain error, in the page's language: by
    its kind when the domain names one (``why_<kind>``), else by its type (``err_<type>``)."""
    if isinstance(error, InvalidFieldError) and error.kind is not None:
        said = words.get(f"why_{error.kind}")
        if said is not None:
            return said.format(**error.params)
    return error_said(words, error)


def _minute(instant: datetime | None) -> str:
    """An instant as a ``datetime-local`` input shows it: Jakarta time, to the minute."""
    return instant.astimezone(WIB).strftime("%Y-%m-%dT%H:%M") if instant is not None else ""


def edit_values(link: LinkDetails) -> dict[str, Any]:
    """The edit form's inputs as the link stands (what the form is prefilled with)."""
    customer = link.customer
    custom = [
        {
            "key": definition.key,
            "type": definition.type,
            **{f"label_{lang}": definition.label.get(lang, "") for lang in LABEL_LANGUAGES},
            "required": "on" if definition.required else "",
            "options": "\n".join(definition.options),
        }
        for definition in link.custom_fields
    ]
    return {
        "description": link.description,
        "amount_kind": "fixed" if link.amount is not None else "open",
        "amount": str(link.amount) if link.amount is not None else "",
        "amount_min": str(link.amount_min) if link.amount_min is not None else "",
        "amount_max": str(link.amount_max) if link.amount_max is not None else "",
        "currency": link.currency,
        "methods": list(link.methods),
        "expires_at": _minute(link.expires_at),
        **{
            f"customer_{part}": (getattr(customer, part) if customer else None) or ""
            for part in CUSTOMER_PARTS
        },
        **{f"ask_{part}": link.customer_fields.get(part, "") for part in CUSTOMER_PARTS},
        "custom": custom,
        "allow_partial": "on" if link.allow_partial else "",
        "partial_min": str(link.partial_min) if link.partial_min is not None else "",
        "partial_expiry": link.partial_expiry or "",
    }


def edit_changes(form: LinkForm, before: dict[str, Any]) -> dict[str, Any]:
    """The changes of ``links.edit`` an edit form asks for (read by :func:`parse_link_form`,
    without errors), given what it was prefilled with (:func:`edit_values`).

    Text, amounts, currency, customer, what the page asks payers and whether the link is
    paid in parts are always given: the domain compares them with the link as it stands (a
    repeated value changes nothing). Methods are given when their set changed (the form
    lists them in the catalogue's order), the expiry when its text changed (the input
    keeps minutes, the link may have seconds).
    """
    fields, values = form.fields, form.values
    changes: dict[str, Any] = {
        "description": fields["description"],
        "currency": fields["currency"],
        "customer": fields.get("customer"),
        "customer_fields": fields["customer_fields"],
        "custom_fields": fields["custom_fields"],
    }
    if values["amount_kind"] == "open":
        changes["amount_min"] = fields.get("amount_min")
        changes["amount_max"] = fields.get("amount_max")
    else:
        changes["amount"] = fields.get("amount")
    if set(values["methods"]) != set(before["methods"]):
        changes["methods"] = fields.get("methods", [])
    if values["expires_at"] != before["expires_at"]:
        changes["expires_at"] = fields.get("expires_at")
    changes["allow_partial"] = fields["allow_partial"]
    if fields["allow_partial"]:
        changes["partial_min"] = fields.get("partial_min")
        changes["partial_expiry"] = fields.get("partial_expiry")
    return changes


def split_list(text: str) -> list[str]:
    """What a person typed as a list (``24h, 1h`` or ``24h 1h``), its parts."""
    return [part for part in _LIST.split(text) if part]


def parse_link_messages(
    form: FormData, parsed: LinkForm, words: dict[str, str]
) -> NewLinkMessages | None:
    """Where to send the new link, and its reminders, from the create form's inputs for
    them; None when it asks for neither, or when one is wrong (its error in ``parsed``,
    beside the input: ``notify_whatsapp``, ``reminders``)."""
    values = {name: _text(form, name) for name in MESSAGE_INPUTS}
    parsed.values.update(values)
    notify: dict[str, str] = {
        channel: values[f"notify_{channel}"] for channel in CHANNELS if values[f"notify_{channel}"]
    }
    reminders = split_list(values["reminders"]) or None
    if not notify and reminders is None:
        return None
    language: Language = "en" if values["notify_language"] == "en" else "id"
    try:
        return NewLinkMessages.check(notify, reminders, language)
    except InvalidFieldError as error:
        field_name = error.field or "reminders"
        name = field_name.replace(".", "_") if field_name.startswith("notify.") else "reminders"
        parsed.errors[name] = error_text(error, words)
        return None
