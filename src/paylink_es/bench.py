"""``paylink bench``: throughput on the configured backend, beside baselines in the same run.

Measured in one run, in a scratch store (a temporary directory for SQLite, a
temporary schema for PostgreSQL) so a user's data is never touched:

- ``commands_per_s``: link-create commands through :class:`PaylinkApp` (durable commits);
- ``baseline_commands_per_s``: the same shape of command through a plain
  library-default ``Application`` (one ``save`` per command, default settings);
- ``raw_commits_per_s``: one-row insert + commit with sqlite3 / psycopg, the database's limit;
- ``replay_events_per_s``: reading and decoding the whole log in pages of 1,000.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from paylink_es.application import PaylinkApp
from paylink_es.bootstrap import open_app
from paylink_es.settings import Settings

PAGE = 1000


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


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _timed(count: int, budget_s: float, step: Callable[[int], None]) -> tuple[int, float]:
    """Run ``step(i)`` up to ``count`` times or ``budget_s`` seconds; return (done, seconds)."""
    started = time.perf_counter()
    done = 0
    while done < count:
        step(done)
        done += 1
        if done % 100 == 0 and time.perf_counter() - started > budget_s:
            break
    return done, time.perf_counter() - started


@contextmanager
def scratch_settings(settings: Settings) -> Iterator[Settings]:
    """Settings for a throwaway store on the same backend as ``settings``."""
    with tempfile.TemporaryDirectory(prefix="paylink-bench-") as tmp:
        if settings.database_url is None:
            yield Settings(data_dir=Path(tmp))
            return
        import psycopg
        from psycopg import sql

        schema = f"bench_{uuid4().hex[:12]}"
        try:
            yield settings.model_copy(update={"database_schema": schema, "data_dir": Path(tmp)})
        finally:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )


def bench_commands(app: PaylinkApp, count: int, budget_s: float) -> float:
    """Link-create commands per second through the application services."""
    merchant = app.register_merchant("Bench Merchant")

    def step(i: int) -> None:
        app.create_link(
            merchant,
            amount=150000 + i,
            description="Kaos polos hitam",
            reference_id=f"BENCH-{i}",
            methods=["va_bca", "qris"],
        )

    done, seconds = _timed(count, budget_s, step)
    return done / seconds


def bench_baseline(settings: Settings, count: int, budget_s: float) -> float:
    """The same command through a plain library-default application."""
    with BaselineApp(settings.eventsourcing_env(store="baseline")) as baseline:

        def step(i: int) -> None:
            baseline.save(BaselineLink("bench", 150000 + i, "IDR", "Kaos polos hitam"))

        done, seconds = _timed(count, budget_s, step)
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

            done, seconds = _timed(count, budget_s, sqlite_step)
        finally:
            conn.close()
        return done / seconds
    import psycopg
    from psycopg import sql

    schema = sql.Identifier(settings.database_schema or "public")
    with psycopg.connect(settings.database_url) as pg:
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

        done, seconds = _timed(count, budget_s, pg_step)
    return done / seconds


def bench_replay(app: PaylinkApp) -> tuple[int, float]:
    """Read and decode the whole notification log in pages; return (events, events/s)."""
    started = time.perf_counter()
    events = 0
    last = 0
    while True:
        page = app.recorder.select_notifications(last, PAGE, inclusive_of_start=False)
        for notification in page:
            app.mapper.to_domain_event(notification)
        events += len(page)
        if len(page) < PAGE:
            break
        last = page[-1].id
    return events, events / (time.perf_counter() - started)


def run(settings: Settings, *, quick: bool, commands: int | None = None) -> dict[str, Any]:
    """Every measurement, in one run, as a flat dict of figures."""
    count, budget = (3_000, 8.0) if quick else (20_000, 30.0)
    count = commands or count
    with scratch_settings(settings) as scratch:
        _progress(f"{scratch.backend}: link-create commands through the application...")
        with open_app(scratch) as app:
            command_rate = bench_commands(app, count, budget)
            _progress("library-default baseline (one save per command)...")
            baseline = bench_baseline(scratch, count, budget)
            _progress("raw database commits...")
            raw = bench_raw_commits(scratch, count, budget)
            _progress("replaying the whole log...")
            events, replay = bench_replay(app)
    return {
        "backend": settings.backend,
        "quick": quick,
        "commands_per_s": round(command_rate, 1),
        "baseline_commands_per_s": round(baseline, 1),
        "raw_commits_per_s": round(raw, 1),
        "replay_events_per_s": round(replay, 1),
        "events": events,
    }


def main(settings: Settings, *, quick: bool, as_json: bool, commands: int | None = None) -> int:
    """Run the benchmark and print its figures."""
    figures = run(settings, quick=quick, commands=commands)
    if as_json:
        print(json.dumps(figures))
    else:
        width = max(len(key) for key in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0
