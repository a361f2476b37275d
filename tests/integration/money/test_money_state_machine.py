"""Random histories of payments, duplicates, reviews, settlements, payouts and refunds.

After every step, on SQLite and PostgreSQL: the views' invariants hold (they refuse to
write otherwise), the write side's funds guard equals the available balance the
merchant sees and the test's own sum of settlements, payouts and refunds, the audit
replay from the store equals the live balances, nothing paid out exceeds what was
settled, and a duplicate callback changed nothing.

Refunds of settled money (in full, the gross) may take the available balance below zero:
then every payout is refused, and settlements make it good. Fee plans change at random
between keeping the fee on refunds and returning it, per plan and per family, and the
fees the books show are what the payments say was taken and given back.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import DomainError
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan, FeeRule
from paylink_es.domain.money import Money
from paylink_es.domain.payment import SETTLED, Payment
from paylink_es.domain.settlement import InsufficientFundsError
from paylink_es.settings import Settings
from projections.ledger import BUCKETS
from projections.queries.ledger import balances
from projections.replay import replay
from projections.runner import ReadModels
from tests.support.read_models import another_store, catch_up
from workers.settlement import settle_day

METHODS = ("va_bca", "qris", "ewallet_ovo", "card", "retail_alfamart")


class MoneyMachine(RuleBasedStateMachine):
    """One merchant's money through every path the platform offers."""

    backend: Settings  # set per backend by the test below

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.app: Paylink | None = None
        self.views: ReadModels | None = None
        self.payments: list[UUID] = []
        self.refs: dict[UUID, tuple[str, Money]] = {}
        self.paid_out = 0
        self.settled_net = 0
        self.available = 0  # settled net, less payouts and refunds of settled money
        self.overdrawn = False  # a refund took available below zero at some point
        self.stack = ExitStack()

    @initialize(first=st.integers(10_000, 500_000))
    def open_books(self, first: int) -> None:
        # A fresh store per example: a new SQLite folder or PostgreSQL schema.
        folder = Path(tempfile.mkdtemp(prefix="money-machine-"))
        self.stack.callback(shutil.rmtree, folder, ignore_errors=True)
        store = self.stack.enter_context(another_store(self.backend, folder))
        self.app = open_paylink(store, clock=self.clock)
        self.views = ReadModels(store)
        self.merchant = self.app.merchants.register("Toko Acak")
        self.app.merchants.set_bank_account(self.merchant, "BCA", "1234567890", "Toko Acak")
        # Every history starts with settled money, so refunds of it and payouts of it come
        # early and often.
        self.pay("va_bca", first, 0, confirmed=True)
        self.settle(8)

    def teardown(self) -> None:
        if self.views is not None:
            self.views.close()
        if self.app is not None:
            self.app.close()
        self.stack.close()

    @property
    def paylink(self) -> Paylink:
        assert self.app is not None
        return self.app

    @rule(
        method=st.sampled_from(METHODS),
        amount=st.integers(10_000, 500_000),
        off_by=st.sampled_from([0, 0, 0, 5_000, -5_000]),
        confirmed=st.sampled_from([True, True, True, False]),
    )
    def pay(self, method: str, amount: int, off_by: int, confirmed: bool) -> None:
        link = self.paylink.links.create(self.merchant, amount=amount, description="Barang")
        payment = self.paylink.payments.start(link, method)
        ref = f"ref-{len(self.payments)}"
        paid = Money(amount + off_by, "IDR")
        outcome = self.paylink.payments.record(payment, ref, paid, self.clock())
        assert not outcome.duplicate
        self.payments.append(payment)
        self.refs[payment] = (ref, paid)
        if confirmed:
            self.paylink.payments.verify(payment)
        else:
            self.paylink.payments.reject(payment, "the channel does not know it")

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def duplicate_callback(self, data: st.DataObject) -> None:
        payment = data.draw(st.sampled_from(self.payments))
        before = self.paylink.payments.get(payment)
        ref, paid = self.refs[payment]
        outcome = self.paylink.payments.record(payment, ref, paid, self.clock())
        assert outcome.duplicate
        assert self.paylink.payments.get(payment) == before

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), decision=st.sampled_from(["accept", "refund"]))
    def review(self, data: st.DataObject, decision: str) -> None:
        payment = data.draw(st.sampled_from(self.payments))
        try:
            self.paylink.payments.review(payment, decision)
        except DomainError:
            assert self.paylink.payments.get(payment).disposition != "needs_review"

    @rule(days=st.integers(0, 8))
    def settle(self, days: int) -> None:
        assert self.views is not None
        catch_up(self.paylink, self.views)
        day = self.clock().date() + timedelta(days=days)
        run = settle_day(self.paylink, self.views, day)
        net = sum(total["net"] for total in run.totals.values())
        self.settled_net += net
        if self.available < 0 and net:
            event("a settlement credited a negative balance")
        self.available += net  # credited first to a negative balance: it makes it good
        again = settle_day(self.paylink, self.views, day)
        assert again.settled == 0, "a day settles nothing twice"

    @rule(
        policy=st.sampled_from(["kept", "returned"]),
        family_policy=st.sampled_from([None, "kept", "returned"]),
        family=st.sampled_from(["virtual_account", "qris", "ewallet", "card", "retail"]),
    )
    def set_fee_plan(self, policy: str, family_policy: str | None, family: str) -> None:
        """What refunds do to the fee changes, for the plan or for one family's rule."""
        rule = DEFAULT_PLAN.families[family]
        families = dict(DEFAULT_PLAN.families)
        families[family] = FeeRule(flat=rule.flat, rate_ppm=rule.rate_ppm, refund_fee=family_policy)
        plan = FeePlan(name=f"plan-{policy}", families=families, refund_fee=policy)
        self.paylink.merchants.set_fee_plan(self.merchant, plan)

    def _payment(self, payment_id: UUID) -> Payment:
        found: object = self.paylink.app.repository.get(payment_id)
        assert isinstance(found, Payment)
        return found

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), share=st.sampled_from([0.25, 0.5, 1.0, 2.0]))
    def refund(self, data: st.DataObject, share: float) -> None:
        payment = self.paylink.payments.get(data.draw(st.sampled_from(self.payments)))
        received = payment.received or payment.amount
        self._refund(payment.id, Money(max(1, int(received.amount * share)), received.currency))

    def _refund(self, payment_id: UUID, amount: Money) -> None:
        payment = self.paylink.payments.get(payment_id)
        before = self._payment(payment.id)
        try:
            self.paylink.money.refund(payment.id, amount, "customer asked")
        except DomainError:  # more than is left, or a payment that brought nothing
            left = payment.refundable
            assert left is None or amount > left or payment.status == "rejected"
            return
        after = self._payment(payment.id)
        assert after.refunded == before.refunded + amount
        if before.status != SETTLED:
            return
        # Settled money goes back in full, from available, whatever is left there.
        back = after.fee_returned_after_settlement - before.fee_returned_after_settlement
        if after.refund_fee == "kept":
            assert back.amount == 0
        self.available -= amount.amount - back.amount
        if self.available < 0:
            event("a refund took the available balance below zero")
            self.overdrawn = True
        if after.refundable().amount == 0:  # refunded in full: all or none of the fee back
            expected = after.fee if after.refund_fee == "returned" else Money(0, "IDR")
            assert after.fee_returned == expected

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), whole=st.booleans())
    def refund_settled(self, data: st.DataObject, whole: bool) -> None:
        """A settled payment refunded in full (or half of what is left): the case that
        can take the available balance below zero."""
        settled = [p for p in self.payments if self._payment(p).status == SETTLED]
        left = {p: self._payment(p).refundable().amount for p in settled}
        candidates = [p for p in settled if left[p] > 0]
        if not candidates:
            return
        payment = data.draw(st.sampled_from(candidates))
        amount = left[payment] if whole else max(1, left[payment] // 2)
        self._refund(payment, Money(amount, "IDR"))

    @rule(share=st.sampled_from([0.1, 0.5, 1.0, 1.5]))
    def payout(self, share: float) -> None:
        available = self.paylink.money.available_funds(self.merchant, "test", "IDR").amount
        # Nothing at all may be paid out of a balance at or below zero.
        amount = int(available * share) if available > 0 else 1
        try:
            done = self.paylink.money.request_payout(self.merchant, "test", Money(amount, "IDR"))
        except InsufficientFundsError as error:
            refused: str | None = error.message
        else:
            refused = None
        if refused is not None:
            assert amount > available
            assert available >= 0 or "next settlements" in refused
            if available < 0:
                event("a payout refused while the balance is negative")
            return
        assert 0 < amount <= available
        self.paid_out += done.amount.amount
        self.available -= done.amount.amount

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @invariant()
    def books_agree(self) -> None:
        if self.app is None or self.views is None:
            return
        catch_up(self.paylink, self.views)
        books = balances(self.views, self.merchant, "test").get("IDR")
        guard = self.paylink.money.available_funds(self.merchant, "test", "IDR").amount
        assert guard == self.available
        if books is None:
            assert guard == 0
            return
        assert books["available"] == guard
        assert books["paid_out"] == self.paid_out <= self.settled_net
        assert books["verified"] == sum(books[b] for b in BUCKETS)
        assert all(books[b] >= 0 for b in BUCKETS if b != "available")
        assert books["available"] >= 0 or self.overdrawn
        # The fees the books show: what settlement took, less what refunds gave back.
        settled = [self._payment(p) for p in self.payments]
        taken = sum(
            p.settled_fee.amount - p.fee_returned_after_settlement.amount
            for p in settled
            if p.status == SETTLED
        )
        assert books["fees"] == taken
        result = replay(self.paylink.app, self.views, self.clock())
        assert result.differences == []


def test_random_money_histories_keep_every_ledger_invariant(backend_settings: Settings) -> None:
    class Machine(MoneyMachine):
        backend = backend_settings

    Machine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    Machine.TestCase().runTest()
