"""Request and response bodies of the merchant API (field names are part of the contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, overload
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictInt

from paylink_es.domain.money import MAX_MINOR_UNITS
from paylink_es.domain.webhooks import EVENT_DATA, EVENT_TYPES

Item = TypeVar("Item")


class ListPage(BaseModel, Generic[Item]):
    """A page of a list, in the list's order; pass ``next_cursor`` back for the next."""

    object: Literal["list"] = "list"
    data: list[Item]
    next_cursor: str | None


LINK_EXAMPLE: dict[str, Any] = {
    "amount": 150000,
    "currency": "IDR",
    "description": "Kaos polos hitam",
    "reference_id": "INV-2026-0042",
    "methods": ["va_bca", "va_bri", "qris", "ewallet_ovo"],
    "expires_at": "2026-12-31T23:59:00+07:00",
    "usage_limit": 1,
    "customer": {"name": "Budi", "email": "budi@example.com", "phone": "+628123456789"},
}
SENT_LINK_EXAMPLE: dict[str, Any] = {
    "amount": 250000,
    "description": "Sepatu lari",
    "expires_at": "2026-12-31T23:59:00+07:00",
    "notify": {"email": "budi@example.com", "whatsapp": "0812-3456-7890", "language": "id"},
    "reminders": ["24h", "1h"],
}
FIELDS_LINK_EXAMPLE: dict[str, Any] = {
    "amount": 350000,
    "currency": "IDR",
    "description": "SPP Januari 2027",
    "usage_limit": None,
    "customer_fields": {"name": "required", "email": "optional", "phone": "required"},
    "custom_fields": [
        {
            "key": "student_id",
            "type": "text",
            "label": {"id": "NIS", "en": "Student ID"},
            "required": True,
        },
        {
            "key": "class",
            "type": "dropdown",
            "label": {"id": "Kelas", "en": "Class"},
            "required": True,
            "options": ["7A", "7B", "8A"],
        },
    ],
}
DP_LINK_EXAMPLE: dict[str, Any] = {
    "amount": 5000000,
    "currency": "IDR",
    "description": "Sofa 3 dudukan: DP minimal 30%",
    "allow_partial": True,
    "partial_min": 1500000,
    "partial_expiry": "keep_open",
    "expires_at": "2026-12-31T23:59:00+07:00",
}
PARTIAL = (
    "Paid in parts (a down payment, then instalments): only a fixed amount without "
    "line_items and with usage_limit 1 (the link is one use, complete once paid in full). "
    "The first part is at least partial_min, later ones at least the method's minimum; "
    "none more than what is left (amount_due)."
)
PARTIAL_EXPIRY = (
    "What a link paid in part does at its expiry: expire (what was paid stays credited; "
    "nothing more can be paid) or keep_open (it stays open until paid in full or "
    "cancelled). Null: the merchant's policy (PUT /v1/account/partial-expiry) when the "
    "link is made; the link keeps the policy it was made with."
)
OPEN_LINK_EXAMPLE: dict[str, Any] = {
    "amount_min": 10000,
    "amount_max": 5000000,
    "currency": "IDR",
    "description": "Donasi bebas",
    "methods": ["qris", "va_bsi"],
    "usage_limit": None,
    "metadata": {"campaign": "ramadan"},
}


class LineItemIn(BaseModel):
    """One line of what is being paid for."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    quantity: StrictInt = 1
    unit_amount: StrictInt


class CustomerIn(BaseModel):
    """Who the merchant expects to pay."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)


Rule = Literal["required", "optional"]
CustomerPart = Literal["name", "email", "phone", "address"]


class CustomerFieldsIn(BaseModel):
    """Which customer details the link's page asks the payer for: each ``required`` or
    ``optional``; one left out (or null) is not asked. The phone is kept in E.164
    (Indonesian ``08…`` becomes ``+628…``)."""

    model_config = ConfigDict(extra="forbid")
    name: Rule | None = None
    email: Rule | None = None
    phone: Rule | None = None
    address: Rule | None = None


class LabelIn(BaseModel):
    """A custom field's label in Bahasa Indonesia and/or English (1-80 characters each);
    the page shows the payer's language, else the other."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    en: str | None = None


class CustomFieldIn(BaseModel):
    """A question of the merchant's own on the link's page."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(
        description="1-40 lower-case letters, digits or _, starting with a letter; unique "
        "on the link (the payment's custom_fields are keyed by it)"
    )
    type: Literal["text", "number", "dropdown"]
    label: LabelIn
    required: StrictBool = False
    options: list[str] | None = Field(
        default=None,
        description="a dropdown's 1-20 options (unique, 1-100 characters); none for the "
        "other types",
    )


class NotifyIn(BaseModel):
    """Where to send a new link as soon as it is made: an address for each channel wanted
    (``08…`` and ``+62…`` numbers become E.164), and the language of the messages."""

    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(default=None, max_length=254)
    whatsapp: str | None = Field(default=None, max_length=32)
    sms: str | None = Field(default=None, max_length=32)
    language: Literal["id", "en"] = Field(default="id", description="Bahasa Indonesia or English")


REMINDERS = (
    'times before the expiry to remind the customer the link was sent to, like ["24h", "1h"]'
    " (m, h or d; 5m to 30d; at most 5); none: the merchant's default when the link is sent"
)


class LinkCreate(BaseModel):
    """A new payment link: a fixed ``amount`` (or ``line_items``), or ``amount_min`` and
    optionally ``amount_max`` for an amount the payer chooses; one of them is required.
    A fixed amount may be paid in parts: ``allow_partial`` with ``partial_min``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                LINK_EXAMPLE,
                SENT_LINK_EXAMPLE,
                OPEN_LINK_EXAMPLE,
                FIELDS_LINK_EXAMPLE,
                DP_LINK_EXAMPLE,
            ]
        },
    )
    amount: StrictInt | None = Field(default=None, description="Minor units (IDR: rupiah)")
    amount_min: StrictInt | None = None
    amount_max: StrictInt | None = None
    currency: str = Field(default="IDR", max_length=3)
    description: str = Field(max_length=1000)
    reference_id: str | None = Field(default=None, max_length=64)
    slug: str | None = Field(
        default=None,
        max_length=64,
        description="your own short name: the link is also at /l/{slug} (3-64 letters, "
        "digits or -, case-insensitive, unique; a few words are reserved)",
    )
    methods: list[str] | None = Field(default=None, max_length=32)
    expires_at: datetime | None = None
    usage_limit: StrictInt | None = Field(
        default=1,
        description="null means unlimited; a link paid in parts is one use (1): it "
        "completes when paid in full, whatever the number of parts",
    )
    line_items: list[LineItemIn] | None = Field(default=None, max_length=100)
    customer: CustomerIn | None = None
    success_url: str | None = Field(default=None, max_length=2048)
    failure_url: str | None = Field(default=None, max_length=2048)
    metadata: dict[str, str] | None = None
    notify: NotifyIn | None = Field(
        default=None,
        description="send the link right after it is made; a send that fails is on the link's"
        " timeline and in the answer's notifications, and the link stays created",
    )
    reminders: list[str] | None = Field(default=None, max_length=5, description=REMINDERS)
    customer_fields: CustomerFieldsIn | None = None
    custom_fields: list[CustomFieldIn] | None = Field(
        default=None, max_length=3, description="at most 3 fields of your own for the payer"
    )
    allow_partial: StrictBool = Field(default=False, description=PARTIAL)
    partial_min: StrictInt | None = Field(
        default=None,
        description="the least the first part may be, in minor units (required with "
        "allow_partial; at most amount)",
    )
    partial_expiry: Literal["expire", "keep_open"] | None = Field(
        default=None, description=PARTIAL_EXPIRY
    )


class LinkEdit(BaseModel):
    """Fields of a link to change (at least one); those left out stay as they are.

    Any of ``amount``, ``amount_min``, ``amount_max`` replaces all three (those not given
    are cleared). ``customer``, ``customer_fields`` and ``custom_fields`` are replaced
    whole; ``null`` clears them, or the expiry. What the page asks payers
    (``customer_fields``, ``custom_fields``) changes only before the first payment.
    ``allow_partial: false`` clears ``partial_min`` and ``partial_expiry`` too.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"description": "Kaos polos hitam, ukuran XL", "amount": 175000},
                {"expires_at": "2026-12-31T23:59:00+07:00", "methods": ["qris", "va_bca"]},
            ]
        },
    )
    description: str | None = Field(default=None, max_length=1000)
    currency: str | None = Field(default=None, max_length=3)
    amount: StrictInt | None = Field(default=None, description="Minor units (IDR: rupiah)")
    amount_min: StrictInt | None = None
    amount_max: StrictInt | None = None
    methods: list[str] | None = Field(default=None, max_length=32)
    expires_at: datetime | None = None
    customer: CustomerIn | None = None
    customer_fields: CustomerFieldsIn | None = None
    custom_fields: list[CustomFieldIn] | None = Field(default=None, max_length=3)
    allow_partial: StrictBool | None = Field(
        default=None,
        description="turn payment in parts on or off (not once the link has payments)",
    )
    partial_min: StrictInt | None = None
    partial_expiry: Literal["expire", "keep_open"] | None = Field(
        default=None, description=PARTIAL_EXPIRY
    )


class DeactivateRequest(BaseModel):
    """What the link's page tells payers while it is inactive (optional)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"message": "Stok habis, buka lagi Senin depan."}]},
    )
    message: str | None = Field(default=None, max_length=500)


class CancelRequest(BaseModel):
    """Why a link is being cancelled (optional)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "customer changed the order"}]}
    )
    reason: str | None = Field(default=None, max_length=500)


class LineItemOut(BaseModel):
    """A line item as stored."""

    name: str
    quantity: int
    unit_amount: int


class CustomerOut(BaseModel):
    """A customer as stored (the phone in E.164)."""

    name: str | None
    email: str | None
    phone: str | None
    address: str | None = None


class CustomFieldOut(BaseModel):
    """A custom field the link's page asks."""

    key: str
    type: Literal["text", "number", "dropdown"]
    label: dict[str, str]
    required: bool
    options: list[str]


class TimelineEntry(BaseModel):
    """One event in a link's life."""

    position: int
    at: datetime
    event: str
    detail: dict[str, Any]


class Counts(BaseModel):
    """How far the link has travelled."""

    sent: int
    opened: int
    payments: int
    flagged: int


class SendResultOut(BaseModel):
    """How sending a new link by one channel went."""

    channel: str
    to: str = Field(description="The recipient, masked")
    status: Literal["sent", "failed"]
    reason: str | None = Field(default=None, description="why it was not delivered")
    delivered_to: str | None = Field(
        default=None, description="smtp, sms-gateway, whatsapp or dev-outbox"
    )


class LinkOut(BaseModel):
    """A payment link."""

    object: Literal["payment_link"] = "payment_link"
    id: str
    mode: str
    code: str
    slug: str | None = None
    url: str = Field(description="the page: /l/{slug} when the link has a slug, else /l/{code}")
    qr_url: str
    status: str = Field(
        description="active, partially_paid (paid in part, more to pay), inactive, "
        "completed, expired or cancelled"
    )
    currency: str
    amount: int | None
    amount_min: int | None
    amount_max: int | None
    description: str
    reference_id: str | None
    methods: list[str]
    expires_at: datetime | None
    usage_limit: int | None
    line_items: list[LineItemOut]
    customer: CustomerOut | None
    success_url: str | None
    failure_url: str | None
    metadata: dict[str, str]
    customer_fields: dict[CustomerPart, Rule] = Field(
        default_factory=dict, description="the customer details the page asks for"
    )
    custom_fields: list[CustomFieldOut] = Field(default_factory=list)
    counts: Counts
    collected: int
    allow_partial: bool = Field(default=False, description=PARTIAL)
    partial_min: int | None = None
    partial_expiry: Literal["expire", "keep_open"] | None = Field(
        default=None, description=PARTIAL_EXPIRY
    )
    amount_paid: int | None = Field(
        default=None,
        description="a link paid in parts: what its verified parts count toward the "
        "amount, less what was refunded of them (the fee a payer paid on top never "
        "counts); null for a link paid whole",
    )
    amount_due: int | None = Field(
        default=None,
        description="a link paid in parts: what is left to pay; null for a link paid whole",
    )
    created_at: datetime
    inactive_message: str | None = Field(
        default=None,
        description="an inactive link's message to payers, shown on its page instead of the "
        "methods (in a single link's answer; null in lists)",
    )
    timeline: list[TimelineEntry] | None = None
    notifications: list[SendResultOut] | None = Field(
        default=None,
        description="in the answer to a create with notify: how sending to each address went",
    )


class LinkList(ListPage[LinkOut]):
    """A page of links, newest first; with ``as_of``, as they stood at that instant."""

    as_of: datetime | None = None


class PaymentOut(BaseModel):
    """A payment attempt."""

    object: Literal["payment"] = "payment"
    id: str
    link_id: str
    mode: str
    method: str
    channel: str
    status: str
    currency: str
    amount: int
    received: int | None
    fee: int | None
    net: int | None
    refunded: int
    channel_ref: str | None
    anomaly: str | None
    disposition: str | None
    rejection: str | None
    paid_at: datetime | None
    created_at: datetime
    customer: CustomerOut | None = Field(
        default=None, description="the details the payer entered on the page (null: none asked)"
    )
    custom_fields: dict[str, str] = Field(
        default_factory=dict,
        description="the payer's answers to the link's custom fields, by key (empty ones left out)",
    )


class PaymentList(ListPage[PaymentOut]):
    """A page of payments, newest first."""


class BalanceOut(BaseModel):
    """Money in one currency, by where it sits."""

    currency: str
    pending: int
    available: int = Field(
        description="may be negative: refunds of settled money took more than was"
        " available; the next settlements make it good, and nothing is paid out meanwhile"
    )
    held: int
    refund_due: int
    fees: int
    refunded: int
    paid_out: int
    verified: int


class Balances(BaseModel):
    """The merchant's balances now, or as they were at ``as_of``."""

    object: Literal["balance"] = "balance"
    mode: str
    as_of: datetime | None
    data: list[BalanceOut]


class Problem(BaseModel):
    """An error (RFC 9457 problem document); ``type`` is stable per kind of error."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    request_id: str | None = None
    errors: list[dict[str, str]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem documents with these statuses."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": "problem document",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        if status == 503:
            entry["description"] = (
                "problem document `/problems/database-unavailable`: the database cannot be"
                " reached right now; retry after `Retry-After` seconds"
            )
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before retrying",
                    "schema": {"type": "integer"},
                }
            }
        responses[status] = entry
    return responses


@overload
def instant_of(text: str) -> datetime: ...
@overload
def instant_of(text: None) -> None: ...
def instant_of(text: str | None) -> datetime | None:
    """An instant as a read model's row holds it (``2026-01-05T03:00:00.000000Z``)."""
    return None if text is None else datetime.fromisoformat(text)


COMMON_PROBLEMS = problem_responses(400, 401, 413, 422, 429, 500, 503)


class Liveness(BaseModel):
    """The process answers (no database was asked)."""

    status: Literal["ok"] = "ok"
    version: str


class ReplicaStatus(BaseModel):
    """How far the read replica the queries read is behind the primary."""

    available: bool = Field(description="false: it did not answer (queries read the primary)")
    standby: bool | None = Field(description="false once it was promoted (or is no standby)")
    lag_bytes: int | None = Field(description="WAL written on the primary, not yet replayed")
    lag_seconds: float | None = Field(
        description="since the last replayed commit was made; 0 when nothing is pending"
    )
    projections: dict[str, int] = Field(
        default_factory=dict, description="each read model's position on the replica"
    )
    positions_behind: dict[str, int] = Field(
        default_factory=dict,
        description="how many log positions each read model there trails the primary's",
    )


class RateLimitState(BaseModel):
    """Where the per-key rate limits are kept."""

    store: Literal["redis", "node"] = Field(
        description="redis: one limit per key across the cluster; node: each node's own"
    )
    redis_reachable: bool | None = Field(
        default=None, description="whether Redis answered the last time it was asked"
    )
    local_decisions: int = Field(
        default=0, description="requests this process judged by its own limit: Redis did not answer"
    )


class Readiness(BaseModel):
    """The database answers; how far the log and each read model have got."""

    status: Literal["ready"] = "ready"
    backend: Literal["sqlite", "postgres"]
    events: int = Field(description="position of the last stored event")
    projections: dict[str, int] = Field(description="each read model's position")
    replica: ReplicaStatus | None = Field(
        default=None, description="the read replica's lag (with PAYLINK_DATABASE_READ_URL)"
    )
    rate_limit: RateLimitState
    version: str


class EndpointCreate(BaseModel):
    """Where to post events, and which (default: all)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://toko.example/paylink/webhooks",
                    "event_types": ["payment.paid", "payment.verified", "link.expired"],
                },
            ]
        },
    )
    url: str = Field(max_length=2048)
    event_types: list[str] | None = Field(default=None, max_length=32)


class EndpointOut(BaseModel):
    """A webhook endpoint; ``secret`` appears only when created or rotated."""

    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: str
    mode: str
    url: str
    event_types: list[str]
    created_at: datetime | None = None
    secret: str | None = None


class EndpointList(BaseModel):
    """The merchant's endpoints."""

    object: Literal["list"] = "list"
    data: list[EndpointOut]


class AttemptOut(BaseModel):
    """One try at a delivery."""

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None


class DeliveryOut(BaseModel):
    """One event owed to one endpoint."""

    object: Literal["webhook_delivery"] = "webhook_delivery"
    id: str
    endpoint_id: str
    event_type: str
    event: dict[str, Any]
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptOut] | None = None


class DeliveryList(ListPage[DeliveryOut]):
    """A page of deliveries, newest first."""


def _event_types_table() -> str:
    rows = "\n".join(f"| `{kind}` | {EVENT_DATA[kind]} |" for kind in sorted(EVENT_DATA))
    return (
        "One public event: the body of the webhook that delivers it, and an item of "
        "`GET /v1/events`. `data.object` says what changed (`payment_link`, `payment`, "
        "`refund`, `settlement`, `payout`) and `data.id` which one (for a refund: the "
        "refund's id, its payment in `data.payment_id`). A refund the channel accepts is "
        "told three times, in this order: `refund.created`, `payment.refunded` (the "
        "payment's view, as before refunds had events of their own) and "
        "`refund.succeeded`; one it refuses twice: `refund.created`, `refund.failed`."
        "\n\n| type | data |\n|---|---|\n" + rows
    )


_EVENT_ENUM: list[JsonValue] = []
_EVENT_ENUM.extend(sorted(EVENT_TYPES))


class PublicEvent(BaseModel):
    """One public event (see the table of types in the schema's description)."""

    model_config = ConfigDict(json_schema_extra={"description": _event_types_table()})

    id: str = Field(description="stable per stored event: a redelivery has the same id")
    type: str = Field(json_schema_extra={"enum": _EVENT_ENUM})
    created_at: str = Field(description="when it happened (ISO 8601 with offset)")
    livemode: bool | None = None
    data: dict[str, Any]


class EventList(ListPage[PublicEvent]):
    """Events in store order; resume with ``after=next_cursor``."""


class PayoutCreate(BaseModel):
    """Pay out some of the available balance to the merchant's bank account."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"amount": 500000, "currency": "IDR", "description": "Weekly payout"}]
        },
    )
    amount: StrictInt = Field(
        gt=0, le=MAX_MINOR_UNITS, description="minor units (IDR: whole rupiah)"
    )
    currency: str = Field(default="IDR", min_length=3, max_length=3)
    description: str | None = Field(default=None, max_length=200)


class BankAccountOut(BaseModel):
    """Where a payout went (the number masked)."""

    bank: str
    account_number: str
    account_name: str


class PayoutOut(BaseModel):
    """A payout and how its transfer went."""

    object: Literal["payout"] = "payout"
    id: UUID
    mode: str
    amount: int
    currency: str
    status: Literal["requested", "paid_out", "failed"]
    bank_account: BankAccountOut
    description: str | None
    channel_ref: str | None
    failure: str | None
    created_at: datetime


class PayoutList(BaseModel):
    """One page of payouts, newest first."""

    data: list[PayoutOut]
    next_cursor: str | None


class SettlementOut(BaseModel):
    """One settlement batch in one currency: payments moved from pending to available."""

    object: Literal["settlement"] = "settlement"
    id: UUID
    mode: str
    settlement_date: str
    currency: str
    payments: int
    gross: int
    fee: int
    net: int


class SettlementList(BaseModel):
    """One page of settlement batches, newest first."""

    data: list[SettlementOut]
    next_cursor: str | None


class RefundCreate(BaseModel):
    """Refund some or all of a payment; without ``amount`` everything still refundable."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"amount": 50000, "reason": "item out of stock"}]},
    )
    amount: StrictInt | None = Field(
        default=None, gt=0, le=MAX_MINOR_UNITS, description="minor units; omit for all"
    )
    reason: str = Field(min_length=1, max_length=500)


class RefundOut(BaseModel):
    """A refund recorded against a payment (a refund the channel refuses is a problem)."""

    object: Literal["refund"] = "refund"
    id: UUID
    payment_id: UUID
    status: Literal["succeeded"] = "succeeded"
    amount: int
    currency: str
    reason: str
    channel_ref: str | None = Field(
        default=None, description="the channel's reference for the refund, when it gave one"
    )
    fee_returned: int = Field(
        default=0,
        description="the fee given back to the merchant with this refund (0 when the fee"
        " plan's refund_fee is kept)",
    )
    payment_refunded: int


class ReviewCreate(BaseModel):
    """Decide about a payment held for review."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "accept", "note": "customer confirmed"}]},
    )
    decision: Literal["accept", "refund"]
    note: str | None = Field(default=None, max_length=500)


class BankAccountIn(BaseModel):
    """The merchant's settlement bank account (where payouts go)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"bank": "BCA", "account_number": "1234567890", "account_name": "Toko Budi"}
            ]
        },
    )
    bank: str = Field(min_length=2, max_length=32)
    account_number: str = Field(pattern=r"^[0-9]{5,34}$")
    account_name: str = Field(min_length=1, max_length=100)


class AnomalyPolicyIn(BaseModel):
    """What happens to money that arrives oddly, per anomaly: accept, hold or refund."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"policy": {"overpaid": "accept", "paid_after_expiry": "hold"}}]
        },
    )
    policy: dict[str, Literal["accept", "hold", "refund"]]


class RedirectSecretOut(BaseModel):
    """The secret that signs the hosted page's redirects to a link's URLs, in one mode."""

    object: Literal["redirect_secret"] = "redirect_secret"
    mode: str
    secret: str = Field(
        description="HMAC-SHA256 key of paylink_signature on success_url and failure_url"
    )


class PartialExpiryIn(BaseModel):
    """What the merchant's links paid in part do at their expiry, unless a link says."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"partial_expiry": "keep_open"}]}
    )
    partial_expiry: Literal["expire", "keep_open"] = Field(description=PARTIAL_EXPIRY)


class AccountOut(BaseModel):
    """The merchant's money settings."""

    object: Literal["account"] = "account"
    bank_account: BankAccountOut | None
    anomaly_policy: dict[str, str]
    partial_expiry: str = Field(
        default="expire",
        description="what links paid in part do at their expiry unless a link says "
        "(applies to links made from then on)",
    )
    fee_plan: dict[str, Any]
