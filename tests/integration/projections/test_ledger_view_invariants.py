"""The ledger view refuses writes that break the books, and every event's postings balance."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Tracking

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.domain.postings import UnbalancedPostingsError, postings_for
from paylink_es.settings import Settings
from projections.ledger import BALANCE_COLUMNS
from projections.replay import check_books
from projections.runner import ReadModels
from projections.sqlview import InvariantViolationError
from tests.support.histories import Op, on_random_histories, played_in_memory
from tests.support.read_models import (
    APP_NAME,
    catch_up,
    head,
    payee,
    positions,
    recorded,
    snapshot,
)

LEDGER_EVENTS = ("Payment.Verified", "Payment.Settled", "Payment.Refunded")
POSTING_EVENTS = (*LEDGER_EVENTS, "Payout.Requested", "Payout.Failed")


def recorded_events(app: Paylink) -> dict[str, Any]:
    """The last stored event of each ledger kind, decoded."""
    found: dict[str, Any] = {}
    for notification in app.app.recorder.select_notifications(0, 10_000, inclusive_of_start=False):
        event = app.app.mapper.to_domain_event(notification)
        found[type(event).__qualname__] = event
    return found


def ledger_tables(views: ReadModels) -> tuple[Any, ...]:
    tables = snapshot(views)
    return tables["journal"], tables["balances"], positions(views)["ledger"]


@pytest.mark.parametrize(
    ("crafted", "error", "message"),
    [
        ("refund_beyond_pending", InvariantViolationError, "below zero"),
        ("refund_from_nowhere", InvariantViolationError, "not in exactly one"),
        ("settlement_that_does_not_balance", UnbalancedPostingsError, "do not balance"),
        ("good_event_then_bad_event_in_one_batch", InvariantViolationError, "below zero"),
    ],
)
def test_a_view_write_that_would_break_the_books_raises_and_writes_nothing(
    backend_settings: Settings,
    clock: FakeClock,
    views: ReadModels,
    crafted: str,
    error: type[Exception],
    message: str,
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Buku")
        link = app.links.create(merchant, amount=10_000, description="Buku", usage_limit=None)
        for ref in ("one", "two"):
            payment = app.payments.start(link, "qris")
            app.payments.record(payment, ref, Money(10_000, "IDR"), clock())
            app.payments.verify(payment, fee=Money(100, "IDR"))
        app.money.settle_payment(payment, uuid4(), date(2026, 1, 6))
        app.money.refund(payment, Money(500, "IDR"), "one page missing")
        catch_up(app, views)
        events = recorded_events(app)
        at = head(app)
    ledger = views["ledger"]
    before = ledger_tables(views)
    assert before[1][0]["pending"] == 10_000  # the first payment, not settled
    verified, settled, refunded = (events[name] for name in LEDGER_EVENTS)

    next_up = at + 1
    if crafted == "refund_beyond_pending":
        bad = dataclasses.replace(refunded, amount=Money(10_001, "IDR"), source="pending")
    elif crafted == "refund_from_nowhere":
        # Balanced postings, but the money leaves no merchant bucket: conservation breaks.
        bad = dataclasses.replace(refunded, source="payouts")
    elif crafted == "settlement_that_does_not_balance":
        bad = dataclasses.replace(settled, net=Money(settled.net.amount + 1, "IDR"))
    else:
        good = dataclasses.replace(verified, originator_id=uuid4())
        bad = dataclasses.replace(refunded, amount=Money(10**9, "IDR"), source="pending")
        with pytest.raises(error, match=message):
            ledger.process_batch([(good, _tracking(next_up)), (bad, _tracking(next_up + 1))])
        assert ledger_tables(views) == before
        ledger.process_batch([(good, _tracking(next_up))])  # alone, the good event is fine
        journal, _, position = ledger_tables(views)
        assert (len(journal), position) == (len(before[0]) + 2, next_up)
        return

    with pytest.raises(error, match=message):
        ledger.process_event(bad, _tracking(next_up))
    assert ledger_tables(views) == before
    assert ledger.view.max_tracking_id(APP_NAME) == at


def _tracking(position: int) -> Tracking:
    return Tracking(APP_NAME, position)


def test_only_a_refund_may_take_available_below_zero_and_no_payout_ever_does(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = payee(app, "Toko Minus")
        link = app.links.create(merchant, amount=10_000, description="Buku", usage_limit=None)
        payment = app.payments.start(link, "qris")
        app.payments.record(payment, "minus-1", Money(10_000, "IDR"), clock())
        app.payments.verify(payment, fee=Money(100, "IDR"))
        waiting = app.payments.start(link, "qris")
        app.payments.record(waiting, "minus-2", Money(10_000, "IDR"), clock())
        app.payments.verify(waiting, fee=Money(100, "IDR"))  # pending 10,000, settled below
        app.money.settle_payment(payment, uuid4(), date(2026, 1, 6))  # available 9,900
        app.money.refund(payment, Money(500, "IDR"), "one page missing")  # 9,400
        app.money.request_payout(merchant, "test", Money(1_000, "IDR"))  # 8,400
        catch_up(app, views)
        events = recorded_events(app)
        at = head(app)
    ledger = views["ledger"]

    def available() -> int:
        [book] = snapshot(views)["balances"]
        return int(book["available"])

    assert available() == 8_400
    payout, refunded, settled = (
        events[name] for name in ("Payout.Requested", "Payment.Refunded", "Payment.Settled")
    )
    too_much = dataclasses.replace(payout, amount=Money(8_401, "IDR"), originator_id=uuid4())
    big_refund = dataclasses.replace(refunded, amount=Money(9_500, "IDR"), source="available")
    small_payout = dataclasses.replace(payout, amount=Money(1, "IDR"), originator_id=uuid4())
    before = ledger_tables(views)

    with pytest.raises(InvariantViolationError, match=r"below zero.*only a refund may"):
        ledger.process_event(too_much, _tracking(at + 1))
    assert ledger_tables(views) == before
    # A payout after a refund that overdrew the balance, in the same batch: refused whole.
    with pytest.raises(InvariantViolationError, match=r"Payout\.Requested at position"):
        ledger.process_batch([(big_refund, _tracking(at + 1)), (small_payout, _tracking(at + 2))])
    assert ledger_tables(views) == before

    ledger.process_batch([(big_refund, _tracking(at + 1))])  # the refund alone: allowed
    assert available() == -1_100
    with pytest.raises(InvariantViolationError, match="below zero"):
        ledger.process_event(small_payout, _tracking(at + 2))  # nothing while negative
    assert available() == -1_100
    # Money settled later makes the balance good; until it is positive, still no payout.
    half = dataclasses.replace(
        settled,
        originator_id=uuid4(),
        gross=Money(1_000, "IDR"),
        fee=Money(0, "IDR"),
        net=Money(1_000, "IDR"),
    )
    ledger.process_event(half, _tracking(at + 2))
    assert available() == -100
    with pytest.raises(InvariantViolationError, match="below zero"):
        ledger.process_event(small_payout, _tracking(at + 3))
    rest = dataclasses.replace(
        half, originator_id=uuid4(), gross=Money(101, "IDR"), net=Money(101, "IDR")
    )
    ledger.process_event(rest, _tracking(at + 3))
    ledger.process_event(small_payout, _tracking(at + 4))
    assert available() == 0

    # The audit replay's check says the same, event by event.
    key = (str(merchant), "test", "IDR")
    columns: dict[str, int] = {**dict.fromkeys(BALANCE_COLUMNS, 0), "available": -1, "paid_out": 1}
    books = {key: columns}
    with pytest.raises(InvariantViolationError, match="negative available"):
        check_books(books, {key}, "payout", small_payout, {key: -1})
    check_books(books, {key}, "refund", big_refund, {key: -1})
    check_books(books, {key}, "settlement", half, {key: 1})


@on_random_histories
def test_the_postings_of_every_ledger_event_balance_in_each_currency(operations: list[Op]) -> None:
    with played_in_memory(operations, FakeClock()) as (app, _):
        stored = app.app.recorder.select_notifications(0, 100_000, inclusive_of_start=False)
        for notification in stored:
            event = app.app.mapper.to_domain_event(notification)
            name = type(event).__qualname__
            postings = postings_for(event)
            if name not in POSTING_EVENTS:
                assert postings == []
                continue
            e = vars(event)
            amount = e["gross"] if "gross" in e else e["amount"]
            assert bool(postings) == (amount.amount > 0 and e.get("source", "") is not None)
            totals: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
            for posting in postings:
                assert (posting.debit > 0) != (posting.credit > 0)
                assert posting.merchant_id == e["merchant_id"]
                assert posting.mode == e["mode"]
                assert posting.currency == amount.currency
                totals[(posting.mode, posting.currency)][0] += posting.debit
                totals[(posting.mode, posting.currency)][1] += posting.credit
            for debit, credit in totals.values():
                assert debit == credit == amount.amount


def test_a_refund_before_verification_leaves_nothing_stranded_in_pending(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Cepat")
        _, payment = recorded(app, clock, merchant, "qris", 2_000)
        app.money.refund(payment, Money(300, "IDR"), "refunded before the channel confirmed")
        app.payments.verify(payment, Money(0, "IDR"))  # fee-free: only the refund matters here
        app.money.settle_payment(payment, uuid4(), date(2026, 1, 6))
        catch_up(app, views)
    # The 300 went back before the merchant was credited: it never enters their books.
    [book] = snapshot(views)["balances"]
    assert (book["verified"], book["pending"], book["available"]) == (1_700, 0, 1_700)
    assert book["refunded"] == book["fees"] == 0
