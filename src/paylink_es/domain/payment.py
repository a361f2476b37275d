"""The Payment aggregate: one attempt, from instructions to money settled or refunded."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.errors import PaymentStateError, RefundExceedsPaymentError
from paylink_es.domain.fees import FEE_KEPT, FEE_RETURNED, check_refund_fee, fee_share_returned
from paylink_es.domain.fields import Customer
from paylink_es.domain.link import DECISION_DISPOSITION, DEFAULT_DECISIONS, NEEDS_REVIEW, REFUND_DUE
from paylink_es.domain.money import Money

INITIATED, PAID, VERIFIED, REJECTED, SETTLED = (
    "initiated",
    "paid",
    "verified",
    "rejected",
    "settled",
)
# Where a refund stands: asked for (recorded before the channel's answer is), done, refused.
REFUND_REQUESTED, REFUND_SUCCEEDED, REFUND_FAILED = "requested", "succeeded", "failed"


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
        # What the payer entered on the page (payments started before entered nothing).
        customer: Customer | None = None,
        custom_fields: dict[str, str] | None = None,
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
        self.customer = customer
        self.custom_fields = dict(custom_fields or {})
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

    def verify(self, fee: Money, evidence: dict[str, str], refund_fee: str = FEE_KEPT) -> None:
        """Confirm with the channel that the money is real; credits the merchant's pending.

        A flagged payment is credited to ``held`` (needs review) or ``refund_due``
        instead, so it cannot be settled or paid out by accident. What was refunded
        before verification never reaches the merchant: only the rest is credited.
        ``refund_fee`` is the policy of the plan that priced the fee (``kept`` or
        ``returned``): the payment's refunds follow it, whatever the plan says later.
        """
        check_refund_fee(refund_fee)
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
            refund_fee=refund_fee,
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
        refund_fee: str = FEE_KEPT,  # events stored before refunds had a fee policy kept it
    ) -> None:
        self.status = VERIFIED
        self.fee = fee
        self.net = net
        self.verified_gross = gross  # what the fee was priced on
        self.refund_fee = refund_fee
        self.refunded_since_verified = Money.zero(gross.currency)
        self.fee_returned = Money.zero(fee.currency)  # by refunds, before or after settlement

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
        settles; the fee is capped at that rest. Under a ``returned`` refund fee policy,
        the fee's share of those refunds is not taken either.
        """
        received = self._require(VERIFIED, "settled")
        if self.disposition is not None:
            raise PaymentStateError(f"payment is flagged {self.disposition}", field="payment")
        gross = received - self.refunded
        due = None if self.fee is None else self.fee - self.fee_returned
        fee = due if due is not None and due <= gross else gross
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
        self.settled_fee = fee
        self.fee_returned_after_settlement = Money.zero(fee.currency)

    def toward_link(self) -> Money:
        """What of this payment counts toward its link's amount (a link paid in parts):
        the amount asked less the fee the payer paid on top, and never more than is left
        after refunds."""
        if self.received is None:
            return Money.zero(self.amount.currency)
        surcharge = getattr(self, "surcharge", None)
        base = self.amount - surcharge if surcharge is not None else self.amount
        left = self.received - self.refunded
        return base if base.currency == left.currency and base <= left else left

    def refundable(self) -> Money:
        """How much can still be refunded: all the payer paid, less what went back.

        Settled money too, in full (the gross, not only the merchant's net): it comes out
        of the merchant's available balance, which may go below zero for it.
        """
        if self.received is None or self.status not in (PAID, VERIFIED, SETTLED):
            return Money.zero(self.amount.currency)
        return self.received - self.refunded

    def check_refund(self, refund_id: UUID, amount: Money) -> None:
        """Raise unless a refund ``refund_id`` of ``amount`` can be made now."""
        if self.status not in (PAID, VERIFIED, SETTLED) or self.received is None:
            raise PaymentStateError(f"payment is {self.status}; nothing to refund", field="payment")
        left = self.refundable()
        if amount.amount <= 0 or amount > left:
            raise RefundExceedsPaymentError(
                f"refund of {amount} exceeds the {left} that can still be refunded",
                field="amount",
            )
        if self.refund_outcome(refund_id) is not None:
            raise PaymentStateError(f"refund {refund_id} is already recorded", field="refund")

    def refund(
        self, refund_id: UUID, amount: Money, reason: str, channel_ref: str | None = None
    ) -> None:
        """Return some or all of the money, from wherever the ledger holds it now.

        Three events: the refund asked for (``RefundRequested``), the money going back
        (``Refunded``: the postings) and the refund done (``RefundSucceeded``, with the
        channel's reference).
        """
        fee_back = self.fee_share_of(amount)
        refund = self._request_refund(refund_id, amount, reason)
        self._refunded(
            channel=self.channel,
            source=self.ledger_account(),
            channel_ref=channel_ref,
            fee_returned=fee_back,
            **refund,
        )
        self._refund_succeeded(channel_ref=channel_ref, fee_returned=fee_back, **refund)

    def refund_refused(self, refund_id: UUID, amount: Money, reason: str, failure: str) -> None:
        """The channel refused the refund: the request and the refusal (in the channel's
        words) are recorded; no money moves."""
        self._refund_failed(failure=failure, **self._request_refund(refund_id, amount, reason))

    def fee_share_of(self, amount: Money) -> Money | None:
        """The fee a refund of ``amount`` gives back now; None when the fee is kept.

        Under ``returned``: its share of the fee priced at verification (see
        ``fees.fee_share_returned``); after settlement, never more than the fee taken
        and not yet given back. Before verification no fee is priced yet: None.
        """
        if self.status not in (VERIFIED, SETTLED) or self.fee is None:
            return None
        if getattr(self, "refund_fee", FEE_KEPT) != FEE_RETURNED:
            return None
        share = fee_share_returned(
            self.fee, self.verified_gross, self.refunded_since_verified, amount
        )
        if self.status == SETTLED:
            left = self.settled_fee - self.fee_returned_after_settlement
            share = share if share <= left else left
        return share

    def _request_refund(self, refund_id: UUID, amount: Money, reason: str) -> dict[str, Any]:
        """Check the refund and record it asked for; returns what every event of the
        refund says (its outcome's, and the money's), for those events."""
        self.check_refund(refund_id, amount)
        refund: dict[str, Any] = {
            "merchant_id": self.merchant_id,
            "mode": self.mode,
            "refund_id": refund_id,
            "amount": amount,
            "reason": reason,
        }
        self._refund_requested(channel=self.channel, **refund)
        return refund

    def refund_ids_so_far(self) -> tuple[UUID, ...]:
        """The ids of the refunds that returned money on this payment, oldest first."""
        ids: tuple[UUID, ...] = getattr(self, "refund_ids", ())  # older snapshots lack it
        return ids

    def refund_outcome(self, refund_id: UUID) -> tuple[str, str | None] | None:
        """Where a refund stands — ``(succeeded, channel ref)``, ``(failed, the channel's
        words)``, ``(requested, None)`` — or None when this payment has no such refund.

        Refunds recorded before refunds had requests and outcomes (a ``Refunded`` alone)
        succeeded.
        """
        outcomes: dict[UUID, tuple[str, str | None]] = getattr(self, "refund_outcomes", {})
        found = outcomes.get(refund_id)
        if found is None and refund_id in self.refund_ids_so_far():
            return (REFUND_SUCCEEDED, None)
        return found

    def refund_fees_so_far(self) -> dict[UUID, Money]:
        """The fee each refund gave back, by refund id (only refunds that gave some)."""
        fees: dict[UUID, Money] = getattr(self, "refund_fees", {})
        return fees

    def _set_outcome(self, refund_id: UUID, status: str, detail: str | None) -> None:
        outcomes: dict[UUID, tuple[str, str | None]] = getattr(self, "refund_outcomes", {})
        self.refund_outcomes = {**outcomes, refund_id: (status, detail)}

    @event("RefundRequested")
    def _refund_requested(
        self,
        merchant_id: UUID,
        mode: str,
        channel: str,
        refund_id: UUID,
        amount: Money,
        reason: str,
    ) -> None:
        self._set_outcome(refund_id, REFUND_REQUESTED, None)

    @event("RefundSucceeded")
    def _refund_succeeded(
        self,
        merchant_id: UUID,
        mode: str,
        refund_id: UUID,
        amount: Money,
        reason: str,
        channel_ref: str | None,
        fee_returned: Money | None,
    ) -> None:
        self._set_outcome(refund_id, REFUND_SUCCEEDED, channel_ref)
        if fee_returned is not None:
            self.refund_fees = {**self.refund_fees_so_far(), refund_id: fee_returned}

    @event("RefundFailed")
    def _refund_failed(
        self,
        merchant_id: UUID,
        mode: str,
        refund_id: UUID,
        amount: Money,
        reason: str,
        failure: str,
    ) -> None:
        self._set_outcome(refund_id, REFUND_FAILED, failure)

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
        # The fee given back with it (refund fee policy ``returned``); None: the fee is
        # kept, as by every refund recorded before the policy existed.
        fee_returned: Money | None = None,
    ) -> None:
        self.refunded = self.refunded + amount
        self.refund_ids = (*self.refund_ids_so_far(), refund_id)
        if self.status in (VERIFIED, SETTLED):
            self.refunded_since_verified = self.refunded_since_verified + amount
        if fee_returned is not None:
            self.fee_returned = self.fee_returned + fee_returned
        if self.status == SETTLED:
            self.refunded_after_settlement = self.refunded_after_settlement + amount
            if fee_returned is not None:
                self.fee_returned_after_settlement = (
                    self.fee_returned_after_settlement + fee_returned
                )

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
