"""The Payment aggregate: one attempt, from instructions to money settled or refunded."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.errors import PaymentStateError, RefundExceedsPaymentError
from paylink_es.domain.link import DECISION_DISPOSITION, DEFAULT_DECISIONS, NEEDS_REVIEW, REFUND_DUE
from paylink_es.domain.money import Money

INITIATED, PAID, VERIFIED, REJECTED, SETTLED = (
    "initiated",
    "paid",
    "verified",
    "rejected",
    "settled",
)


class Payment(PaylinkAggregate):
    """One payment attempt on a link, through one method and channel."""

    @event("Initiated")
    def __init__(
        self,
        id: UUID,  # the library passes the aggregate's id to __init__ by this name
        merchant_id: UUID,
        mode: str,
        link_id: UUID,
        method: str,
        channel: str,
        amount: Money,
        instructions: dict[str, str],
        expires_at: datetime | None,
        surcharge: Money | None = None,
    ) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.link_id = link_id
        self.method = method
        self.channel = channel
        self.amount = amount
        self.instructions = instructions
        self.expires_at = expires_at
        # The part of ``amount`` that is the fee passed on to the payer (plan: payer_pays).
        self.surcharge = surcharge
        self.status = INITIATED
        self.channel_ref: str | None = None
        self.received: Money | None = None
        self.paid_at: datetime | None = None
        self.anomaly: str | None = None
        self.disposition: str | None = None
        self.fee: Money | None = None
        self.net: Money | None = None
        self.rejection: str | None = None
        self.settlement_batch: UUID | None = None
        self.withdrawn: str | None = None
        self.refunded = Money.zero(amount.currency)
        self.refunded_after_settlement = Money.zero(amount.currency)
        self.settled_net = Money.zero(amount.currency)

    # -- commands ------------------------------------------------------------------

    def receive(
        self, channel_ref: str, amount: Money, paid_at: datetime, received_at: datetime
    ) -> None:
        """Record the channel's report that money arrived for this attempt."""
        if self.status != INITIATED:
            raise PaymentStateError(f"payment is already {self.status}", field="payment")
        self._received(
            channel_ref=channel_ref, amount=amount, paid_at=paid_at, received_at=received_at
        )

    @event("Received")
    def _received(
        self, channel_ref: str, amount: Money, paid_at: datetime, received_at: datetime
    ) -> None:
        self.status = PAID
        self.channel_ref = channel_ref
        self.received = amount
        self.paid_at = paid_at
        # Refunds go back in the currency that arrived, even when it was the wrong one.
        self.refunded = Money.zero(amount.currency)
        self.refunded_after_settlement = Money.zero(amount.currency)
        self.settled_net = Money.zero(amount.currency)

    def withdraw(self, reason: str) -> None:
        """The channel closed this attempt's instructions (its VA deleted): no money is
        expected any more. Money that comes anyway is still recorded, and flagged."""
        if self.status != INITIATED:
            raise PaymentStateError(f"payment is already {self.status}", field="payment")
        self._withdrawn(reason=reason)

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.withdrawn = reason

    def flag(self, anomaly: str, decision: str | None = None) -> None:
        """Mark money that arrived oddly, with the policy's decision: accept, hold or refund.

        ``accept`` credits it like any payment; ``hold`` keeps it for review; ``refund``
        marks it refund due. The decision is part of the event, so replay keeps it.
        """
        chosen = decision or DEFAULT_DECISIONS[anomaly]
        self._flagged(anomaly=anomaly, disposition=DECISION_DISPOSITION[chosen], decision=chosen)

    @event("Flagged")
    def _flagged(self, anomaly: str, disposition: str | None, decision: str = "") -> None:
        self.anomaly = anomaly
        self.disposition = disposition

    def review(self, decision: str, note: str) -> None:
        """Decide about a payment held for review: ``accept`` it or ``refund`` it.

        Once verified, the money moves between the merchant's buckets (held -> pending
        or refund_due) by the event's postings.
        """
        if self.disposition != NEEDS_REVIEW:
            raise PaymentStateError(
                f"only a payment held for review can be reviewed; this one is "
                f"{self.disposition or self.status}",
                field="payment",
            )
        if decision not in ("accept", "refund"):
            raise PaymentStateError("a review decides accept or refund", field="decision")
        moved = None
        if self.status == VERIFIED and self.received is not None:
            moved = self.received - self.refunded
        self._reviewed(
            merchant_id=self.merchant_id,
            mode=self.mode,
            channel=self.channel,
            decision=decision,
            disposition=DECISION_DISPOSITION[decision],
            moved=moved,
            note=note,
        )

    @event("Reviewed")
    def _reviewed(
        self,
        merchant_id: UUID,
        mode: str,
        channel: str,
        decision: str,
        disposition: str | None,
        moved: Money | None,
        note: str,
    ) -> None:
        self.disposition = disposition

    def verify(self, fee: Money, evidence: dict[str, str]) -> None:
        """Confirm with the channel that the money is real; credits the merchant's pending.

        A flagged payment is credited to ``held`` (needs review) or ``refund_due``
        instead, so it cannot be settled or paid out by accident. What was refunded
        before verification never reaches the merchant: only the rest is credited.
        """
        received = self._require(PAID, "verified")
        credited = received - self.refunded
        if fee.amount < 0 or fee > received:  # another currency raises CurrencyMismatchError
            raise PaymentStateError(f"fee {fee} does not fit the payment {received}", field="fee")
        if fee > credited:  # refunded before verification: the fee never exceeds the rest
            fee = credited
        self._verified(
            merchant_id=self.merchant_id,
            mode=self.mode,
            channel=self.channel,
            gross=credited,
            fee=fee,
            net=credited - fee,
            disposition=self.disposition,
            evidence=evidence,
        )

    @event("Verified")
    def _verified(
        self,
        merchant_id: UUID,
        mode: str,
        channel: str,
        gross: Money,
        fee: Money,
        net: Money,
        disposition: str | None,
        evidence: dict[str, str],
    ) -> None:
        self.status = VERIFIED
        self.fee = fee
        self.net = net

    def reject(self, reason: str) -> None:
        """The channel could not confirm the money: nothing is credited."""
        self._require(PAID, "rejected")
        self._rejected(reason=reason)

    @event("Rejected")
    def _rejected(self, reason: str) -> None:
        self.status = REJECTED
        self.rejection = reason

    def settle(self, batch_id: UUID, settlement_date: date) -> None:
        """Move a verified payment into a settlement batch: pending -> available minus fee.

        What was refunded before settlement is no longer pending, so only the rest
        settles; the fee is capped at that rest.
        """
        received = self._require(VERIFIED, "settled")
        if self.disposition is not None:
            raise PaymentStateError(f"payment is flagged {self.disposition}", field="payment")
        gross = received - self.refunded
        fee = self.fee if self.fee is not None and self.fee <= gross else gross
        self._settled(
            merchant_id=self.merchant_id,
            mode=self.mode,
            channel=self.channel,
            batch_id=batch_id,
            settlement_date=settlement_date.isoformat(),
            gross=gross,
            fee=fee,
            net=gross - fee,
        )

    @event("Settled")
    def _settled(
        self,
        merchant_id: UUID,
        mode: str,
        channel: str,
        batch_id: UUID,
        settlement_date: str,
        gross: Money,
        fee: Money,
        net: Money,
    ) -> None:
        self.status = SETTLED
        self.settlement_batch = batch_id
        self.settled_net = net

    def refundable(self) -> Money:
        """How much can still be refunded: after settlement, only the merchant's net."""
        if self.received is None or self.status not in (PAID, VERIFIED, SETTLED):
            return Money.zero(self.amount.currency)
        if self.status == SETTLED:
            return self.settled_net - self.refunded_after_settlement
        return self.received - self.refunded

    def refund(
        self, refund_id: UUID, amount: Money, reason: str, channel_ref: str | None = None
    ) -> None:
        """Return some or all of the money, from wherever the ledger holds it now."""
        if self.status not in (PAID, VERIFIED, SETTLED) or self.received is None:
            raise PaymentStateError(f"payment is {self.status}; nothing to refund", field="payment")
        left = self.refundable()
        if amount.amount <= 0 or amount > left:
            raise RefundExceedsPaymentError(
                f"refund of {amount} exceeds the {left} that can still be refunded",
                field="amount",
            )
        self._refunded(
            merchant_id=self.merchant_id,
            mode=self.mode,
            channel=self.channel,
            refund_id=refund_id,
            amount=amount,
            source=self.ledger_account(),
            reason=reason,
            channel_ref=channel_ref,
        )

    def refund_ids_so_far(self) -> tuple[UUID, ...]:
        """The ids of the refunds recorded on this payment, oldest first."""
        ids: tuple[UUID, ...] = getattr(self, "refund_ids", ())  # older snapshots lack it
        return ids

    def ledger_account(self) -> str | None:
        """Which of the merchant's accounts holds this payment's money now (None: not yet)."""
        if self.status == SETTLED:
            return "available"
        if self.status != VERIFIED:
            return None
        return {None: "pending", NEEDS_REVIEW: "held", REFUND_DUE: "refund_due"}[self.disposition]

    @event("Refunded")
    def _refunded(
        self,
        merchant_id: UUID,
        mode: str,
        channel: str,
        refund_id: UUID,
        amount: Money,
        source: str | None,
        reason: str,
        channel_ref: str | None = None,  # the channel's refund reference, when it gave one
    ) -> None:
        self.refunded = self.refunded + amount
        self.refund_ids = (*self.refund_ids_so_far(), refund_id)
        if self.status == SETTLED:
            self.refunded_after_settlement = self.refunded_after_settlement + amount

    def _require(self, status: str, goal: str) -> Money:
        if self.status != status or self.received is None:
            raise PaymentStateError(
                f"a {self.status} payment cannot be {goal}; it must be {status}", field="payment"
            )
        return self.received


class ChannelPaymentIndex(PaylinkAggregate):
    """One per channel reference: a duplicate callback finds it and changes nothing."""

    @staticmethod
    def create_id(channel: str, channel_ref: str) -> UUID:
        """The index id for a channel's payment reference (the library calls it)."""
        return stable_id(f"/channel-payments/{channel}/{channel_ref}")

    @event("Indexed")
    def __init__(self, payment_id: UUID, channel: str = "", channel_ref: str = "") -> None:
        # channel, channel_ref: what the id is made from ("" in indexes stored before)
        self.payment_id = payment_id
