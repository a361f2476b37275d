"""Plain snapshots of aggregates that application services hand out (never the aggregate)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID

from paylink_es.domain.fields import Customer, CustomField
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.money import Money
from paylink_es.domain.payment import Payment
from paylink_es.domain.terms import LineItem

T = TypeVar("T")


def snapshot(cls: type[T], source: object, **given: object) -> T:
    """The dataclass ``cls`` of plain values read off ``source``: each field the source's
    attribute of the same name, unless ``given`` (a copy, a call, another name)."""
    names = [each.name for each in fields(cls)]  # type: ignore[arg-type]
    unknown = set(given) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    return cls(**{name: given[name] if name in given else getattr(source, name) for name in names})


class Snapshot:
    """A frozen dataclass handed out instead of an aggregate: ``of(aggregate)`` reads each
    field off the aggregate's attribute of the same name, or with ``derived[field]`` where
    the snapshot's value is not simply that attribute."""

    derived: ClassVar[Mapping[str, Callable[[Any], object]]] = {}

    @classmethod
    def of(cls, source: Any) -> Self:
        """Snapshot ``source``."""
        return snapshot(
            cls, source, **{name: derive(source) for name, derive in cls.derived.items()}
        )


@dataclass(frozen=True)
class LinkDetails:
    """A payment link as it stands now."""

    id: UUID
    merchant_id: UUID
    code: str
    slug: str | None
    mode: str
    status: str
    currency: str
    description: str
    amount: int | None
    amount_min: int | None
    amount_max: int | None
    reference_id: str | None
    methods: list[str]
    expires_at: datetime | None
    usage_limit: int | None
    line_items: list[LineItem]
    customer: Customer | None
    success_url: str | None
    failure_url: str | None
    metadata: dict[str, str]
    sent_count: int
    opened_count: int
    uses: int
    flagged_count: int
    collected: int
    created_at: datetime
    version: int
    inactive_message: str | None = None  # what an inactive link's page says instead
    # What the page asks payers: customer details (part -> required/optional), own fields.
    customer_fields: dict[str, str] = field(default_factory=dict)
    custom_fields: list[CustomField] = field(default_factory=list)
    # Paid in parts: the least first part, the policy at expiry, what counts toward the
    # amount so far (0 for a link paid whole) and what is left (None for a link paid whole).
    allow_partial: bool = False
    partial_min: int | None = None
    partial_expiry: str | None = None
    amount_paid: int = 0
    amount_due: int | None = None
    payable_until: datetime | None = None  # the expiry, unless a part holds the link open

    @property
    def path(self) -> str:
        """What follows ``/l/`` in the link's address: its slug, else its code."""
        return self.slug or self.code

    @classmethod
    def of(cls, link: PaymentLink, now: datetime) -> LinkDetails:
        """Snapshot ``link`` as a customer would see it at ``now``."""
        return snapshot(
            cls,
            link,
            slug=getattr(link, "slug", None),  # a snapshot taken before slugs has none
            inactive_message=getattr(link, "inactive_message", None),
            status=link.status_at(now),
            methods=list(link.methods),
            line_items=list(link.line_items),
            metadata=dict(link.metadata),
            customer_fields=dict(getattr(link, "customer_fields", {})),
            custom_fields=list(getattr(link, "custom_fields", [])),
            flagged_count=len(link.flagged_payments),
            created_at=link.created_on,
            amount_due=link.left_to_pay(),
            payable_until=link.payable_until(),
        )


@dataclass(frozen=True)
class PaymentDetails(Snapshot):
    """A payment attempt as it stands now."""

    id: UUID
    merchant_id: UUID
    mode: str
    link_id: UUID
    method: str
    channel: str
    status: str
    amount: Money
    received: Money | None
    channel_ref: str | None
    paid_at: datetime | None
    anomaly: str | None
    disposition: str | None
    fee: Money | None
    net: Money | None
    refunded: Money
    rejection: str | None
    instructions: dict[str, str]
    created_at: datetime | None = None
    refundable: Money | None = None
    surcharge: Money | None = None
    withdrawn: str | None = None
    customer: Customer | None = None  # what the payer entered on the page
    custom_fields: dict[str, str] = field(default_factory=dict)

    derived: ClassVar[Mapping[str, Callable[[Payment], object]]] = {
        "instructions": lambda payment: dict(payment.instructions),
        "created_at": lambda payment: payment.created_on,
        "refundable": lambda payment: payment.refundable(),
        "surcharge": lambda payment: getattr(payment, "surcharge", None),
        "withdrawn": lambda payment: getattr(payment, "withdrawn", None),
        "customer": lambda payment: getattr(payment, "customer", None),
        "custom_fields": lambda payment: dict(getattr(payment, "custom_fields", {})),
    }


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued API key; the secret is shown this once and never stored."""

    key_id: UUID
    secret: str
    mode: str


@dataclass(frozen=True)
class KeyOwner:
    """Who an API key belongs to."""

    merchant_id: UUID
    key_id: UUID
    mode: str


@dataclass(frozen=True)
class PaymentOutcome:
    """What recording a channel's payment report did."""

    payment_id: UUID
    duplicate: bool
    anomaly: str | None
