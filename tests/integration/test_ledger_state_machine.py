"""Random lifecycles: whatever happens, money is never lost, never double-counted, never over-used.

A hypothesis state machine drives the application through creates, payments (clean,
wrong, late, duplicated on purpose), cancels, expiries, verifications, settlements and
refunds, and checks after every step, from the application's read side, that

(a) every rupiah received is collected by its link once the channel confirmed it, held on a
    flagged payment, or waiting for (or refused) confirmation — never two of these;
(b) one received payment per distinct channel reference, however often it was reported;
(c) no link is used more often than its usage limit allows;
(d) the write side's available balance is the settled net less what refunds of settled
    money took (all of a payment's gross can go back, so it may go below zero; later
    settlements add to it).

It runs long on the in-memory store and briefly on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from paylink_es.application.details import LinkDetails, PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import (
    LinkClosedError,
    LinkNotPayableError,
    PaymentStateError,
    ReferenceReusedError,
    RefundExceedsPaymentError,
)
from paylink_es.domain.money import Money
from paylink_es.domain.payment import SETTLED, Payment
from tests.support.examples import scaled

METHODS = ["qris", "va_bca"]


def expected_anomaly(link: LinkDetails, due: Money, paid: Money, paid_at: datetime) -> str | None:
    """What the rules of the platform say about money arriving for ``link`` (the test's oracle)."""
    if link.status == "cancelled":
        return "link_cancelled"
    if link.status == "completed":
        return "link_already_completed"
    if link.expires_at is not None and paid_at >= link.expires_at:
        return "paid_after_expiry"
    if paid.amount > due.amount:
        return "overpaid"
    if paid.amount < due.amount:
        return "underpaid"
    return None


class LedgerMachine(RuleBasedStateMachine):
    """One merchant's links and payments, driven at random against one application."""

    def __init__(
        self, app: Paylink, clock: FakeClock, on_teardown: Callable[[], None] = lambda: None
    ) -> None:
        super().__init__()
        self.app = app
        self.clock = clock
        self.on_teardown = on_teardown
        # The store may be shared with earlier examples: keep this one's names apart.
        self.tag = uuid4().hex[:10]
        self.merchant_id = app.merchants.register(f"Toko {self.tag}")
        self.links: list[UUID] = []
        self.by_reference: dict[str, tuple[UUID, dict[str, object]]] = {}
        self.payments: list[UUID] = []
        self.refs: dict[str, UUID] = {}  # channel reference -> payment it was recorded on
        self.uses: dict[UUID, int] = {}
        self.expiry_recorded: set[UUID] = set()
        self.refunded_after_settlement = False

    def teardown(self) -> None:
        self.on_teardown()

    @initialize(payers=st.integers(1, 3), expires_in=st.sampled_from([30, 120, 24 * 60]))
    def a_single_use_link_with_payments_under_way(self, payers: int, expires_in: int) -> None:
        """Start where the interesting races are: several payers on one single-use link."""
        self.create_link(False, 150_000, 1, expires_in, None)
        for _ in range(payers):
            self.payments.append(self.app.payments.start(self.links[-1], "qris"))

    # -- links ---------------------------------------------------------------------------

    @rule(
        open_amount=st.booleans(),
        base=st.integers(20_000, 500_000),  # every method's minimum is at most Rp 10,000
        limit=st.sampled_from([1, 1, 2, None]),
        expires_in=st.sampled_from([None, 30, 120, 24 * 60]),
        reference=st.one_of(st.none(), st.integers(0, 3)),
    )
    def create_link(
        self,
        open_amount: bool,
        base: int,
        limit: int | None,
        expires_in: int | None,
        reference: int | None,
    ) -> None:
        terms: dict[str, object] = {
            "description": "Kaos polos hitam",
            "methods": METHODS,
            "usage_limit": limit,
            "expires_at": None
            if expires_in is None
            else self.clock() + timedelta(minutes=expires_in),
        }
        if open_amount:
            terms.update(amount_min=base // 2, amount_max=base * 2)
        else:
            terms["amount"] = base
        reference_id = None if reference is None else f"INV-{reference}"
        if reference_id is not None and reference_id in self.by_reference:
            first_id, first_terms = self.by_reference[reference_id]
            if first_terms != terms:
                with pytest.raises(ReferenceReusedError):
                    self.app.links.create(self.merchant_id, reference_id=reference_id, **terms)
                return
            assert (
                self.app.links.create(self.merchant_id, reference_id=reference_id, **terms)
                == first_id
            )
            return
        link_id = self.app.links.create(self.merchant_id, reference_id=reference_id, **terms)
        assert link_id not in self.links
        if reference_id is not None:
            self.by_reference[reference_id] = (link_id, terms)
        self.links.append(link_id)
        self.uses[link_id] = 0

    @precondition(lambda self: self.links)
    @rule(data=st.data())
    def cancel_link(self, data: st.DataObject) -> None:
        link_id = data.draw(st.sampled_from(self.links))
        status = self.app.links.get(link_id).status
        closed = status in ("cancelled", "completed") or link_id in self.expiry_recorded
        try:
            self.app.links.cancel(link_id, "random cancel")
        except LinkClosedError:
            assert closed
            assert self.app.links.get(link_id).status == status
        else:
            assert not closed
            assert self.app.links.get(link_id).status == "cancelled"

    @precondition(lambda self: self.links)
    @rule(data=st.data())
    def expire_link(self, data: st.DataObject) -> None:
        link_id = data.draw(st.sampled_from(self.links))
        due = (
            self.app.links.get(link_id).status == "expired" and link_id not in self.expiry_recorded
        )
        assert self.app.links.expire(link_id) is due
        if due:
            self.expiry_recorded.add(link_id)

    @rule(minutes=st.sampled_from([1, 10, 60, 6 * 60, 24 * 60]))
    def advance_clock(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    # -- payments ------------------------------------------------------------------------

    @precondition(lambda self: self.links)
    @rule(data=st.data(), method=st.sampled_from(METHODS))
    def start_payment(self, data: st.DataObject, method: str) -> None:
        link_id = data.draw(st.sampled_from(self.links))
        link = self.app.links.get(link_id)
        offered = None
        if link.amount is None:
            low = link.amount_min or 1
            offered = data.draw(st.integers(low, link.amount_max or low * 4))
        try:
            payment_id = self.app.payments.start(link_id, method, amount=offered)
        except LinkNotPayableError:
            assert link.status != "active"
            return
        assert link.status == "active"
        payment = self.app.payments.get(payment_id)
        assert payment.amount.amount == (link.amount or offered)
        self.payments.append(payment_id)

    @precondition(lambda self: self.payments)
    @rule(
        data=st.data(),
        again=st.booleans(),
        off_by=st.sampled_from([0, 0, 1, -1, 25_000]),
        paid_minutes_ago=st.sampled_from([-60, -5, 0, 5, 60, 600]),
    )
    def record_payment(
        self, data: st.DataObject, again: bool, off_by: int, paid_minutes_ago: int
    ) -> None:
        payment_id = data.draw(st.sampled_from(self.payments))
        ref = data.draw(st.sampled_from(sorted(self.refs))) if again and self.refs else None
        self._record(payment_id, ref, off_by, self.clock() - timedelta(minutes=paid_minutes_ago))

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def pay_exactly_now(self, data: st.DataObject) -> None:
        self._record(data.draw(st.sampled_from(self.payments)), None, 0, self.clock())

    def _record(self, payment_id: UUID, ref: str | None, off_by: int, paid_at: datetime) -> None:
        """Report money for ``payment_id`` (a fresh channel reference unless ``ref``)."""
        before = self.app.payments.get(payment_id)
        link = self.app.links.get(before.link_id)
        ref = ref or f"{self.tag}-{len(self.refs)}"
        paid = Money(max(before.amount.amount + off_by, 1), "IDR")

        outcome = self.app.payments.record(payment_id, ref, paid, paid_at)

        if ref in self.refs:
            assert outcome.duplicate
            assert outcome.payment_id == self.refs[ref]
            return
        assert not outcome.duplicate
        assert outcome.anomaly == expected_anomaly(link, before.amount, paid, paid_at)
        self.refs[ref] = outcome.payment_id
        if before.status == "initiated":
            assert outcome.payment_id == payment_id
        else:  # more money to instructions already paid: a payment of its own
            assert outcome.payment_id not in self.payments
            self.payments.append(outcome.payment_id)
        recorded = self.app.payments.get(outcome.payment_id)
        assert (recorded.received, recorded.channel_ref, recorded.paid_at) == (paid, ref, paid_at)

    def _payment(self, data: st.DataObject) -> PaymentDetails:
        return self.app.payments.get(data.draw(st.sampled_from(self.payments)))

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), confirmed=st.booleans(), fee=st.sampled_from([0, 100, 2_500]))
    def confirm_with_channel(self, data: st.DataObject, confirmed: bool, fee: int) -> None:
        payment = self._payment(data)
        link = self.app.links.get(payment.link_id)
        try:
            if confirmed:
                self.app.payments.verify(payment.id, Money(min(fee, 499), "IDR"))
            else:
                self.app.payments.reject(payment.id, "status inquiry: not paid")
        except PaymentStateError:
            assert payment.status != "paid"
        else:
            assert payment.status == "paid"
            now = self.app.payments.get(payment.id)
            assert now.status == ("verified" if confirmed else "rejected")
            if confirmed and payment.anomaly is None:
                # Only confirmed money counts as a use; the link may have been completed
                # by another payment confirmed first.
                full = link.usage_limit is not None and link.uses >= link.usage_limit
                if link.status == "completed" or full:
                    assert now.anomaly == "link_already_completed"
                else:
                    assert now.anomaly is None
                    self.uses[payment.link_id] += 1

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def settle_payment(self, data: st.DataObject) -> None:
        payment = self._payment(data)
        settleable = payment.status == "verified" and payment.disposition is None
        try:
            self.app.money.settle_payment(payment.id, uuid4(), date(2026, 1, 31))
        except PaymentStateError:
            assert not settleable
        else:
            assert settleable
            assert self.app.payments.get(payment.id).status == "settled"

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), share=st.sampled_from([0.25, 0.5, 1.0]))
    def refund_payment(self, data: st.DataObject, share: float) -> None:
        payment = self._payment(data)
        holds_money = payment.status in ("paid", "verified", "settled")
        base = payment.received.amount if payment.received else 1
        amount = Money(max(int(base * share), 1), "IDR")
        try:
            self.app.money.refund(payment.id, amount, "random refund")
        except PaymentStateError:
            assert not holds_money
        except RefundExceedsPaymentError:
            assert holds_money
            assert payment.received is not None
            # Before and after settlement alike, all the payer paid can go back.
            assert amount > payment.received - payment.refunded
        else:
            assert holds_money
            assert self.app.payments.get(payment.id).refunded == payment.refunded + amount
            if payment.status == "settled":
                self.refunded_after_settlement = True

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def money_is_never_lost_or_double_counted(self) -> None:
        links = {link_id: self.app.links.get(link_id) for link_id in self.links}
        payments = [self.app.payments.get(payment_id) for payment_id in self.payments]
        received = [p for p in payments if p.received is not None]
        total = sum(p.received.amount for p in received if p.received)
        collected = sum(link.collected for link in links.values())
        flagged = sum(p.received.amount for p in received if p.received and p.anomaly)
        unconfirmed = sum(
            p.received.amount
            for p in received
            if p.received and p.anomaly is None and p.status in ("paid", "rejected")
        )
        assert total == collected + flagged + unconfirmed  # (a)
        assert len(received) == len(self.refs)  # (b)
        for link_id, link in links.items():  # (c)
            assert link.usage_limit is None or link.uses <= link.usage_limit
            assert link.uses == self.uses[link_id]
            if link.status == "completed":
                assert link.uses == link.usage_limit
            counted = [
                p
                for p in received
                if p.link_id == link_id
                and p.anomaly is None
                and p.status in ("verified", "settled")
            ]
            assert link.collected == sum(p.received.amount for p in counted if p.received)
        for payment in received:
            assert payment.received is not None
            assert payment.refunded <= payment.received

    @invariant()
    def the_funds_guard_is_what_settled_less_what_went_back(self) -> None:
        """Available = settled net, less refunds of settled money (less any fee given
        back): negative after a refund of more than was there, never otherwise."""
        expected: dict[str, int] = {}
        for payment_id in self.payments:
            found: object = self.app.app.repository.get(payment_id)
            assert isinstance(found, Payment)
            if found.status != SETTLED:
                continue
            taken = found.refunded_after_settlement - found.fee_returned_after_settlement
            currency = found.settled_net.currency
            expected[currency] = expected.get(currency, 0) + (found.settled_net - taken).amount
        for currency, amount in expected.items():
            guard = self.app.money.available_funds(self.merchant_id, "test", currency)
            assert guard.amount == amount
            assert amount >= 0 or self.refunded_after_settlement


FAST = settings(
    max_examples=scaled(50),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
BRIEF = settings(FAST, max_examples=scaled(10))


Store = tuple[Paylink, FakeClock, Callable[[], None]]


def machine_on(store: Callable[[], Store]) -> type[LedgerMachine]:
    """The machine class hypothesis builds per example, on the store ``store()`` gives."""

    class LedgerMachineOnStore(LedgerMachine):
        def __init__(self) -> None:
            app, clock, close = store()
            super().__init__(app, clock, on_teardown=close)

    return LedgerMachineOnStore


def test_random_lifecycles_never_lose_or_double_count_money_in_memory() -> None:
    def fresh_store() -> Store:
        clock = FakeClock()
        app = Paylink.open({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
        return app, clock, app.close

    run_state_machine_as_test(machine_on(fresh_store), settings=FAST)


def test_random_lifecycles_never_lose_or_double_count_money_on_a_real_database(
    backend_app: Paylink, clock: FakeClock
) -> None:
    # One store for every example (the fixture closes it); each example keeps to its own
    # merchant and channel references, and the invariants read only what it created.
    run_state_machine_as_test(
        machine_on(lambda: (backend_app, clock, lambda: None)), settings=BRIEF
    )
