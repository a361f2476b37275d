"""Audit replay: rebuild the journal and balances from the event store alone, up to an
instant, with the same posting rules as the live view, and compare the two.

:func:`stored_events` is the reading both the replay and the what-if of another fee
plan (:mod:`projections.whatif`) do: the store's events in order, a page at a time,
decoded, read only (nothing is written to the store or to any view).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from paylink_es.application.app import PaylinkApp
from paylink_es.domain.postings import BalanceKey, balance_effects, postings_for
from paylink_es.heap import collection_paused
from projections.events import qualnames
from projections.ledger import BALANCE_COLUMNS, BUCKETS, NEVER_NEGATIVE, overdraws
from projections.queries.ledger import posting_of
from projections.readmodel import iso, uuid_text
from projections.runner import ReadModels
from projections.sqlview import InvariantViolationError

PAGE = 1000
BookKey = tuple[str, str, str]  # merchant, mode, currency
Books = dict[BookKey, dict[str, int]]
Moved = dict[BookKey, int] | None  # how an event moved each book's available balance
Progress = Callable[[int, int], None]


@dataclass
class ReplayResult:
    """Balances rebuilt from the store beside the live view's, at the same position."""

    as_of: datetime
    position: int
    events: int
    replayed: Books = field(default_factory=dict)
    live: Books = field(default_factory=dict)
    live_source: str = "journal"
    later_events: int = 0

    @property
    def differences(self) -> list[str]:
        """Readable lines, one per balance that differs (empty when the books agree)."""
        lines = []
        for key in sorted(set(self.replayed) | set(self.live)):
            zero = dict.fromkeys(BALANCE_COLUMNS, 0)
            replayed, live = self.replayed.get(key, zero), self.live.get(key, zero)
            for column in BALANCE_COLUMNS:
                if replayed[column] != live[column]:
                    merchant, mode, currency = key
                    lines.append(
                        f"merchant {merchant} ({mode}) {currency} {column}: "
                        f"replay {replayed[column]} != live {live[column]}"
                    )
        return lines


def _accumulate(books: Books, effects: dict[BalanceKey, int]) -> set[BookKey]:
    touched = set()
    for (merchant, mode, currency, column), delta in effects.items():
        key = (uuid_text(merchant), mode, currency)  # formatted once per merchant
        books.setdefault(key, dict.fromkeys(BALANCE_COLUMNS, 0))[column] += delta
        touched.add(key)
    return touched


def check_books(
    books: Books, keys: set[BookKey], where: str, event: object = None, available: Moved = None
) -> None:
    """The ledger invariants on some balances after ``event``; raises naming what broke
    and where. ``available``: how the event moved each book's available balance (only a
    refund may take it below zero: ``projections.ledger.overdraws``)."""
    for key in keys:
        columns = books[key]
        negative = [c for c in NEVER_NEGATIVE if columns[c] < 0]
        delta = (available or {}).get(key, 0)
        if not negative and overdraws(event, columns["available"] - delta, delta):
            negative = ["available"]
        if negative:
            msg = f"{where}: {key} has a negative {negative[0]} balance ({columns})"
            raise InvariantViolationError(msg)
        if columns["verified"] != sum(columns[c] for c in BUCKETS):
            msg = f"{where}: {key} verified money is not in exactly one bucket ({columns})"
            raise InvariantViolationError(msg)


def stored_events(
    app: PaylinkApp,
    stop: int,
    *,
    only: Collection[type] | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[int, object]]:
    """(position, event) of every stored event up to position ``stop``, oldest first.

    Pages of :data:`PAGE` notifications; ``only`` (event or aggregate classes, as read
    models name what they read) leaves every other event undecoded. ``progress`` is told
    (position, stop) after each page.
    """
    names, prefixes = qualnames(only) if only is not None else (frozenset(), ())
    wanted: dict[str, bool] = {}  # topic -> decode it?
    to_event = app.mapper.to_domain_event
    last = 0
    while last < stop:
        page = app.recorder.select_notifications(last, PAGE, stop=stop, inclusive_of_start=False)
        if not page:
            break
        for notification in page:
            if only is not None:
                read = wanted.get(notification.topic)
                if read is None:
                    # The topic's module may be an old one: the class is what counts.
                    qualname = notification.topic.rpartition(":")[2]
                    read = qualname in names or qualname.startswith(prefixes)
                    wanted[notification.topic] = read
                if not read:
                    continue
            yield notification.id, to_event(notification)
        last = page[-1].id
        if progress is not None:
            progress(last, stop)


@collection_paused()
def replay(
    app: PaylinkApp,
    models: ReadModels,
    as_of: datetime,
    merchant: UUID | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay the store up to ``as_of`` (and the live view's position) and compare."""
    position = models["ledger"].view.max_tracking_id(app.name) or 0
    result = ReplayResult(as_of=as_of, position=position, events=0)
    for at, event in stored_events(app, position, progress=progress):
        result.events += 1
        if vars(event)["timestamp"] > as_of:
            result.later_events += 1
            continue
        postings = postings_for(event)
        if merchant is not None:
            postings = [p for p in postings if p.merchant_id == merchant]
        if postings:
            effects = balance_effects(postings)
            touched = _accumulate(result.replayed, effects)
            moved = {
                (uuid_text(book_merchant), mode, currency): delta
                for (book_merchant, mode, currency, column), delta in effects.items()
                if column == "available"
            }
            check_books(result.replayed, touched, f"event at position {at}", event, moved)
    if result.later_events == 0:
        # Every event up to the view's position is in: compare with the balances table
        # merchants see, not only with the journal.
        result.live_source = "balances"
        where, params = "1 = 1", list[object]()
        if merchant is not None:
            where, params = "merchant_id = ?", [str(merchant)]
        for row in models["ledger"].view.query("SELECT * FROM {s}balances WHERE " + where, params):
            key = (row["merchant_id"], row["mode"], row["currency"])
            result.live[key] = {c: int(row[c]) for c in BALANCE_COLUMNS}
        return result
    where, params = "position <= ? AND at <= ?", [position, iso(as_of)]
    if merchant is not None:
        where += " AND merchant_id = ?"
        params.append(str(merchant))
    rows = models["ledger"].view.query(
        "SELECT account, merchant_id, mode, currency, debit, credit FROM {s}journal WHERE "
        + where
        + " ORDER BY position, seq",
        params,
    )
    _accumulate(result.live, balance_effects([posting_of(row) for row in rows]))
    return result
