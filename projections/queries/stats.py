"""Queries of the stats read model (:mod:`projections.stats`): the funnel and volume by
day and method, and the overview the dashboard draws from them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, TypedDict
from uuid import UUID

from paylink_es.domain.clock import WIB
from projections.queries.paging import merchant_where, typed_rows
from projections.runner import ReadModels

FunnelStep = Literal["created", "sent", "opened", "paid"]
FUNNEL_STEPS: tuple[FunnelStep, ...] = ("created", "sent", "opened", "paid")


class Funnel(TypedDict):
    """Links created, and how many of them were sent, opened and paid."""

    created: int
    sent: int
    opened: int
    paid: int


class DailyVolume(TypedDict):
    """Verified payments of one day (WIB), method and currency."""

    day: str
    method: str
    currency: str
    count: int
    volume: int


class Stats(TypedDict):
    """The funnel of links created in a range of days, and the volume of those days."""

    funnel: Funnel
    daily: list[DailyVolume]


def stats(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    day_from: str | None = None,
    day_to: str | None = None,
) -> Stats:
    """The funnel created → sent → opened → paid and volume by day and method (WIB days)."""
    where, params = merchant_where(merchant_id, mode)
    if day_from:
        where.append("created_day >= ?")
        params.append(day_from)
    if day_to:
        where.append("created_day <= ?")
        params.append(day_to)
    view = models["stats"]
    counted = typed_rows(
        view,
        Funnel,
        "SELECT COUNT(*) AS created, COALESCE(SUM(sent), 0) AS sent,"
        " COALESCE(SUM(opened), 0) AS opened, COALESCE(SUM(paid), 0) AS paid"
        " FROM {s}stats_links WHERE " + " AND ".join(where),
        params,
    )[0]
    day_where = [w.replace("created_day", "day") for w in where]
    daily = typed_rows(
        view,
        DailyVolume,
        "SELECT day, method, currency, count, volume FROM {s}stats_daily WHERE "
        + " AND ".join(day_where)
        + " ORDER BY day, method, currency",
        params,
    )
    # Each count as an int, whatever type the database gives COUNT() and SUM().
    funnel: Funnel = {
        "created": int(counted["created"]),
        "sent": int(counted["sent"]),
        "opened": int(counted["opened"]),
        "paid": int(counted["paid"]),
    }
    return {"funnel": funnel, "daily": daily}


@dataclass(frozen=True)
class Overview:
    """The numbers of the overview page (per currency, since books never mix currencies)."""

    today: str
    funnel: Funnel
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
    numbers = stats(models, merchant_id, mode, day_from=first.isoformat(), day_to=today.isoformat())
    per_day: defaultdict[str, dict[str, int]] = defaultdict(dict)
    per_method: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    today_totals: dict[str, tuple[int, int]] = {}
    for row in numbers["daily"]:
        currency, volume = row["currency"], int(row["volume"])
        per_day[currency][row["day"]] = per_day[currency].get(row["day"], 0) + volume
        per_method[currency][row["method"]] += volume
        if row["day"] == today.isoformat():
            count, total = today_totals.get(currency, (0, 0))
            today_totals[currency] = (count + int(row["count"]), total + volume)
    every_day = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return Overview(
        today=today.isoformat(),
        funnel=numbers["funnel"],
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
