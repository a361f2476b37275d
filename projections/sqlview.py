"""Materialised views on SQLite or PostgreSQL: rows and tracking in one transaction.

A view is an eventsourcing ``TrackingRecorder`` with the read model's own tables. Read
models write portable SQL: ``?`` placeholders and ``{s}`` before every table name
(empty on SQLite; the quoted schema on PostgreSQL). A column a table gained after views
were first made is declared in the read model's DDL as
``ALTER TABLE {s}t ADD COLUMN IF NOT EXISTS c TYPE``: each view adds it when the table
lacks it (SQLite has no such clause), so a view made before keeps its rows and gains the
column empty. On PostgreSQL a write made by the projections' leader checks its term in
the same transaction (``paylink_es.store.leases``): a node that no longer leads the
projections writes no row and no position.
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from eventsourcing.persistence import InterfaceError, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTrackingRecorder,
)
from psycopg import Cursor
from psycopg import sql as pgsql
from psycopg.rows import DictRow

from paylink_es.store.leases import check_fence
from paylink_es.store.sqlite import ChosenPoolDatastore, SQLiteStoreFactory

Row = dict[str, Any]


class ViewCursor(Protocol):
    """What a view runs its SQL on: a cursor of SQLite or of PostgreSQL."""

    def execute(self, sql: str, params: Sequence[Any], /) -> object: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> object: ...

    def fetchall(self) -> Sequence[Any]: ...


Statement = tuple[str, Sequence[Any]]
# A check is a query that returns no rows when all is well; any row it returns is a violation.
Check = tuple[str, Sequence[Any], str]


def marks(values: Sized) -> str:
    """One ``?`` for each of ``values``, comma-separated: an INSERT's values, an IN list."""
    return ", ".join(["?"] * len(values))


class InvariantViolationError(Exception):
    """A view write would have broken a ledger invariant; nothing was written."""


class RowsView(TrackingRecorder, ABC):
    """What read models need from a view, whichever database holds it.

    Concrete views are made per read model by :func:`view_class`, so that the
    library's factories can construct them.
    """

    name: str = ""
    ddl: Sequence[str] = ()
    tables: Sequence[str] = ()
    # Indexes only queries use (no write of the read model reads through them): a
    # rebuild drops them, fills the tables, then builds them from the rows at once.
    later_indexes: Sequence[str] = ()

    @abstractmethod
    def apply(
        self, statements: Sequence[Statement], tracking: Tracking, checks: Sequence[Check] = ()
    ) -> None:
        """Run ``statements``, then ``checks``, then record ``tracking``: all or nothing."""

    @abstractmethod
    def _transaction(self, commit: bool) -> AbstractContextManager[ViewCursor]:
        """A transaction on the view's database, committed at the end if ``commit``."""

    @abstractmethod
    def _text(self, sql: str) -> str:
        """``sql`` as this database runs it: its tables named, its placeholders."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of a read-only query."""
        with self._transaction(commit=False) as cursor:
            cursor.execute(self._text(sql), params)
            return [dict(row) for row in cursor.fetchall()]

    def run(self, statements: Sequence[Statement]) -> None:
        """Run ``statements`` in one transaction, tracking nothing."""
        with self._transaction(commit=True) as cursor:
            for sql, params in statements:
                cursor.execute(self._text(sql), params)

    def _execute(
        self, cursor: ViewCursor, piped: Iterable[tuple[str, list[Sequence[Any]]]]
    ) -> None:
        """Run each run of statements of one SQL (see :func:`runs`): many at once if many."""
        for sql, many in piped:
            if len(many) == 1:
                cursor.execute(self._text(sql), many[0])
            else:
                cursor.executemany(self._text(sql), many)

    def _check(self, cursor: ViewCursor, checks: Sequence[Check]) -> None:
        """Run each check; the first that finds rows raises :class:`InvariantViolationError`."""
        for sql, params, message in checks:
            cursor.execute(self._text(sql), params)
            rows = [dict(row) for row in cursor.fetchall()]
            if rows:
                raise _violations(rows, message)

    # -- a failure to apply an event, kept where every process can see it ---------------

    @property
    def failure_table(self) -> str:
        """The table holding this view's last failure (one row, or none)."""
        return f"{self.name}_failure"

    def record_failure(self, position: int, error: str, at: str) -> None:
        """Keep that the event at ``position`` could not be applied, and why."""
        table = self.failure_table
        self.run(
            [
                (f"DELETE FROM {{s}}{table}", ()),
                (
                    f"INSERT INTO {{s}}{table} (position, error, failed_at) VALUES (?, ?, ?)",
                    (position, error[:1000], at),
                ),
            ]
        )

    def clear_failure(self) -> None:
        """The view applied the event it had failed on: forget the failure."""
        self.run([(f"DELETE FROM {{s}}{self.failure_table}", ())])

    def failure(self) -> Row | None:
        """The event this view could not apply (position, error, failed_at), if any."""
        rows = self.query(f"SELECT position, error, failed_at FROM {{s}}{self.failure_table}")
        return rows[0] if rows else None

    @abstractmethod
    def reset(self) -> None:
        """Delete every row and the tracking position, for a rebuild from zero."""

    def drop_later_indexes(self) -> None:
        """Drop :attr:`later_indexes` (a rebuild's inserts then skip them)."""
        self.run([(f"DROP INDEX IF EXISTS {{s}}{name}", ()) for name in self.later_indexes])

    def create_later_indexes(self) -> None:
        """Build :attr:`later_indexes` again, as the view's DDL makes them (at once from
        the rows, which is cheaper than growing them row by row)."""
        wanted = set(self.later_indexes)
        self.run([(sql, ()) for sql in self.ddl if index_name(sql) in wanted])


def runs(statements: Sequence[Statement]) -> list[tuple[str, list[Sequence[Any]]]]:
    """Consecutive statements with the same SQL, grouped for ``executemany``."""
    grouped: list[tuple[str, list[Sequence[Any]]]] = []
    for sql, params in statements:
        if grouped and grouped[-1][0] == sql:
            grouped[-1][1].append(params)
        else:
            grouped.append((sql, [params]))
    return grouped


def _violations(rows: list[Row], message: str) -> InvariantViolationError:
    sample = ", ".join(str(dict(row)) for row in rows[:3])
    return InvariantViolationError(f"{message}: {sample}")


CREATE_INDEX = re.compile(r"CREATE INDEX IF NOT EXISTS (\w+) ON ")


def index_name(statement: str) -> str | None:
    """The name of the index a DDL statement creates (None for any other statement)."""
    made = CREATE_INDEX.match(statement)
    return made[1] if made else None


STATEMENT_CACHE = 256  # prepared statements kept per view connection
ADD_COLUMN = re.compile(r"ALTER TABLE \{s\}(\w+) ADD COLUMN IF NOT EXISTS (\w+) (.+)")
Column = tuple[str, str, str]  # table, column, its type


def added_columns(ddl: Sequence[str]) -> tuple[list[str], list[Column]]:
    """A view's DDL split into the statements to run and the columns to add if missing."""
    statements: list[str] = []
    columns: list[Column] = []
    for statement in ddl:
        added = ADD_COLUMN.fullmatch(statement)
        if added is None:
            statements.append(statement)
        else:
            columns.append((added[1], added[2], added[3]))
    return statements, columns


def sqlite_ddl(statement: str) -> str:
    """A view's DDL for SQLite: a ``BIGINT PRIMARY KEY`` (a position) becomes the rowid.

    Only ``INTEGER PRIMARY KEY`` is SQLite's rowid; any other primary key is a second
    b-tree beside the table, which every insert (audit chain, feed, timeline) also
    writes. Same values and affinity; a view file made before keeps its layout.
    """
    return statement.replace(" BIGINT PRIMARY KEY", " INTEGER PRIMARY KEY")


class StatementCachingPool(SQLiteConnectionPool):
    """Connections that keep their prepared statements.

    9.5.6 opens every SQLite connection with ``cached_statements=True``, a cache of one
    statement: a batch that switches between statements parsed its SQL again at every
    switch, a fifth of a rebuild's instructions. Otherwise as the library's pool.
    """

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: the library's transactions say BEGIN
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            mode = c.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() != "wal":
                c.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        # A view is derived data and its rows commit with their tracking position: a
        # commit lost to a power cut is processed again, so a view needs no fsync per
        # commit (WAL with NORMAL stays consistent). The event store keeps FULL.
        c.execute("PRAGMA synchronous=NORMAL")
        # Debian builds SQLite with SECURE_DELETE on: every delete and update zeroes the
        # space it frees, and emptying a view for a rebuild wrote every page of it again
        # (2.9 s of a 146,664-event rebuild). A view only ever holds what the event store
        # keeps forever, so zeroing freed view pages hides nothing.
        c.execute("PRAGMA secure_delete=OFF")
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class ViewDatastore(ChosenPoolDatastore):
    """A view's own SQLite file, on connections that keep their prepared statements."""

    pool_class = StatementCachingPool


class ViewSQLiteFactory(SQLiteStoreFactory):
    """The library's SQLite persistence module for a view (``PERSISTENCE_MODULE``)."""

    datastore_class = ViewDatastore


class SQLiteRowsView(SQLiteTrackingRecorder, RowsView):
    """A view in its own SQLite file (9.5.6 names the tracking table ``tracking``)."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        statements, self._columns = added_columns(self.ddl)
        self._ddl = [sqlite_ddl(statement.format(s="")) for statement in statements]
        self._tables = list(self.tables)
        self._sql: dict[str, str] = {}
        super().__init__(datastore, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self._ddl]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        for table, column, kind in self._columns:
            c.execute(f"SELECT name FROM pragma_table_info('{table}')")
            if column not in {row[0] for row in c.fetchall()}:
                try:
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as error:  # another process added it first
                    if "duplicate column" not in str(error):
                        raise

    def _text(self, sql: str) -> str:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = sql.format(s="")
        return text

    def _transaction(self, commit: bool) -> AbstractContextManager[SQLiteCursor]:
        return self.datastore.transaction(commit=commit)

    def apply(
        self, statements: Sequence[Statement], tracking: Tracking, checks: Sequence[Check] = ()
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._execute(c, runs(statements))
            self._check(c, checks)
            self._insert_tracking(c, tracking)

    @contextmanager
    def table_rows(self, table: str) -> Iterator[tuple[list[str], Iterator[Any]]]:
        """The names of ``table``'s columns and its rows, read as they are iterated."""
        with self.datastore.transaction(commit=False) as c, c as cursor:
            cursor.execute(f"SELECT * FROM {table}")
            yield [column[0] for column in cursor.description], iter(cursor)

    def reset(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in self._tables:
                c.execute(f"DELETE FROM {table}")
            c.execute("DELETE FROM tracking WHERE application_name != '__migration__'")


# An insert of parameters only, e.g. ``INSERT INTO {s}t (a, b) VALUES (?, ?)``: a long
# run of one can go to PostgreSQL as COPY, several times faster than row by row.
PLAIN_INSERT = re.compile(r"INSERT INTO \{s\}(\w+) \(([\w, ]+)\) VALUES \(\?(?:, \?)*\)")
COPY_FROM = 16  # rows in a run before COPY pays for leaving the pipeline


class PostgresRowsView(PostgresTrackingRecorder, RowsView):
    """A view in the event store's database and schema, tables named after the view."""

    def __init__(self, datastore: PostgresDatastore, **_: Any) -> None:
        super().__init__(datastore, tracking_table_name=f"{self.name}_tracking")
        self._prefix = pgsql.Identifier(datastore.schema).as_string() + "."
        self._tables = [self._prefix + table for table in self.tables]
        statements, self._columns = added_columns(self.ddl)
        for statement in statements:
            self.sql_create_statements.append(
                pgsql.SQL(statement.format(s=self._prefix))  # type: ignore[arg-type]
            )
        self._sql: dict[str, str] = {}
        self._copies: dict[str, str | None] = {}

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        super()._create_table(curs)
        for table, column, kind in self._columns:
            # Asked first: ALTER TABLE takes the table's exclusive lock even when it then
            # finds the column there, and every process opening the view would queue for it.
            curs.execute(
                "SELECT 1 FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s AND column_name = %s",
                (self.datastore.schema, table, column),
            )
            if curs.fetchone() is None:
                curs.execute(
                    pgsql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                        pgsql.Identifier(self.datastore.schema, table),
                        pgsql.Identifier(column),
                        pgsql.SQL(kind),
                    )
                )

    def _text(self, sql: str) -> str:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = sql.format(s=self._prefix).replace("?", "%s")
        return text

    def _copy(self, sql: str) -> str | None:
        """``COPY … FROM STDIN`` for a plain insert of values (``None`` for anything else)."""
        if sql not in self._copies:
            match = PLAIN_INSERT.fullmatch(sql)
            self._copies[sql] = (
                f"COPY {self._prefix}{match[1]} ({match[2]}) FROM STDIN" if match else None
            )
        return self._copies[sql]

    def apply(
        self, statements: Sequence[Statement], tracking: Tracking, checks: Sequence[Check] = ()
    ) -> None:
        with self._transaction(commit=True) as curs:
            piped: list[tuple[str, list[Sequence[Any]]]] = []
            for sql, many in runs(statements):
                copy = self._copy(sql) if len(many) >= COPY_FROM else None
                if copy is None:
                    piped.append((sql, many))
                    continue
                # A long run of plain inserts goes as COPY (no pipeline around it), in its turn.
                self._pipeline(curs, piped)
                piped = []
                with curs.copy(copy) as rows:
                    for row in many:
                        rows.write_row(row)
            self._pipeline(curs, piped)
            self._check(curs, checks)
            self._insert_tracking(curs, tracking)

    def copy_from(self, source: SQLiteRowsView, application: str) -> None:
        """Every row of ``source``'s tables (this view's tables, filled elsewhere) and its
        tracking position into this view's emptied tables, in one transaction: COPY, a
        table at a time, columns by name."""
        position = source.max_tracking_id(application)
        with self._transaction(commit=True) as curs:
            for table in self.tables:
                with source.table_rows(table) as (columns, rows):
                    copy = f"COPY {self._prefix}{table} ({', '.join(columns)}) FROM STDIN"
                    with curs.copy(copy) as into:
                        for row in rows:
                            into.write_row(tuple(row))
            if position is not None:
                self._insert_tracking(curs, Tracking(application, position))

    def _pipeline(
        self, curs: Cursor[DictRow], piped: list[tuple[str, list[Sequence[Any]]]]
    ) -> None:
        """Send runs of statements without waiting a round trip for each."""
        if not piped:
            return
        with curs.connection.pipeline():
            self._execute(curs, piped)

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Cursor[DictRow]]:
        """A transaction of the view; one that writes checks the leader's term first.

        It commits without waiting for its WAL to reach the disk (or a synchronous
        standby): a view is derived data committed with its tracking position, so a crash
        can only lose both together, and the view applies those events again on restart
        (as the SQLite views' ``synchronous=NORMAL``). The event store's own commits stay
        durable."""
        with self.datastore.transaction(commit=commit) as curs:
            if commit:
                curs.execute("SET LOCAL synchronous_commit = off")
                check_fence(curs)
            yield curs

    def reset(self) -> None:
        tracking = pgsql.Identifier(self.datastore.schema, self.tracking_table_name)
        with self.datastore.transaction(commit=True) as curs:
            # TRUNCATE, not DELETE: a DELETE of a large view's rows took a second or more
            # of a rebuild, and left them all for VACUUM. It waits for readers of the
            # tables to finish and holds them off until this transaction commits.
            curs.execute(f"TRUNCATE {', '.join(self._tables)}")
            curs.execute(
                pgsql.SQL("DELETE FROM {} WHERE application_name != '__migration__'").format(
                    tracking
                )
            )


_VIEW_CLASSES: dict[tuple[str, str], type[RowsView]] = {}


def view_class(
    backend: str,
    name: str,
    ddl: Sequence[str],
    tables: Sequence[str],
    later_indexes: Sequence[str] = (),
) -> type[RowsView]:
    """The view class of one read model on one backend (``sqlite`` or ``postgres``)."""
    key = (backend, name)
    cls = _VIEW_CLASSES.get(key)
    if cls is None:
        base: type[RowsView] = SQLiteRowsView if backend == "sqlite" else PostgresRowsView
        failures = f"{name}_failure"
        ddl = (
            *ddl,
            f"CREATE TABLE IF NOT EXISTS {{s}}{failures} (position BIGINT NOT NULL,"
            " error TEXT NOT NULL, failed_at TEXT NOT NULL)",
        )
        made = {index_name(statement) for statement in ddl}
        unknown = sorted(set(later_indexes) - made)
        if unknown:
            msg = f"view {name} has no index {unknown[0]} to build after a rebuild"
            raise ValueError(msg)
        attrs = {
            "name": name,
            "ddl": tuple(ddl),
            "tables": (*tables, failures),
            "later_indexes": tuple(later_indexes),
        }
        cls = _VIEW_CLASSES[key] = type(f"{name.title()}{base.__name__}", (base,), attrs)
    return cls
