"""The SQLite event store, adapted: writers take turns through a lock file, ids read cheaply.

Several processes write one SQLite store (``serve --workers N``, the projections process,
the CLI). When a writer finds the database locked, SQLite's default busy handler sleeps
1, 2, 5, 10, 15, 20, 25… ms between attempts, whatever the holder is doing: a commit
of a millisecond could cost the next writer 30 ms, the tail of every HTTP percentile.
With the gate, a writer waits on an ``flock`` of ``<store>.write-gate`` for exactly as
long as the one before it writes: the kernel wakes it when the lock is released. Within
a process the library's writer lock already serialises writers; the gate adds the other
processes. A process that does not use the gate still works (SQLite's own locking is
untouched); it only waits the old way.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
)

from paylink_es.doorbell import address_for, ring
from paylink_es.transcodings import uuid_from_hex


class WriteGatePool(SQLiteConnectionPool):
    """The library's pool, plus an ``flock`` held by the writer between get and put."""

    _gate: int | None = None

    def get_connection(
        self, timeout: float | None = None, *, is_writer: bool | None = None
    ) -> SQLiteConnection:
        conn = super().get_connection(timeout, is_writer=is_writer)
        if is_writer is True and self._gate is not None:
            try:
                fcntl.flock(self._gate, fcntl.LOCK_EX)  # blocks without the GIL
            except BaseException:
                super().put_connection(conn)
                raise
        return conn

    def put_connection(self, conn: SQLiteConnection) -> None:
        writer = conn.is_writer is True
        try:
            super().put_connection(conn)
        finally:
            if writer and self._gate is not None:
                fcntl.flock(self._gate, fcntl.LOCK_UN)

    def close(self) -> None:
        super().close()
        if self._gate is not None:
            os.close(self._gate)
            self._gate = None


StoredRow = tuple[int, str, int, str, bytes]  # rowid, originator id (hex), version, topic, state


def stored_rows(
    recorder: SQLiteApplicationRecorder,
    after: int,
    limit: int,
    stop: int | None = None,
) -> list[StoredRow]:
    """Rows of the events table after position ``after`` (up to ``stop``), as plain tuples."""
    statement = _ROWS_SQL.get((recorder.events_table_name, stop is None))
    if statement is None:
        # The table name is the recorder's own setting; positions go in as parameters.
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state FROM "  # noqa: S608
            f"{recorder.events_table_name} WHERE rowid > ?"
            + ("" if stop is None else " AND rowid <= ?")
            + " ORDER BY rowid LIMIT ?"
        )
        _ROWS_SQL[recorder.events_table_name, stop is None] = statement
    params = (after, limit) if stop is None else (after, stop, limit)
    with recorder.datastore.transaction(commit=False) as cursor:
        rows = cursor.sqlite_cursor
        rows.row_factory = None  # tuples, not sqlite3.Row
        rows.execute(statement, params)
        return rows.fetchall()


_ROWS_SQL: dict[tuple[str, bool], str] = {}
_new = object.__new__
_set = object.__setattr__


class RowReadingRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder; ``select_notifications`` reads plain rows.

    The library reads ``sqlite3.Row`` objects by column name and builds each frozen
    ``Notification`` through its ``__init__``: a sixth of reading the log for a rebuild.
    Same query, same notifications; a topic filter goes to the library as before.

    Also rings the store's doorbell (:mod:`paylink_es.doorbell`) after each commit of
    events, so that the live projections need not poll.
    """

    doorbell: bytes | None = None  # the store's bell; None for a store in memory

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super().insert_events(stored_events, **kwargs)
        if self.doorbell is not None:
            ring(self.doorbell)
        return ids

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        if topics:
            return super().select_notifications(
                start, limit, stop, topics, inclusive_of_start=inclusive_of_start
            )
        after = 0 if start is None else start - 1 if inclusive_of_start else start
        convert = self.convert_originator_id
        made = []
        for position, originator_id, version, topic, state in stored_rows(self, after, limit, stop):
            notification = _new(Notification)
            _set(
                notification,
                "__dict__",
                {
                    "originator_id": convert(originator_id),
                    "originator_version": version,
                    "topic": topic,
                    "state": state,
                    "id": position,
                },
            )
            made.append(notification)
        return made


def adapt_sqlite_store(recorder: ApplicationRecorder) -> None:
    """Give a file-backed SQLite store the write gate (other stores are left as they are).

    Also reads its originator ids (32 hex digits) with :func:`uuid_from_hex`: every
    notification read builds one, a tenth of reading and decoding the log.
    """
    datastore: Any = getattr(recorder, "datastore", None)
    if not isinstance(datastore, SQLiteDatastore):
        return
    if datastore.originator_id_type == "uuid":
        recorder.convert_originator_id = uuid_from_hex  # type: ignore[attr-defined]
    if type(recorder) is SQLiteApplicationRecorder:
        recorder.__class__ = RowReadingRecorder
    pool = datastore.pool
    if type(pool) is not SQLiteConnectionPool or pool.is_sqlite_memory_mode:
        return
    path = pool.db_name.removeprefix("file:").partition("?")[0]
    if isinstance(recorder, RowReadingRecorder):
        recorder.doorbell = address_for(path)
    pool.__class__ = WriteGatePool
    assert isinstance(pool, WriteGatePool)  # noqa: S101 - for the type checker
    pool._gate = os.open(f"{path}.write-gate", os.O_RDWR | os.O_CREAT, 0o600)
