"""Queries only the dashboard needs; everything else comes from :mod:`projections.queries`.

Always scoped to one merchant and one mode, like every query the API makes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from paylink_es.domain.clock import WIB
from projections import queries
from projections.runner import ReadModels
from projections.sqlview import Row

# The read models whose movement can change what a dashboard page shows.
LIVE_MODELS = ("links", "payments", "ledger", "stats")
EXPORT_PAGE = 100  # the largest page the shared list queries give out
JOURNAL_PAGE = 2000
JOURNAL_COLUMNS = (
    "position",
    "seq",
    "at",
    "event",
    "originator_id",
    "account",
    "currency",
    "debit",
    "credit",
)


def positions(models: ReadModels, application: str, names: Sequence[str] = LIVE_MODELS) -> int:
    """The sum of the tracking positions of ``names``: it grows whenever any of them moves."""
    return sum(models[name].view.max_tracking_id(application) or 0 for name in names)


@dataclass(frozen=True)
class Overview:
    """The numbers of the overview page (per currency, since books never mix currencies)."""

    today: str
    funnel: dict[str, int]
    today_totals: dict[str, tuple[int, int]]  # currency -> (payments, volume)
    by_day: dict[str, list[tuple[str, int]]]  # currency -> [(day, volume)], oldest first
    by_method: dict[str, list[tuple[str, int]]]  # currency -> [(method, volume)], largest first


def jakarta_today(now: datetime) -> date:
    """Today's date in Asia/Jakarta."""
    return now.astimezone(WIB).date()


def overview(
    models: ReadModels, merchant_id: UUID, mode: str, now: datetime, days: int = 14
) -> Overview:
    """Funnel of links created in the last ``days`` days, volume by day and by method."""
    today = jakarta_today(now)
    first = today - timedelta(days=days - 1)
    stats = queries.stats(
        models, merchant_id, mode, day_from=first.isoformat(), day_to=today.isoformat()
    )
    per_day: defaultdict[str, dict[str, int]] = defaultdict(dict)
    per_method: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    today_totals: dict[str, tuple[int, int]] = {}
    for row in stats["daily"]:
        currency, volume = row["currency"], int(row["volume"])
        per_day[currency][row["day"]] = per_day[currency].get(row["day"], 0) + volume
        per_method[currency][row["method"]] += volume
        if row["day"] == today.isoformat():
            count, total = today_totals.get(currency, (0, 0))
            today_totals[currency] = (count + int(row["count"]), total + volume)
    every_day = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return Overview(
        today=today.isoformat(),
        funnel=stats["funnel"],
        today_totals=today_totals,
        by_day={
            currency: [(day, volumes.get(day, 0)) for day in every_day]
            for currency, volumes in sorted(per_day.items())
        },
        by_method={
            currency: sorted(methods.items(), key=lambda item: (-item[1], item[0]))
            for currency, methods in sorted(per_method.items())
        },
    )


def all_links(
    models: ReadModels, merchant_id: UUID, mode: str, now: datetime, **filters: Any
) -> Iterator[list[Row]]:
    """Every link matching the list page's filters, newest first, a keyset page at a time."""
    cursor: str | None = None
    while True:
        page = queries.list_links(
            models, merchant_id, mode, now, limit=EXPORT_PAGE, cursor=cursor, **filters
        )
        if page.items:
            yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def all_payments(
    models: ReadModels, merchant_id: UUID, mode: str, status: str | None = None
) -> Iterator[list[Row]]:
    """Every payment, newest first, a keyset page at a time."""
    cursor: str | None = None
    while True:
        page = queries.list_payments(
            models, merchant_id, mode, status=status, limit=EXPORT_PAGE, cursor=cursor
        )
        if page.items:
            yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def journal(models: ReadModels, merchant_id: UUID, mode: str) -> Iterator[list[Row]]:
    """The merchant's journal lines in store order, a keyset page at a time."""
    last, last_seq = 0, -1
    while True:
        page = models["ledger"].view.query(
            "SELECT "
            + ", ".join(JOURNAL_COLUMNS)
            + " FROM {s}journal WHERE merchant_id = ? AND mode = ?"
            " AND (position > ? OR (position = ? AND seq > ?))"
            " ORDER BY position, seq LIMIT ?",
            (str(merchant_id), mode, last, last, last_seq, JOURNAL_PAGE),
        )
        if page:
            yield page
        if len(page) < JOURNAL_PAGE:
            return
        last, last_seq = int(page[-1]["position"]), int(page[-1]["seq"])


def links_as_of(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    as_of: datetime,
    *,
    limit: int = 20,
    cursor: str | None = None,
) -> queries.Page:
    """The links that existed at ``as_of``, each as it stood then (status, counts, money)."""
    page = queries.list_links(
        models, merchant_id, mode, as_of, created_to=as_of, limit=limit, cursor=cursor
    )
    rows = []
    for row in page.items:
        then = queries.link_as_of(models, merchant_id, mode, UUID(row["link_id"]), as_of)
        if then is not None:
            rows.append(then)
    return queries.Page(rows, page.next_cursor)
