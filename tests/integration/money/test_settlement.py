"""Settlement runs, payouts and refunds on a real store, checked through the read models."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.calendar import SettlementCalendar
from paylink_es.domain.clock import FakeClock, system_clock
from paylink_es.domain.errors import PaymentStateError
from paylink_es.domain.fees import FeePlan, FeeRule
from paylink_es.domain.money import Money
from paylink_es.domain.settlement import BankAccountMissingError, InsufficientFundsError
from paylink_es.settings import Settings
from paylink_es.store.bulkload import load_many
from projections.queries.ledger import Balance, balances
from projections.queries.payments import settlement_report
from projections.queries.settlements import payouts, settlement_batches
from projections.replay import replay
from projections.runner import ReadModels
from tests.support.read_models import catch_up, verified
from workers.settlement import SettlementScheduler, settle_day

MONDAY = date(2026, 1, 5)  # the fake clock starts on Monday 2026-01-05, 10:00 in Jakarta


def books(views: ReadModels, merchant: UUID) -> Balance:
    return balances(views, merchant, "test")["IDR"]


def test_a_day_settles_what_is_due_once_and_moves_pending_to_available_minus_fees(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Settle")
        va = verified(app, clock, shop, "va_bca", 150_000)  # T+1: Tuesday
        qris = verified(app, clock, shop, "qris", 100_000)  # T+2: Wednesday
        card = verified(app, clock, shop, "card", 200_000)  # T+5: next Monday
        catch_up(app, views)

        monday = settle_day(app, views, MONDAY)
        assert (monday.settled, monday.not_due) == (0, 3)

        tuesday = settle_day(app, views, MONDAY + timedelta(days=1))
        assert (tuesday.settled, tuesday.not_due) == (1, 2)
        assert tuesday.totals == {"IDR": {"gross": 150_000, "fee": 4_000, "net": 146_000}}
        again = settle_day(app, views, MONDAY + timedelta(days=1))
        catch_up(app, views)
        assert again.settled == 0, "a second run for the day settles nothing twice"
        assert app.payments.get(va).status == "settled"

        wednesday = settle_day(app, views, MONDAY + timedelta(days=2))
        assert wednesday.settled == 1
        assert wednesday.totals["IDR"] == {"gross": 100_000, "fee": 700, "net": 99_300}
        catch_up(app, views)
        assert app.payments.get(card).status == "verified"
        assert app.payments.get(qris).status == "settled"

    balance = books(views, shop)
    assert balance["pending"] == 200_000
    assert balance["available"] == 146_000 + 99_300
    assert balance["fees"] == 4_000 + 700
    assert balance["verified"] == 450_000
    batches = settlement_batches(views, shop, "test").items
    assert [(b["settlement_date"], b["payments"], b["net"]) for b in batches] == [
        ("2026-01-07", 1, 99_300),
        ("2026-01-06", 1, 146_000),
    ]
    report = settlement_report(views, shop, "test", "2026-01-06")
    assert [(r["payment_id"], r["received"], r["fee"], r["net"]) for r in report] == [
        (str(va), 150_000, 4_000, 146_000)
    ]


def test_holidays_and_weekends_push_settlement_out(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        app.money.calendar = SettlementCalendar(frozenset({date(2026, 1, 6)}))  # Tuesday off
        shop = app.merchants.register("Toko Libur")
        verified(app, clock, shop, "va_bni", 50_000)
        catch_up(app, views)
        assert settle_day(app, views, date(2026, 1, 6)).settled == 0
        assert settle_day(app, views, date(2026, 1, 7)).settled == 1


def test_a_flagged_payment_waits_for_review_then_settles(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Review")
        link = app.links.create(shop, amount=100_000, description="Overpaid order")
        payment = app.payments.start(link, "va_bca")
        app.payments.record(payment, "over-1", Money(120_000, "IDR"), app.now())
        app.payments.verify(payment)
        catch_up(app, views)
        assert books(views, shop)["held"] == 120_000
        assert settle_day(app, views, date(2026, 1, 9)).settled == 0
        app.payments.review(payment, "accept", "customer tipped")
        catch_up(app, views)
        assert books(views, shop)["held"] == 0
        assert books(views, shop)["pending"] == 120_000
        assert settle_day(app, views, date(2026, 1, 9)).settled == 1
        catch_up(app, views)
        with pytest.raises(PaymentStateError):
            app.payments.review(payment, "refund")
    assert books(views, shop)["available"] == 116_000


def test_the_anomaly_policy_decides_at_once(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Policy")
        app.merchants.set_anomaly_policy(shop, {"overpaid": "accept", "underpaid": "refund"})
        over = app.links.create(shop, amount=100_000, description="Over")
        first = app.payments.start(over, "va_bca")
        app.payments.record(first, "p-over", Money(110_000, "IDR"), app.now())
        app.payments.verify(first)
        under = app.links.create(shop, amount=100_000, description="Under")
        second = app.payments.start(under, "va_bca")
        app.payments.record(second, "p-under", Money(90_000, "IDR"), app.now())
        app.payments.verify(second)
        catch_up(app, views)
        assert app.payments.get(first).anomaly == "overpaid"
        assert app.payments.get(first).disposition is None
        assert app.payments.get(second).disposition == "refund_due"
    balance = books(views, shop)
    assert (balance["pending"], balance["refund_due"], balance["held"]) == (110_000, 90_000, 0)


def test_a_fee_plan_set_for_the_merchant_prices_its_payments(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    plan = FeePlan(
        name="negotiated",
        families={"virtual_account": FeeRule(flat=2_500, maximum=3_000)},
        methods={"va_bca": FeeRule(rate_ppm=10_000, minimum=1_000)},
    )
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Plan")
        app.merchants.set_fee_plan(shop, plan)
        bca = verified(app, clock, shop, "va_bca", 50_000)  # 1% = 500, raised to 1,000
        bri = verified(app, clock, shop, "va_bri", 50_000)  # family rule: 2,500 flat
        assert app.payments.get(bca).fee == Money(1_000, "IDR")
        assert app.payments.get(bri).fee == Money(2_500, "IDR")
        assert app.merchants.get(shop).fee_plan == plan


def test_payouts_take_available_money_to_the_bank_and_failures_bring_it_back(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Payout")
        verified(app, clock, shop, "va_bca", 104_000)
        catch_up(app, views)
        settle_day(app, views, date(2026, 1, 6))
        with pytest.raises(BankAccountMissingError):
            app.money.request_payout(shop, "test", Money(10_000, "IDR"))
        app.merchants.set_bank_account(shop, "BCA", "1234567890", "Toko Payout")
        with pytest.raises(InsufficientFundsError) as refused:
            app.money.request_payout(shop, "test", Money(100_001, "IDR"))
        assert refused.value.field == "amount"
        done = app.money.request_payout(shop, "test", Money(60_000, "IDR"), "first")
        assert (done.status, done.amount) == ("paid_out", Money(60_000, "IDR"))
        assert done.channel_ref is not None
        app.merchants.set_bank_account(
            shop, "BCA", "9990000", "Toko Payout"
        )  # the sandbox bank refuses
        failed = app.money.request_payout(shop, "test", Money(40_000, "IDR"))
        assert failed.status == "failed"
        assert app.money.available_funds(shop, "test", "IDR") == Money(40_000, "IDR")
        catch_up(app, views)
        result = replay(app.app, views, app.now())
    balance = books(views, shop)
    assert (balance["available"], balance["paid_out"], balance["fees"]) == (40_000, 60_000, 4_000)
    assert result.differences == []
    rows = payouts(views, shop, "test").items
    assert sorted((r["status"], r["amount"], r["account_number"][-4:]) for r in rows) == [
        ("failed", 40_000, "0000"),
        ("paid_out", 60_000, "7890"),
    ]
    assert all("•" in r["account_number"] for r in rows)


def test_concurrent_payouts_never_pay_out_more_than_is_available(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    settings = backend_settings.model_copy(update={"postgres_pool_size": 4})
    with open_paylink(settings, clock=clock) as app:
        shop = app.merchants.register("Toko Race")
        app.merchants.set_bank_account(shop, "BRI", "555566667777", "Toko Race")
        verified(app, clock, shop, "va_bca", 54_000)  # net 50,000 after the 4,000 fee
        catch_up(app, views)
        settle_day(app, views, date(2026, 1, 6))
        outcomes: list[str] = []
        start = threading.Barrier(12)

        def pay_out() -> None:
            start.wait()
            try:
                app.money.request_payout(shop, "test", Money(10_000, "IDR"))
                outcomes.append("paid")
            except InsufficientFundsError:
                outcomes.append("refused")

        threads = [threading.Thread(target=pay_out) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        catch_up(app, views)
        assert sorted(outcomes) == ["paid"] * 5 + ["refused"] * 7
        assert app.money.available_funds(shop, "test", "IDR") == Money(0, "IDR")
    balance = books(views, shop)
    assert (balance["available"], balance["paid_out"]) == (0, 50_000)


def test_refunds_come_out_of_wherever_the_money_is_and_settled_money_may_go_below_zero(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Refund")
        app.merchants.set_bank_account(shop, "BNI", "1111222233", "Toko Refund")
        pending = verified(app, clock, shop, "va_bca", 100_000)
        settled = verified(app, clock, shop, "va_bri", 100_000)
        clock.advance(timedelta(minutes=1))
        catch_up(app, views)
        app.money.refund(pending, Money(30_000, "IDR"), "one item out of stock")
        settle_day(app, views, date(2026, 1, 6))  # both settle: 70,000 and 100,000 gross
        app.money.refund(settled, Money(50_000, "IDR"), "returned")
        app.money.request_payout(shop, "test", Money(100_000, "IDR"))
        left = app.money.available_funds(shop, "test", "IDR")
        assert left == Money(66_000 + 96_000 - 50_000 - 100_000, "IDR")
        # The rest of the settled payment's gross goes back too, though only 12,000 is left.
        assert app.payments.get(settled).refundable == Money(50_000, "IDR")
        app.money.refund(settled, Money(50_000, "IDR"), "returned, the other half")
        assert app.money.available_funds(shop, "test", "IDR") == Money(-38_000, "IDR")
        with pytest.raises(InsufficientFundsError) as refused:
            app.money.request_payout(shop, "test", Money(1, "IDR"))
        assert refused.value.field == "amount"
        assert "IDR -38000" in refused.value.message
        assert "next settlements" in refused.value.message
        catch_up(app, views)
        assert books(views, shop)["available"] == -38_000
        # The next settlement makes the balance good first: 50,000 net, 12,000 left over.
        verified(app, clock, shop, "va_mandiri", 54_000)
        catch_up(app, views)
        settle_day(app, views, date(2026, 1, 7))
        assert app.money.available_funds(shop, "test", "IDR") == Money(12_000, "IDR")
        with pytest.raises(InsufficientFundsError):
            app.money.request_payout(shop, "test", Money(12_001, "IDR"))
        app.money.request_payout(shop, "test", Money(12_000, "IDR"))
        catch_up(app, views)
        result = replay(app.app, views, app.now())
    assert result.differences == []
    balance = books(views, shop)
    assert (balance["refunded"], balance["available"], balance["paid_out"]) == (130_000, 0, 112_000)
    assert balance["fees"] == 3 * 4_000  # the fee is kept on refunds by default
    assert (
        balance["verified"]
        == sum(
            balance[c] for c in ("pending", "available", "held", "refund_due", "fees", "refunded")
        )
        + balance["paid_out"]
    )


def test_loading_many_at_once_gives_what_the_repository_gives_one_by_one(
    backend_settings: Settings, clock: FakeClock, memory_app: Paylink
) -> None:
    for app in (open_paylink(backend_settings, clock=clock), memory_app):
        with app:
            shop = app.merchants.register("Toko Bulk")
            ids = [verified(app, clock, shop, "qris", 10_000 + i) for i in range(5)]
            app.money.refund(ids[0], Money(1_000, "IDR"), "partial")
            unknown = UUID(int=7)
            loaded = load_many(app.app, [*ids, unknown])
            assert app.app.load_many([*ids, unknown]).keys() == loaded.keys()
            assert unknown not in loaded
            for payment_id in ids:
                one: object = app.app.repository.get(payment_id)
                assert vars(loaded[payment_id]) == vars(one)


def test_a_fee_passed_on_to_the_payer_is_asked_for_and_the_merchant_nets_the_price(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    plan = FeePlan(
        name="payer-pays-va",
        families={
            "virtual_account": FeeRule(flat=4_000, payer_pays=True),
            "qris": FeeRule(rate_ppm=7_000),
        },
    )
    with open_paylink(backend_settings, clock=clock) as app:
        shop = app.merchants.register("Toko Surcharge")
        app.merchants.set_fee_plan(shop, plan)
        link = app.links.create(shop, amount=100_000, description="Price 100k")
        va = app.payments.start(link, "va_bca")
        assert app.payments.get(va).amount == Money(104_000, "IDR")
        assert app.payments.get(va).surcharge == Money(4_000, "IDR")
        qris = app.payments.start(link, "qris")  # QRIS is never surcharged
        assert (app.payments.get(qris).amount, app.payments.get(qris).surcharge) == (
            Money(100_000, "IDR"),
            None,
        )
        outcome = app.payments.record(va, "sur-1", Money(104_000, "IDR"), app.now())
        assert outcome.anomaly is None
        app.payments.verify(va)
        catch_up(app, views)
        assert settle_day(app, views, date(2026, 1, 6)).settled == 1
        catch_up(app, views)
    balance = books(views, shop)
    assert (balance["available"], balance["fees"]) == (100_000, 4_000)


def test_the_scheduler_in_serve_settles_what_is_due_by_itself(
    backend_settings: Settings, views: ReadModels
) -> None:
    paid_at = FakeClock(datetime.now(tz=UTC) - timedelta(days=10))
    with open_paylink(backend_settings, clock=paid_at) as app:
        shop = app.merchants.register("Toko Jadwal")
        payment = verified(app, paid_at, shop, "va_mandiri", 80_000)
        catch_up(app, views)
        app.app.clock = system_clock
        scheduler = SettlementScheduler(app, views, every_s=0.05)
        scheduler.start()
        try:
            deadline = time.monotonic() + 30
            while app.payments.get(payment).status != "settled" and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            scheduler.stop()
        assert app.payments.get(payment).status == "settled"
        assert scheduler.runs >= 1
