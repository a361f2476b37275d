"""Commands: link creations through :class:`Paylink`, beside a library-default
application and the database's own commit rate.

- ``commands_per_s``: link-create commands one after another (durable commits);
- ``concurrent_commands_per_s``: the same from 64 threads at once (group commit);
- ``baseline_commands_per_s``: the same shape of command through a plain
  library-default ``Application`` (one ``save`` per command, default settings);
- ``raw_commits_per_s``: one-row insert + commit with sqlite3 / psycopg, the database's limit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from paylink_es.application.services import Paylink
from paylink_es.entrypoints.bench.support import timed
from paylink_es.settings import Settings


class BaselineLink(Aggregate):
    """A link as a library user would first write it: default id, default transcoder."""

    @event("Created")
    def __init__(self, merchant: str, amount: int, currency: str, description: str) -> None:
        self.merchant = merchant
        self.amount = amount
        self.currency = currency
        self.description = description


class BaselineApp(Application[Any]):
    """A library-default application: one ``save`` per command, default settings."""

    name = "BaselineBench"


def _link_creator(
    app: Paylink, merchant_name: str, amount: int, description: str, prefix: str, methods: list[str]
) -> Callable[[int], None]:
    """A step that creates link ``i`` for a new merchant: ``amount + i``, reference
    ``<prefix>-<i>``."""
    merchant = app.merchants.register(merchant_name)

    def create(i: int) -> None:
        app.links.create(
            merchant,
            amount=amount + i,
            description=description,
            reference_id=f"{prefix}-{i}",
            methods=list(methods),
        )

    return create


def bench_commands(app: Paylink, count: int, budget_s: float) -> float:
    """Link-create commands per second through the application services."""
    step = _link_creator(
        app, "Bench Merchant", 150000, "Kaos polos hitam", "BENCH", ["va_bca", "qris"]
    )
    done, seconds = timed(count, budget_s, step)
    return done / seconds


def bench_concurrent_commands(app: Paylink, count: int, threads: int = 64) -> float:
    """Link creations per second from many threads at once: what group commit is for."""
    create = _link_creator(app, "Bench Concurrent", 75_000, "Tiket konser", "CONC", ["qris"])
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(count)))
    return count / (time.perf_counter() - started)


def bench_baseline(settings: Settings, count: int, budget_s: float) -> float:
    """The same command through a plain library-default application."""
    with BaselineApp(settings.eventsourcing_env(store="baseline")) as baseline:

        def step(i: int) -> None:
            baseline.save(BaselineLink("bench", 150000 + i, "IDR", "Kaos polos hitam"))

        done, seconds = timed(count, budget_s, step)
    return done / seconds


def bench_raw_commits(settings: Settings, count: int, budget_s: float) -> float:
    """One-row insert + commit per step, straight through the database driver."""
    payload = b"x" * 200
    if settings.database_url is None:
        conn = sqlite3.connect(settings.sqlite_path("raw"), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE raw_commits (id INTEGER PRIMARY KEY, payload BLOB)")

            def sqlite_step(_: int) -> None:
                conn.execute("BEGIN")
                conn.execute("INSERT INTO raw_commits (payload) VALUES (?)", (payload,))
                conn.execute("COMMIT")

            done, seconds = timed(count, budget_s, sqlite_step)
        finally:
            conn.close()
        return done / seconds
    from psycopg import sql

    from paylink_es.store.postgres import connect, settings_for

    schema = sql.Identifier(settings.database_schema or "public")
    with connect(settings_for(settings)) as pg:
        pg.execute(
            sql.SQL("CREATE TABLE {}.raw_commits (id bigserial PRIMARY KEY, payload bytea)").format(
                schema
            )
        )
        pg.commit()
        insert = sql.SQL("INSERT INTO {}.raw_commits (payload) VALUES (%s)").format(schema)

        def pg_step(_: int) -> None:
            pg.execute(insert, (payload,))
            pg.commit()

        done, seconds = timed(count, budget_s, pg_step)
    return done / seconds
