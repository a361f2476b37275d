"""Where a payment is verified: one pipeline for every channel's notifications.

A channel's route only parses its wire format into a :class:`Notification` and maps the
:class:`Verdict` back to the channel's answer. Everything between is here, the same for
the sandbox, Winpay VA, QRIS and e-wallet:

1. **find** the payment the notification names, of that channel (else ``unknown``), and
   let the channel **bind** the notification to it (the same VA, the same reference;
   else ``mismatch``): nothing is stored for either;
2. **record** the money (the same channel reference twice records once; money a link
   cannot count is flagged, never dropped);
3. **inquire**: ask the channel's status inquiry, outside any write;
4. **verify** when the channel says paid, for the amount received, and for this money
   (its reference); **reject** when it says so for good (not paid, another amount, the
   money of another payment); otherwise leave the payment received and unverified:
   ``pending``, to be asked again on the channel's retry or by the poller.

A duplicate notification goes through the same steps: one whose earlier inquiry failed
or said "not yet" is confirmed now, one already decided answers that decision.
The channel poller uses :meth:`PaymentVerification.confirm` for received payments and
:meth:`PaymentVerification.discover` for payments no notification has reached.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from paylink_es.application.channel_port import (
    ChannelPort,
    ChannelStatus,
    Notification,
    NotificationMismatchError,
)
from paylink_es.application.details import PaymentDetails
from paylink_es.application.payments import PaymentService
from paylink_es.domain.errors import NotFoundError, PaymentStateError

log = logging.getLogger(__name__)

Kind = Literal["verified", "pending", "rejected", "unknown", "mismatch"]
SETTLED_STATES = ("verified", "settled")


@dataclass(frozen=True)
class Verdict:
    """What became of a notification (or of a poll).

    ``verified``: credited (now or before). ``pending``: received, not yet confirmed (ask
    again). ``rejected``: the channel denied it for good; ``amount_differs`` says whether
    because of the amount. ``unknown``: no such payment of that channel. ``mismatch``: the
    notification does not fit the payment it names.
    """

    kind: Kind
    reason: str = ""
    payment: PaymentDetails | None = None
    duplicate: bool = False
    anomaly: str | None = None
    amount_differs: bool = False

    @property
    def final(self) -> bool:
        """Whether the notification was processed to a decision (verified or rejected)."""
        return self.kind in ("verified", "rejected")


class PaymentVerification:
    """Record → inquire → verify or reject, on the application's clock, for any channel."""

    def __init__(self, payments: PaymentService) -> None:
        self.payments = payments

    def process(self, channel: ChannelPort, notification: Notification) -> Verdict:
        """Take a channel's notification from arrival to a verdict."""
        try:
            payment = self.payments.get(notification.payment_id)
        except NotFoundError:
            return Verdict("unknown", f"no payment {notification.payment_id}")
        if payment.channel != channel.name:
            return Verdict("unknown", f"payment {payment.id} is not a {channel.name} payment")
        try:
            bound = channel.bind(notification, payment)
        except NotificationMismatchError as error:
            return Verdict("mismatch", error.reason, payment)
        outcome = self.payments.record(payment.id, bound.channel_ref, bound.amount, bound.paid_at)
        verdict = self.confirm(outcome.payment_id, channel, dict(bound.evidence))
        return Verdict(
            verdict.kind,
            verdict.reason,
            verdict.payment,
            duplicate=outcome.duplicate,
            anomaly=outcome.anomaly,
            amount_differs=verdict.amount_differs,
        )

    def confirm(
        self, payment_id: UUID, channel: ChannelPort, evidence: dict[str, str] | None = None
    ) -> Verdict:
        """Ask the channel about a received payment, then verify or reject it (or wait)."""
        payment = self.payments.get(payment_id)
        if payment.status in SETTLED_STATES:
            return Verdict("verified", "verified before", payment)
        if payment.status == "rejected":
            return Verdict("rejected", payment.rejection or "", payment)
        if payment.status != "paid" or payment.received is None:
            return Verdict("pending", f"payment is {payment.status}", payment)
        status = _ask(channel, payment)
        if isinstance(status, Verdict):
            return status
        return self._decide(payment, status, evidence or {})

    def discover(self, payment_id: UUID, channel: ChannelPort) -> Verdict:
        """For a payment no notification reached: ask the channel, record and verify what
        it says was paid (a lost callback), else leave it waiting."""
        payment = self.payments.get(payment_id)
        if payment.status != "initiated":
            return self.confirm(payment_id, channel)
        status = _ask(channel, payment)
        if isinstance(status, Verdict):
            return status
        if not (status.paid and status.amount is not None and status.channel_ref):
            return Verdict("pending", status.detail, payment)
        paid_at = status.paid_at or self.payments.app.now()
        outcome = self.payments.record(payment.id, status.channel_ref, status.amount, paid_at)
        received = self.payments.get(outcome.payment_id)
        if received.status != "paid":
            return self.confirm(received.id, channel)
        evidence = {"channel": channel.name, "found_by": "status poll"}
        verdict = self._decide(received, status, evidence)
        return Verdict(verdict.kind, verdict.reason, verdict.payment, anomaly=outcome.anomaly)

    def _decide(
        self, payment: PaymentDetails, status: ChannelStatus, evidence: dict[str, str]
    ) -> Verdict:
        if not status.paid:
            if not status.final:
                return Verdict("pending", status.detail, payment)
            return self._reject(payment, f"the channel reports {status.detail}")
        if status.channel_ref is not None and status.channel_ref != payment.channel_ref:
            # The channel's paid answer is about other money: this notification reported
            # money that was already reported under another reference (the same payment
            # notified twice), or money not yet visible in the status.
            return self._reject(
                payment,
                f"the channel's status is about {status.channel_ref!r}, "
                f"not {payment.channel_ref!r}: the same money as another notification",
            )
        if status.amount != payment.received:
            return self._reject(
                payment,
                f"the channel reports {status.amount}, not {payment.received}",
                amount_differs=True,
            )
        proof = {**evidence, "inquiry": status.detail}
        # Verified meanwhile by a duplicate notification: once is enough.
        with contextlib.suppress(PaymentStateError):
            self.payments.verify(payment.id, evidence=proof)
        return Verdict("verified", status.detail, self.payments.get(payment.id))

    def _reject(
        self, payment: PaymentDetails, reason: str, *, amount_differs: bool = False
    ) -> Verdict:
        with contextlib.suppress(PaymentStateError):
            self.payments.reject(payment.id, reason)
        decided = self.payments.get(payment.id)
        if decided.status in SETTLED_STATES:  # a concurrent notification verified it first
            return Verdict("verified", "verified before", decided)
        return Verdict("rejected", reason, decided, amount_differs=amount_differs)


def _ask(channel: ChannelPort, payment: PaymentDetails) -> ChannelStatus | Verdict:
    """The channel's status answer, or a pending verdict when it cannot be asked now."""
    try:
        return channel.inquire(payment)
    except Exception as error:  # any failure of a remote rail: ask again later
        log.warning("status inquiry for %s failed: %s", payment.id, error)
        return Verdict("pending", f"status inquiry unavailable: {error}", payment)
