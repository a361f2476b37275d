"""What a link asks of its payers: customer details and up to three custom fields.

A link says which customer details its page asks for (name, email, phone, address), each
``required`` or ``optional`` (a detail it does not name is not asked), and defines up to
:data:`MAX_CUSTOM_FIELDS` fields of its own: a key, a type (``text``, ``number`` or
``dropdown``), a label per language, whether it is required, and a dropdown's options.
The definitions are checked when the link is made or edited (:func:`check_customer_fields`,
:func:`check_custom_fields`); what a payer enters is checked against them when the payment
starts (:func:`check_answers`), and a bad answer is an :class:`AnswerInvalidError` that
says why in a word the page can put in the payer's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from paylink_es.domain.errors import AnswerInvalidError, InvalidFieldError
from paylink_es.domain.validation import check_email, check_text, normalise_phone, require_text

REQUIRED: Final = "required"
OPTIONAL: Final = "optional"
FieldRule = Literal["required", "optional"]
CUSTOMER_PARTS: Final = ("name", "email", "phone", "address")
FIELD_TYPES: Final = ("text", "number", "dropdown")
LABEL_LANGUAGES: Final = ("id", "en")
MAX_CUSTOM_FIELDS: Final = 3
MAX_OPTIONS: Final = 20
KEY_LENGTH: Final = 40
LABEL_LENGTH: Final = 80
OPTION_LENGTH: Final = 100
# The longest answer a payer may give, by customer detail or custom field type.
ANSWER_LENGTH: Final = {"name": 200, "email": 254, "phone": 32, "address": 500, "text": 200}
NUMBER_LENGTH: Final = 24
_KEY = re.compile(r"[a-z][a-z0-9_]*")
_NUMBER = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,6})?")
_DEFINITION = frozenset({"key", "type", "label", "required", "options"})


@dataclass(frozen=True)
class Customer:
    """Who pays: the details a merchant names on a link (who it expects to pay) or a payer
    enters on the page; every part optional."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class CustomField:
    """A question of the merchant's own on a link's page (``student_id``, ``class``…)."""

    key: str
    type: str
    label: dict[str, str]
    required: bool = False
    options: list[str] = field(default_factory=list)

    @property
    def limit(self) -> int:
        """The longest answer it takes."""
        return {"number": NUMBER_LENGTH, "dropdown": OPTION_LENGTH}.get(
            self.type, ANSWER_LENGTH["text"]
        )

    def label_in(self, language: str) -> str:
        """The label in ``language``, else in the other language it was given in."""
        return self.label.get(language) or next(iter(self.label.values()))


class Asks(Protocol):
    """What a link asks of its payers (a link, or a snapshot of one)."""

    @property
    def customer_fields(self) -> dict[str, str]: ...
    @property
    def custom_fields(self) -> list[CustomField]: ...


def _part(part: str, value: object, where: str) -> str | None:
    """One customer detail, checked and normalised (the phone to E.164)."""
    if part == "email":
        return check_email(value, where)
    if part == "phone":
        return normalise_phone(value, where)
    multiline = part == "address"
    return check_text(
        value, where, max_length=ANSWER_LENGTH[part], required=False, multiline=multiline
    )


def check_customer(value: object, where: str = "customer") -> Customer | None:
    """The customer a link names (any of name, email, phone, address); None when empty."""
    if value is None:
        return None
    if isinstance(value, Customer):
        value = vars(value)
    if not isinstance(value, Mapping):
        raise InvalidFieldError(where, f"must be an object with {', '.join(CUSTOMER_PARTS)}")
    unknown = sorted(str(key)[:KEY_LENGTH] for key in value if key not in CUSTOMER_PARTS)
    if unknown:
        raise InvalidFieldError(where, f"unknown fields: {', '.join(unknown)}")
    customer = Customer(
        **{part: _part(part, value.get(part), f"{where}.{part}") for part in CUSTOMER_PARTS}
    )
    return None if customer == Customer() else customer


def check_customer_fields(value: object, where: str = "customer_fields") -> dict[str, str]:
    """Which customer details a link asks for: ``{"name": "required", "phone": "optional"}``
    (a detail given as None, or not given, is not asked), in :data:`CUSTOMER_PARTS` order."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidFieldError(
            where, f"must be an object naming any of {', '.join(CUSTOMER_PARTS)}"
        )
    for key in value:
        if key not in CUSTOMER_PARTS:
            shown = str(key)[:KEY_LENGTH]
            raise InvalidFieldError(
                where, f"{shown!r} is not a customer detail ({', '.join(CUSTOMER_PARTS)})"
            )
    asked: dict[str, str] = {}
    for part in CUSTOMER_PARTS:
        rule = value.get(part)
        if rule is None:
            continue
        if rule not in (REQUIRED, OPTIONAL):
            raise InvalidFieldError(
                f"{where}.{part}",
                "must be 'required' or 'optional' (or null: not asked)",
                kind="rule",
            )
        asked[part] = str(rule)
    return asked


def check_custom_fields(value: object, where: str = "custom_fields") -> list[CustomField]:
    """A link's own fields: at most :data:`MAX_CUSTOM_FIELDS`, keys unique; each error
    names the exact place (``custom_fields[1].options``)."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidFieldError(where, f"must be a list of at most {MAX_CUSTOM_FIELDS} fields")
    if len(value) > MAX_CUSTOM_FIELDS:
        raise InvalidFieldError(where, f"has {len(value)} fields; the limit is {MAX_CUSTOM_FIELDS}")
    checked: list[CustomField] = []
    for index, raw in enumerate(value):
        definition = _definition(raw, f"{where}[{index}]")
        for earlier, other in enumerate(checked):
            if other.key == definition.key:
                raise InvalidFieldError(
                    f"{where}[{index}].key",
                    f"{definition.key!r} is already the key of {where}[{earlier}]",
                    kind="key_taken",
                )
        checked.append(definition)
    return checked


def _definition(raw: object, where: str) -> CustomField:
    if isinstance(raw, CustomField):
        raw = vars(raw)
    if not isinstance(raw, Mapping):
        raise InvalidFieldError(where, "must be an object with key, type, label")
    unknown = sorted(str(key)[:KEY_LENGTH] for key in raw if key not in _DEFINITION)
    if unknown:
        raise InvalidFieldError(where, f"unknown fields: {', '.join(unknown)}")
    key = raw.get("key")
    if not isinstance(key, str) or len(key) > KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidFieldError(
            f"{where}.key",
            f"must be 1-{KEY_LENGTH} lower-case letters, digits or _, starting with a letter",
            kind="key",
        )
    kind = raw.get("type")
    if kind not in FIELD_TYPES:
        raise InvalidFieldError(
            f"{where}.type", f"must be one of {', '.join(FIELD_TYPES)}", kind="type"
        )
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise InvalidFieldError(f"{where}.required", "must be true or false")
    return CustomField(
        key=key,
        type=str(kind),
        label=_label(raw.get("label"), f"{where}.label"),
        required=required,
        options=_options(raw.get("options"), str(kind), f"{where}.options"),
    )


def _label(value: object, where: str) -> dict[str, str]:
    """A label in Indonesian and/or English: ``{"id": "NIS", "en": "Student ID"}``."""
    if not isinstance(value, Mapping):
        raise InvalidFieldError(where, "must be an object with id and/or en")
    unknown = sorted(str(key)[:KEY_LENGTH] for key in value if key not in LABEL_LANGUAGES)
    if unknown:
        raise InvalidFieldError(where, f"unknown languages: {', '.join(unknown)} (id, en)")
    label: dict[str, str] = {}
    for language in LABEL_LANGUAGES:
        text = check_text(
            value.get(language), f"{where}.{language}", max_length=LABEL_LENGTH, required=False
        )
        if text is not None:
            label[language] = text
    if not label:
        raise InvalidFieldError(where, "must give the label in id, en or both", kind="label")
    return label


def _options(value: object, kind: str, where: str) -> list[str]:
    """A dropdown's 1-20 options, each 1-100 characters and given once; none for the rest."""
    if kind != "dropdown":
        if value is not None and value != []:
            raise InvalidFieldError(
                where, f"only a dropdown has options, not a {kind} field", kind="no_options"
            )
        return []
    if not isinstance(value, list | tuple) or not value:
        raise InvalidFieldError(
            where, f"a dropdown needs a list of 1-{MAX_OPTIONS} options", kind="options"
        )
    if len(value) > MAX_OPTIONS:
        raise InvalidFieldError(
            where,
            f"has {len(value)} options; the limit is {MAX_OPTIONS}",
            kind="options",
        )
    options: list[str] = []
    for index, raw in enumerate(value):
        option = require_text(raw, f"{where}[{index}]", max_length=OPTION_LENGTH)
        if option in options:
            raise InvalidFieldError(
                f"{where}[{index}]", f"repeats {where}[{options.index(option)}]", kind="repeated"
            )
        options.append(option)
    return options


# -- what a payer enters -----------------------------------------------------------------


def check_answers(
    asks: Asks,
    customer: Mapping[str, object] | None,
    custom: Mapping[str, object] | None,
) -> tuple[Customer | None, dict[str, str]]:
    """The payer's customer details and custom field values, checked against what the link
    asks: a required one given, each well formed (the phone in E.164, a number a number, a
    dropdown's value one of its options); an empty optional one is left out. Anything the
    link does not ask is refused. Raises :class:`AnswerInvalidError` on the first bad one.
    """
    given = dict(customer or {})
    for part in given:
        if part not in asks.customer_fields:
            shown = str(part)[:KEY_LENGTH]
            raise InvalidFieldError("customer", f"{shown!r} is not asked by this link")
    parts: dict[str, str] = {}
    for part, rule in asks.customer_fields.items():
        answer = _answer(part, given.get(part), f"customer.{part}", rule == REQUIRED)
        if answer is not None:
            parts[part] = answer
    values = dict(custom or {})
    keys = {definition.key for definition in asks.custom_fields}
    for key in values:
        if key not in keys:
            shown = str(key)[:KEY_LENGTH]
            raise InvalidFieldError("custom_fields", f"{shown!r} is not a field of this link")
    answers: dict[str, str] = {}
    for definition in asks.custom_fields:
        answer = _custom_answer(definition, values.get(definition.key))
        if answer is not None:
            answers[definition.key] = answer
    return (Customer(**parts) if parts else None), answers


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _answer(part: str, value: object, where: str, required: bool) -> str | None:
    """One customer detail a payer entered (None: left empty, and optional)."""
    if _blank(value):
        if required:
            raise AnswerInvalidError(where, "is required", kind="required")
        return None
    try:
        return _part(part, value, where)
    except InvalidFieldError as error:  # too long, not text, not an e-mail address or a phone
        raise _answer_error(error, where) from None


def _custom_answer(definition: CustomField, value: object) -> str | None:
    """One custom field's value as entered (None: left empty, and optional)."""
    where = f"custom_fields.{definition.key}"
    if _blank(value):
        if definition.required:
            raise AnswerInvalidError(where, "is required", kind="required")
        return None
    try:
        text = require_text(value, where, max_length=definition.limit)
    except InvalidFieldError as error:
        raise _answer_error(error, where) from None
    if definition.type == "number" and not _NUMBER.fullmatch(text):
        raise AnswerInvalidError(where, "must be a number, like 12 or 2.5", kind="number")
    if definition.type == "dropdown" and text not in definition.options:
        raise AnswerInvalidError(where, "must be one of the field's options", kind="option")
    return text


def _answer_error(error: InvalidFieldError, where: str) -> AnswerInvalidError:
    """A check's error as a bad answer, of the same kind (``not_text`` when it named none)."""
    message = error.message.removeprefix(f"{where}: ")
    return AnswerInvalidError(where, message, kind=error.kind or "not_text", **error.params)
