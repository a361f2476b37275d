"""Refunds as events: the request and the channel's answer recorded in one save, a run of
the same idempotent request answered as the first ended, and refunds stored before the
refund fee policy and the refund events existed replayed as they were."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from paylink_es.application.channel_port import ChannelPort, RefundResult
from paylink_es.application.money import ChannelRefusedError
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import RefundExceedsPaymentError, TextInvalidError
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan
from paylink_es.domain.idempotency import ids_from
from paylink_es.domain.money import Money
from paylink_es.domain.payment import Payment
from paylink_es.domain.postings import postings_for
from paylink_es.settings import Settings
from projections.queries.ledger import balances
from projections.replay import replay
from projections.runner import ReadModels
from tests.support.read_models import catch_up


class Channel:
    """A channel that accepts or refuses every refund, and counts what it was asked."""

    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.asked: list[UUID] = []

    def refund(
        self, channel_ref: str, payment_id: UUID, refund_id: UUID, amount: Money
    ) -> RefundResult:
        self.asked.append(refund_id)
        if self.accept:
            return RefundResult(True, f"R-{len(self.asked)}", "refunded")
        return RefundResult(False, "", "refunds are not possible for this payment")

    @property
    def port(self) -> ChannelPort:
        """This stand-in where a channel goes (it answers only refunds)."""
        return cast("ChannelPort", self)


def settled_payment(app: Paylink, merchant: UUID, amount: int, ref: str) -> UUID:
    link = app.links.create(merchant, amount=amount, description=f"Order {ref}")
    payment = app.payments.start(link, "va_bca")
    app.payments.record(payment, ref, Money(amount, "IDR"), app.now())
    app.payments.verify(payment)
    app.money.settle_payment(payment, uuid4(), date(2026, 1, 6))
    return payment


def kinds(app: Paylink, payment: UUID) -> Counter[str]:
    return Counter(type(e).__qualname__ for e in app.app.events.get(payment))


@pytest.mark.parametrize("accept", [True, False])
def test_a_refund_run_again_by_its_idempotent_request_is_answered_as_it_ended(
    backend_settings: Settings, clock: FakeClock, accept: bool
) -> None:
    channel = Channel(accept)
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Ulang")
        payment = settled_payment(app, shop, 54_000, "again-1")
        request = uuid4()  # the Idempotency-Key's record: the run's ids derive from it
        answers: list[Any] = []
        for _ in range(2):  # the second run: the first died before its answer was kept
            with ids_from(request):
                try:
                    answers.append(
                        app.money.refund(payment, Money(54_000, "IDR"), "x", channel.port)
                    )
                except ChannelRefusedError as refused:
                    answers.append(refused.message)
        assert answers[0] == answers[1]
        assert len(channel.asked) == 1, "the channel is asked once"
        stored = kinds(app, payment)
        assert stored["Payment.RefundRequested"] == 1
        if accept:
            assert (stored["Payment.Refunded"], stored["Payment.RefundSucceeded"]) == (1, 1)
            assert app.money.available_funds(shop, "test", "IDR") == Money(-4_000, "IDR")
            done = app.money.refund_details(payment, answers[0])
            assert (done.status, done.channel_ref) == ("succeeded", "R-1")
        else:
            assert answers[0] == (
                "the sandbox channel refused the refund: refunds are not possible for this payment"
            )
            assert (stored["Payment.Refunded"], stored["Payment.RefundFailed"]) == (0, 1)
            assert app.money.available_funds(shop, "test", "IDR") == Money(50_000, "IDR")
            assert app.payments.get(payment).refunded == Money(0, "IDR")
            [refund_id] = channel.asked
            failed = app.money.refund_details(payment, refund_id)
            assert (failed.status, failed.failure) == (
                "failed",
                "refunds are not possible for this payment",
            )


def test_a_bad_refund_asks_no_channel_and_stores_nothing(
    backend_settings: Settings, clock: FakeClock
) -> None:
    channel = Channel(True)
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Salah")
        payment = settled_payment(app, shop, 54_000, "bad-1")
        before = kinds(app, payment)
        for amount in (Money(54_001, "IDR"), Money(0, "IDR")):
            with pytest.raises(RefundExceedsPaymentError, match="exceeds") as refused:
                app.money.refund(payment, amount, "too much", channel.port)
            assert refused.value.field == "amount"
        with pytest.raises(TextInvalidError) as no_reason:
            app.money.refund(payment, Money(1, "IDR"), " ", channel.port)
        assert no_reason.value.field == "reason"
        assert channel.asked == []
        assert kinds(app, payment) == before


def _legacy(event: Any, *dropped: str) -> Any:
    """The event as it was stored before ``dropped`` fields existed."""
    for name in dropped:
        del vars(event)[name]
    return event


def test_refunds_stored_before_fee_policies_and_refund_events_replay_as_they_were(
    memory_app: Paylink,
) -> None:
    app = memory_app
    shop = app.merchants.register("Toko Lama")
    # A plan that would give the fee back: events stored before the policy existed
    # carry none, and must replay as the fee kept, as they were booked.
    app.merchants.set_fee_plan(
        shop, FeePlan.from_dict({**DEFAULT_PLAN.to_dict(), "refund_fee": "returned"})
    )
    payment = settled_payment(app, shop, 104_000, "old-1")
    refund_id = app.money.refund(payment, Money(52_000, "IDR"), "half")
    stored = list(app.app.events.get(payment))
    legacy: list[Any] = []
    for event in stored:
        name = type(event).__qualname__
        if name in ("Payment.RefundRequested", "Payment.RefundSucceeded"):
            continue  # refunds used to be one event
        if name == "Payment.Verified":
            event = _legacy(event, "refund_fee")
        elif name == "Payment.Refunded":
            event = _legacy(event, "fee_returned")
        vars(event)["originator_version"] = len(legacy) + 1  # as the shorter history had it
        legacy.append(event)
    aggregate: Any = None
    for event in legacy:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Payment)
    assert aggregate.refund_fee == "kept"
    assert aggregate.refund_outcome(refund_id) == ("succeeded", None)
    assert aggregate.refundable() == Money(52_000, "IDR")
    assert aggregate.fee_share_of(Money(52_000, "IDR")) is None
    [refunded] = [e for e in legacy if type(e).__qualname__ == "Payment.Refunded"]
    lines = {(p.account.split(":")[-1], p.debit, p.credit) for p in postings_for(refunded)}
    assert lines == {("available", 52_000, 0), ("refunds", 0, 52_000)}
    # The same refund as recorded now gives half the fee back.
    [now] = [e for e in app.app.events.get(payment) if type(e).__qualname__ == "Payment.Refunded"]
    lines = {(p.account.split(":")[-1], p.debit, p.credit) for p in postings_for(now)}
    assert lines == {("fees", 2_000, 0), ("available", 50_000, 0), ("refunds", 0, 52_000)}


@pytest.mark.parametrize(
    ("policy", "settled_fee", "available_after", "fees_after"),
    [
        # Kept: the whole fee is taken from the half that settles; the last refund is paid
        # for entirely out of available (48,000), which goes 4,000 below zero.
        ("kept", 4_000, -4_000, 4_000),
        # Returned: half the fee goes with the half refunded before settlement (not taken),
        # the other half with the rest (given back out of platform fees).
        ("returned", 2_000, 0, 0),
    ],
)
def test_a_refund_before_settlement_and_the_rest_after_follow_the_fee_policy(
    backend_settings: Settings,
    clock: FakeClock,
    views: ReadModels,
    policy: str,
    settled_fee: int,
    available_after: int,
    fees_after: int,
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register(f"Toko {policy}")
        app.merchants.set_fee_plan(
            shop, FeePlan.from_dict({**DEFAULT_PLAN.to_dict(), "refund_fee": policy})
        )
        link = app.links.create(shop, amount=104_000, description="Two shirts")
        payment = app.payments.start(link, "va_bca")  # Rp 4,000 flat
        app.payments.record(payment, "half-1", Money(104_000, "IDR"), app.now())
        app.payments.verify(payment)
        app.money.refund(payment, Money(52_000, "IDR"), "one shirt")  # from pending
        app.money.settle_payment(payment, uuid4(), date(2026, 1, 6))
        [settled] = [
            vars(e) for e in app.app.events.get(payment) if type(e).__qualname__.endswith("Settled")
        ]
        assert (settled["gross"], settled["fee"]) == (
            Money(52_000, "IDR"),
            Money(settled_fee, "IDR"),
        )
        app.money.refund(payment, Money(52_000, "IDR"), "the other shirt")  # from available
        assert app.money.available_funds(shop, "test", "IDR") == Money(available_after, "IDR")
        catch_up(app, views)
        result = replay(app.app, views, app.now())
    assert result.differences == []
    book = balances(views, shop, "test")["IDR"]
    assert (book["available"], book["fees"], book["refunded"]) == (
        available_after,
        fees_after,
        104_000,
    )
    assert (
        book["verified"]
        == 104_000
        == sum(
            book[c]
            for c in ("pending", "available", "held", "refund_due", "fees", "refunded", "paid_out")
        )
    )
