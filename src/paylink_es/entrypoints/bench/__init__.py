"""``paylink bench``: throughput on the configured backend, beside baselines in the same run.

Measured in one run, in a scratch store (a temporary directory for SQLite, a
temporary schema for PostgreSQL) so a user's data is never touched. Each module
measures one thing and names its figures:

- ``commands``: link-create commands through :class:`Paylink`, from one thread and
  from 64, beside a library-default ``Application`` and the database's raw commits;
- ``replay``: reading and decoding the whole log in pages of 1,000, and reading it raw;
- ``read_side``: rebuild, audit replay, hash-chain verify, and paid -> balance latency;
- ``settlement``: a day's payments settled in one run, beside one by one;
- ``export_memory``: peak memory while the dashboard streams a CSV export;
- ``bulk``: a CSV of 10,000 links (bulk links' most) created, then sent again;
- ``grow`` (``--grow``): rebuild, audit replay and verify, first and deep cursor pages,
  at two sizes of history, and how much each grew;
- ``over_http`` (``--http``): link creation over HTTP from a separate process, on the
  bench's own server (``server``) with its no-I/O baseline endpoints (``validation``);
- ``cluster`` (``--cluster N``, PostgreSQL): the same creates on one ``paylink serve`` node,
  then on N, and the takeover after the leading node is killed.

``support`` holds what they share (the scratch store, the timed loop, progress lines).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from api.bulk import MAX_ROWS
from paylink_es.bootstrap import open_paylink
from paylink_es.entrypoints.bench.bulk import bench_bulk
from paylink_es.entrypoints.bench.cluster import NEEDS_POSTGRES, run_cluster
from paylink_es.entrypoints.bench.commands import (
    bench_baseline,
    bench_commands,
    bench_concurrent_commands,
    bench_raw_commits,
)
from paylink_es.entrypoints.bench.export_memory import bench_export
from paylink_es.entrypoints.bench.grow import run_grow
from paylink_es.entrypoints.bench.over_http import run_http
from paylink_es.entrypoints.bench.read_side import bench_paid_to_balance, bench_projections
from paylink_es.entrypoints.bench.replay import bench_reads, seed_lifecycles
from paylink_es.entrypoints.bench.settlement import bench_settlement
from paylink_es.entrypoints.bench.support import percentile, progress, scratch_settings
from paylink_es.settings import Settings

__all__ = ["main", "run", "run_cluster", "run_grow", "run_http"]


def run(settings: Settings, *, quick: bool, commands: int | None = None) -> dict[str, Any]:
    """Every measurement, in one run, as a flat dict of figures."""
    count, budget = (3_000, 8.0) if quick else (20_000, 30.0)
    count = commands or count
    with scratch_settings(settings) as scratch:
        progress(f"{scratch.backend}: link-create commands through the application...")
        with open_paylink(scratch) as app:
            command_rate = bench_commands(app, count, budget)
            progress("the same from 64 threads at once (group commit)...")
            concurrent_rate = bench_concurrent_commands(app, count)
            progress("library-default baseline (one save per command)...")
            baseline = bench_baseline(scratch, count, budget)
            progress("raw database commits...")
            raw = bench_raw_commits(scratch, count, budget)
            progress(f"seeding {count // 3:,} whole payment lifecycles...")
            seed_lifecycles(app, count // 3)
            progress("replaying the whole log...")
            # Read once untimed first: a log just written is read first at a cost the
            # next reads do not pay (PostgreSQL sets its rows' hint bits).
            events, replay, raw_read = bench_reads(app)
            progress("rebuilding every projection, audit replay, hash-chain verify...")
            projection_rates = bench_projections(app, scratch, events)
            samples = 200 if quick else 1000
            progress(f"paid -> balance latency over {samples} payments...")
            latencies = bench_paid_to_balance(app, scratch, min(samples, count))
    settle_count = 10_000 if quick else 100_000
    settlement = bench_settlement(settings, settle_count if commands is None else commands * 5)
    export = bench_export(settings, 10_000 if quick else 100_000 if commands is None else commands)
    bulk = bench_bulk(settings, MAX_ROWS if commands is None else commands)
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
        "paid_to_balance_p50_ms": round(percentile(latencies, 0.5), 2),
        "paid_to_balance_p99_ms": round(percentile(latencies, 0.99), 2),
        **{key: round(value, 1) for key, value in settlement.items()},
        "export_links": export["links"],
        "export_csv_mb": export["csv_mb"],
        "export_peak_mb": export["peak_mb"],
        **bulk,
        "events": events,
    }


def main(
    settings: Settings,
    *,
    quick: bool,
    as_json: bool,
    commands: int | None = None,
    http: bool = False,
    grow: bool = False,
    sizes: tuple[int, int] | None = None,
    cluster: int | None = None,
) -> int:
    """Run the benchmark and print its figures (2 with a message when ``cluster`` asks for
    nodes on SQLite)."""
    if cluster is not None:
        if settings.database_url is None:
            print(NEEDS_POSTGRES, file=sys.stderr)
            return 2
        figures = run_cluster(settings, nodes=cluster, quick=quick, commands=commands)
    elif grow:
        figures = run_grow(settings, quick=quick, sizes=sizes)
    elif http:
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
