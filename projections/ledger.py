"""Journal and balances: the postings of every event, and each merchant's buckets.

Postings come from :func:`paylink_es.domain.postings.postings_for`, the same function the
audit replay uses. Every write is checked: no merchant bucket below zero, and every
verified rupiah in exactly one bucket. A violation stops the projection.

``available`` is the one bucket that may be negative, and only because of a refund of
settled money (``postings.OVERDRAWING_EVENTS``): any other event that lowers it — a
payout — must leave it at zero or above, so a payout can neither overdraw the balance
nor be made while it is negative. Money credited later (settlement) may leave it still
negative: that is the recovery under way. This rule depends on the order of events, so
it is checked in Python over the batch's events in order, starting from the balances
the view holds (read only for books a payout lowered), not by a query on the totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from eventsourcing.persistence import Tracking

from paylink_es.domain.postings import (
    OVERDRAWING_EVENTS,
    POSTING_EVENTS,
    Posting,
    balance_effects,
    postings_for,
)
from projections.readmodel import Event, ReadModel, event_name, iso, originator, uuid_text
from projections.sqlview import Check, InvariantViolationError, Statement, marks

BalanceColumn = Literal[
    "pending", "available", "held", "refund_due", "fees", "refunded", "paid_out", "verified"
]
BALANCE_COLUMNS: tuple[BalanceColumn, ...] = (
    "pending",
    "available",
    "held",
    "refund_due",
    "fees",
    "refunded",
    "paid_out",
    "verified",
)
# Where verified money sits: every column but the total.
BUCKETS: tuple[BalanceColumn, ...] = tuple(c for c in BALANCE_COLUMNS if c != "verified")
# Buckets that never go below zero: all but ``available`` (see the module's docstring).
NEVER_NEGATIVE: tuple[BalanceColumn, ...] = tuple(c for c in BUCKETS if c != "available")

# One statement per book moves all its columns: deltas add up, the position only rises.
BOOK_UPSERT = (
    f"INSERT INTO {{s}}balances AS b (merchant_id, mode, currency, {', '.join(BALANCE_COLUMNS)},"
    f" position) VALUES (?, ?, ?, {marks(BALANCE_COLUMNS)}, ?)"
    " ON CONFLICT (merchant_id, mode, currency) DO UPDATE SET "
    + ", ".join(f"{c} = b.{c} + excluded.{c}" for c in BALANCE_COLUMNS)
    + ", position = CASE WHEN b.position > excluded.position THEN b.position"
    " ELSE excluded.position END"
)
COLUMN_INDEX: dict[str, int] = {column: i for i, column in enumerate(BALANCE_COLUMNS)}
BookKey = tuple[str, str, str]  # merchant, mode, currency
# Per book: the delta of each balance column, then the last position that moved it.
Books = dict[BookKey, list[int]]
# In event order: (position, event, how it moved each book's available balance).
Moves = list[tuple[int, Event, dict[BookKey, int]]]
AVAILABLE_SQL = (
    "SELECT available FROM {s}balances WHERE merchant_id = ? AND mode = ? AND currency = ?"
)


def overdraws(event: object, before: int, delta: int) -> bool:
    """Whether moving a book's available balance by ``delta`` from ``before`` breaks the
    ledger's rule: only a refund may take it below zero (or further below)."""
    return delta < 0 and before + delta < 0 and type(event) not in OVERDRAWING_EVENTS


JOURNAL_SQL = (
    "INSERT INTO {s}journal (position, seq, at, event, originator_id, account,"
    " merchant_id, mode, currency, debit, credit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

CHECKS: tuple[Check, ...] = (
    (
        "SELECT merchant_id, mode, currency FROM {s}balances WHERE position >= ? AND ("
        + " OR ".join(f"{c} < 0" for c in NEVER_NEGATIVE)
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
    reads = POSTING_EVENTS
    # Journal lines are appended; balance upserts add up in any order.
    deferred = frozenset({JOURNAL_SQL, BOOK_UPSERT})
    tables = ("journal", "balances")
    later_indexes = ("journal_by_merchant", "journal_by_time")
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
        books: Books = {}
        moves: Moves = []
        lines = self._journal(event, position, books, moves)
        self.check_available(moves)
        return [*lines, *_book_upserts(books)]

    def process_batch(self, batch: Sequence[tuple[Event, Tracking]]) -> None:
        """A page's journal lines, then one upsert per book it moved (sums of its deltas)."""
        if not batch:
            return
        books: Books = {}
        moves: Moves = []
        statements: list[Statement] = []
        for event, tracking in batch:
            statements.extend(self._journal(event, tracking.notification_id, books, moves))
        self.check_available(moves)
        statements.extend(_book_upserts(books))
        self.view.apply(statements, batch[-1][1], self.checks(batch[0][1].notification_id))

    def check_available(self, moves: Moves) -> None:
        """Raise :class:`InvariantViolationError` if an event other than a refund would
        take a merchant's available balance below zero (see the module's docstring).

        Only books that such an event lowers are followed, from the balance the view
        holds before these events, through every move of theirs in order.
        """
        followed = {
            key
            for _, event, deltas in moves
            if type(event) not in OVERDRAWING_EVENTS
            for key, delta in deltas.items()
            if delta < 0
        }
        if not followed:
            return
        available: dict[BookKey, int] = {}
        for key in followed:
            rows = self.view.query(AVAILABLE_SQL, key)
            available[key] = int(rows[0]["available"]) if rows else 0
        for position, event, deltas in moves:
            for key, delta in deltas.items():
                before = available.get(key)
                if before is None:
                    continue
                if overdraws(event, before, delta):
                    merchant, mode, currency = key
                    msg = (
                        f"{event_name(event)} at position {position} would take the available"
                        f" balance of merchant {merchant} ({mode}) {currency} below zero"
                        f" ({before} {delta:+d}); only a refund may"
                    )
                    raise InvariantViolationError(msg)
                available[key] = before + delta

    def _journal(self, event: Event, position: int, books: Books, moves: Moves) -> list[Statement]:
        """The event's journal lines; its balance deltas are added to ``books``, and how it
        moves available balances to ``moves``."""
        postings = postings_for(event)
        if not postings:
            return []
        available = _add_effects(books, postings, position)
        if available:
            moves.append((position, event, available))
        at = iso(vars(event)["timestamp"])
        name, aggregate = event_name(event), originator(event)
        return [
            (
                JOURNAL_SQL,
                (
                    position,
                    seq,
                    at,
                    name,
                    aggregate,
                    p.account,
                    uuid_text(p.merchant_id) if p.merchant_id else None,
                    p.mode,
                    p.currency,
                    p.debit,
                    p.credit,
                ),
            )
            for seq, p in enumerate(postings)
        ]

    def checks(self, first_position: int) -> Sequence[Check]:
        # Only the balances this write touched: the rest were checked when they changed.
        return [(sql, (first_position,), message) for sql, _, message in CHECKS]


def _add_effects(books: Books, postings: list[Posting], position: int) -> dict[BookKey, int]:
    """Add the postings' deltas to ``books``; returns how they move available balances."""
    available: dict[BookKey, int] = {}
    for (merchant, mode, currency, column), delta in balance_effects(postings).items():
        if delta:
            key = (uuid_text(merchant), mode, currency)
            book = books.get(key)
            if book is None:
                book = books[key] = [0] * (len(BALANCE_COLUMNS) + 1)
            book[COLUMN_INDEX[column]] += delta
            book[-1] = max(book[-1], position)
            if column == "available":
                available[key] = delta
    return available


def _book_upserts(books: Books) -> list[Statement]:
    return [(BOOK_UPSERT, (*key, *book)) for key, book in books.items()]
