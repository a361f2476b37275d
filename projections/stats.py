"""Merchant stats: the funnel created → sent → opened → paid, and volume by method and day."""

from __future__ import annotations

from projections.events import (
    LINK_CREATED,
    LINK_OPENED,
    LINK_PAYMENT_ACCEPTED,
    LINK_SENT,
    PAYMENT_INITIATED,
    PAYMENT_VERIFIED,
)
from projections.readmodel import Event, ReadModel, jakarta_day, originator, uuid_text
from projections.sqlview import Statement

FUNNEL_FLAGS: dict[type, str] = {
    LINK_SENT: "sent",
    LINK_OPENED: "opened",
    LINK_PAYMENT_ACCEPTED: "paid",
}

FLAG_SQL = {
    flag: f"UPDATE {{s}}stats_links SET {flag} = 1 WHERE link_id = ?"
    for flag in FUNNEL_FLAGS.values()
}
DAILY_SQL = (
    "INSERT INTO {s}stats_daily AS d (merchant_id, mode, day, method, currency, count, volume)"
    " SELECT ?, ?, ?, method, ?, 1, ? FROM {s}stats_payments WHERE payment_id = ?"
    " ON CONFLICT (merchant_id, mode, day, method, currency)"
    " DO UPDATE SET count = d.count + 1, volume = d.volume + ?"
)


class MerchantStats(ReadModel):
    """Per-link funnel flags and daily volume by method (days in Asia/Jakarta)."""

    name = "stats"
    # Flags only ever go from 0 to 1 and daily sums add up: both commute.
    deferred = frozenset({*FLAG_SQL.values(), DAILY_SQL})
    reads = frozenset({LINK_CREATED, *FUNNEL_FLAGS, PAYMENT_INITIATED, PAYMENT_VERIFIED})
    tables = ("stats_links", "stats_payments", "stats_daily")
    later_indexes = ("stats_links_by_merchant",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}stats_links ("
        " link_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " created_day TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0,"
        " opened INTEGER NOT NULL DEFAULT 0, paid INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX IF NOT EXISTS stats_links_by_merchant"
        " ON {s}stats_links (merchant_id, created_day)",
        "CREATE TABLE IF NOT EXISTS {s}stats_payments ("
        " payment_id TEXT PRIMARY KEY, method TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {s}stats_daily ("
        " merchant_id TEXT NOT NULL, mode TEXT NOT NULL, day TEXT NOT NULL, method TEXT NOT NULL,"
        " currency TEXT NOT NULL, count BIGINT NOT NULL, volume BIGINT NOT NULL,"
        " PRIMARY KEY (merchant_id, mode, day, method, currency))",
    )

    def statements(self, event: Event, position: int) -> list[Statement]:
        kind = type(event)
        e = vars(event)
        if kind is LINK_CREATED:
            return [
                (
                    "INSERT INTO {s}stats_links (link_id, merchant_id, mode, created_day)"
                    " VALUES (?, ?, ?, ?)",
                    (
                        originator(event),
                        uuid_text(e["merchant_id"]),
                        e["mode"],
                        jakarta_day(e["timestamp"]),
                    ),
                )
            ]
        flag = FUNNEL_FLAGS.get(kind)
        if flag is not None:
            return [(FLAG_SQL[flag], (originator(event),))]
        if kind is PAYMENT_INITIATED:
            return [
                (
                    "INSERT INTO {s}stats_payments (payment_id, method) VALUES (?, ?)",
                    (originator(event), e["method"]),
                )
            ]
        if kind is PAYMENT_VERIFIED:
            gross = e["gross"]
            return [
                (
                    DAILY_SQL,
                    (
                        uuid_text(e["merchant_id"]),
                        e["mode"],
                        jakarta_day(e["timestamp"]),
                        gross.currency,
                        gross.amount,
                        originator(event),
                        gross.amount,
                    ),
                )
            ]
        return []
