"""The audit chain: SHA-256 over every stored event, chained by position.

``chain[p] = sha256(chain[previous] + canonical(stored event at p))``. The chain is
kept by a projection; :func:`verify_chain` re-reads the store and names the first
position where a stored event was modified, deleted or reordered. The head hash is
the digest finance anchors outside the database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, Tracking
from eventsourcing.sqlite import SQLiteApplicationRecorder

from paylink_es.heap import collection_paused
from paylink_es.store.sqlite import stored_rows
from projections.queries.paging import Keyset, pages
from projections.readmodel import Event, ReadModel
from projections.sqlview import Statement

GENESIS = "0" * 64
STORED_HEX = re.compile("[0-9a-f]{32}")
CHAIN_SQL = "INSERT INTO {s}audit_chain (position, hash) VALUES (?, ?)"
PAGE = 5000


def canonical(notification: Notification) -> bytes:
    """The bytes of a stored event that the chain covers: position, identity, topic, state."""
    return _head(notification) + bytes(notification.state)


def _head(notification: Notification) -> bytes:
    # str(), not the read models' uuid_text: nearly every aggregate here is new to a
    # cache (links, index entries), so the cache would only cost.
    return (
        f"{notification.id}|{notification.originator_id}|"
        f"{notification.originator_version}|{notification.topic}|"
    ).encode()


def chain_hash(previous: str, notification: Notification) -> str:
    """The chain value at ``notification`` given the value before it."""
    return hashlib.sha256(bytes.fromhex(previous) + canonical(notification)).hexdigest()


class AuditChain(ReadModel):
    """Keeps ``audit_chain(position, hash)``; fed raw notifications, not decoded events."""

    name = "audit"
    tables = ("audit_chain",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}audit_chain ("
        " position BIGINT PRIMARY KEY, hash TEXT NOT NULL)",
    )
    wants_notifications = True

    def statements(self, event: Event, position: int) -> list[Statement]:
        msg = "the audit chain hashes stored bytes; feed it with process_notifications()"
        raise TypeError(msg)

    def head(self) -> tuple[int, str]:
        """The last chained position and its hash ((0, GENESIS) when empty)."""
        rows = self.view.query(
            "SELECT position, hash FROM {s}audit_chain ORDER BY position DESC LIMIT 1"
        )
        return (rows[0]["position"], rows[0]["hash"]) if rows else (0, GENESIS)

    def process_notifications(self, app_name: str, page: Sequence[Notification]) -> None:
        """Chain a page of stored events and track the last one, in one transaction."""
        if not page:
            return
        _, previous = self.head()
        digest = bytes.fromhex(previous)
        statements: list[Statement] = []
        for notification in page:
            # chain_hash(), without a hex round trip or copying the state per event
            step = hashlib.sha256(digest)
            step.update(_head(notification))
            step.update(notification.state)
            digest = step.digest()
            statements.append((CHAIN_SQL, (notification.id, digest.hex())))
        self.view.apply(statements, Tracking(app_name, page[-1].id))


@dataclass(frozen=True)
class VerifyResult:
    """What ``audit verify`` found."""

    ok: bool
    checked: int
    head_position: int
    head_hash: str
    problem_position: int | None = None
    problem: str | None = None


def _stored(recorder: ApplicationRecorder, page: int) -> Iterator[tuple[int, bytes, bytes]]:
    """``(position, head, state)`` of every stored event in position order (see canonical)."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        yield from _stored_sqlite(recorder, page)
        return
    last = 0
    while True:
        batch = recorder.select_notifications(last, page, inclusive_of_start=False)
        for notification in batch:
            yield notification.id, _head(notification), notification.state
        if len(batch) < page:
            return
        last = batch[-1].id


def _stored_sqlite(
    recorder: SQLiteApplicationRecorder, page: int
) -> Iterator[tuple[int, bytes, bytes]]:
    """The SQLite table read as plain rows: no Notification or UUID object per event.

    The store keeps an originator id as 32 hex digits; the chain covers its canonical
    text, ``str(UUID(hex))``, written here from the digits (:func:`hex_uuid_text`).
    """
    last = 0
    while True:
        rows = stored_rows(recorder, last, page)
        for position, originator, version, topic, state in rows:
            text = hex_uuid_text(originator)
            yield position, f"{position}|{text}|{version}|{topic}|".encode(), state
        if len(rows) < page:
            return
        last = rows[-1][0]


def hex_uuid_text(digits: str) -> str:
    """``str(UUID(digits))`` for the 32 lower-case hex digits the store writes, without
    making the UUID.

    Anything else is only in a changed row: it goes through ``UUID`` as the read side
    would take it, and what ``UUID`` refuses is covered as it is stored (so the chain
    reports the change instead of verify failing on it).
    """
    if STORED_HEX.fullmatch(digits):
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    try:
        return str(UUID(digits))
    except ValueError:
        return digits


class ChainRow(TypedDict):
    """A link of the chain: the hash up to and including the event at ``position``."""

    position: int
    hash: str


CHAIN = Keyset(
    "audit_chain", ("position",), (int,), ChainRow, descending=False, columns="position, hash"
)


def _chained(chain: AuditChain, page: int) -> Iterator[tuple[int, str]]:
    for rows in pages(chain, CHAIN, (), (), page):
        for row in rows:
            yield row["position"], row["hash"]


@collection_paused()
def verify_chain(
    recorder: ApplicationRecorder, chain: AuditChain, page: int = PAGE
) -> VerifyResult:
    """Recompute the chain from the store and compare it with the kept one, position by position."""
    stored = _stored(recorder, page)
    previous, checked, head = GENESIS, 0, 0
    digest = bytes.fromhex(GENESIS)

    def broken(position: int, problem: str) -> VerifyResult:
        """The chain holds up to ``checked`` events and breaks at ``position``."""
        return VerifyResult(False, checked, head, previous, position, problem)

    for position, kept in _chained(chain, page):
        found = next(stored, None)
        if found is None or found[0] > position:
            return broken(position, f"the event at position {position} is missing (deleted)")
        if found[0] < position:
            return broken(found[0], f"an event at position {found[0]} was inserted")
        # chain_hash(), without a hex round trip or copying the state per event
        step = hashlib.sha256(digest)
        step.update(found[1])
        step.update(found[2])
        digest = step.digest()
        previous = digest.hex()
        if previous != kept:
            return broken(position, f"the event at position {position} was modified or reordered")
        checked, head = checked + 1, position
    return VerifyResult(True, checked, head, previous)
