"""Helpers for the read-model tests: whole-table snapshots, raw store access, the CLI."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from paylink_es.application.app import PaylinkApp
from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock, using_clock
from paylink_es.domain.link import LinkCodeIndex, PaymentLink
from paylink_es.domain.money import Money
from paylink_es.domain.payment import Payment
from paylink_es.domain.terms import link_terms
from paylink_es.settings import Settings
from projections.rebuild import rebuild_models
from projections.runner import READ_MODELS, CatchUp, ReadModels
from projections.sqlview import Row

APP_NAME = PaylinkApp.name
MODEL_NAMES = tuple(cls.name for cls in READ_MODELS)
# The tables these tests look into, and the columns that order them; tables of other
# read models are dumped too, ordered by all their columns.
TABLE_ORDER: dict[str, tuple[str, ...]] = {
    "links": ("link_id",),
    "link_timeline": ("position",),
    "link_payments": ("payment_id",),
    "payments": ("payment_id",),
    "journal": ("position", "seq"),
    "balances": ("merchant_id", "mode", "currency"),
    "stats_links": ("link_id",),
    "stats_payments": ("payment_id",),
    "stats_daily": ("merchant_id", "mode", "day", "method", "currency"),
    "audit_chain": ("position",),
}
Snapshot = dict[str, list[Row]]


def _order(table: str) -> Callable[[Row], tuple[tuple[bool, Any], ...]]:
    def key(row: Row) -> tuple[tuple[bool, Any], ...]:
        columns = [*TABLE_ORDER.get(table, ()), *sorted(row)]
        return tuple((row[c] is None, 0 if row[c] is None else row[c]) for c in columns)

    return key


def snapshot(models: ReadModels) -> Snapshot:
    """Every row of every table of the open views, in a fixed order."""
    tables: Snapshot = {}
    for model in models.models.values():
        for table in type(model).tables:
            rows = model.view.query(f"SELECT * FROM {{s}}{table}")  # noqa: S608
            tables[table] = sorted(rows, key=_order(table))
    return tables


def positions(models: ReadModels) -> dict[str, int]:
    """Each open view's tracking position (0 before its first event)."""
    return {
        name: model.view.max_tracking_id(APP_NAME) or 0 for name, model in models.models.items()
    }


def head(app: Paylink) -> int:
    """The position of the last stored event."""
    return app.app.recorder.max_notification_id() or 0


def catch_up(app: Paylink, models: ReadModels) -> int:
    """Feed every open view everything stored so far."""
    return CatchUp(app.app, list(models.models.values())).run_once()


@contextlib.contextmanager
def another_store(base: Settings, folder: Path) -> Iterator[Settings]:
    """Settings for a further empty store on ``base``'s backend; a PG schema is dropped after."""
    data_dir = folder / "var"
    if base.database_url is None:
        yield base.model_copy(update={"data_dir": data_dir})
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield base.model_copy(update={"data_dir": data_dir, "database_schema": schema})
    finally:
        with psycopg.connect(base.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextlib.contextmanager
def opened_views(settings: Settings, names: Sequence[str] | None = None) -> Iterator[ReadModels]:
    """Read models opened on ``settings`` and closed afterwards."""
    models = ReadModels(settings, names)
    try:
        yield models
    finally:
        models.close()


def rebuilt_elsewhere(app: Paylink, settings: Settings, folder: Path) -> Snapshot:
    """Views rebuilt from zero (``projections rebuild``, in this process) from ``app``'s
    store into another database; their rows."""
    with another_store(settings, folder) as elsewhere, opened_views(elsewhere) as models:
        # The events read (on PostgreSQL the log's positions may have gaps), then where
        # every view stands: the log's head.
        assert 0 < rebuild_models(elsewhere, app.app, models, processes=1) <= head(app)
        assert positions(models) == dict.fromkeys(MODEL_NAMES, head(app))
        return snapshot(models)


# -- the stored events, reached around the application (tampering, crash checks) ----------


@dataclass(frozen=True)
class StoredRow:
    """One row of the events table."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class StoredEvents:
    """The events table itself, as an attacker with database access would see it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextlib.contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.settings.sqlite_path("paylink"), timeout=10)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def _pg(self) -> psycopg.Connection[Any]:
        assert self.settings.database_url is not None
        return psycopg.connect(self.settings.database_url, autocommit=True)

    def _table(self) -> sql.Composed:
        assert self.settings.database_schema
        return sql.SQL("{}").format(sql.Identifier(self.settings.database_schema, "paylink_events"))

    def rows(self) -> list[StoredRow]:
        """Every stored event in position order."""
        if self.settings.database_url is None:
            with self._sqlite() as conn:
                found = conn.execute(
                    "SELECT rowid, originator_id, originator_version, topic, state"
                    " FROM stored_events ORDER BY rowid"
                ).fetchall()
        else:
            with self._pg() as conn:
                found = conn.execute(
                    sql.SQL(
                        "SELECT notification_id, originator_id::text, originator_version,"
                        " topic, state FROM {} ORDER BY notification_id"
                    ).format(self._table())
                ).fetchall()
        return [StoredRow(int(p), str(o), int(v), str(t), bytes(s)) for p, o, v, t, s in found]

    def row(self, position: int) -> StoredRow:
        """The stored event at ``position``."""
        return next(row for row in self.rows() if row.position == position)

    def reassign(self, position: int, originator_id: str) -> None:
        """Give the event at ``position`` another originator id (as stored: hex or uuid)."""
        if self.settings.database_url is None:
            with self._sqlite() as conn:
                conn.execute(
                    "UPDATE stored_events SET originator_id = ? WHERE rowid = ?",
                    (originator_id, position),
                )
            return
        with self._pg() as conn:
            conn.execute(
                sql.SQL("UPDATE {} SET originator_id = %s WHERE notification_id = %s").format(
                    self._table()
                ),
                (originator_id, position),
            )

    def rewrite(self, position: int, topic: str, state: bytes) -> None:
        """Replace the topic and state of the event at ``position``."""
        if self.settings.database_url is None:
            with self._sqlite() as conn:
                conn.execute(
                    "UPDATE stored_events SET topic = ?, state = ? WHERE rowid = ?",
                    (topic, state, position),
                )
            return
        with self._pg() as conn:
            conn.execute(
                sql.SQL("UPDATE {} SET topic = %s, state = %s WHERE notification_id = %s").format(
                    self._table()
                ),
                (topic, state, position),
            )

    def delete(self, position: int) -> None:
        """Remove the event at ``position``."""
        if self.settings.database_url is None:
            with self._sqlite() as conn:
                conn.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
            return
        with self._pg() as conn:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE notification_id = %s").format(self._table()),
                (position,),
            )

    def restore(self, row: StoredRow) -> None:
        """Put a deleted event back at its position."""
        if self.settings.database_url is None:
            with self._sqlite() as conn:
                conn.execute(
                    "INSERT INTO stored_events (rowid, originator_id, originator_version, topic,"
                    " state) VALUES (?, ?, ?, ?, ?)",
                    (
                        row.position,
                        row.originator_id,
                        row.originator_version,
                        row.topic,
                        row.state,
                    ),
                )
            return
        with self._pg() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (originator_id, originator_version, topic, state,"
                    " notification_id) VALUES (%s, %s, %s, %s, %s)"
                ).format(self._table()),
                (
                    row.originator_id,
                    row.originator_version,
                    row.topic,
                    row.state,
                    row.position,
                ),
            )


def tracking_from_outside(settings: Settings) -> dict[str, int]:
    """Each view's tracking position read straight from its table (0 if not there yet).

    For watching another process: opening ``ReadModels`` here would create tables.
    """
    found: dict[str, int] = {}
    for name in MODEL_NAMES:
        found[name] = 0
        if settings.database_url is None:
            path = settings.sqlite_path(f"view_{name}")
            if not path.exists():
                continue
            conn = sqlite3.connect(path, timeout=10)
            try:
                row = conn.execute(
                    "SELECT notification_id FROM tracking WHERE application_name = ?",
                    (APP_NAME,),
                ).fetchone()
            except sqlite3.OperationalError:
                row = None
            finally:
                conn.close()
        else:
            assert settings.database_schema
            table = sql.Identifier(settings.database_schema, f"{name}_tracking")
            with psycopg.connect(settings.database_url, autocommit=True) as pg:
                try:
                    row = pg.execute(
                        sql.SQL(
                            "SELECT notification_id FROM {} WHERE application_name = %s"
                        ).format(table),
                        (APP_NAME,),
                    ).fetchone()
                except psycopg.errors.UndefinedTable:
                    row = None
        found[name] = int(row[0]) if row else 0
    return found


# -- the CLI in a child process ----------------------------------------------------------


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a ``paylink`` child: no PAYLINK_* but the store's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    if settings.database_url is not None:
        env["PAYLINK_DATABASE_URL"] = settings.database_url
        env["PAYLINK_DATABASE_SCHEMA"] = settings.database_schema or ""
    return env


def paylink_argv(*args: str) -> list[str]:
    """The command line that runs the console script's code with this interpreter."""
    return [sys.executable, "-m", "paylink_es", *args]


def paylink(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``paylink ARGS`` against ``settings``' store; SQLite files in ``<cwd>/var``."""
    assert settings.data_dir.name == "var"
    settings.data_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        paylink_argv(*args),
        cwd=settings.data_dir.parent,
        env=child_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- a large backlog, fast ----------------------------------------------------------------


# A fee plan cheaper than the default (VA Rp 4,000 flat, QRIS 0.7%, e-wallets 1.5%), for
# the what-if tests.
CHEAPER_PLAN: dict[str, Any] = {
    "name": "cheaper",
    "families": {
        "virtual_account": {"flat": 2500},
        "qris": {"rate_ppm": 5000},
        "ewallet": {"rate_ppm": 12000},
        "card": {"flat": 2000, "rate_ppm": 29000},
        "retail": {"flat": 5000},
    },
}


def payee(app: Paylink, name: str, bank: str = "BCA", account: str = "1234567890") -> UUID:
    """A new merchant with a bank account in its own name: one that payouts can reach."""
    merchant = app.merchants.register(name)
    app.merchants.set_bank_account(merchant, bank, account, name)
    return merchant


def recorded(
    app: Paylink,
    clock: FakeClock,
    merchant: UUID,
    method: str,
    amount: int,
    *,
    received: int | None = None,
    mode: str = "test",
) -> tuple[UUID, UUID]:
    """A new link of ``amount`` and a payment of it by ``method`` whose money
    (``received``, by default the amount) is recorded, not yet verified: (link, payment)."""
    link = app.links.create(merchant, mode=mode, amount=amount, description=f"{method} {amount}")
    payment = app.payments.start(link, method)
    money = Money(amount if received is None else received, "IDR")
    app.payments.record(payment, f"ref-{payment}", money, clock())
    return link, payment


def verified(
    app: Paylink, clock: FakeClock, merchant: UUID, method: str, amount: int, mode: str = "test"
) -> UUID:
    """A payment of ``amount`` by ``method``, verified and priced by the merchant's plan."""
    _, payment = recorded(app, clock, merchant, method, amount, mode=mode)
    app.payments.verify(payment)
    return payment


def bulk_backlog(app: Paylink, clock: FakeClock, merchant_id: UUID, links: int) -> None:
    """Links that were sent, opened, paid, verified, some settled and refunded.

    Built with the aggregates and saved a few hundred at a time: thousands of events in
    a second, each one what the application's commands would have recorded.
    """
    pending: list[Any] = []
    with using_clock(clock):
        for number in range(links):
            terms = link_terms(
                clock(), amount=10_000 + number, description=f"Backlog {number}", usage_limit=None
            )
            link_id, code = uuid.uuid4(), f"bk{number:010d}"
            link = PaymentLink.create(link_id, merchant_id, code, terms)
            index = LinkCodeIndex(link_id=link_id, code=code)
            link.send("email", f"buyer{number}@example.com", clock())
            link.open(f"visitor-{number}")
            price = Money(10_000 + number, "IDR")
            payment = Payment(
                id=uuid.uuid4(),
                merchant_id=merchant_id,
                mode="test",
                link_id=link_id,
                method="qris",
                channel="sandbox",
                amount=price,
                instructions={},
                expires_at=None,
            )
            payment.receive(f"bk-{number}", price, clock(), clock())
            link.accept_payment(payment.id, price)
            payment.verify(Money(number % 50, "IDR"), {})
            if number % 3 == 0:
                payment.settle(uuid.uuid4(), date(2026, 1, 6))
            if number % 5 == 0:
                payment.refund(uuid.uuid4(), Money(100, "IDR"), "backlog refund")
            pending += [link, index, payment]
            if len(pending) >= 300:
                app.app.save(*pending)
                pending = []
                clock.advance(timedelta(seconds=1))
        if pending:
            app.app.save(*pending)


# -- which PostgreSQL backends are ours ------------------------------------------------------


def tcp_ports(pid: int | None = None) -> set[int]:
    """Local TCP ports of a process's sockets (this one by default): its PG connections."""
    inodes = set()
    for fd in Path(f"/proc/{pid or 'self'}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


LISTENERS = (
    "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%%'"
    " AND client_port = ANY(%s) AND pid <> pg_backend_pid()"
)


def listeners(admin: psycopg.Connection[Any], pid: int | None = None) -> set[int]:
    """Backend pids of the LISTEN connections a process (this one by default) holds."""
    rows = admin.execute(LISTENERS, (sorted(tcp_ports(pid)),)).fetchall()
    return {int(backend) for (backend,) in rows}


def wait_for_listeners(
    settings: Settings, count: int, pid: int | None = None, timeout: float = 20.0
) -> None:
    """Wait until a process's projections LISTEN (PostgreSQL; no-op on SQLite).

    Nothing is lost before (the catch-up looks at the log when its listener connects,
    and every quarter second anyway), but tests that measure how soon an event is seen
    start writing only once the listener is in place.
    """
    if settings.database_url is None:
        return
    deadline = time.monotonic() + timeout
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        while len(listeners(admin, pid)) < count:
            assert time.monotonic() < deadline, "the projections never listened"
            time.sleep(0.02)


LISTENING = 1  # one LISTEN connection wakes a process's whole catch-up (PostgreSQL)


def change_view(settings: Settings, model: str, statement: str, params: Sequence[Any]) -> int:
    """Run a write on one view's tables behind its back (``{s}`` before table names)."""
    if settings.database_url is None:
        conn = sqlite3.connect(settings.sqlite_path(f"view_{model}"), timeout=10)
        try:
            with conn:
                return conn.execute(statement.format(s=""), params).rowcount
        finally:
            conn.close()
    assert settings.database_schema
    prefix = sql.Identifier(settings.database_schema).as_string() + "."
    with psycopg.connect(settings.database_url, autocommit=True) as pg:
        text = statement.format(s=prefix).replace("?", "%s")
        return pg.execute(text.encode(), params).rowcount
