"""The base of every read model: an eventsourcing Projection writing through a RowsView."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar, Final, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from paylink_es.domain.clock import WIB
from projections.events import qualnames
from projections.sqlview import Check, RowsView, Statement

Event = DomainEventProtocol[Any]


@lru_cache(maxsize=8192)
def iso(instant: datetime) -> str:
    """A UTC instant as fixed-width text that sorts the same way the instants do.

    Cached: every read model formats the same event's timestamp during a batch. An
    instant too close to the ends of the calendar to shift to UTC is clamped to them.
    """
    try:
        instant = instant.astimezone(UTC)
    except OverflowError:
        return (
            "0001-01-01T00:00:00.000000Z" if instant.year < 5000 else "9999-12-31T23:59:59.999999Z"
        )
    if instant.year < 1000:  # strftime writes such a year without leading zeros
        return instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime, in a third of the time: "…T12:34:56.789012+00:00".
    return instant.isoformat(timespec="microseconds")[:26] + "Z"


def from_iso(text: str) -> datetime:
    """Read back what :func:`iso` wrote."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def jakarta_day(instant: datetime) -> str:
    """The calendar day in Asia/Jakarta (WIB) of an instant, as YYYY-MM-DD."""
    return instant.astimezone(WIB).date().isoformat()


UUID_TEXTS_KEPT = 65_536
_UUID_TEXTS: dict[int, str] = {}


def uuid_text(value: object) -> str:
    """``str(value)``, remembered for UUIDs: the same merchant, link and payment ids
    recur across events and read models, and formatting a UUID is slow."""
    if type(value) is not UUID:
        return str(value)
    key = value.int
    text = _UUID_TEXTS.get(key)
    if text is None:
        if len(_UUID_TEXTS) >= UUID_TEXTS_KEPT:
            _UUID_TEXTS.clear()
        text = _UUID_TEXTS[key] = str(value)
    return text


def originator(event: Event | dict[str, Any]) -> str:
    """The event's aggregate id as text, formatted once per event for every read model.

    Takes the event or its ``vars()`` (the cache lives there either way).
    """
    cache = event if isinstance(event, dict) else vars(event)
    text: str | None = cache.get("_originator_text")
    if text is None:
        text = cache["_originator_text"] = uuid_text(cache["originator_id"])
    return text


def fields_at(event: Event) -> tuple[dict[str, Any], str]:
    """The event's fields (its ``vars()``, where :func:`originator` caches) and the instant
    it happened as :func:`iso` text: what a read model writes a row from."""
    e = vars(event)
    return e, iso(e["timestamp"])


def event_name(event: object) -> str:
    """``PaymentLink.Created`` and the like."""
    return type(event).__qualname__


def to_json(data: dict[str, Any]) -> str:
    """Compact JSON for timeline details (values already plain), keys sorted."""
    if not data:
        return "{}"
    return orjson.dumps(data, default=str, option=orjson.OPT_SORT_KEYS).decode()


class ReadModel(Projection[RowsView]):
    """A read model: turns each event into SQL statements applied with its tracking."""

    name: str
    ddl: ClassVar[Sequence[str]]
    tables: ClassVar[Sequence[str]]
    # Append-only inserts that no other statement of the batch reads: a batch moves
    # them to its end, where runs of them go to the database in one executemany.
    deferred: ClassVar[frozenset[str]] = frozenset()
    # The events :meth:`statements` can write for: event classes, and aggregate classes
    # for all of an aggregate's events (projections.events); None means any event. A
    # batch skips the others without asking, by the names their stored topics end with.
    reads: ClassVar[frozenset[type] | None] = None
    # Indexes of ``ddl`` that only queries use: a rebuild builds them after the rows.
    later_indexes: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def statements(self, event: Event, position: int) -> list[Statement]:
        """The writes one event makes (often none: tracking still advances)."""

    def rebuilding(self, on: bool) -> None:
        """Told when a rebuild from zero starts (``True``) and when it ends (``False``)."""
        # Meanwhile the view was emptied and only this model writes it: a model may keep
        # a batch's rows in memory and write each once (batch_rows).
        del on

    def batch_rows(self) -> list[Statement]:
        """The writes a batch kept in memory, made at its end (none unless rebuilding)."""
        return []

    def checks(self, first_position: int) -> Sequence[Check]:
        """Queries that must return nothing after a write of events from ``first_position``."""
        del first_position
        return ()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply one event and its tracking in one transaction (the live path)."""
        if isinstance(domain_event, Undecodable):
            if _reader(type(self))(type(domain_event).__qualname__):
                raise domain_event.error
            self.view.apply([], tracking)  # not ours: track past it
            return
        self.view.apply(
            [*self.statements(domain_event, tracking.notification_id), *self.batch_rows()],
            tracking,
            self.checks(tracking.notification_id),
        )

    def process_batch(self, batch: Sequence[tuple[Event, Tracking]]) -> None:
        """Apply a page of events and the last one's tracking in one transaction."""
        if not batch:
            return
        ordered: list[Statement] = []
        deferred: list[Statement] = []
        later = self.deferred
        kinds = _kinds(type(self))
        statements = self.statements
        for event, tracking in batch:
            kind = type(event)
            read = kinds.get(kind)
            if read is None:
                read = _kind_read(type(self), kind)
            if read is _SKIP:
                continue
            if read is _FAIL:
                raise cast("Undecodable", event).error
            made = statements(event, tracking.notification_id)
            if later:
                for statement in made:
                    (deferred if statement[0] in later else ordered).append(statement)
            else:
                ordered.extend(made)
        ordered.extend(self.batch_rows())
        deferred.sort(key=lambda statement: statement[0])
        self.view.apply(ordered + deferred, batch[-1][1], self.checks(batch[0][1].notification_id))


_READERS: dict[type[ReadModel], Callable[[str], bool]] = {}
# What a batch does with an event of a class, per read model: skip it, apply it, or fail
# on it (a stand-in for an event that did not decode, which this model reads).
_SKIP, _APPLY, _FAIL = "skip", "apply", "fail"
_KINDS: dict[type[ReadModel], dict[type, str]] = {}


def _kinds(cls: type[ReadModel]) -> dict[type, str]:
    kinds = _KINDS.get(cls)
    if kinds is None:
        kinds = _KINDS[cls] = {}
    return kinds


def _kind_read(cls: type[ReadModel], kind: type) -> str:
    """Whether ``cls`` skips, applies or fails on events of class ``kind`` (remembered)."""
    read = _SKIP
    if _reader(cls)(kind.__qualname__):
        read = _FAIL if issubclass(kind, Undecodable) else _APPLY
    _kinds(cls)[kind] = read
    return read


class _Unread:
    """Stands in for an event no read model reads: nothing decodes it, tracking advances."""


UNREAD: Final = _Unread()


class Undecodable:
    """Stands in for a stored event that cannot be decoded (an amount beyond every bound).

    Its ``__qualname__`` is the event's (``Payment.Received``), so exactly the read models
    that read such events meet it, and fail on it with the decoding error; the others
    track past it.
    """

    def __init__(self, error: Exception) -> None:
        self.error = error


def undecodable(topic: str, error: Exception) -> Undecodable:
    """A stand-in for the event of ``topic`` that failed to decode with ``error``."""
    qualname = topic.rpartition(":")[2]
    cls = _UNDECODABLE.get(qualname)
    if cls is None:
        cls = _UNDECODABLE[qualname] = type("Undecodable", (Undecodable,), {})
        cls.__qualname__ = qualname
    return cls(error)


_UNDECODABLE: dict[str, type[Undecodable]] = {}


def reader_for(cls: type[ReadModel]) -> Callable[[str], bool]:
    """Whether ``cls`` reads an event of a given qualified name (``Payment.Verified``)."""
    return _reader(cls)


def _reader(cls: type[ReadModel]) -> Callable[[str], bool]:
    """Whether a read model reads an event of a given name (answers cached per name)."""
    reader = _READERS.get(cls)
    if reader is None:
        if cls.reads is None:
            reader = _READERS[cls] = _any_event
            return reader
        names, prefixes = qualnames(cls.reads)
        answers: dict[str, bool] = {}

        def reader(name: str) -> bool:
            answer = answers.get(name)
            if answer is None:
                answer = answers[name] = name in names or name.startswith(prefixes)
            return answer

        _READERS[cls] = reader
    return reader


def _any_event(name: str) -> bool:
    del name
    return True
