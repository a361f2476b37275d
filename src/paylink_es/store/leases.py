"""One leader per background worker among the nodes on one PostgreSQL, and its fence.

Every node (``paylink serve``, ``paylink projections run``) is a candidate for each
background worker it runs: the projections, webhook delivery, the settlement, expiry and
message schedulers, the channel poller. On PostgreSQL exactly one node at a time leads each of
them; the others stay cold:

- **Election** (:class:`Elector`): each node keeps one connection of its own, on which it
  holds a session-level advisory lock (``pg_try_advisory_lock``) for every worker it
  leads. A node that does not lead a worker tries its lock again every
  ``PAYLINK_LEADER_RETRY_S``. PostgreSQL releases a session's locks when the session ends,
  so a node that is killed, or cut off (TCP keepalives on that connection, both ways,
  notice a silent peer within ``PAYLINK_LEADER_DEAD_AFTER_S``), loses its workers to the
  next node that tries. Workers spread over the nodes: whoever tries first gets each.
- **Terms and fencing**: a node that takes a worker's lock bumps the worker's row in
  ``worker_leases`` (``epoch`` + 1, its node, since when) and runs the worker for that
  *term*. Every write the worker makes carries the term (:class:`Fence`, a context
  variable set on the worker's thread: :func:`fenced`) and checks, in the write's own
  transaction, that the row still names this node and epoch, holding the row
  (``FOR SHARE``) until the write commits. A takeover updates that row, so it waits for
  a write under way, and any write after it is refused (:class:`LeaseLostError`): a
  paused or cut-off old leader writes nothing once a new one took over. The fence is
  checked by the read models' views (rows and tracking), by the event store
  (:class:`FencedApplicationRecorder`: the events a worker's commands save) and by
  :class:`Claims` (what the webhook sender claims before it posts).
- **SQLite** is one machine by definition: there is no election (:class:`LocalLeases`),
  each process runs its workers as before, and nothing is fenced.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from paylink_es.settings import Settings
from paylink_es.store.postgres import (
    ConnectionSettings,
    GuardedConnection,
    PaylinkPostgresRecorder,
    connect,
    connection_failed,
    settings_for,
)

log = logging.getLogger(__name__)

# The background workers of which one node at a time runs each (the names in
# ``worker_leases`` and ``paylink cluster status``).
PROJECTIONS = "projections"
WEBHOOKS = "webhooks"
SETTLEMENT = "settlement"
EXPIRY = "expiry"
CHANNELS = "channel-poller"
MESSAGES = "messages"
SINGLETONS = (PROJECTIONS, WEBHOOKS, SETTLEMENT, EXPIRY, CHANNELS, MESSAGES)

WAKE_S = 0.25  # a cold worker's thread looks at its stop flag this often
RETRY_AFTER_FAILURE_S = 1.0  # a worker's term that failed outright runs again after this


def lock_key(schema: str, worker: str) -> int:
    """The advisory lock of ``worker`` in ``schema``: 63 bits of a hash, so the same on
    every node, apart for every schema of one database, and shown in ``pg_locks`` as
    ``classid << 32 | objid``."""
    digest = hashlib.sha256(f"paylink-lease/{schema}/{worker}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# -- the tables ---------------------------------------------------------------------------


def _ddl(schema: str) -> list[Composed]:
    where = Identifier(schema)
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {}.worker_leases (worker TEXT PRIMARY KEY,"
            " node TEXT NOT NULL, epoch BIGINT NOT NULL, since TIMESTAMPTZ NOT NULL)"
        ).format(where),
        SQL(
            "CREATE TABLE IF NOT EXISTS {}.worker_claims (worker TEXT NOT NULL,"
            " item TEXT NOT NULL, node TEXT NOT NULL, epoch BIGINT NOT NULL,"
            " claimed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (worker, item))"
        ).format(where),
    ]


def ensure_lease_tables(conn: psycopg.Connection[DictRow], schema: str) -> None:
    """Create the schema, ``worker_leases`` and ``worker_claims`` if missing (nodes starting
    together take turns: concurrent ``CREATE … IF NOT EXISTS`` can collide)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema, "#tables"),))
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))
        for statement in _ddl(schema):
            conn.execute(statement)


# -- fencing ------------------------------------------------------------------------------


class LeaseLostError(PersistenceError):
    """A write of a term that has ended (another node leads the worker now): refused, and
    nothing of its transaction was written."""


@lru_cache(maxsize=16)
def _fence_sql(schema: str) -> Composed:
    return SQL("SELECT node, epoch FROM {}.worker_leases WHERE worker = %s FOR SHARE").format(
        Identifier(schema)
    )


@dataclass(frozen=True)
class Fence:
    """One term of one node leading one worker: what its writes prove they still are."""

    schema: str
    worker: str
    node: str
    epoch: int

    def check(self, curs: Cursor[DictRow]) -> None:
        """Refuse the transaction of ``curs`` unless this term still leads the worker.

        The lease row stays held (``FOR SHARE``) until the transaction ends: a takeover,
        which updates the row, waits for this write, and a write after it sees the new
        term and is refused.
        """
        curs.execute(_fence_sql(self.schema), (self.worker,))
        row = curs.fetchone()
        if row is None or (row["node"], row["epoch"]) != (self.node, self.epoch):
            now = "nobody" if row is None else f"{row['node']} (term {row['epoch']})"
            msg = (
                f"{self.node} no longer leads {self.worker}: its term {self.epoch} ended and"
                f" {now} leads it now; nothing was written"
            )
            raise LeaseLostError(msg)


_FENCE: ContextVar[Fence | None] = ContextVar("paylink_fence", default=None)


def current_fence() -> Fence | None:
    """The term the running worker writes under (``None``: no worker, or no election)."""
    return _FENCE.get()


@contextmanager
def fenced(fence: Fence | None) -> Iterator[None]:
    """Every write made inside the block (in this context) checks ``fence``."""
    token = _FENCE.set(fence)
    try:
        yield
    finally:
        _FENCE.reset(token)


def check_fence(curs: Cursor[DictRow]) -> None:
    """Check the running worker's term in the transaction of ``curs`` (if it has one)."""
    fence = _FENCE.get()
    if fence is not None:
        fence.check(curs)


class FencedApplicationRecorder(PaylinkPostgresRecorder):
    """Our event recorder (:class:`PaylinkPostgresRecorder`); a save made under a worker's
    term checks the term in the same transaction as the events (before the table lock,
    so a takeover waits)."""

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        check_fence(curs)
        super()._insert_events(curs, stored_events, **kwargs)


# -- terms and leases ---------------------------------------------------------------------


@dataclass(eq=False)
class Term:
    """A node's turn at leading one worker."""

    worker: str
    fence: Fence | None  # None: no election (one machine): nothing to check
    since: datetime | None = None
    ended: threading.Event = field(default_factory=threading.Event)


class Lease(Protocol):
    """A worker's leadership as one node sees it."""

    worker: str

    def current(self) -> Term | None:
        """The term this node holds now, if any."""

    def wait_term(self, stopping: threading.Event) -> Term | None:
        """The term this node holds, once it holds one; ``None`` once stopping or resigned."""

    def resign(self) -> None:
        """Stop wanting the worker: the term ends, and the lock is given up."""


class Leases(Protocol):
    """One node's leases, one per worker it runs."""

    def lease(self, worker: str) -> Lease:
        """The lease of ``worker`` (the node becomes a candidate for it)."""

    def start(self) -> None:
        """Take what is free now, then keep trying in the background."""

    def close(self) -> None:
        """End every term and give every lock up."""


class LocalLease:
    """No election (SQLite): the process leads the worker until it resigns."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._term = Term(worker, None)

    def current(self) -> Term | None:
        return None if self._term.ended.is_set() else self._term

    def wait_term(self, stopping: threading.Event) -> Term | None:
        return None if stopping.is_set() else self.current()

    def resign(self) -> None:
        self._term.ended.set()


class LocalLeases:
    """One machine: every process runs the workers it starts, as it always did."""

    def lease(self, worker: str) -> Lease:
        return LocalLease(worker)

    def start(self) -> None:
        """Nothing to elect."""

    def close(self) -> None:
        """Nothing to give up."""


class ElectedLease:
    """A worker this node competes for; its :class:`Elector` begins and ends the terms."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.resigned = False
        self._term: Term | None = None
        self._changed = threading.Condition()

    def current(self) -> Term | None:
        term = self._term
        return term if term is not None and not term.ended.is_set() else None

    def wait_term(self, stopping: threading.Event) -> Term | None:
        with self._changed:
            while not (stopping.is_set() or self.resigned):
                term = self.current()
                if term is not None:
                    return term
                self._changed.wait(WAKE_S)
        return None

    def resign(self) -> None:
        with self._changed:
            self.resigned = True
            self._end()

    def _begin(self, term: Term) -> None:
        with self._changed:
            self._term = term
            self._changed.notify_all()

    def _end(self) -> None:
        with self._changed:
            term, self._term = self._term, None
            if term is not None:
                term.ended.set()


@lru_cache(maxsize=16)
def _statements(schema: str) -> dict[str, Composed]:
    where = Identifier(schema)
    return {
        "takeover": SQL(
            "INSERT INTO {}.worker_leases AS l (worker, node, epoch, since)"
            " VALUES (%s, %s, 1, clock_timestamp()) ON CONFLICT (worker) DO UPDATE"
            " SET node = EXCLUDED.node, epoch = l.epoch + 1, since = EXCLUDED.since"
            " RETURNING epoch, since"
        ).format(where),
        "held": SQL(
            "SELECT worker, node, epoch FROM {}.worker_leases WHERE worker = ANY(%s)"
        ).format(where),
        "claim": SQL(
            "INSERT INTO {}.worker_claims AS c (worker, item, node, epoch, claimed_at)"
            " VALUES (%s, %s, %s, %s, clock_timestamp()) ON CONFLICT (worker, item) DO UPDATE"
            " SET node = EXCLUDED.node, epoch = EXCLUDED.epoch, claimed_at = EXCLUDED.claimed_at"
            " WHERE c.epoch = EXCLUDED.epoch"
            " OR c.claimed_at < EXCLUDED.claimed_at - make_interval(secs => %s) RETURNING 1"
        ).format(where),
        "release": SQL(
            "DELETE FROM {}.worker_claims WHERE worker = %s AND item = %s AND epoch = %s"
        ).format(where),
        "leases": SQL("SELECT worker, node, epoch, since FROM {}.worker_leases").format(where),
    }


LOCKS_HELD = (
    "SELECT (k.classid::bigint << 32) | k.objid::bigint AS key, k.pid,"
    " a.application_name, a.backend_start FROM pg_locks k"
    " LEFT JOIN pg_stat_activity a ON a.pid = k.pid"
    " WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1"
    " AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def lease_connection_kwargs(connection: ConnectionSettings, dead_after_s: int) -> dict[str, Any]:
    """How the lease connection notices a silent peer within ``dead_after_s``: TCP
    keepalives every second and a cap on unacknowledged data, on this side (libpq) and on
    the server's (its session ends, and with it every lock the node held)."""
    count = max(dead_after_s - 1, 1)
    timeout_ms = dead_after_s * 1000
    server = (
        f" -c tcp_keepalives_idle=1 -c tcp_keepalives_interval=1"
        f" -c tcp_keepalives_count={count} -c tcp_user_timeout={timeout_ms}"
    )
    return {
        "keepalives": 1,
        "keepalives_idle": 1,
        "keepalives_interval": 1,
        "keepalives_count": count,
        "tcp_user_timeout": timeout_ms,
        "options": connection.kwargs()["options"] + server,
    }


class Elector:
    """This node's candidacy for every worker it runs, on one connection of its own.

    ``start`` takes whatever is free at once (a lone node leads everything before it
    serves); a thread then, every ``retry_s``, checks that each term it holds is still
    its own (the row names it, the connection is alive) and tries the locks of the
    workers it does not lead. A lost connection ends every term of this node at once.
    """

    def __init__(
        self,
        connection: ConnectionSettings,
        schema: str,
        node: str,
        *,
        retry_s: float = 1.0,
        dead_after_s: int = 3,
    ) -> None:
        self.schema = schema
        self.node = node
        self.retry_s = retry_s
        self.connection = replace(
            connection,
            statement_timeout_s=float(dead_after_s),
            lock_timeout_s=float(dead_after_s),
            application_name=f"paylink-leases {node}"[:63],
        )
        self._kwargs = lease_connection_kwargs(self.connection, dead_after_s)
        self._sql = _statements(schema)
        self._leases: dict[str, ElectedLease] = {}
        self._locked: dict[str, Term] = {}  # the terms whose lock this connection holds
        self._conn: GuardedConnection | None = None
        self._tables = False
        self._mutex = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._quiet = False  # the loss of the connection was said already

    def lease(self, worker: str) -> Lease:
        with self._mutex:
            lease = self._leases.get(worker)
            if lease is None:
                lease = self._leases[worker] = ElectedLease(worker)
            return lease

    def start(self) -> None:
        self.elect_once()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._mutex:
            self._lose_all()

    def terms(self) -> dict[str, Term]:
        """The terms this node holds now, by worker."""
        with self._mutex:
            return dict(self._locked)

    def _run(self) -> None:
        while not self._closing.wait(self.retry_s):
            self.elect_once()

    def elect_once(self) -> None:
        """One round: confirm the terms held, try the locks of the workers not led (the
        thread runs one every ``retry_s``)."""
        with self._mutex:
            try:
                conn = self._connected()
                self._confirm(conn)
                self._campaign(conn)
            except Exception as error:
                # Whatever went wrong, no term outlives a round that could not confirm it.
                if not isinstance(error, psycopg.Error):
                    log.exception("%s: leader election failed", self.node)
                elif not self._quiet:
                    log.warning(
                        "%s: the lease connection failed (%s); this node leads nothing"
                        " until it works again",
                        self.node,
                        " ".join(str(error).split())[:300],
                    )
                    self._quiet = True
                self._lose_all()
                return
            self._quiet = False

    def _connected(self) -> GuardedConnection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.connection, autocommit=True, **self._kwargs)
            if not self._tables:
                ensure_lease_tables(self._conn, self.schema)
                self._tables = True
        return self._conn

    def _confirm(self, conn: GuardedConnection) -> None:
        """End the terms that are over: resigned, refused a write, or taken by another."""
        for worker, term in list(self._locked.items()):
            if term.ended.is_set():
                self._unlock(conn, worker)
        if not self._locked:
            return
        rows = conn.execute(self._sql["held"], (list(self._locked),)).fetchall()
        found = {row["worker"]: (row["node"], row["epoch"]) for row in rows}
        for worker, term in list(self._locked.items()):
            epoch = term.fence.epoch if term.fence is not None else None
            if found.get(worker) != (self.node, epoch):
                log.warning("%s no longer leads %s (term %s)", self.node, worker, epoch)
                self._leases[worker]._end()
                self._unlock(conn, worker)

    def _campaign(self, conn: GuardedConnection) -> None:
        """Try the lock of every worker this node wants and does not lead."""
        for worker, lease in self._leases.items():
            if worker in self._locked or lease.resigned:
                continue
            key = lock_key(self.schema, worker)
            got = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,)).fetchone()
            if got is None or not got["got"]:
                continue
            try:
                with conn.transaction():
                    row = conn.execute(self._sql["takeover"], (worker, self.node)).fetchone()
            except psycopg.Error as error:
                if conn.closed or connection_failed(error):
                    raise
                log.warning("%s could not take %s over: %s", self.node, worker, error)
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                continue
            assert row is not None  # noqa: S101 - INSERT … RETURNING returns its row
            fence = Fence(self.schema, worker, self.node, int(row["epoch"]))
            term = Term(worker, fence, row["since"])
            self._locked[worker] = term
            lease._begin(term)
            log.warning("%s leads %s from now on (term %d)", self.node, worker, fence.epoch)

    def _unlock(self, conn: GuardedConnection, worker: str) -> None:
        del self._locked[worker]
        conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(self.schema, worker),))

    def _lose_all(self) -> None:
        """End every term and close the connection: PostgreSQL frees every lock of it."""
        for worker in self._locked:
            self._leases[worker]._end()
        self._locked.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):
                conn.close()


def leases_for(settings: Settings) -> Leases:
    """This process's leases: elected among the nodes on PostgreSQL, local on SQLite."""
    if settings.database_url is None:
        return LocalLeases()
    return Elector(
        settings_for(settings),
        settings.database_schema or "public",
        settings.node,
        retry_s=settings.leader_retry_s,
        dead_after_s=settings.leader_dead_after_s,
    )


def run_elected(
    lease: Lease, stopping: threading.Event, body: Callable[[threading.Event], None]
) -> None:
    """Run ``body(ended)`` for each term this node leads ``lease``'s worker, until
    ``stopping`` is set or the lease is resigned; while another node leads, wait.

    ``ended`` is set when the term ends (lost, resigned): ``body`` must then return soon.
    Its writes are fenced with the term. A write refused by the fence ends the term at
    once. A ``body`` that returns while its term goes on has given up for good (as the
    projections do on a broken invariant): the lease is resigned, so another node may try.
    """
    while True:
        term = lease.wait_term(stopping)
        if term is None:
            return
        with fenced(term.fence):
            try:
                body(term.ended)
            except LeaseLostError as error:
                log.warning("%s stops: %s", lease.worker, error)
                term.ended.set()
                continue
            except Exception:
                log.exception("%s failed; again in %.0f s", lease.worker, RETRY_AFTER_FAILURE_S)
                stopping.wait(RETRY_AFTER_FAILURE_S)
                continue
        if not term.ended.is_set() and not stopping.is_set():
            lease.resign()
            return


def every(ended: threading.Event, seconds: float, tick: Callable[[], object], what: str) -> None:
    """Run ``tick`` every ``seconds`` until ``ended``: a scheduler's term. A tick that fails
    is logged and the next one comes on time; a refused write ends the term."""
    while not ended.wait(seconds):
        try:
            tick()
        except LeaseLostError:
            raise
        except Exception:
            log.exception("%s failed; trying again in %.1f s", what, seconds)


class ElectedThread(threading.Thread):
    """A daemon thread that runs ``body`` for each term this node leads ``lease``'s worker
    (:func:`run_elected`); ``stop`` resigns the lease and waits for the thread."""

    def __init__(self, name: str, lease: Lease, body: Callable[[threading.Event], None]) -> None:
        super().__init__(name=name, daemon=True)
        self.lease = lease
        self.body = body
        self.stopping = threading.Event()

    def run(self) -> None:
        run_elected(self.lease, self.stopping, self.body)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current round of work."""
        self.stopping.set()
        self.lease.resign()
        if self.is_alive():
            self.join(timeout=timeout)


# -- claims: work a term does at most once --------------------------------------------------


class Claims:
    """Items a worker claims before an effect the database cannot take back (a webhook's
    POST), in a fenced transaction of their own.

    A term claims an item at most once, and no other term can claim it meanwhile: two
    nodes that both believe they lead cannot both act on it, since the fence refuses the
    claim of the term that ended. A claim whose term ended without finishing the item (its
    node died mid-way) is taken over by a later term only after ``ttl_s``, so that a node
    merely paused is past acting on it. Without election (SQLite) every claim is granted.
    """

    def __init__(self, datastore: PostgresDatastore, worker: str, ttl_s: float) -> None:
        self.datastore = datastore
        self.worker = worker
        self.ttl_s = ttl_s
        self._sql = _statements(datastore.schema)

    def claim(self, item: str) -> bool:
        """Whether the running term may act on ``item`` now (a claim is recorded)."""
        fence = current_fence()
        if fence is None:
            return True
        with self.datastore.transaction(commit=True) as curs:
            fence.check(curs)
            curs.execute(
                self._sql["claim"], (self.worker, item, fence.node, fence.epoch, self.ttl_s)
            )
            return curs.fetchone() is not None

    def release(self, item: str) -> None:
        """``item`` is done (its outcome is recorded): forget the claim."""
        fence = current_fence()
        if fence is None:
            return
        with self.datastore.transaction(commit=True) as curs:
            fence.check(curs)
            curs.execute(self._sql["release"], (self.worker, item, fence.epoch))


def claims_for(datastore: object, worker: str, ttl_s: float) -> Claims | None:
    """Claims on the event store's database, or ``None`` without election (SQLite)."""
    if isinstance(datastore, PostgresDatastore):
        return Claims(datastore, worker, ttl_s)
    return None


# -- who leads what (``paylink cluster status``) -------------------------------------------


@dataclass(frozen=True)
class Leadership:
    """Who leads one worker: the lease row, and the session holding its lock now."""

    worker: str
    node: str | None  # the last node that took it over (None: never led)
    epoch: int  # its term (0: never led)
    since: datetime | None
    holder: str | None  # application_name of the session holding the lock (None: nobody)
    holder_pid: int | None

    @property
    def led(self) -> bool:
        """A session holds the worker's lock now."""
        return self.holder_pid is not None


def leadership(settings: Settings, workers: Sequence[str] = SINGLETONS) -> list[Leadership]:
    """Who leads each worker now, as PostgreSQL sees it (its lease rows and locks)."""
    schema = settings.database_schema or "public"
    statements = _statements(schema)
    with connect(settings_for(settings), autocommit=True) as conn:
        table = Identifier(schema, "worker_leases").as_string(conn)
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,)).fetchone()
        rows = conn.execute(statements["leases"]).fetchall() if found and found["found"] else []
        locks = {row["key"]: row for row in conn.execute(LOCKS_HELD).fetchall()}
    leases = {row["worker"]: row for row in rows}
    result = []
    for worker in [*workers, *sorted(set(leases) - set(workers))]:
        row = leases.get(worker, {})
        lock = locks.get(lock_key(schema, worker), {})
        result.append(
            Leadership(
                worker=worker,
                node=row.get("node"),
                epoch=int(row.get("epoch") or 0),
                since=row.get("since"),
                holder=lock.get("application_name"),
                holder_pid=lock.get("pid"),
            )
        )
    return result
