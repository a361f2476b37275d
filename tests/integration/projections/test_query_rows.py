"""The typed rows of the queries are the rows the databases give: every key, every type.

The query functions hand out TypedDicts (checked statically by mypy in the API,
dashboard, workers and CLI); here each one is held against real rows on SQLite and
PostgreSQL, so a column added, dropped, renamed or made nullable without its row type
fails. Every row type of :mod:`projections.queries` must be checked by some query.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict
from uuid import UUID

import pytest

import projections.queries
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.ledger import BALANCE_COLUMNS, BalanceColumn
from projections.queries import (
    feed,
    ledger,
    links,
    messages,
    outbox,
    payments,
    settlements,
    stats,
)
from projections.queries.paging import Page
from projections.readmodel import iso
from projections.runner import ReadModels
from tests.support.read_models import catch_up
from workers.settlement import REPORT_COLUMNS, settle_day


def mismatches(value: object, hint: Any, where: str) -> list[str]:
    """Where ``value`` does not have the type ``hint`` (empty: it does)."""
    origin = get_origin(hint)
    if hint is Any:
        return []
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not a row"]
        hints = get_type_hints(hint)
        found = (
            [f"{where}: keys {sorted(value)} != {sorted(hints)}"]
            if set(value) != set(hints)
            else []
        )
        for key, inner in hints.items():
            if key in value:
                found += mismatches(value[key], inner, f"{where}.{key}")
        return found
    if origin is Literal:
        return [] if value in get_args(hint) else [f"{where}: {value!r} not in {get_args(hint)}"]
    if origin in (Union, types.UnionType):
        options = [mismatches(value, option, where) for option in get_args(hint)]
        return [] if any(not found for found in options) else [f"{where}: {value!r} is not {hint}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        (item,) = get_args(hint)
        return [m for n, v in enumerate(value) for m in mismatches(v, item, f"{where}[{n}]")]
    if origin is dict:
        key_type, value_type = get_args(hint)
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not a dict"]
        return [
            m
            for k, v in value.items()
            for m in [*mismatches(k, key_type, where), *mismatches(v, value_type, f"{where}.{k}")]
        ]
    if hint is type(None) or hint is None:
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if hint is int:  # exactly: a bool or a Decimal is not an int here
        return [] if type(value) is int else [f"{where}: {value!r} is not an int"]
    return [] if isinstance(value, hint) else [f"{where}: {value!r} is not {hint}"]


@dataclass
class Checked:
    """Which row types were held against rows (and how many rows each)."""

    counts: dict[str, int] = field(default_factory=dict)

    def rows(self, row_type: Any, rows: list[Any], at_least: int = 1) -> None:
        assert len(rows) >= at_least, f"too few {row_type.__name__} rows to check"
        problems = [m for n, row in enumerate(rows) for m in mismatches(row, row_type, f"[{n}]")]
        assert problems == [], f"{row_type.__name__}: {problems}"
        self.counts[row_type.__name__] = self.counts.get(row_type.__name__, 0) + len(rows)

    def page(self, row_type: Any, page: Page[Any], at_least: int = 1) -> None:
        self.rows(row_type, page.items, at_least)


def row_types() -> set[str]:
    """Every TypedDict the queries package defines."""
    names = set()
    for module in pkgutil.iter_modules(projections.queries.__path__):
        loaded = importlib.import_module(f"projections.queries.{module.name}")
        for value in vars(loaded).values():
            if is_typeddict(value) and value.__module__ == loaded.__name__:
                names.add(value.__name__)
    return names


@dataclass
class Business:
    """A merchant's links, payments in every state, a settlement, payouts and webhooks."""

    app: Paylink
    merchant: UUID
    link: UUID
    payment: UUID
    waiting: UUID
    endpoint: UUID


@pytest.fixture
def business(backend_settings: Settings, clock: FakeClock, views: ReadModels) -> Iterator[Business]:
    settings = backend_settings.model_copy(update={"allow_private_webhooks": True})
    with open_paylink(settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Baris")
        endpoint = app.webhooks.create_endpoint(
            merchant, "test", "http://127.0.0.1:9/hooks", None, allow_private=True
        ).endpoint_id
        link = app.links.create(
            merchant,
            amount=150_000,
            description="Kaos polos",
            reference_id="ROW-1",
            expires_at=clock() + timedelta(days=30),
            usage_limit=None,
            customer_fields={"name": "optional", "phone": "optional"},
            custom_fields=[{"key": "nis", "type": "text", "label": {"id": "NIS"}}],
        )
        app.links.create(merchant, amount_min=10_000, amount_max=90_000, description="Donasi")
        app.links.send(link, "email", "budi@example.com")
        app.links.open(link, "visitor-1")
        payment = app.payments.start(  # with the payer's answers; the waiting one has none
            link, "va_bca", customer={"name": "Budi"}, custom_fields={"nis": "42"}
        )
        app.payments.record(payment, "va-row-1", Money(150_000, "IDR"), clock())
        app.payments.verify(payment)
        waiting = app.payments.start(link, "qris")
        catch_up(app, views)
        clock.advance(timedelta(days=3))
        settle_day(app, views, clock().date())
        app.merchants.set_bank_account(merchant, "BCA", "1234567890", "Toko Baris")
        app.money.request_payout(merchant, "test", Money(50_000, "IDR"), "weekly")
        app.money.request_payout(merchant, "test", Money(10_000, "IDR"))
        catch_up(app, views)
        first = outbox.webhook_deliveries(views, merchant, "test", limit=2).items
        app.webhooks.record_delivery_attempt(
            endpoint,
            merchant,
            first[0]["position"],
            500,
            "HTTP 500",
            clock() + timedelta(minutes=1),
        )
        app.webhooks.record_delivery_attempt(
            endpoint, merchant, first[1]["position"], 200, None, None
        )
        catch_up(app, views)
        yield Business(app, merchant, link, payment, waiting, endpoint)


def test_every_query_gives_the_rows_its_type_names(
    business: Business, views: ReadModels, clock: FakeClock
) -> None:
    m, now, checked = business.merchant, clock(), Checked()

    checked.page(links.LinkRow, links.list_links(views, m, "test", now), 2)
    checked.rows(
        links.LinkRow, [row for page in links.all_links(views, m, "test", now) for row in page], 2
    )
    detail = links.link_detail(views, m, "test", business.link, now)
    checked.rows(links.LinkDetail, [detail])
    assert detail is not None
    assert len(detail["timeline"]) >= 5
    as_of = now - timedelta(days=2)
    checked.rows(links.LinkAsOf, [links.link_as_of(views, m, "test", business.link, as_of)])
    checked.page(links.LinkAsOf, links.links_as_of(views, m, "test", as_of), 2)

    checked.page(payments.PaymentRow, payments.list_payments(views, m, "test"), 2)
    checked.rows(
        payments.PaymentRow,
        [r for page in payments.all_payments(views, m, "test") for r in page],
        2,
    )
    checked.rows(payments.PaymentRow, [payments.payment_detail(views, m, "test", business.payment)])
    report = payments.settlement_report(views, m, "test")
    checked.rows(payments.SettledPaymentRow, report)
    waiting = payments.waiting_on_channels(views, ["sandbox"], now - timedelta(days=7))
    checked.rows(payments.WaitingPaymentRow, waiting)
    assert [row["payment_id"] for row in waiting] == [str(business.waiting)]
    assert payments.settlement_candidates(views, m) == []

    books = ledger.balances(views, m, "test")
    checked.rows(ledger.Balance, list(books.values()))
    assert books == ledger.balances(views, m, "test", now)
    checked.rows(ledger.Balance, list(ledger.balances(views, m, "test", as_of).values()))
    lines = [row for page in ledger.journal(views, merchant_id=m, mode="test") for row in page]
    checked.rows(ledger.JournalRow, lines, 4)
    # Small pages of every merchant's journal from an instant: the same lines, in order.
    paged = [row for page in ledger.journal(views, start=as_of, size=2) for row in page]
    whole = [row for page in ledger.journal(views, start=as_of) for row in page]
    assert paged == whole
    assert len(whole) >= 3
    assert all(row["at"] >= iso(as_of) for row in whole)
    keys = [(row["position"], row["seq"]) for row in whole]
    assert keys == sorted(set(keys))

    numbers = stats.stats(views, m, "test")
    checked.rows(stats.Stats, [numbers])
    checked.rows(stats.Funnel, [numbers["funnel"]])
    checked.rows(stats.DailyVolume, numbers["daily"])

    checked.page(feed.FeedRow, feed.events(views, m, "test"), 5)

    checked.rows(outbox.EndpointRow, outbox.webhook_endpoints(views, m, "test"))
    deliveries = outbox.webhook_deliveries(views, m, "test", limit=100)
    checked.page(outbox.DeliveryRow, deliveries, 5)
    delivery_id = deliveries.items[0]["delivery_id"]  # the newest: tried once, failed
    checked.rows(outbox.DeliveryRow, [outbox.webhook_delivery(views, m, "test", delivery_id)])
    checked.rows(outbox.AttemptRow, outbox.webhook_attempts(views, delivery_id))
    due = outbox.due_deliveries(views.outbox(), now + timedelta(hours=1), 100)
    checked.rows(outbox.DeliveryRow, due, 4)
    backlog = outbox.outbox_backlog(views.outbox(), now + timedelta(hours=1))
    checked.rows(outbox.OutboxBacklog, [backlog])
    oldest = min(row["next_attempt_at"] or row["created_at"] for row in due)
    assert (backlog["due"], backlog["oldest_due_at"]) == (len(due), oldest)

    batches = settlements.settlement_batches(views, m, "test")
    checked.page(settlements.SettlementBatchRow, batches)
    found = settlements.payouts(views, m, "test")
    checked.page(settlements.PayoutRow, found, 2)
    payout = UUID(found.items[0]["payout_id"])
    checked.rows(settlements.PayoutRow, [settlements.payout_detail(views, m, "test", payout)])

    # Alerts owed the merchant for what happened (a payment received, a payout...).
    owed = messages.due_messages(views, datetime(2000, 1, 1, tzinfo=UTC))
    checked.rows(messages.DueRow, owed)

    # Every row type was held against real rows (the timeline and posting rows inside
    # others: a link's detail, links as of an instant, the journal).
    inside = {"TimelineEntry", "StoredTimelineEntry", "LinkTimelineRow", "PostingRow", "BalanceRow"}
    arguments = {"AsOfFilters"}  # a query's keyword arguments, typed: no row
    assert row_types() - inside - arguments == set(checked.counts)


def test_the_row_types_agree_with_the_column_lists() -> None:
    assert tuple(get_type_hints(ledger.Balance)) == BALANCE_COLUMNS
    assert get_args(BalanceColumn) == BALANCE_COLUMNS
    assert tuple(get_type_hints(payments.SettledPaymentRow)) == REPORT_COLUMNS
    assert set(ledger.JOURNAL_COLUMNS) <= set(get_type_hints(ledger.JournalRow))


def test_the_checker_notices_a_wrong_row() -> None:
    good: dict[str, Any] = {"position": 1, "payload": "{}"}
    assert mismatches(good, feed.FeedRow, "row") == []
    assert mismatches({**good, "extra": 1}, feed.FeedRow, "row") != []
    assert mismatches({"position": 1}, feed.FeedRow, "row") != []
    assert mismatches({**good, "position": "1"}, feed.FeedRow, "row") != []
    assert mismatches({**good, "position": True}, feed.FeedRow, "row") != []
    assert mismatches({**good, "payload": None}, feed.FeedRow, "row") != []
    attempt = {
        "attempt": 1,
        "at": "2026-01-05T03:00:00.000000Z",
        "status_code": None,
        "error": None,
    }
    assert mismatches(attempt, outbox.AttemptRow, "row") == []
    payout_status = get_type_hints(settlements.PayoutRow)["status"]
    assert mismatches("paid_out", payout_status, "status") == []
    assert mismatches("paid", payout_status, "status") != []
