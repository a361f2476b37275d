"""Journal and balances: the postings of every event, and each merchant's buckets.

Postings come from :func:`paylink_es.ledger.postings_for`, the same function the
audit replay uses. Every write is checked: no merchant bucket below zero, and every
verified rupiah in exactly one bucket. A violation stops the projection.
"""

from __future__ import annotations

from collections.abc import Sequence

from paylink_es.ledger import balance_effects, postings_for
from projections.readmodel import Event, ReadModel, event_name, iso, originator
from projections.sqlview import Check, Statement

BALANCE_COLUMNS = (
    "pending",
    "available",
    "held",
    "refund_due",
    "fees",
    "refunded",
    "paid_out",
    "verified",
)
BUCKETS = ("pending", "available", "held", "refund_due", "fees", "refunded", "paid_out")

_UPSERT = {
    column: (
        f"INSERT INTO {{s}}balances AS b (merchant_id, mode, currency, {column}, position)"
        " VALUES (?, ?, ?, ?, ?)"
        f" ON CONFLICT (merchant_id, mode, currency) DO UPDATE SET {column} = b.{column} + ?,"
        " position = CASE WHEN b.position > ? THEN b.position ELSE ? END"
    )
    for column in BALANCE_COLUMNS
}

JOURNAL_SQL = (
    "INSERT INTO {s}journal (position, seq, at, event, originator_id, account,"
    " merchant_id, mode, currency, debit, credit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

CHECKS: tuple[Check, ...] = (
    (
        "SELECT merchant_id, mode, currency FROM {s}balances WHERE position >= ? AND ("
        + " OR ".join(f"{c} < 0" for c in BUCKETS)
        + ")",
        (),
        "a merchant balance would go below zero",
    ),
    (
        "SELECT merchant_id, mode, currency FROM {s}balances WHERE position >= ? AND verified != "
        + " + ".join(BUCKETS),
        (),
        "verified money is not in exactly one of pending, available, held, refund_due,"
        " fees, refunded, paid out",
    ),
)


class LedgerView(ReadModel):
    """The double-entry journal and per-merchant, per-currency balances."""

    name = "ledger"
    # Journal lines are appended; balance upserts add up in any order.
    deferred = frozenset({JOURNAL_SQL, *_UPSERT.values()})
    tables = ("journal", "balances")
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}journal ("
        " position BIGINT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,"
        " event TEXT NOT NULL, originator_id TEXT NOT NULL, account TEXT NOT NULL,"
        " merchant_id TEXT, mode TEXT NOT NULL, currency TEXT NOT NULL, debit BIGINT NOT NULL,"
        " credit BIGINT NOT NULL, PRIMARY KEY (position, seq))",
        "CREATE INDEX IF NOT EXISTS journal_by_merchant ON {s}journal (merchant_id, at)",
        "CREATE INDEX IF NOT EXISTS journal_by_time ON {s}journal (at)",
        "CREATE TABLE IF NOT EXISTS {s}balances ("
        " merchant_id TEXT NOT NULL, mode TEXT NOT NULL, currency TEXT NOT NULL, "
        + ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in BALANCE_COLUMNS)
        + ", position BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (merchant_id, mode, currency))",
        "CREATE INDEX IF NOT EXISTS balances_by_position ON {s}balances (position)",
    )

    def statements(self, event: Event, position: int) -> list[Statement]:
        postings = postings_for(event)
        if not postings:
            return []
        at = iso(vars(event)["timestamp"])
        name, aggregate = event_name(event), originator(event)
        statements: list[Statement] = [
            (
                JOURNAL_SQL,
                (
                    position,
                    seq,
                    at,
                    name,
                    aggregate,
                    p.account,
                    str(p.merchant_id) if p.merchant_id else None,
                    p.mode,
                    p.currency,
                    p.debit,
                    p.credit,
                ),
            )
            for seq, p in enumerate(postings)
        ]
        for (merchant, mode, currency, column), delta in balance_effects(postings).items():
            if delta:
                statements.append(
                    (
                        _UPSERT[column],
                        (str(merchant), mode, currency, delta, position, delta, position, position),
                    )
                )
        return statements

    def checks(self, first_position: int) -> Sequence[Check]:
        # Only the balances this write touched: the rest were checked when they changed.
        return [(sql, (first_position,), message) for sql, _, message in CHECKS]
