"""The SQLite event store, through the library's own factory: writers take turns through a
lock file, commits ring a doorbell, ids are read cheaply.

Several processes write one SQLite store (``serve --workers N``, the projections process,
the CLI). When a writer finds the database locked, SQLite's default busy handler sleeps
1, 2, 5, 10, 15, 20, 25… ms between attempts, whatever the holder is doing: a commit
of a millisecond could cost the next writer 30 ms, the tail of every HTTP percentile.
With the gate, a writer waits on an ``flock`` of ``<store>.write-gate`` for exactly as
long as the one before it writes: the kernel wakes it when the lock is released. Within
a process the library's writer lock already serialises writers; the gate adds the other
processes. A process that does not use the gate still works (SQLite's own locking is
untouched); it only waits the old way.

Opening a store creates its directory (:func:`make_store_directory`): settings only name
the file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

from paylink_es.store.doorbell import address_for, ring
from paylink_es.store.transcodings import uuid_from_hex


def make_store_directory(db_name: str) -> None:
    """Create the directory of the SQLite file ``db_name`` (a path or a ``file:`` URI) if
    it is missing; nothing for a database in memory."""
    if not db_name or SQLiteConnectionPool.detect_memory_mode(db_name):
        return
    Path(db_name.removeprefix("file:").partition("?")[0]).parent.mkdir(parents=True, exist_ok=True)


class WriteGatePool(SQLiteConnectionPool):
    """The library's pool, plus an ``flock`` of ``<file>.write-gate`` held by the writer
    between get and put."""

    _gate: int | None = None

    def __init__(self, *, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name=db_name, **kwargs)
        if not self.is_sqlite_memory_mode:
            path = db_name.removeprefix("file:").partition("?")[0]
            self._gate = os.open(f"{path}.write-gate", os.O_RDWR | os.O_CREAT, 0o600)

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


class ChosenPoolDatastore(SQLiteDatastore):
    """The library's datastore with connections from ``pool_class`` (for a file: a
    database in memory keeps the library's pool)."""

    pool_class: ClassVar[type[SQLiteConnectionPool]] = SQLiteConnectionPool

    def __init__(self, db_name: str, *, lock_timeout: int | None = None, **kwargs: Any) -> None:
        super().__init__(db_name, lock_timeout=lock_timeout, **kwargs)
        if type(self.pool) is not self.pool_class and not self.pool.is_sqlite_memory_mode:
            self.pool.close()  # it opened no connection: the library connects on first use
            self.pool = self.pool_class(db_name=db_name, lock_timeout=lock_timeout)


class SQLiteStoreFactory(SQLiteFactory):
    """The library's SQLite persistence module, building a datastore of our choosing.

    Named by ``PERSISTENCE_MODULE``: the library builds it as it builds its own. The
    store's directory is created first, so that its file (and write gate) can be.
    """

    datastore_class: ClassVar[type[SQLiteDatastore]] = SQLiteDatastore

    def __init__(self, env: Environment | EnvType | None) -> None:
        environment = env if isinstance(env, Environment) else Environment(env=env)
        make_store_directory(environment.get(self.SQLITE_DBNAME) or "")
        super().__init__(environment)
        if self.datastore_class is SQLiteDatastore:
            return
        plain = self.datastore
        self.datastore = self.datastore_class(
            plain.pool.db_name,
            lock_timeout=plain.pool.lock_timeout,
            single_row_tracking=plain.single_row_tracking,
            originator_id_type=plain.originator_id_type,
        )
        plain.close()


class GatedDatastore(ChosenPoolDatastore):
    """The event store's datastore: its writers in every process take turns through the
    write gate, and each commit rings its doorbell."""

    pool_class = WriteGatePool

    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        path = db_name.removeprefix("file:").partition("?")[0]
        self.doorbell: bytes | None = None if self.pool.is_sqlite_memory_mode else address_for(path)


class PaylinkSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, ringing the store's doorbell after each commit
    (:mod:`paylink_es.store.doorbell`: the live projections need not poll), and reading its
    originator ids (32 hex digits) with :func:`uuid_from_hex`, a tenth of reading and
    decoding the log."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.doorbell: bytes | None = getattr(datastore, "doorbell", None)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super().insert_events(stored_events, **kwargs)
        if self.doorbell is not None:
            ring(self.doorbell)
        return ids

    def convert_originator_id(self, originator_id: str) -> UUID | str:
        if self.datastore.originator_id_type == "uuid":
            return uuid_from_hex(originator_id)
        return originator_id


class PaylinkSQLiteFactory(SQLiteStoreFactory):
    """The event store on SQLite: the write gate, the doorbell, ids read cheaply."""

    datastore_class = GatedDatastore
    application_recorder_class: type[SQLiteApplicationRecorder] = PaylinkSQLiteRecorder
