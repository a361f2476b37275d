"""The terms of a payment link, checked once when a merchant asks for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from paylink_es.domain.errors import (
    AmountInvalidError,
    AmountRangeInvalidError,
    InvalidFieldError,
    PartialTermsInvalidError,
    UsageLimitInvalidError,
)
from paylink_es.domain.fields import (
    Customer,
    CustomField,
    check_custom_fields,
    check_customer,
    check_customer_fields,
)
from paylink_es.domain.methods import check_methods
from paylink_es.domain.money import MAX_MINOR_UNITS, check_currency, parse_minor_units
from paylink_es.domain.validation import (
    check_expiry,
    check_metadata,
    check_reference,
    check_slug,
    check_url,
    require_text,
)

MAX_USAGE_LIMIT = 1_000_000
MAX_LINE_ITEMS = 100
Mode = Literal["test", "live"]
# What becomes of a link paid in part when its expiry passes: it expires (what was paid
# stays credited), or it stays open until it is paid in full or cancelled.
EXPIRE, KEEP_OPEN = "expire", "keep_open"
PARTIAL_EXPIRY_POLICIES = (EXPIRE, KEEP_OPEN)
DEFAULT_PARTIAL_EXPIRY = EXPIRE


@dataclass(frozen=True)
class LineItem:
    """One line of what is being paid for."""

    name: str
    quantity: int
    unit_amount: int

    @property
    def total(self) -> int:
        """Quantity times unit amount, in minor units."""
        return self.quantity * self.unit_amount


@dataclass(frozen=True)
class LinkTerms:
    """Validated terms of a new link; construct it with :func:`link_terms`."""

    currency: str
    description: str
    amount: int | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    reference_id: str | None = None
    methods: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    usage_limit: int | None = 1
    line_items: list[LineItem] = field(default_factory=list)
    customer: Customer | None = None
    success_url: str | None = None
    failure_url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    mode: Mode = "test"
    slug: str | None = None
    # Paid in parts (a down payment first): the first part at least ``partial_min``;
    # ``partial_expiry`` None on a request means the merchant's policy.
    allow_partial: bool = False
    partial_min: int | None = None
    partial_expiry: str | None = None
    # What the page asks the payer: customer details (part -> required/optional) and the
    # merchant's own fields.
    customer_fields: dict[str, str] = field(default_factory=dict)
    custom_fields: list[CustomField] = field(default_factory=list)

    @property
    def is_open_amount(self) -> bool:
        """True when the customer chooses the amount within min/max."""
        return self.amount is None


def _line_items(value: object) -> list[LineItem]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidFieldError("line_items", "must be a list")
    if len(value) > MAX_LINE_ITEMS:
        raise InvalidFieldError("line_items", f"has {len(value)} items; the limit is 100")
    items = []
    for index, raw in enumerate(value):
        where = f"line_items[{index}]"
        if isinstance(raw, LineItem):
            raw = {"name": raw.name, "quantity": raw.quantity, "unit_amount": raw.unit_amount}
        if isinstance(raw, dict) and set(raw) - {"name", "quantity", "unit_amount"}:
            unknown = ", ".join(sorted(set(raw) - {"name", "quantity", "unit_amount"}))
            raise InvalidFieldError(where, f"unknown fields: {unknown}")
        if not isinstance(raw, dict):
            raise InvalidFieldError(where, "must be an object with name, quantity, unit_amount")
        quantity = raw.get("quantity", 1)
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= 10_000
        ):
            raise InvalidFieldError(f"{where}.quantity", "must be a whole number from 1 to 10000")
        items.append(
            LineItem(
                name=require_text(raw.get("name"), f"{where}.name", max_length=200),
                quantity=quantity,
                unit_amount=parse_minor_units(raw.get("unit_amount"), f"{where}.unit_amount"),
            )
        )
    return items


def _usage_limit(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageLimitInvalidError("usage_limit", "must be a whole number or null (unlimited)")
    if value < 1:
        raise UsageLimitInvalidError("usage_limit", f"must be at least 1, got {value}")
    if value > MAX_USAGE_LIMIT:
        raise UsageLimitInvalidError("usage_limit", f"must be at most {MAX_USAGE_LIMIT}")
    return value


def _amounts(
    amount: object, amount_min: object, amount_max: object, items: list[LineItem]
) -> tuple[int | None, int | None, int | None]:
    items_total = sum(item.total for item in items)
    if amount is None and items:
        if amount_min is not None or amount_max is not None:
            raise AmountRangeInvalidError("amount_min", "line items fix the amount; drop min/max")
        if items_total > MAX_MINOR_UNITS:
            raise AmountInvalidError("line_items", "add up to more than the amount limit")
        return items_total, None, None
    if amount is not None:
        if amount_min is not None or amount_max is not None:
            raise AmountRangeInvalidError(
                "amount", "give either a fixed amount or amount_min/amount_max, not both"
            )
        fixed = parse_minor_units(amount, "amount")
        if items and items_total != fixed:
            raise AmountInvalidError(
                "line_items", f"add up to {items_total}, but amount is {fixed}"
            )
        return fixed, None, None
    if amount_min is None:
        if amount_max is not None:
            parse_minor_units(amount_max, "amount_max")  # a bad maximum is named first
            raise AmountRangeInvalidError(
                "amount_min", "is required with amount_max: the least the payer may pay"
            )
        raise AmountInvalidError(
            "amount",
            "is required: give amount (or line_items), or amount_min (and optionally "
            "amount_max) for an amount the payer chooses",
        )
    low = parse_minor_units(amount_min, "amount_min")
    high = parse_minor_units(amount_max, "amount_max") if amount_max is not None else None
    if high is not None and low > high:
        raise AmountRangeInvalidError("amount_min", f"{low} is greater than amount_max {high}")
    return None, low, high


def check_partial_expiry(value: object, field: str = "partial_expiry") -> str | None:
    """``expire`` or ``keep_open`` (what a link paid in part does at its expiry), or None."""
    if value is None:
        return None
    if value not in PARTIAL_EXPIRY_POLICIES:
        raise InvalidFieldError(field, "must be 'expire' or 'keep_open'")
    return str(value)


def _partial(
    raw: dict[str, Any], amount: int | None, items: list[LineItem], usage_limit: int | None
) -> tuple[bool, int | None, str | None]:
    """``allow_partial``, ``partial_min`` and ``partial_expiry``, checked against the
    amount: only a fixed amount without line items, used once, is paid in parts."""
    allow = raw.get("allow_partial", False)
    if not isinstance(allow, bool):
        raise InvalidFieldError("allow_partial", "must be true or false")
    least, policy = raw.get("partial_min"), check_partial_expiry(raw.get("partial_expiry"))
    if not allow:
        for name, value in (("partial_min", least), ("partial_expiry", policy)):
            if value is not None:
                raise PartialTermsInvalidError(
                    name,
                    "is only for a link paid in parts: set allow_partial to true",
                    kind="partial_whole",
                )
        return False, None, None
    refusal = _partial_refusal(amount, items, usage_limit, least)
    if refusal is not None:
        field, message, kind = refusal
        raise PartialTermsInvalidError(field, message, kind=kind)
    first = parse_minor_units(least, "partial_min")
    if amount is not None and first > amount:
        raise PartialTermsInvalidError(
            "partial_min", f"{first} is more than the amount {amount}", kind="partial_above"
        )
    return True, first, policy


def _partial_refusal(
    amount: int | None, items: list[LineItem], usage_limit: int | None, least: object
) -> tuple[str, str, str] | None:
    """Why terms cannot be paid in parts: (field, message, kind), or None."""
    if amount is None:
        return (
            "allow_partial",
            "partial payments pay a fixed amount in parts; this link lets the payer choose "
            "the amount (amount_min/amount_max): give a fixed amount",
            "partial_open_amount",
        )
    if items:
        return (
            "allow_partial",
            "line items are paid for whole; a link paid in parts takes a fixed amount "
            "without line_items",
            "partial_line_items",
        )
    if usage_limit != 1:
        return (
            "usage_limit",
            "a link paid in parts is one use, complete when paid in full: usage_limit must be 1",
            "partial_usage_limit",
        )
    if least is None:
        return (
            "partial_min",
            "is required with allow_partial: the least the first payment may be",
            "partial_min_required",
        )
    return None


def link_terms(now: datetime, **raw: Any) -> LinkTerms:
    """Check every field of a link request; raise a named domain error on the first bad one.

    ``amount`` (or ``line_items``) fixes the price; an amount the payer chooses is asked
    for explicitly with ``amount_min`` (and optionally ``amount_max``): a link with none
    of these is refused, never made pay-anything from Rp 1. ``usage_limit`` defaults to
    1 (single use); ``None`` means unlimited. ``allow_partial`` (with ``partial_min``, the
    least first payment) lets a fixed amount be paid in parts.
    """
    known = set(LinkTerms.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise InvalidFieldError(sorted(unknown)[0], "is not a field of a payment link")
    items = _line_items(raw.get("line_items"))
    amount, amount_min, amount_max = _amounts(
        raw.get("amount"), raw.get("amount_min"), raw.get("amount_max"), items
    )
    mode = raw.get("mode", "test")
    if mode not in ("test", "live"):
        raise InvalidFieldError("mode", "must be 'test' or 'live'")
    usage_limit = _usage_limit(raw.get("usage_limit", 1))
    allow_partial, partial_min, partial_expiry = _partial(raw, amount, items, usage_limit)
    return LinkTerms(
        currency=check_currency(raw.get("currency", "IDR")),
        description=require_text(
            raw.get("description"), "description", max_length=1000, multiline=True
        ),
        amount=amount,
        amount_min=amount_min,
        amount_max=amount_max,
        reference_id=check_reference(raw.get("reference_id")),
        methods=check_methods(raw.get("methods")),
        expires_at=check_expiry(raw.get("expires_at"), now),
        usage_limit=usage_limit,
        line_items=items,
        customer=check_customer(raw.get("customer")),
        success_url=check_url(raw.get("success_url"), "success_url"),
        failure_url=check_url(raw.get("failure_url"), "failure_url"),
        metadata=check_metadata(raw.get("metadata")),
        mode=mode,
        slug=check_slug(raw.get("slug")),
        allow_partial=allow_partial,
        partial_min=partial_min,
        partial_expiry=partial_expiry,
        customer_fields=check_customer_fields(raw.get("customer_fields")),
        custom_fields=check_custom_fields(raw.get("custom_fields")),
    )
