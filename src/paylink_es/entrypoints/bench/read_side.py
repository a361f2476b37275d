"""The read side over the whole log, and how soon a payment reaches it.

- ``rebuild_events_per_s``: every read model rebuilt (in processes of their own);
- ``rebuild_one_process_events_per_s``: the same in this one process, the baseline;
- ``audit_replay_events_per_s``, ``verify_events_per_s``: audit replay, hash-chain verify;
- ``paid_to_balance_p50_ms``, ``paid_to_balance_p99_ms``: a payment's receipt to its
  verified money in the balances view, the projections running in a process of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from paylink_es.application.services import Paylink
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.audit import verify_chain
from projections.queries.ledger import balances
from projections.rebuild import rebuild_models
from projections.replay import replay
from projections.runner import ReadModels


def bench_projections(app: Paylink, settings: Settings, events: int) -> dict[str, float]:
    """Rebuild, audit replay and hash-chain verify rates over the whole log."""
    models = ReadModels(settings)
    try:
        # The baseline: every read model in this one process, as before the split.
        started = time.perf_counter()
        rebuild_models(settings, app.app, models, processes=1)
        one_process = events / (time.perf_counter() - started)
        started = time.perf_counter()
        rebuild_models(settings, app.app, models)
        rebuild = events / (time.perf_counter() - started)
        started = time.perf_counter()
        result = replay(app.app, models, datetime.now(tz=UTC))
        audit = result.events / (time.perf_counter() - started)
        if result.differences:
            msg = f"audit replay differs from the live views: {result.differences[:3]}"
            raise RuntimeError(msg)
        started = time.perf_counter()
        verified = verify_chain(app.app.recorder, models.chain())
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


def _projections_process(settings: Settings) -> subprocess.Popen[bytes]:
    """``paylink projections run`` on ``settings``' store, as a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env["PAYLINK_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["PAYLINK_DATABASE_URL"] = settings.database_url
        env["PAYLINK_DATABASE_SCHEMA"] = settings.database_schema or ""
    return subprocess.Popen(
        [sys.executable, "-m", "paylink_es", "projections", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_caught_up(app: Paylink, models: ReadModels, timeout: float = 120.0) -> None:
    head = app.app.recorder.max_notification_id() or 0
    deadline = time.monotonic() + timeout
    while any(
        (model.view.max_tracking_id(app.app.name) or 0) < head for model in models.models.values()
    ):
        if time.monotonic() > deadline:
            msg = f"the projections process did not catch up within {timeout:.0f} s"
            raise RuntimeError(msg)
        time.sleep(0.05)


def bench_paid_to_balance(app: Paylink, settings: Settings, count: int) -> list[float]:
    """Milliseconds from a payment's receipt to its verified money in the balances view.

    Across processes, as ``serve`` runs them: the payment is recorded and verified here,
    ``paylink projections run`` applies it in a process of its own (woken by the store:
    the doorbell on SQLite, LISTEN/NOTIFY on PostgreSQL), and this process reads the
    balances view until the money shows."""
    merchant = app.merchants.register("Bench Latency")
    ready = []
    for i in range(count):
        link = app.links.create(merchant, amount=25_000, description=f"Latency {i}")
        ready.append(app.payments.start(link, "va_bca"))
    models = ReadModels(settings)
    process = _projections_process(settings)
    latencies = []
    try:
        _wait_caught_up(app, models)
        for i, payment in enumerate(ready):
            expected = 25_000 * (i + 1)
            started = time.perf_counter()
            app.payments.record(payment, f"latency-{i}", Money(25_000, "IDR"), app.now())
            app.payments.verify(payment)
            deadline = started + 10
            while True:
                book = balances(models, merchant, "test").get("IDR")
                if book is not None and book["pending"] == expected:
                    break
                if time.perf_counter() > deadline or process.poll() is not None:
                    msg = "a verified payment did not reach the balances view within 10 s"
                    raise RuntimeError(msg)
                time.sleep(0.0005)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        process.terminate()
        process.wait(timeout=30)
        models.close()
    return latencies
