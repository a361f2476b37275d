"""PostgreSQL connections: bounded in time, one shared pool per process, outages named.

Every connection a process opens to PostgreSQL comes from here (the event store, every
read model, the webhook sender, the LISTEN doorbell of the projections, schema setup):

- **time limits**: ``connect_timeout`` for a new connection; ``statement_timeout``,
  ``lock_timeout`` and ``idle_in_transaction_session_timeout`` set on the server at
  connect; and, since a server that is cut off cannot cancel anything, the client gives
  up too: a query that gets no answer at all within the statement timeout plus
  :data:`REPLY_MARGIN_S` closes its connection (:class:`GuardedConnection`).
- **one pool per process and database** (:class:`PaylinkPostgresFactory`, named by
  ``PERSISTENCE_MODULE``): the application and the read models open factories with the same
  settings and get the same datastore, released when the last of them is closed. A
  borrower waits at most ``pool timeout`` seconds for a connection.
- **outages fail fast**: a connection that cannot be had in time, or a query that got
  no answer, raises :class:`DatabaseUnavailableError` (not one of the library's retried
  errors, so neither its recorders nor the commands go round again); once a new
  connection has failed, the idle ones are checked and borrowers are refused at once
  while a probe (one per :data:`PROBE_EVERY_S`) asks for a connection, until one works
  again. Pooled connections are checked before use (a cheap empty query, with a short
  deadline), so a dead one is replaced instead of failing a request, and the pool keeps
  reconnecting in short rounds: no restart is needed after an outage.
- **the event recorder** (:class:`PaylinkPostgresRecorder`): the library's insert
  transaction, its batch sent as binary column arrays in one round trip; the log read
  in binary.

This module is a store adapter: the core reaches it only by the topic in
``Settings.eventsourcing_env`` and through the composition roots.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import psycopg
import psycopg.errors
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import (
    ConnectionPool,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType, retry
from psycopg import Cursor
from psycopg.abc import PQGen
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import PoolTimeout

from paylink_es.settings import Settings, postgres_address

log = logging.getLogger(__name__)
RV = TypeVar("RV")

# Keys of the library's environment that this factory reads besides the library's own.
STATEMENT_TIMEOUT = "PAYLINK_PG_STATEMENT_TIMEOUT_S"
POOL_TIMEOUT = "PAYLINK_PG_POOL_TIMEOUT_S"
APPLICATION_NAME = "PAYLINK_PG_APPLICATION_NAME"
TARGET_SESSION_ATTRS = "PAYLINK_PG_TARGET_SESSION_ATTRS"

REPLY_MARGIN_S = 2.0  # a query gets no answer this long after the server's own limit: dead
PING_TIMEOUT_S = 2.0  # the check of a pooled connection before it is lent
PROBE_EVERY_S = 1.0  # while the database is down, a probe asks for a connection this often
RECONNECT_ROUND_S = 5.0  # the pool's reconnection attempts come in rounds this long
MAX_IDLE_S = 120.0  # connections beyond the first close after this long unused


class DatabaseUnavailableError(PersistenceError):
    """The database cannot be reached, or did not answer in time: retry later.

    Not one of the library's ``InterfaceError``/``OperationalError``, which its recorders
    and the commands retry on the spot: this one was already waited for.
    """


class NoReplyError(psycopg.OperationalError):
    """The server did not answer within the client's deadline; the connection is closed."""


@dataclass(frozen=True)
class ConnectionSettings:
    """How every connection of a process to one database is made."""

    host: str  # one host, or several ("h1,h2": libpq tries them in turn)
    port: int | str  # a port, or one per host ("5432,5433")
    dbname: str
    user: str
    password: str
    connect_timeout_s: int = 5
    statement_timeout_s: float = 15.0
    lock_timeout_s: float = 5.0
    idle_in_transaction_timeout_s: float = 5.0
    application_name: str = "paylink"
    # "read-write" with several hosts: a connection is made to the primary only, so a
    # process follows it to the standby promoted in its place.
    target_session_attrs: str = ""

    def kwargs(self) -> dict[str, Any]:
        """psycopg's connection arguments: the limits are set on the server at connect."""
        options = " ".join(
            f"-c {name}={int(seconds * 1000)}"
            for name, seconds in (
                ("statement_timeout", self.statement_timeout_s),
                ("lock_timeout", self.lock_timeout_s),
                ("idle_in_transaction_session_timeout", self.idle_in_transaction_timeout_s),
            )
        )
        attrs = {"target_session_attrs": self.target_session_attrs}
        return {
            **(attrs if self.target_session_attrs else {}),
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "password": self.password,
            "connect_timeout": self.connect_timeout_s,
            "application_name": self.application_name,
            "options": options,
            # A peer that vanished without a word (a cut cable) is noticed on idle
            # connections too, such as the projections' LISTEN.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }

    @property
    def reply_timeout_s(self) -> float | None:
        """How long the client waits for any answer before it gives the connection up."""
        if self.statement_timeout_s <= 0:
            return None
        return self.statement_timeout_s + REPLY_MARGIN_S


class GuardedConnection(psycopg.Connection[DictRow]):
    """A connection that waits for the server's answer at most ``reply_timeout_s``.

    The server's ``statement_timeout`` ends a slow query, but not one the server never
    received or whose answer never comes back (a network cut, a stopped host): without
    this, such a query would wait forever. On expiry the connection is closed (its
    protocol state is unknown) and ``psycopg.OperationalError`` is raised.
    """

    reply_timeout_s: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        limit = self.reply_timeout_s
        if timeout is not None or not limit:
            return super().wait(gen, interval, timeout)  # the caller's own limit, if any
        try:
            return super().wait(gen, interval, limit)
        except psycopg.errors._WaitTimeout:  # psycopg's own expiry
            self.close()
            msg = f"no answer from the database within {limit:.1f} s; connection closed"
            raise NoReplyError(msg) from None

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Wait at most ``seconds`` for each answer inside the block."""
        before = self.reply_timeout_s
        self.reply_timeout_s = seconds
        try:
            yield
        finally:
            self.reply_timeout_s = before


def ping(conn: psycopg.Connection[DictRow]) -> None:
    """The pool's check of a connection before it is lent: an empty query, answered fast."""
    if not isinstance(conn, GuardedConnection):  # pragma: no cover - ours lend only those
        ConnectionPool.check_connection(conn)
        return
    with conn.deadline(PING_TIMEOUT_S):
        ConnectionPool.check_connection(conn)


def connect(settings: ConnectionSettings, **kwargs: Any) -> GuardedConnection:
    """A connection of its own (schema setup, LISTEN, bench), with every limit set."""
    conn = GuardedConnection.connect(**{**settings.kwargs(), "row_factory": dict_row, **kwargs})
    conn.reply_timeout_s = settings.reply_timeout_s
    return conn


def ensure_schema(settings: ConnectionSettings, schema: str) -> None:
    """Create ``schema`` if it is missing."""
    with connect(settings, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))


# -- what counts as an outage ------------------------------------------------------------

# Connection exceptions (08), the server shutting down or starting (57P01-57P03), too
# many clients (53300), a statement the server cancelled on its timeout (57014).
OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53300", "57014")


def connection_failed(error: BaseException) -> bool:
    """Whether a psycopg error means the database cannot serve now (not a bad query)."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    return state is None or state.startswith(OUTAGE_STATES)


def waited_out(error: BaseException) -> bool:
    """Whether the database was already waited for as long as allowed."""
    if isinstance(error, PoolTimeout | NoReplyError):
        return True
    return isinstance(error, psycopg.Error) and error.sqlstate == "57014"


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database is unavailable right now.

    PostgreSQL: a connection that cannot be had or broke, a pool that lent none in time,
    a statement cancelled on its timeout; the library's ``OperationalError`` and
    ``InterfaceError`` that wrap them. SQLite: a database locked beyond its busy timeout.
    """
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 8:
        if isinstance(current, DatabaseUnavailableError | PoolTimeout):
            return True
        if isinstance(current, psycopg.Error):
            return connection_failed(current)
        if isinstance(current, sqlite3.OperationalError):
            return "locked" in str(current) or "busy" in str(current)
        if isinstance(current, OperationalError | InterfaceError) and current.__cause__ is None:
            return True  # raised by the library itself (SQLite: "database is locked")
        current = current.__cause__ or current.__context__
        seen += 1
    return False


# -- the pool and the datastore ----------------------------------------------------------


class OutagePool(ConnectionPool[psycopg.Connection[DictRow]]):
    """The library's pool, noting whether the last new connection succeeded."""

    down_since: float | None = None
    last_error: str = ""
    up_since: float = 0.0  # when a connection last worked (monotonic)

    def _connect(self, timeout: float | None = None) -> psycopg.Connection[DictRow]:
        started = time.monotonic()
        try:
            conn = super()._connect(timeout=timeout)
        except Exception as error:
            self.last_error = " ".join(str(error).split())[:300]
            # An attempt begun before a connection worked again (one of the pool's
            # reconnections, tried while a standby was being promoted) says nothing new:
            # it must not declare the outage again.
            if self.down_since is None and started >= self.up_since:
                self.down_since = time.monotonic()
                log.warning("PostgreSQL unavailable: %s", error)
                # The idle connections are most likely dead too: weed them out now, not
                # one borrower at a time.
                threading.Thread(target=self._weed, name="postgres-weed", daemon=True).start()
            raise
        self.reachable()
        return conn

    def reachable(self) -> None:
        """A connection works (new, or one that answered): the outage, if any, is over."""
        self.up_since = time.monotonic()
        if self.down_since is not None:
            log.warning(
                "PostgreSQL reachable again after %.1f s", time.monotonic() - self.down_since
            )
            self.down_since = None

    def _weed(self) -> None:
        with contextlib.suppress(Exception):
            self.check()
            if self.get_stats().get("pool_available", 0) > 0:
                # Idle connections still answer: the server is up, only a new connection
                # failed (too many clients, say). Borrowers may go on using those.
                self.down_since = None


class SharedDatastore(PostgresDatastore):
    """One pool for every recorder of a process on one database and schema."""

    def __init__(
        self,
        connection: ConnectionSettings,
        *,
        schema: str,
        pool_size: int,
        pool_timeout_s: float,
        lock_timeout: int,
        **library: Any,
    ) -> None:
        super().__init__(
            dbname=connection.dbname,
            host=connection.host,
            port=connection.port,
            user=connection.user,
            password=connection.password,
            connect_timeout=connection.connect_timeout_s,
            schema=schema,
            lock_timeout=lock_timeout,
            **library,
        )
        self.connection_settings = connection
        self.pool_timeout_s = pool_timeout_s
        self._next_probe = 0.0
        self._probing = False
        self._probe_lock = threading.Lock()
        reply = connection.reply_timeout_s

        def configure(conn: psycopg.Connection[DictRow]) -> None:
            # As the library's: autocommit (its transactions say BEGIN); the server-side
            # limits came with the connection's options.
            conn.autocommit = True
            if isinstance(conn, GuardedConnection):
                conn.reply_timeout_s = reply

        self.pool.close()  # the library's (never opened): replaced by ours
        self.pool = OutagePool(
            connection_class=GuardedConnection,
            kwargs={**connection.kwargs(), "row_factory": dict_row},
            min_size=1,
            max_size=pool_size,
            open=False,
            configure=configure,
            check=ping,
            timeout=pool_timeout_s,
            max_lifetime=self.pool.max_lifetime,
            max_idle=MAX_IDLE_S,
            reconnect_timeout=max(RECONNECT_ROUND_S, connection.connect_timeout_s + 1.0),
            name=f"paylink-{connection.dbname}-{self.schema}",
        )

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        self._admit()
        try:
            with super().get_connection() as conn:
                yield conn
        except DatabaseUnavailableError:
            raise
        except PersistenceError as error:
            # Waited out (no pooled connection in time, no reply, the statement's limit):
            # no retry on the spot. A connection that merely broke stays the library's
            # OperationalError: its recorders try once more on a fresh connection.
            cause = error.__cause__
            if cause is not None and waited_out(cause):
                raise DatabaseUnavailableError(_describe(cause)) from cause
            raise

    def _admit(self) -> None:
        """Refuse at once while the database is known to be down (no borrower waits for
        it); meanwhile a probe in the background, at most one per PROBE_EVERY_S, asks
        the pool for a connection (an idle one, or a new one), and the first that works
        ends the outage."""
        pool = self.pool
        if not isinstance(pool, OutagePool) or pool.down_since is None:
            return
        self._probe_soon(pool)
        msg = f"the database is unavailable ({pool.last_error or 'no connection'})"
        raise DatabaseUnavailableError(msg)

    def reachable(self) -> bool:
        """Whether the database is not known to be down (no query is made; while it is
        down, this asks a probe to look again, as a refused borrower does)."""
        pool = self.pool
        if not isinstance(pool, OutagePool) or pool.down_since is None:
            return True
        self._probe_soon(pool)
        return False

    def _probe_soon(self, pool: OutagePool) -> None:
        now = time.monotonic()
        with self._probe_lock:
            if self._probing or now < self._next_probe:
                return
            self._probing = True
            self._next_probe = now + PROBE_EVERY_S

        def probe() -> None:
            try:
                with pool.connection(timeout=self.pool_timeout_s) as conn:
                    conn.execute("")
                pool.reachable()  # a connection works, new or not
            except Exception as error:
                log.debug("PostgreSQL still unavailable: %s", error)
            finally:
                self._probing = False

        threading.Thread(target=probe, name="postgres-probe", daemon=True).start()

    def ready(self, timeout: float) -> None:
        """Raise :class:`DatabaseUnavailableError` unless a query is answered in ``timeout``."""
        self._admit()
        self.pool.open(wait=False)
        try:
            with self.pool.connection(timeout=timeout) as conn:
                if isinstance(conn, GuardedConnection):
                    with conn.deadline(timeout):
                        conn.execute("SELECT 1")
                else:  # pragma: no cover - every pool here lends guarded connections
                    conn.execute("SELECT 1")
        except psycopg.Error as error:
            raise DatabaseUnavailableError(_describe(error)) from error


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    return f"the database is unavailable ({type(error).__name__}: {text})"


@dataclass
class _Shared:
    datastore: SharedDatastore
    users: int


_SHARED: dict[tuple[Any, ...], _Shared] = {}
_SHARED_LOCK = threading.RLock()  # a factory collected by GC releases under it too


class PaylinkPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, on the process's shared :class:`SharedDatastore`."""

    _released: bool = True
    shared: ClassVar[dict[tuple[Any, ...], _Shared]] = _SHARED

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)  # parses the library's settings; its pool is never opened
        parsed = self.datastore
        kwargs = parsed.pool.kwargs if isinstance(parsed.pool.kwargs, dict) else {}
        connection = ConnectionSettings(
            host=str(kwargs.get("host", "127.0.0.1")),
            port=str(kwargs.get("port", 5432)),
            dbname=str(kwargs.get("dbname", "postgres")),
            user=str(kwargs.get("user", "postgres")),
            password=str(kwargs.get("password", "")),
            connect_timeout_s=int(parsed.pool.timeout),
            statement_timeout_s=float(self.env.get(STATEMENT_TIMEOUT) or 15.0),
            lock_timeout_s=float(parsed.lock_timeout or 0),
            idle_in_transaction_timeout_s=float(parsed.idle_in_transaction_session_timeout),
            application_name=self.env.get(APPLICATION_NAME) or "paylink",
            target_session_attrs=self.env.get(TARGET_SESSION_ATTRS) or "",
        )
        pool_size = parsed.pool.max_size
        pool_timeout = float(self.env.get(POOL_TIMEOUT) or 3.0)
        library = {
            "idle_in_transaction_session_timeout": parsed.idle_in_transaction_session_timeout,
            "single_row_tracking": parsed.single_row_tracking,
            "originator_id_type": parsed.originator_id_type,
            "enable_db_functions": parsed.enable_db_functions,
        }
        key = (
            connection,
            parsed.schema,
            pool_size,
            pool_timeout,
            parsed.lock_timeout,
            tuple(sorted(library.items())),
        )
        parsed.close()
        with _SHARED_LOCK:
            entry = _SHARED.get(key)
            if entry is None:
                store = SharedDatastore(
                    connection,
                    schema=parsed.schema,
                    pool_size=pool_size,
                    pool_timeout_s=pool_timeout,
                    lock_timeout=parsed.lock_timeout,
                    **library,
                )
                entry = _SHARED[key] = _Shared(store, 0)
            entry.users += 1
        self._key = key
        self._released = False
        self.datastore = entry.datastore

    def close(self) -> None:
        """Release the shared datastore; the last user closes its pool."""
        with _SHARED_LOCK:
            if self._released:
                return
            self._released = True
            entry = _SHARED.get(self._key)
            if entry is None:
                return
            entry.users -= 1
            if entry.users > 0:
                return
            del _SHARED[self._key]
        entry.datastore.close()

    def __exit__(self, *args: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def open_pools() -> int:
    """How many shared pools this process holds open (for tests and diagnostics)."""
    with _SHARED_LOCK:
        return len(_SHARED)


# -- the event recorder -------------------------------------------------------------------

BEGIN = b"BEGIN"
COMMIT = b"COMMIT"


class PaylinkPostgresRecorder(PostgresApplicationRecorder):
    """The library's event recorder, writing a batch as binary column arrays in one round trip.

    The statements and their order are the library's: in one transaction, its hook
    (:meth:`_insert_events`: the fence of ``store.leases``), ``SET LOCAL lock_timeout``
    and ``LOCK TABLE … IN EXCLUSIVE MODE`` (so notification ids commit in the order they
    are issued, which the log's readers rely on), ``NOTIFY``, the insert ``RETURNING``
    the ids. Two things differ, both measured on the creates' batches:

    - the library sends the batch as an array of its composite ``stored_event`` type,
      which psycopg dumps as text with a regular-expression escape of every field (the
      state's bytes as hex, escaped again): 50-60 µs of Python per event. Here the four
      columns go as four arrays in binary (``unnest`` of them, in the same order), which
      psycopg copies.
    - the library syncs the pipeline after the insert and then sends ``COMMIT``: two
      round trips, the table lock held across the client's wait between them. Here
      ``COMMIT`` follows the insert in the same pipeline, one sync for all; an error
      (a conflict, a lock not had in time) skips the rest of it, and the transaction
      it left aborted is rolled back before the connection is lent again.

    The log is read with the library's query, in binary (:meth:`select_notifications`).

    The writes of one process take their turn before taking a pooled connection: the
    table lock makes them take turns anyway, and a write waiting for it in the server
    held a connection meanwhile. Several writes at once (conflicting saves of one
    aggregate, retried) then held every pooled connection, and reads waiting for one
    timed out with the database answering.
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._writing = threading.Lock()
        self.insert_columns_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )
        self.notify_statement = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
        self._select_statements: dict[tuple[bool, bool, bool, bool], Composed] = {}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Store ``stored_events`` in one transaction; their notification ids, in order."""
        if self.datastore.enable_db_functions:
            # The library's server-side function, without its own retries inside ours.
            library: Callable[..., Sequence[int] | None] = (
                PostgresApplicationRecorder.insert_events.__wrapped__
            )
            return library(self, stored_events, **kwargs)
        failure: Exception | None = None
        ids: Sequence[int] | None = None
        with self._writing, self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline:
                # As the library: an error is kept until the pipeline is left, which
                # psycopg would otherwise report as a second one.
                try:
                    ids = self._write(conn, pipeline, stored_events, **kwargs)
                except Exception as error:
                    failure = error
            if failure is not None:
                # Raised through the pool's connection context, which rolls back the
                # transaction the error left open before the connection is lent again.
                raise failure
        return ids

    def _write(
        self,
        conn: psycopg.Connection[DictRow],
        pipeline: psycopg.Pipeline,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        with conn.cursor() as curs, conn.cursor() as inserting:
            curs.execute(BEGIN)
            self._insert_events(curs, stored_events, **kwargs)
            if stored_events:
                self._insert_stored_events(inserting, stored_events, **kwargs)
            curs.execute(COMMIT)
            # The one round trip: a conflict on the insert is raised here.
            pipeline.sync()
            if not stored_events:
                return None
            return self._fetch_ids_after_insert_events(inserting, stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The library's query of the log, its rows read in binary: the server sends each
        state's bytes as they are, not as hex for the client to decode."""
        shape = (start is not None, inclusive_of_start, stop is not None, bool(topics))
        statement = self._select_statements.get(shape)
        if statement is None:
            statement = self._select_statements[shape] = self._select_statement(*shape)
        params: list[Any] = [] if start is None else [start]
        if stop is not None:
            params.append(stop)
        if topics:
            params.append(list(topics))
        params.append(limit)
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(statement, params, prepare=True)
            return [
                Notification(
                    id=notification_id,
                    originator_id=originator_id,
                    originator_version=version,
                    topic=topic,
                    state=state,
                )
                for notification_id, originator_id, version, topic, state in curs.fetchall()
            ]

    def _select_statement(
        self, start: bool, inclusive_of_start: bool, stop: bool, topics: bool
    ) -> Composed:
        conditions = []
        if start:
            conditions.append(
                SQL("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            )
        if stop:
            conditions.append(SQL("notification_id <= %s"))
        if topics:
            conditions.append(SQL("topic = ANY(%s)"))
        where = SQL(" WHERE ") + SQL(" AND ").join(conditions) if conditions else SQL("")
        return SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {schema}.{table}{where} ORDER BY notification_id LIMIT %s"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            where=where,
        )

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        curs.execute(self.notify_statement)
        curs.execute(
            self.insert_columns_statement,
            (
                [event.originator_id for event in stored_events],
                [event.originator_version for event in stored_events],
                [event.topic for event in stored_events],
                [event.state for event in stored_events],
            ),
            prepare=True,
        )


# -- the projections' doorbell: one LISTEN connection --------------------------------------


class ListenBell:
    """Wakes the projections when the store commits (PostgreSQL LISTEN/NOTIFY).

    One connection of its own (it waits on the server, so it must not hold a pool's).
    When it breaks, :meth:`wait` reconnects (at most once per :data:`PROBE_EVERY_S`) and
    answers True right after, so whatever was committed meanwhile is looked for. Nothing
    depends on it being heard: the catch-up also looks at the log every ``wait`` timeout.
    """

    listening = True

    def __init__(self, settings: ConnectionSettings, channel: str) -> None:
        self.settings = settings
        self.channel = channel
        self._conn: GuardedConnection | None = None
        self._next_try = 0.0

    def _open(self) -> bool:
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + PROBE_EVERY_S
        try:
            conn = connect(self.settings, autocommit=True)
            conn.execute(SQL("LISTEN {}").format(Identifier(self.channel)))
        except psycopg.Error as error:
            log.debug("LISTEN %s not possible now: %s", self.channel, error)
            return False
        self._conn = conn
        return True

    def wait(self, timeout: float) -> bool:
        """Sleep until a notification or ``timeout`` seconds; True when it rang (or the
        listener was just connected again, so that nothing committed meanwhile is missed)."""
        if self._conn is None:
            if self._open():
                return True
            time.sleep(timeout)
            return False
        try:
            return any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error:
            self.reset()
            return True

    def reset(self) -> None:
        """Drop the connection (after an outage it may be silently dead); the next
        :meth:`wait` connects again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def wake(self) -> None:
        """Nothing to do: a waiter looks at its stop flag at every timeout."""

    def close(self) -> None:
        """Stop listening."""
        self.reset()


# -- a read replica's lag ------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaLag:
    """How far a streaming standby is behind its primary, by its own replay.

    ``standby`` is False for a server that is not (or no longer: promoted) in recovery;
    its lag is then unknown (None). ``seconds`` is 0 while nothing waits to be replayed,
    else the time since the last transaction it replayed was committed.
    """

    standby: bool
    bytes: int | None
    seconds: float | None


LAG_SQL = """
SELECT pg_is_in_recovery() AS standby,
       pg_wal_lsn_diff(%(head)s::pg_lsn, pg_last_wal_replay_lsn())::bigint AS bytes,
       CASE WHEN pg_last_wal_replay_lsn() >= %(head)s::pg_lsn THEN 0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
       END::float8 AS seconds
"""


def replica_lag(primary: PostgresDatastore, replica: PostgresDatastore) -> ReplicaLag:
    """The replica's lag behind the primary's WAL as it is now (two short queries)."""
    with primary.get_connection() as conn:
        head = conn.execute("SELECT pg_current_wal_lsn()::text AS lsn").fetchone()
    assert head is not None  # noqa: S101 - a SELECT without FROM returns its row
    with replica.get_connection() as conn:
        row = conn.execute(LAG_SQL, {"head": head["lsn"]}).fetchone()
    assert row is not None  # noqa: S101 - the same
    if not row["standby"]:
        return ReplicaLag(standby=False, bytes=None, seconds=None)
    seconds = row["seconds"]
    return ReplicaLag(
        standby=True,
        bytes=max(0, int(row["bytes"] or 0)),
        seconds=None if seconds is None else max(0.0, round(float(seconds), 3)),
    )


def connection_settings(datastore: PostgresDatastore) -> ConnectionSettings | None:
    """How the connections of ``datastore`` are made (None for a library datastore)."""
    if isinstance(datastore, SharedDatastore):
        return datastore.connection_settings
    return None


def settings_for(settings: Settings) -> ConnectionSettings:
    """How ``settings`` says to connect to PostgreSQL (``database_url`` must be set)."""
    if settings.database_url is None:
        msg = "PAYLINK_DATABASE_URL is not set: there is no PostgreSQL to connect to"
        raise ValueError(msg)
    address = postgres_address(settings.database_url)
    return ConnectionSettings(
        host=address.host,
        port=address.port,
        dbname=address.dbname,
        user=address.user,
        password=address.password,
        target_session_attrs=address.target_session_attrs,
        connect_timeout_s=settings.postgres_connect_timeout_s,
        statement_timeout_s=settings.postgres_statement_timeout_s,
        lock_timeout_s=settings.postgres_lock_timeout_s,
        application_name=settings.postgres_application_name,
    )
