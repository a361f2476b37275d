"""The create-link form: browser fields in, the fields of ``create_link`` out.

Only the shape of the form is checked here (is it a number, a date, key=value); what a
link may be is decided once, by the domain's ``link_terms``. Every message names the
form field it is about, so the page can put it beside that field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from paylink_es.locale import WIB

ITEM_ROWS = 5
_GROUPED = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_ITEM_FIELD = re.compile(r"line_items\[(\d+)\]\.(name|quantity|unit_amount)")
ITEM_INPUT = {"name": "item_name", "quantity": "item_qty", "unit_amount": "item_unit"}


@dataclass
class LinkForm:
    """What was typed (to show again) and what it means (to create the link)."""

    values: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    item_rows: list[int] = field(default_factory=list)  # form row of each line item sent

    def input_for(self, field_name: str | None) -> str:
        """The input a domain error's field belongs to (``customer.email`` → customer_email)."""
        if not field_name:
            return "form"
        item = _ITEM_FIELD.fullmatch(field_name)
        if item is not None:
            index = int(item.group(1))
            row = self.item_rows[index] if index < len(self.item_rows) else index
            return f"{ITEM_INPUT[item.group(2)]}_{row}"
        head = re.split(r"[\[. ]", field_name, maxsplit=1)[0]
        if head == "customer":
            return field_name.replace(".", "_")
        return {"line_items": "item_name_0"}.get(head, head)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _whole(text: str, currency: str) -> int | None:
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
            "customer_name",
            "customer_email",
            "customer_phone",
            "success_url",
            "failure_url",
            "metadata",
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
        key: values[f"customer_{key}"]
        for key in ("name", "email", "phone")
        if values[f"customer_{key}"]
    }
    if customer:
        fields["customer"] = customer
    for name in ("success_url", "failure_url"):
        if values[name]:
            fields[name] = values[name]
    _metadata(parsed, words)
    return parsed


def _amounts(parsed: LinkForm, currency: str, words: dict[str, str]) -> None:
    kind = parsed.values["amount_kind"] or "fixed"
    names = {"fixed": ("amount",), "open": ("amount_min", "amount_max"), "items": ()}
    for name in names.get(kind, ("amount",)):
        text = parsed.values[name]
        if not text:
            if name == "amount":
                parsed.errors[name] = words["required"]
            continue
        number = _whole(text, currency)
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
        number = _whole(parsed.values["usage_limit"], "")
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
        quantity = _whole(item["quantity"] or "1", "")
        unit = _whole(item["unit_amount"], currency)
        if quantity is None:
            parsed.errors[f"item_qty_{row}"] = words["must_be_number"]
        if unit is None:
            parsed.errors[f"item_unit_{row}"] = words["must_be_number"]
        if quantity is not None and unit is not None:
            items.append({"name": item["name"], "quantity": quantity, "unit_amount": unit})
            parsed.item_rows.append(row)
    if items:
        parsed.fields["line_items"] = items


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


def domain_message(message: str, field_name: str | None) -> str:
    """A domain error's message without its ``field: `` prefix (the page shows the label)."""
    if field_name and message.startswith(f"{field_name}: "):
        return message[len(field_name) + 2 :]
    return message
