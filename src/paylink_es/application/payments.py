"""Payments: an attempt by one method, the money the channel reports, its confirmation.

Notifications from the channels reach these commands through one pipeline,
:mod:`paylink_es.application.verification`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from uuid import UUID

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import PaymentDetails, PaymentOutcome
from paylink_es.domain.acceptance import check_amount_for
from paylink_es.domain.aggregate import stable_id
from paylink_es.domain.errors import AmountInvalidError, InvalidFieldError
from paylink_es.domain.fees import FeePlan, amount_with_fee_on_customer, fee_at_verification
from paylink_es.domain.fields import check_answers
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.merchant import Merchant
from paylink_es.domain.methods import check_method
from paylink_es.domain.money import MAX_MINOR_UNITS, Money
from paylink_es.domain.payment import INITIATED, ChannelPaymentIndex, Payment
from paylink_es.domain.validation import check_expiry, check_text, require_text


class PaymentService:
    """Start, record, verify, reject and review payments."""

    def __init__(self, app: PaylinkApp, minimums: dict[str, int] | None = None) -> None:
        self.app = app
        # The least each method takes (method or family -> rupiah) over the defaults.
        self.minimums = minimums

    def start(
        self,
        link_id: UUID,
        method: str,
        *,
        channel: str = "sandbox",
        amount: object | None = None,
        instructions: dict[str, str] | None = None,
        instruct: Callable[[UUID, Money], dict[str, str]] | None = None,
        expires_at: datetime | None = None,
        payment_id: UUID | None = None,
        customer: Mapping[str, object] | None = None,
        custom_fields: Mapping[str, object] | None = None,
    ) -> UUID:
        """Begin a payment attempt on a link by one method; returns the payment id.

        ``instruct(payment_id, amount_due)`` lets a channel write the instructions (a VA
        number, QRIS content) once the amount is known. ``payment_id`` fixes the id, for
        a channel that must be told it before the attempt is recorded. ``customer`` (name,
        email, phone, address) and ``custom_fields`` (key -> value) are what the payer
        entered, checked against what the link asks (``check_answers``) and kept on the
        payment's ``Initiated`` event; a bad answer stores nothing.
        """
        app = self.app
        code = check_method(method)
        if expires_at is not None:
            check_expiry(expires_at, app.now())

        def command() -> UUID:
            link = app.get(PaymentLink, link_id, "link")
            link.check_payable(code, app.now())
            base = link.amount_due(amount)
            payer, answers = check_answers(link, customer, custom_fields)
            plan = app.get(Merchant, link.merchant_id, "merchant").fee_plan()
            check_amount_for(code, base, plan, self.minimums)
            due = amount_with_fee_on_customer(plan, code, base)
            attempt_id = payment_id or app.new_id()
            if instruct is not None:
                instructions_now = instruct(attempt_id, due)
            else:
                instructions_now = dict(instructions or {})
            payment = Payment(
                id=attempt_id,
                merchant_id=link.merchant_id,
                mode=link.mode,
                link_id=link.id,
                method=code,
                channel=channel,
                amount=due,
                instructions=instructions_now,
                expires_at=expires_at or link.payable_until(),
                surcharge=due - base if due != base else None,
                customer=payer,
                custom_fields=answers,
            )
            app.save(payment)
            return payment.id

        return app.run(command)

    def record(
        self, payment_id: UUID, channel_ref: str, amount: Money, paid_at: datetime
    ) -> PaymentOutcome:
        """Record money the channel reports; the same channel reference twice changes nothing.

        Money is never dropped: a payment the link cannot count (expired, cancelled,
        already completed, wrong amount) is recorded and flagged for review or refund.
        """
        app = self.app
        ref = require_text(channel_ref, "channel_ref", max_length=128)
        if not isinstance(amount, Money) or amount.amount <= 0:
            raise AmountInvalidError("amount", f"a payment must bring money, got {amount}")
        if amount.amount > MAX_MINOR_UNITS:
            raise AmountInvalidError(
                "amount", f"{amount.amount} is above the limit of {MAX_MINOR_UNITS}"
            )
        if not isinstance(paid_at, datetime) or paid_at.tzinfo is None:
            raise InvalidFieldError("paid_at", "must be an instant with a time zone offset")

        def command() -> PaymentOutcome:
            payment = app.get(Payment, payment_id, "payment")
            index_id = ChannelPaymentIndex.create_id(payment.channel, ref)
            if index_id in app.repository:
                index = app.get(ChannelPaymentIndex, index_id, "payment")
                return PaymentOutcome(index.payment_id, duplicate=True, anomaly=None)
            if payment.status != INITIATED:
                # More money to instructions already paid once: a payment of its own.
                payment = Payment(
                    id=stable_id(f"/payments/{payment.channel}/{ref}"),
                    merchant_id=payment.merchant_id,
                    mode=payment.mode,
                    link_id=payment.link_id,
                    method=payment.method,
                    channel=payment.channel,
                    amount=payment.amount,
                    instructions=payment.instructions,
                    expires_at=payment.expires_at,
                    customer=payment.customer,
                    custom_fields=payment.custom_fields,
                )
            link = app.get(PaymentLink, payment.link_id, "link")
            payment.receive(ref, amount, paid_at, received_at=app.now())
            # Money is judged as it arrives, but it only counts as a use of the link
            # once the channel has confirmed it (verify): a payment the channel
            # denies never completes a link.
            anomaly = link.assess_payment(amount, payment.amount, paid_at)
            if anomaly is not None:
                self._flag(payment, link, anomaly)
            index = ChannelPaymentIndex(
                payment_id=payment.id, channel=payment.channel, channel_ref=ref
            )
            app.save(payment, link, index)
            return PaymentOutcome(payment.id, duplicate=False, anomaly=anomaly)

        return app.run(command)

    def verify(
        self, payment_id: UUID, fee: Money | None = None, evidence: dict[str, str] | None = None
    ) -> None:
        """Confirm a received payment; credits the merchant's pending balance.

        Without ``fee`` the merchant's fee plan prices it (the default plan until one is set).
        """
        app = self.app

        def command() -> None:
            payment = app.get(Payment, payment_id, "payment")
            link = app.get(PaymentLink, payment.link_id, "link")
            if payment.anomaly is None and payment.received is not None:
                part = payment.toward_link()
                # Other payments confirmed first may have taken every use of the link, or
                # paid so much of a link paid in parts that this part is more than is left.
                anomaly = link.acceptance_anomaly(part)
                if anomaly is not None:
                    self._flag(payment, link, anomaly)
                else:
                    link.accept_payment(payment.id, payment.received, part)
            plan = app.get(Merchant, payment.merchant_id, "merchant").fee_plan()
            payment.verify(
                fee if fee is not None else self._plan_fee(payment, plan),
                dict(evidence or {}),
                refund_fee=plan.refund_fee_for(payment.method),
            )
            app.save(payment, link)

        app.run(command)

    def _flag(self, payment: Payment, link: PaymentLink, anomaly: str) -> None:
        """Flag money the link cannot count, with the merchant's decision for it."""
        merchant = self.app.get(Merchant, payment.merchant_id, "merchant")
        payment.flag(anomaly, merchant.decision_for(anomaly))
        link.flag_payment(payment.id, payment.received or payment.amount, anomaly)

    def charge_for(self, merchant_id: UUID, method: str, base: Money) -> Money:
        """What the payer is asked for ``base`` by ``method``: more only when the merchant's
        plan passes that method's fee on to the payer (never for QRIS)."""
        plan = self.app.get(Merchant, merchant_id, "merchant").fee_plan()
        if base.currency != plan.currency:
            return base
        return amount_with_fee_on_customer(plan, method, base)

    @staticmethod
    def _plan_fee(payment: Payment, plan: FeePlan) -> Money:
        received = payment.received or payment.amount
        return fee_at_verification(plan, payment.method, received - payment.refunded)

    def withdraw(self, payment_id: UUID, reason: str) -> bool:
        """Record that the payment's instructions were closed at the channel (its VA
        deleted); False if they were already, or the payment is no longer awaiting money."""
        why = require_text(reason, "reason", max_length=500)

        def command() -> bool:
            payment = self.app.get(Payment, payment_id, "payment")
            if payment.status != INITIATED or payment.withdrawn is not None:
                return False
            payment.withdraw(why)
            self.app.save(payment)
            return True

        return self.app.run(command)

    def review(self, payment_id: UUID, decision: str, note: str | None = None) -> None:
        """Accept or refund a payment held for review (the decision is an event)."""
        why = check_text(note, "note", max_length=500, required=False) or ""
        self.app.update(Payment, payment_id, "payment", lambda p: p.review(decision, why))

    def reject(self, payment_id: UUID, reason: str) -> None:
        """The channel did not confirm the payment; nothing is credited."""
        why = require_text(reason, "reason", max_length=500)
        self.app.update(Payment, payment_id, "payment", lambda payment: payment.reject(why))

    def get(self, payment_id: UUID) -> PaymentDetails:
        """The payment as it stands now."""
        return PaymentDetails.of(self.app.get(Payment, payment_id, "payment"))
