"""What-if fees: history re-priced under another plan, beside the books, writing nothing.

The "as they were" side must be the live books: what the payments view says each
verified payment was charged and nets, and what the ledger's balances hold once the
money is settled. The "would have been" side is checked against fees worked out by hand.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import WIB, FakeClock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan, FeePlanInvalidError, FeeRule
from paylink_es.domain.payment import SETTLED, VERIFIED, Payment
from paylink_es.settings import Settings
from projections.runner import ReadModels
from projections.whatif import Figures, WhatIfRow, plan_from_json, what_if
from tests.support.histories import Op, expected_balances, on_random_histories, played_in_memory
from tests.support.read_models import (
    CHEAPER_PLAN,
    catch_up,
    head,
    positions,
    snapshot,
    verified,
)

CHEAPER = json.dumps(CHEAPER_PLAN)
# Merchant A's own plan: not the default, so that "its current plan" means something.
A_PLAN = FeePlan(
    name="toko-a",
    families={
        **DEFAULT_PLAN.families,
        "virtual_account": FeeRule(flat=3_000),
        "qris": FeeRule(rate_ppm=6_000, minimum=100),
    },
)
START = datetime(2026, 3, 2, 9, 0, tzinfo=WIB)


def started_only(app: Paylink, merchant: UUID, method: str, amount: int) -> UUID:
    """A payment started and never paid: no fee at all."""
    link = app.links.create(merchant, amount=amount, description="never paid")
    return app.payments.start(link, method)


@pytest.fixture
def clock() -> FakeClock:
    """The application's clock, at the start of the sales (the what-if's days)."""
    return FakeClock(START)


def by_method(rows: list[WhatIfRow]) -> dict[tuple[str, str], WhatIfRow]:
    return {(row.mode, row.method): row for row in rows}


def test_a_what_if_with_the_current_plan_is_the_live_books(
    backend_settings: Settings, views: ReadModels, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        a = app.merchants.register("Toko A")
        b = app.merchants.register("Toko B")
        app.merchants.set_fee_plan(a, A_PLAN)
        payments: dict[UUID, list[UUID]] = defaultdict(list)
        sales = [
            (a, "va_bca", 150_000, "test"),
            (a, "va_bca", 80_000, "test"),
            (a, "qris", 10_001, "test"),
            (a, "qris", 12_345, "test"),
            (a, "qris", 9_000, "live"),
            (a, "ewallet_ovo", 123_457, "test"),
            (b, "va_bri", 75_000, "test"),
            (b, "ewallet_dana", 64_999, "test"),
        ]
        for merchant, method, amount, mode in sales:
            payments[merchant].append(verified(app, clock, merchant, method, amount, mode))
            clock.advance(timedelta(hours=5))
        started_only(app, a, "qris", 50_000)
        for merchant in (a, b):  # the fees reach the journal when the money settles
            for payment in payments[merchant][::2]:
                app.money.settle_payment(payment, uuid4(), clock().date())
        catch_up(app, views)

        for merchant, plan in ((a, A_PLAN), (b, DEFAULT_PLAN)):
            assert app.merchants.get(merchant).fee_plan == plan
            result = what_if(app.app, plan, merchant=merchant)
            assert {row.merchant_id for row in result.rows} == {str(merchant)}
            for row in result.rows:
                assert row.would_be == row.were
                assert (row.fees_difference, row.net_difference) == (0, 0)
            # Per method: what the payments view says each verified payment was charged.
            view: dict[tuple[str, str], Figures] = defaultdict(Figures)
            for line in views["payments"].view.query(
                "SELECT * FROM {s}payments WHERE merchant_id = ? AND status IN (?, ?)",
                (str(merchant), "verified", "settled"),
            ):
                key = (line["mode"], line["method"])
                view[key] = view[key].plus(line["received"], line["fee"], line["net"])
            assert {key: row.were for key, row in by_method(result.rows).items()} == view
            # Per book: the ledger's verified money; its fees and available for the settled.
            settled = {str(p) for p in payments[merchant][::2]}
            settled_rows = [
                p
                for p in views["payments"].view.query(
                    "SELECT * FROM {s}payments WHERE merchant_id = ?", (str(merchant),)
                )
                if p["payment_id"] in settled
            ]
            for total in result.totals():
                [book] = views["ledger"].view.query(
                    "SELECT * FROM {s}balances WHERE merchant_id = ? AND mode = ? AND currency = ?",
                    (str(merchant), total.mode, total.currency),
                )
                assert book["verified"] == total.were.gross
                mine = [p for p in settled_rows if p["mode"] == total.mode]
                assert book["fees"] == sum(p["fee"] for p in mine)
                assert book["available"] == sum(p["net"] for p in mine)
                assert book["pending"] == total.were.gross - sum(p["received"] for p in mine)
            journal_fees = sum(
                row["credit"]
                for row in views["ledger"].view.query(
                    "SELECT * FROM {s}journal WHERE merchant_id = ? AND account = ?",
                    (str(merchant), "platform:fees"),
                )
            )
            assert journal_fees == sum(p["fee"] for p in settled_rows)


def test_a_cheaper_plan_charges_exactly_the_fees_worked_out_by_hand(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        a = app.merchants.register("Toko A")
        b = app.merchants.register("Toko B")
        for method, amount in (
            ("va_bca", 150_000),  # Rp 4,000 flat -> Rp 2,500 flat
            ("va_bri", 75_000),  # the same
            ("qris", 10_001),  # 0.7% = 70.007 -> 70; 0.5% = 50.005 -> 50
            ("qris", 99_999),  # 0.7% = 699.993 -> 700; 0.5% = 499.995 -> 500
            ("ewallet_ovo", 123_457),  # 1.5% = 1,851.855 -> 1,852; 1.2% = 1,481.484 -> 1,481
        ):
            verified(app, clock, a, method, amount)
        verified(app, clock, b, "qris", 500_000)  # another merchant's
        started_only(app, a, "va_bca", 40_000)  # never paid

        result = what_if(app.app, plan_from_json(CHEAPER), merchant=a)

    assert result.plan.name == "cheaper"
    rows = by_method(result.rows)
    assert list(rows) == [
        ("test", "ewallet_ovo"),
        ("test", "qris"),
        ("test", "va_bca"),
        ("test", "va_bri"),
    ]
    assert rows[("test", "ewallet_ovo")].were == Figures(1, 123_457, 1_852, 121_605)
    assert rows[("test", "ewallet_ovo")].would_be == Figures(1, 123_457, 1_481, 121_976)
    assert rows[("test", "qris")].were == Figures(2, 110_000, 770, 109_230)
    assert rows[("test", "qris")].would_be == Figures(2, 110_000, 550, 109_450)
    assert rows[("test", "va_bca")].were == Figures(1, 150_000, 4_000, 146_000)
    assert rows[("test", "va_bca")].would_be == Figures(1, 150_000, 2_500, 147_500)
    assert rows[("test", "va_bri")].were == Figures(1, 75_000, 4_000, 71_000)
    assert rows[("test", "va_bri")].would_be == Figures(1, 75_000, 2_500, 72_500)
    differences = {key: (row.fees_difference, row.net_difference) for key, row in rows.items()}
    assert differences == {
        ("test", "ewallet_ovo"): (-371, 371),
        ("test", "qris"): (-220, 220),
        ("test", "va_bca"): (-1_500, 1_500),
        ("test", "va_bri"): (-1_500, 1_500),
    }
    [total] = result.totals()
    assert (total.mode, total.currency) == ("test", "IDR")
    assert total.were == Figures(5, 458_457, 10_622, 447_835)
    assert total.would_be == Figures(5, 458_457, 7_031, 451_426)
    assert (total.fees_difference, total.net_difference) == (-3_591, 3_591)


def test_the_period_is_the_day_of_verification_in_jakarta_both_ends_included(
    backend_settings: Settings,
) -> None:
    # 2 March 23:59 WIB is 16:59 UTC; 3 March 00:00 WIB is 2 March 17:00 UTC.
    clock = FakeClock(datetime(2026, 3, 1, 23, 59, tzinfo=WIB))
    with open_paylink(backend_settings, clock=clock) as app:
        a = app.merchants.register("Toko A")
        verified(app, clock, a, "va_bca", 10_000)  # 1 March
        clock.advance(timedelta(minutes=1))
        verified(app, clock, a, "va_bri", 20_000)  # 2 March 00:00
        clock.advance(timedelta(hours=23, minutes=59))
        assert clock() == datetime(2026, 3, 2, 16, 59, tzinfo=UTC)
        verified(app, clock, a, "va_bni", 30_000)  # 2 March 23:59
        clock.advance(timedelta(minutes=1))
        verified(app, clock, a, "va_mandiri", 40_000)  # 3 March 00:00

        def methods(first: date | None, last: date | None) -> list[str]:
            rows = what_if(app.app, DEFAULT_PLAN, first_day=first, last_day=last).rows
            return [row.method for row in rows]

        assert methods(None, None) == ["va_bca", "va_bni", "va_bri", "va_mandiri"]
        assert methods(date(2026, 3, 2), date(2026, 3, 2)) == ["va_bni", "va_bri"]
        assert methods(date(2026, 3, 2), None) == ["va_bni", "va_bri", "va_mandiri"]
        assert methods(None, date(2026, 3, 1)) == ["va_bca"]
        assert methods(date(2026, 3, 4), None) == []
        with pytest.raises(InvalidFieldError) as raised:
            methods(date(2026, 3, 3), date(2026, 3, 2))
        assert raised.value.field == "to"


def test_a_what_if_writes_nothing_to_the_store_or_the_read_models(
    backend_settings: Settings, views: ReadModels, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        a = app.merchants.register("Toko A")
        for method, amount in (("va_bca", 150_000), ("qris", 10_001), ("ewallet_ovo", 9_999)):
            verified(app, clock, a, method, amount)
        catch_up(app, views)
        before = (head(app), positions(views), snapshot(views))

        what_if(app.app, plan_from_json(CHEAPER))
        what_if(app.app, DEFAULT_PLAN, merchant=a, mode="test", first_day=START.date())
        qris_missing = FeePlan(name="no-qris", families={"virtual_account": FeeRule(flat=1)})
        with pytest.raises(FeePlanInvalidError) as raised:
            what_if(app.app, qris_missing, merchant=a)
        assert raised.value.field == "families.qris"

        assert (head(app), positions(views), snapshot(views)) == before
        assert head(app) > 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "plan"),
        ("{not json", "plan"),
        ("[1, 2]", "plan"),
        ('{"name": "x", "famillies": {}}', "plan"),
        ('{"families": {}}', "name"),
        ('{"name": "x", "families": {"qris": {"rate_ppm": -5}}}', "families.qris.rate_ppm"),
        ('{"name": "x", "families": {"qris": {"rate_ppm": 0.7}}}', "families.qris.rate_ppm"),
        ('{"name": "x", "families": {"crypto": {"flat": 1}}}', "families.crypto"),
        (
            '{"name": "x", "families": {}, "methods": {"qris": {"payer_pays": true}}}',
            "methods.qris.payer_pays",
        ),
        (b'{"name": "\xff"}', "plan"),
        ("{" + " " * 70_000 + "}", "plan"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_field(text: str | bytes, field: str) -> None:
    with pytest.raises(FeePlanInvalidError) as raised:
        plan_from_json(text)
    assert raised.value.field == field
    assert raised.value.message.startswith(f"{field}: ")


@on_random_histories
def test_over_random_histories_the_what_if_as_it_was_is_every_verification(
    operations: list[Op],
) -> None:
    """Whatever happened (links paid whole or in parts, parts refunded, settled, paid
    out), the "as they were" side sums each verified payment once, and its gross is the
    ledger's verified money."""
    with played_in_memory(operations, FakeClock(START)) as (app, history):
        expected: dict[tuple[str, str, str], Figures] = defaultdict(Figures)
        for payment_id in set(history.attempts) | set(history.payments):
            payment: object = app.app.repository.get(payment_id)
            assert isinstance(payment, Payment)
            if payment.status not in (VERIFIED, SETTLED) or payment.fee is None:
                continue
            assert payment.net is not None
            key = (str(payment.merchant_id), payment.mode, payment.verified_gross.currency)
            expected[key] = expected[key].plus(
                payment.verified_gross.amount, payment.fee.amount, payment.net.amount
            )
        books = expected_balances(app, history)
        for merchant in history.merchants:
            mine = {key: figures for key, figures in expected.items() if key[0] == str(merchant)}
            if any(currency != DEFAULT_PLAN.currency for _, _, currency in mine):
                continue  # the what-if refuses a plan that cannot price every verification
            result = what_if(app.app, DEFAULT_PLAN, merchant=merchant)
            were = {(str(merchant), t.mode, t.currency): t.were for t in result.totals()}
            assert were == mine
            for key, figures in were.items():
                assert figures.gross == (books[key]["verified"] if key in books else 0)
