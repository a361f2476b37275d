"""The domain's events as the read side keys them: by class, found when a module loads.

Event classes are made by the library's ``@event("Verified")`` decorator, so the type
checker cannot see ``Payment.Verified``; :func:`event_type` looks one up by name instead,
once, at import, and fails that import naming the event if it is gone. A renamed or
removed event thus stops every process and every test at once, where a mistyped string
(``"Payment.Verifed"``) would have matched nothing and silently written nothing.

Every event a read model reads is named here; the read models select and dispatch on
these classes (``type(event) is PAYMENT_VERIFIED``, dicts keyed by class), and declare
what they read as classes too (an aggregate class: all of its events).
"""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.domain import Aggregate, DomainEvent

from paylink_es.domain.aggregate import UnknownEventError, event_type
from paylink_es.domain.alerts import MerchantAlert, MessageSettings
from paylink_es.domain.idempotency import IdempotentRequest
from paylink_es.domain.link import LinkCodeIndex, PaymentLink
from paylink_es.domain.logo import LogoImage
from paylink_es.domain.merchant import ApiKeyIndex, Merchant
from paylink_es.domain.payment import ChannelPaymentIndex, Payment
from paylink_es.domain.settlement import Funds, Payout, SettlementBatch
from paylink_es.domain.users import User
from paylink_es.domain.webhooks import WebhookDelivery, WebhookEndpoint

EventType = type[DomainEvent]
# Every aggregate of the domain (a test checks that none is missing).
AGGREGATES: tuple[type[Aggregate], ...] = (
    Merchant,
    ApiKeyIndex,
    LogoImage,
    PaymentLink,
    LinkCodeIndex,
    Payment,
    ChannelPaymentIndex,
    SettlementBatch,
    Funds,
    Payout,
    WebhookEndpoint,
    WebhookDelivery,
    User,
    IdempotentRequest,
    MessageSettings,
    MerchantAlert,
)
_BY_NAME = {aggregate.__qualname__: aggregate for aggregate in AGGREGATES}


def event_named(qualname: str) -> EventType:
    """The event class of a qualified name as topics write it (``"Payment.Verified"``)."""
    aggregate_name, _, name = qualname.partition(".")
    aggregate = _BY_NAME.get(aggregate_name)
    if aggregate is None:
        msg = f"no aggregate {aggregate_name!r} has an event {qualname!r}"
        raise UnknownEventError(msg)
    return event_type(aggregate, name)


def qualnames(read: Iterable[type]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The qualified names of the events in ``read``, and the prefixes of its aggregates
    (``"Payment."``: every event of ``Payment``), as stored topics end."""
    names, prefixes = set(), []
    for cls in read:
        if issubclass(cls, DomainEvent):
            names.add(cls.__qualname__)
        elif issubclass(cls, Aggregate):
            prefixes.append(f"{cls.__qualname__}.")
        else:
            msg = f"{cls.__qualname__} is neither an event nor an aggregate"
            raise UnknownEventError(msg)
    return frozenset(names), tuple(sorted(prefixes))


LINK_CREATED = event_type(PaymentLink, "Created")
LINK_SENT = event_type(PaymentLink, "Sent")
LINK_SEND_FAILED = event_type(PaymentLink, "SendFailed")
LINK_OPENED = event_type(PaymentLink, "Opened")
LINK_EXPIRED = event_type(PaymentLink, "Expired")
LINK_CANCELLED = event_type(PaymentLink, "Cancelled")
LINK_COMPLETED = event_type(PaymentLink, "Completed")
LINK_PAYMENT_ACCEPTED = event_type(PaymentLink, "PaymentAccepted")
LINK_PAYMENT_FLAGGED = event_type(PaymentLink, "PaymentFlagged")
LINK_EDITED = event_type(PaymentLink, "Edited")
LINK_DEACTIVATED = event_type(PaymentLink, "Deactivated")
LINK_REACTIVATED = event_type(PaymentLink, "Reactivated")
LINK_PARTIALLY_PAID = event_type(PaymentLink, "PartiallyPaid")
LINK_PART_REFUNDED = event_type(PaymentLink, "PartRefunded")
LINK_REMINDERS_SCHEDULED = event_type(PaymentLink, "RemindersScheduled")
LINK_REMINDED = event_type(PaymentLink, "Reminded")
LINK_RECEIPTED = event_type(PaymentLink, "Receipted")
LINK_MESSAGE_SENT = event_type(PaymentLink, "MessageSent")
LINK_MESSAGE_FAILED = event_type(PaymentLink, "MessageFailed")

PAYMENT_INITIATED = event_type(Payment, "Initiated")
PAYMENT_RECEIVED = event_type(Payment, "Received")
PAYMENT_FLAGGED = event_type(Payment, "Flagged")
PAYMENT_REVIEWED = event_type(Payment, "Reviewed")
PAYMENT_VERIFIED = event_type(Payment, "Verified")
PAYMENT_REJECTED = event_type(Payment, "Rejected")
PAYMENT_SETTLED = event_type(Payment, "Settled")
PAYMENT_REFUNDED = event_type(Payment, "Refunded")
REFUND_REQUESTED = event_type(Payment, "RefundRequested")
REFUND_SUCCEEDED = event_type(Payment, "RefundSucceeded")
REFUND_FAILED = event_type(Payment, "RefundFailed")

BATCH_PAYMENTS_ADDED = event_type(SettlementBatch, "PaymentsAdded")
PAYOUT_REQUESTED = event_type(Payout, "Requested")
PAYOUT_PAID_OUT = event_type(Payout, "PaidOut")
PAYOUT_FAILED = event_type(Payout, "Failed")

ENDPOINT_CREATED = event_type(WebhookEndpoint, "Created")
ENDPOINT_DELETED = event_type(WebhookEndpoint, "Deleted")
DELIVERY_ATTEMPTED = event_type(WebhookDelivery, "Attempted")
DELIVERY_RETRIED = event_type(WebhookDelivery, "Retried")
DELIVERY_RESEND_REQUESTED = event_type(WebhookDelivery, "ResendRequested")

MERCHANT_REGISTERED = event_type(Merchant, "Registered")
ALERTS_SET = event_type(MessageSettings, "AlertsSet")
ALERT_RAISED = event_type(MerchantAlert, "Raised")
