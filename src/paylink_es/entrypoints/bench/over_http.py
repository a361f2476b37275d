"""``paylink bench --http``: link creation over HTTP from a separate process, beside the
no-I/O baselines (``validation``), on the bench's own server (``server``).

The load comes from ``paylink_es.entrypoints.loadgen``, a process of its own; the
server is ``serve --workers`` with the projections beside it, on a scratch store.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from paylink_es.bootstrap import open_paylink
from paylink_es.entrypoints.bench.support import progress, scratch_settings
from paylink_es.entrypoints.bench.validation import VALIDATE, VALIDATE_ROUTED
from paylink_es.settings import Settings

HTTP_WORKERS = 2  # one per core here; the projections run in a process of their own
HTTP_CONCURRENCY = 32  # the headline: at 1,500/s, p99 <= 50 ms leaves ~40 in flight (Little)
HTTP_CONCURRENCIES = (16, HTTP_CONCURRENCY, 64, 200)  # reported side by side, same run
HTTP_OFFERED_RATE = 1_500  # requests/s offered in the open-loop phase (the target)
HTTP_OPEN_CONNECTIONS = 200  # connections it may use: a few hundred in flight at worst


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(scratch: Settings, **more: str) -> dict[str, str]:
    """A bench server's environment: none of ours but the scratch store's, no rate limit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env.update(PAYLINK_DATA_DIR=str(scratch.data_dir), PAYLINK_RATE_LIMIT_PER_S="0")
    if scratch.database_url:
        env.update(
            PAYLINK_DATABASE_URL=scratch.database_url,
            PAYLINK_DATABASE_SCHEMA=scratch.database_schema or "",
        )
    return env | more


def wait_started(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until ``url`` answers ``/healthz``; fail with ``log`` if ``server`` exits or
    60 s pass first."""
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                msg = f"the server did not start:\n{log.read_text()}"
                raise RuntimeError(msg) from None
            time.sleep(0.1)


def _caught_up(url: str, timeout: float = 300.0) -> None:
    """Wait until the projections have processed every stored event (``/readyz``).

    A phase that outruns the projections leaves them a backlog; the next phase would
    otherwise be measured while they work it off beside the workers.
    """
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(f"{url}/readyz", timeout=5).json()
        behind = [n for n, at in health["projections"].items() if at < health["events"]]
        if not behind:
            return
        if time.monotonic() > deadline:
            msg = f"projections {behind} still behind after {timeout:.0f} s"
            raise RuntimeError(msg)
        progress(f"waiting for the projections to catch up ({', '.join(behind)})...")
        time.sleep(1.0)


def _tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and its descendants
    that are still running (Linux ``/proc``; 0 elsewhere)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(entry.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        total += times.get(pid, 0.0)
        pending.extend(children.get(pid, []))
    return total


def _load(
    url: str,
    path: str,
    key: str,
    count: int,
    concurrency: int,
    rate: float | None = None,
    *,
    idempotent: bool = False,
) -> dict[str, float]:
    """The load generator's figures (``paylink_es.entrypoints.loadgen``, a process of its
    own): ``url`` may be several, comma-separated; ``idempotent`` sends Idempotency-Keys."""
    paced = [] if rate is None else [str(rate)]
    once = ["--idempotency-keys"] if idempotent else []
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
            *once,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


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
    count = commands or (3_000 if quick else 20_000)
    headline = HTTP_CONCURRENCY if HTTP_CONCURRENCY in concurrencies else concurrencies[0]
    with scratch_settings(settings) as scratch:
        with open_paylink(scratch) as app:
            merchant = app.merchants.register("Bench HTTP")
            key = app.merchants.issue_key(merchant, "test").secret
        port = _free_port()
        env = server_env(scratch)
        log = scratch.data_dir / "server.log"
        with log.open("w") as output:
            server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "paylink_es.entrypoints.bench.server",
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
        cpu_s: dict[str, float] = {}
        try:
            wait_started(server, url, log)
            progress(f"{scratch.backend}: warming up...")
            _load(url, VALIDATE, key, 500, 50)
            _load(url, "/v1/links", key, 500, 50)
            # The baseline first: later, the projections process is still catching up with
            # the links just made and would take CPU from it.
            progress(f"no-I/O baseline endpoint, same body, {headline} concurrent...")
            baseline = _load(url, VALIDATE, key, count, headline)
            progress("the same through FastAPI's routing and solver...")
            routed = _load(url, VALIDATE_ROUTED, key, count, headline)
            for concurrency in concurrencies:
                _caught_up(url)
                progress(f"POST /v1/links x {count:,}, {concurrency} concurrent...")
                cpu = _tree_cpu_s(server.pid)
                creates[concurrency] = _load(url, "/v1/links", key, count, concurrency)
                if concurrency != headline:
                    continue
                _caught_up(url)  # the projections' part of the creates is counted too
                cpu_s["create"] = _tree_cpu_s(server.pid) - cpu
                progress(f"the same with an Idempotency-Key each, {concurrency} concurrent...")
                cpu = _tree_cpu_s(server.pid)
                idem = _load(url, "/v1/links", key, count, concurrency, idempotent=True)
                _caught_up(url)
                cpu_s["idem"] = _tree_cpu_s(server.pid) - cpu
                # Plain creates again: the keyed phase is held to the plain ones on either
                # side of it, so a load from elsewhere that moves during the run does not
                # land on one side of the ratio only.
                progress(f"POST /v1/links x {count:,} again, {concurrency} concurrent...")
                again = _load(url, "/v1/links", key, count, concurrency)
            _caught_up(url)
            progress(
                f"POST /v1/links x {count:,} offered at {HTTP_OFFERED_RATE:,}/s"
                f" (open loop, up to {HTTP_OPEN_CONNECTIONS} connections)..."
            )
            offered = _load(url, "/v1/links", key, count, HTTP_OPEN_CONNECTIONS, HTTP_OFFERED_RATE)
        finally:
            server.terminate()
            server.wait(timeout=30)
    failed = sum(int(figures["failures"]) for figures in [*creates.values(), offered, idem, again])
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
        # Every request with an Idempotency-Key of its own, as integrations send them.
        "http_idem_create_per_s": round(idem["per_s"], 1),
        "http_idem_create_p50_ms": round(idem["p50_ms"], 2),
        "http_idem_create_p99_ms": round(idem["p99_ms"], 2),
        "http_create_again_per_s": round(again["per_s"], 1),
        "http_idem_vs_create": round(idem["per_s"] / ((create["per_s"] + again["per_s"]) / 2), 2),
        # CPU of the server's processes (workers and projections, through their catch-up)
        # per request; PostgreSQL's own processes are not counted.
        "http_create_cpu_us": round(cpu_s["create"] / count * 1e6),
        "http_idem_create_cpu_us": round(cpu_s["idem"] / count * 1e6),
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
    if settings.database_url:
        # The same creates on SQLite, on this machine, in this run: what PostgreSQL is held to.
        progress("the headline creates again on a SQLite store, for comparison...")
        sqlite = run_http(
            settings.model_copy(update={"database_url": None, "database_schema": None}),
            quick=quick,
            commands=commands,
            concurrencies=(headline,),
        )
        figures["http_sqlite_create_per_s"] = sqlite["http_create_per_s"]
        figures["http_sqlite_create_p99_ms"] = sqlite["http_create_p99_ms"]
        figures["http_sqlite_idem_create_per_s"] = sqlite["http_idem_create_per_s"]
        figures["http_create_vs_sqlite"] = round(
            figures["http_create_per_s"] / sqlite["http_create_per_s"], 2
        )
    for concurrency, result in creates.items():
        figures[f"http_create_per_s_at_{concurrency}"] = round(result["per_s"], 1)
        figures[f"http_create_p50_ms_at_{concurrency}"] = round(result["p50_ms"], 2)
        figures[f"http_create_p99_ms_at_{concurrency}"] = round(result["p99_ms"], 2)
    return figures
