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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from paylink_es.application.app import PaylinkApp
from paylink_es.bootstrap import open_app
from paylink_es.domain.money import Money
from paylink_es.settings import Settings

PAGE = 1000
HTTP_WORKERS = 2  # one per core here; the projections run in a process of their own


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
        from psycopg import sql

        from paylink_es.store.postgres import connect, settings_for

        schema = f"bench_{uuid4().hex[:12]}"
        try:
            yield settings.model_copy(update={"database_schema": schema, "data_dir": Path(tmp)})
        finally:
            # Dropping a large scratch schema may take longer than a request's statement.
            unbounded = settings.model_copy(update={"postgres_statement_timeout_s": 0.0})
            with connect(settings_for(unbounded), autocommit=True) as conn:
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


def bench_concurrent_commands(app: PaylinkApp, count: int, threads: int = 64) -> float:
    """Link creations per second from many threads at once: what group commit is for."""
    from concurrent.futures import ThreadPoolExecutor

    merchant = app.register_merchant("Bench Concurrent")

    def create(i: int) -> None:
        app.create_link(
            merchant,
            amount=75_000 + i,
            description="Tiket konser",
            reference_id=f"CONC-{i}",
            methods=["qris"],
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(count)))
    return count / (time.perf_counter() - started)


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


def seed_lifecycles(app: PaylinkApp, count: int) -> None:
    """Whole payment lifecycles (link, payment, receipt, verification, settlement)."""
    merchant = app.register_merchant("Bench Lifecycles")
    today = app.now().date()
    batch = app.new_id()
    for i in range(count):
        link = app.create_link(
            merchant, amount=50_000 + i, description="Paket data", methods=["qris", "va_bri"]
        )
        payment = app.start_payment(link, "qris")
        app.record_payment(payment, f"bench-{i}", Money(50_000 + i, "IDR"), app.now())
        app.verify_payment(payment, fee=Money(350, "IDR"))
        app.settle_payment(payment, batch, today)


def bench_raw_read(app: PaylinkApp) -> float:
    """``select_notifications`` over the whole log without decoding: the read limit."""
    started = time.perf_counter()
    events, last = 0, 0
    while True:
        page = app.recorder.select_notifications(last, PAGE, inclusive_of_start=False)
        events += len(page)
        if len(page) < PAGE:
            break
        last = page[-1].id
    return events / (time.perf_counter() - started)


def bench_projections(app: PaylinkApp, settings: Settings, events: int) -> dict[str, float]:
    """Rebuild, audit replay and hash-chain verify rates over the whole log."""
    from datetime import UTC, datetime

    from projections.audit import verify_chain
    from projections.rebuild import rebuild_models
    from projections.replay import replay
    from projections.runner import ReadModels

    models = ReadModels(settings)
    try:
        # The baseline: every read model in this one process, as before the split.
        started = time.perf_counter()
        rebuild_models(settings, app, models, processes=1)
        one_process = events / (time.perf_counter() - started)
        started = time.perf_counter()
        rebuild_models(settings, app, models)
        rebuild = events / (time.perf_counter() - started)
        started = time.perf_counter()
        result = replay(app, models, datetime.now(tz=UTC))
        audit = result.events / (time.perf_counter() - started)
        if result.differences:
            msg = f"audit replay differs from the live views: {result.differences[:3]}"
            raise RuntimeError(msg)
        started = time.perf_counter()
        verified = verify_chain(app.recorder, models.chain())
        verify = verified.checked / (time.perf_counter() - started)
        if not verified.ok:
            raise RuntimeError(verified.problem)
    finally:
        models.close()
    return {
        "rebuild_events_per_s": rebuild,
        "rebuild_one_process_events_per_s": one_process,
        "audit_replay_events_per_s": audit,
        "verify_events_per_s": verify,
    }


def bench_paid_to_balance(app: PaylinkApp, settings: Settings, count: int) -> list[float]:
    """Milliseconds from a payment's receipt to its verified money in the balances view."""
    from projections.queries.ledger import balances
    from projections.runner import ProjectionService

    merchant = app.register_merchant("Bench Latency")
    ready = []
    for i in range(count):
        link = app.create_link(merchant, amount=25_000, description=f"Latency {i}")
        ready.append(app.start_payment(link, "va_bca"))
    service = ProjectionService(settings, app)
    service.start()
    latencies = []
    try:
        service.wait_until(app.recorder.max_notification_id() or 0, timeout=120)
        for i, payment in enumerate(ready):
            expected = 25_000 * (i + 1)
            started = time.perf_counter()
            app.record_payment(payment, f"latency-{i}", Money(25_000, "IDR"), app.now())
            app.verify_payment(payment)
            deadline = started + 10
            while True:
                book = balances(service.models, merchant, "test").get("IDR")
                if book is not None and book["pending"] == expected:
                    break
                if time.perf_counter() > deadline:
                    msg = "a verified payment did not reach the balances view within 10 s"
                    raise RuntimeError(msg)
                time.sleep(0.0005)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        service.stop()
    return latencies


def seed_verified_payments(app: PaylinkApp, count: int, chunk: int = 2_000) -> list[Any]:
    """``count`` verified VA payments of one merchant, saved a chunk per transaction."""
    from datetime import timedelta

    from paylink_es.domain.fees import DEFAULT_PLAN, fee_for
    from paylink_es.domain.payment import Payment

    merchant = app.register_merchant("Bench Settlement")
    paid_at = app.now() - timedelta(days=3)
    ids = []
    for start in range(0, count, chunk):
        payments = []
        for i in range(start, min(start + chunk, count)):
            amount = Money(50_000 + i % 1_000, "IDR")
            payment = Payment(
                id=uuid4(),
                merchant_id=merchant,
                mode="test",
                link_id=uuid4(),
                method="va_bca",
                channel="sandbox",
                amount=amount,
                instructions={},
                expires_at=None,
            )
            payment.receive(f"BENCH-{i}", amount, paid_at, paid_at)
            payment.verify(fee_for(DEFAULT_PLAN, "va_bca", amount), {})
            payments.append(payment)
            ids.append(payment.id)
        app.save(*payments)
    return ids


def bench_settlement(settings: Settings, count: int) -> dict[str, float]:
    """Settling a day of ``count`` verified payments, beside settling them one by one."""
    with scratch_settings(settings) as scratch, open_app(scratch) as app:
        _progress(f"seeding {count:,} verified payments to settle...")
        ids = seed_verified_payments(app, count)
        sample = max(200, count // 50)
        day = app.now().date()
        _progress(f"settling {count - sample:,} payments in one run...")
        started = time.perf_counter()
        run = app.settle(day, ids[sample:])
        bulk = run.settled / (time.perf_counter() - started)
        if run.settled != count - sample:
            msg = f"settled {run.settled} of {count - sample} payments"
            raise RuntimeError(msg)
        _progress(f"baseline: {sample:,} payments settled one by one...")
        batch = uuid4()
        started = time.perf_counter()
        for payment_id in ids[:sample]:
            app.settle_payment(payment_id, batch, day)
        one_by_one = sample / (time.perf_counter() - started)
    return {"settle_payments_per_s": bulk, "settle_one_by_one_per_s": one_by_one}


def bench_export(settings: Settings, links: int) -> dict[str, Any]:
    """Peak Python memory while the dashboard streams the CSV of ``links`` links."""
    from api.dashboard.exports import measure_export_memory

    with scratch_settings(settings) as scratch:
        _progress(f"creating {links:,} links, then streaming their CSV export...")
        return measure_export_memory(scratch, links)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(settings: Settings, *, quick: bool, commands: int | None = None) -> dict[str, Any]:
    """Every measurement, in one run, as a flat dict of figures."""
    count, budget = (3_000, 8.0) if quick else (20_000, 30.0)
    count = commands or count
    with scratch_settings(settings) as scratch:
        _progress(f"{scratch.backend}: link-create commands through the application...")
        with open_app(scratch) as app:
            command_rate = bench_commands(app, count, budget)
            _progress("the same from 64 threads at once (group commit)...")
            concurrent_rate = bench_concurrent_commands(app, count)
            _progress("library-default baseline (one save per command)...")
            baseline = bench_baseline(scratch, count, budget)
            _progress("raw database commits...")
            raw = bench_raw_commits(scratch, count, budget)
            _progress(f"seeding {count // 3:,} whole payment lifecycles...")
            seed_lifecycles(app, count // 3)
            _progress("replaying the whole log...")
            events, replay = bench_replay(app)
            raw_read = bench_raw_read(app)
            _progress("rebuilding every projection, audit replay, hash-chain verify...")
            projection_rates = bench_projections(app, scratch, events)
            samples = 200 if quick else 1000
            _progress(f"paid -> balance latency over {samples} payments...")
            latencies = bench_paid_to_balance(app, scratch, min(samples, count))
    settle_count = 10_000 if quick else 100_000
    settlement = bench_settlement(settings, settle_count if commands is None else commands * 5)
    export = bench_export(settings, 10_000 if quick else 100_000 if commands is None else commands)
    return {
        "backend": settings.backend,
        "quick": quick,
        "commands_per_s": round(command_rate, 1),
        "concurrent_commands_per_s": round(concurrent_rate, 1),
        "baseline_commands_per_s": round(baseline, 1),
        "raw_commits_per_s": round(raw, 1),
        "replay_events_per_s": round(replay, 1),
        "raw_read_events_per_s": round(raw_read, 1),
        **{key: round(value, 1) for key, value in projection_rates.items()},
        "paid_to_balance_p50_ms": round(_percentile(latencies, 0.5), 2),
        "paid_to_balance_p99_ms": round(_percentile(latencies, 0.99), 2),
        **{key: round(value, 1) for key, value in settlement.items()},
        "export_links": export["links"],
        "export_csv_mb": export["csv_mb"],
        "export_peak_mb": export["peak_mb"],
        "events": events,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _caught_up(url: str, timeout: float = 300.0) -> None:
    """Wait until the projections have processed every stored event (``/readyz``).

    A phase that outruns the projections leaves them a backlog; the next phase would
    otherwise be measured while they work it off beside the workers.
    """
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(f"{url}/readyz", timeout=5).json()
        behind = [n for n, at in health["projections"].items() if at < health["events"]]
        if not behind:
            return
        if time.monotonic() > deadline:
            msg = f"projections {behind} still behind after {timeout:.0f} s"
            raise RuntimeError(msg)
        _progress(f"waiting for the projections to catch up ({', '.join(behind)})...")
        time.sleep(1.0)


def _load(
    url: str, path: str, key: str, count: int, concurrency: int, rate: float | None = None
) -> dict[str, float]:
    import subprocess

    paced = [] if rate is None else [str(rate)]
    output = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "paylink_es.entrypoints.loadgen",
            url,
            path,
            key,
            str(count),
            str(concurrency),
            *paced,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


HTTP_CONCURRENCY = 32  # the headline: at 1,500/s, p99 <= 50 ms leaves ~40 in flight (Little)
HTTP_CONCURRENCIES = (16, HTTP_CONCURRENCY, 64, 200)  # reported side by side, same run
HTTP_OFFERED_RATE = 1_500  # requests/s offered in the open-loop phase (the target)
HTTP_OPEN_CONNECTIONS = 200  # connections it may use: a few hundred in flight at worst


def run_http(
    settings: Settings,
    *,
    quick: bool,
    commands: int | None = None,
    concurrencies: Sequence[int] = HTTP_CONCURRENCIES,
) -> dict[str, Any]:
    """Link creation over HTTP from a separate process, beside a no-I/O baseline endpoint.

    A closed-loop generator with ``n`` connections keeps ``n`` requests in flight, so
    latency is ``n`` over throughput once the server is saturated: one concurrency says
    little. Each of ``concurrencies`` drives ``commands`` creations (``*_at_<n>`` keys);
    the headline keys are those at :data:`HTTP_CONCURRENCY`, and the baseline runs at it.
    """
    import os
    import subprocess

    import httpx

    count = commands or (3_000 if quick else 20_000)
    headline = HTTP_CONCURRENCY if HTTP_CONCURRENCY in concurrencies else concurrencies[0]
    with scratch_settings(settings) as scratch:
        with open_app(scratch) as app:
            merchant = app.register_merchant("Bench HTTP")
            key = app.issue_api_key(merchant, "test").secret
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
        env.update(
            PAYLINK_DATA_DIR=str(scratch.data_dir),
            PAYLINK_RATE_LIMIT_PER_S="0",
            PAYLINK_BENCH_ENDPOINTS="true",
        )
        if scratch.database_url:
            env.update(
                PAYLINK_DATABASE_URL=scratch.database_url,
                PAYLINK_DATABASE_SCHEMA=scratch.database_schema or "",
            )
        log = scratch.data_dir / "server.log"
        with log.open("w") as output:
            server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "paylink_es",
                    "serve",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--workers",
                    str(HTTP_WORKERS),
                ],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        creates: dict[int, dict[str, float]] = {}
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        msg = f"the server did not start:\n{log.read_text()}"
                        raise RuntimeError(msg) from None
                    time.sleep(0.1)
            _progress(f"{scratch.backend}: warming up...")
            _load(url, "/_bench/validate", key, 500, 50)
            _load(url, "/v1/links", key, 500, 50)
            # The baseline first: later, the projections process is still catching up with
            # the links just made and would take CPU from it.
            _progress(f"no-I/O baseline endpoint, same body, {headline} concurrent...")
            baseline = _load(url, "/_bench/validate", key, count, headline)
            _progress("the same through FastAPI's routing and solver...")
            routed = _load(url, "/_bench/validate-routed", key, count, headline)
            for concurrency in concurrencies:
                _caught_up(url)
                _progress(f"POST /v1/links x {count:,}, {concurrency} concurrent...")
                creates[concurrency] = _load(url, "/v1/links", key, count, concurrency)
            _caught_up(url)
            _progress(
                f"POST /v1/links x {count:,} offered at {HTTP_OFFERED_RATE:,}/s"
                f" (open loop, up to {HTTP_OPEN_CONNECTIONS} connections)..."
            )
            offered = _load(url, "/v1/links", key, count, HTTP_OPEN_CONNECTIONS, HTTP_OFFERED_RATE)
        finally:
            server.terminate()
            server.wait(timeout=30)
    failed = sum(int(figures["failures"]) for figures in [*creates.values(), offered])
    if failed or baseline["failures"] or routed["failures"]:
        msg = f"requests failed: {failed} creates, {baseline['failures']} baseline"
        raise RuntimeError(msg)
    create = creates[headline]
    figures: dict[str, Any] = {
        "backend": settings.backend,
        "quick": quick,
        "http_requests": count,
        "http_concurrency": headline,
        "http_workers": HTTP_WORKERS,
        "http_create_per_s": round(create["per_s"], 1),
        "http_create_p50_ms": round(create["p50_ms"], 2),
        "http_create_p99_ms": round(create["p99_ms"], 2),
        "http_baseline_per_s": round(baseline["per_s"], 1),
        "http_baseline_p99_ms": round(baseline["p99_ms"], 2),
        "http_baseline_routed_per_s": round(routed["per_s"], 1),
        "http_baseline_routed_p99_ms": round(routed["p99_ms"], 2),
    }
    # Open loop: requests arrive at the offered rate whatever the server does; latency
    # counts from when each was due. This is the target's shape: >= 1,500/s, p99 <= 50 ms.
    figures["http_offered_per_s"] = HTTP_OFFERED_RATE
    figures["http_open_create_per_s"] = round(offered["per_s"], 1)
    figures["http_open_create_p50_ms"] = round(offered["p50_ms"], 2)
    figures["http_open_create_p99_ms"] = round(offered["p99_ms"], 2)
    for concurrency, result in creates.items():
        figures[f"http_create_per_s_at_{concurrency}"] = round(result["per_s"], 1)
        figures[f"http_create_p50_ms_at_{concurrency}"] = round(result["p50_ms"], 2)
        figures[f"http_create_p99_ms_at_{concurrency}"] = round(result["p99_ms"], 2)
    return figures


def main(
    settings: Settings,
    *,
    quick: bool,
    as_json: bool,
    commands: int | None = None,
    http: bool = False,
) -> int:
    """Run the benchmark and print its figures."""
    if http:
        figures = run_http(settings, quick=quick, commands=commands)
    else:
        figures = run(settings, quick=quick, commands=commands)
    if as_json:
        print(json.dumps(figures))
    else:
        width = max(len(key) for key in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0
