"""Plain snapshots of aggregates that application services hand out (never the aggregate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from paylink_es.domain.link import PaymentLink
from paylink_es.domain.money import Money
from paylink_es.domain.payment import Payment
from paylink_es.domain.terms import Customer, LineItem


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

    @property
    def path(self) -> str:
        """What follows ``/l/`` in the link's address: its slug, else its code."""
        return self.slug or self.code

    @classmethod
    def of(cls, link: PaymentLink, now: datetime) -> LinkDetails:
        """Snapshot ``link`` as a customer would see it at ``now``."""
        return cls(
            id=link.id,
            merchant_id=link.merchant_id,
            code=link.code,
            slug=getattr(link, "slug", None),  # a snapshot taken before slugs has none
            mode=link.mode,
            status=link.status_at(now),
            currency=link.currency,
            description=link.description,
            amount=link.amount,
            amount_min=link.amount_min,
            amount_max=link.amount_max,
            reference_id=link.reference_id,
            methods=list(link.methods),
            expires_at=link.expires_at,
            usage_limit=link.usage_limit,
            line_items=list(link.line_items),
            customer=link.customer,
            success_url=link.success_url,
            failure_url=link.failure_url,
            metadata=dict(link.metadata),
            sent_count=link.sent_count,
            opened_count=link.opened_count,
            uses=link.uses,
            flagged_count=len(link.flagged_payments),
            collected=link.collected,
            created_at=link.created_on,
            version=link.version,
            inactive_message=link.inactive_message,
        )


@dataclass(frozen=True)
class PaymentDetails:
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

    @classmethod
    def of(cls, payment: Payment) -> PaymentDetails:
        """Snapshot ``payment``."""
        return cls(
            id=payment.id,
            merchant_id=payment.merchant_id,
            mode=payment.mode,
            link_id=payment.link_id,
            method=payment.method,
            channel=payment.channel,
            status=payment.status,
            amount=payment.amount,
            received=payment.received,
            channel_ref=payment.channel_ref,
            paid_at=payment.paid_at,
            anomaly=payment.anomaly,
            disposition=payment.disposition,
            fee=payment.fee,
            net=payment.net,
            refunded=payment.refunded,
            rejection=payment.rejection,
            instructions=dict(payment.instructions),
            created_at=payment.created_on,
            refundable=payment.refundable(),
            surcharge=getattr(payment, "surcharge", None),
            withdrawn=getattr(payment, "withdrawn", None),
        )


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
