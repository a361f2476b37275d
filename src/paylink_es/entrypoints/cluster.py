"""``paylink cluster status``: which node leads which background worker, since when, and
how far behind each read model, the webhook outbox and the read replica are."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from api.app import replica_status
from api.consistency import open_replica
from api.schemas import ReplicaStatus
from paylink_es.application.services import Paylink
from paylink_es.entrypoints.operations import opened, print_positions
from paylink_es.settings import Settings
from paylink_es.store.leases import SINGLETONS, Leadership, leadership
from projections.queries.outbox import outbox_backlog
from projections.readmodel import from_iso, iso
from projections.runner import status

ONE_MACHINE = "SQLite: one machine, no election; every process runs the workers it starts"


def cluster_status(settings: Settings, as_json: bool) -> int:
    """Print the leaders, the read models' positions and the outbox's backlog; exit 1 when
    a read model is stopped at an event it cannot apply (as ``projections status``)."""
    workers = [_worker(row) for row in leadership(settings)] if settings.database_url else []
    with opened(settings) as (paylink, models):
        now = paylink.now()
        positions = status(paylink.app, models)
        backlog = outbox_backlog(models.outbox(), now)
        replica = _replica(settings, paylink, {row.name: row.position for row in positions})
    oldest = backlog["oldest_due_at"]
    waiting = round((now - from_iso(oldest)).total_seconds(), 3) if oldest else 0.0
    outbox = {**backlog, "oldest_due_s": waiting}
    stopped = any(row.failure for row in positions)
    if as_json:
        document = {
            "backend": settings.backend,
            "workers": workers,
            "read_models": [asdict(row) for row in positions],
            "outbox": outbox,
            "replica": replica.model_dump() if replica is not None else None,
        }
        print(json.dumps(document))
        return 1 if stopped else 0
    _print_workers(workers, settings)
    print()
    print_positions(positions)
    print(
        f"outbox: {outbox['pending']} deliveries pending, {outbox['due']} due now"
        + (f", the oldest due for {waiting:.1f} s" if oldest else "")
    )
    if replica is not None:
        print(_replica_line(replica))
    return 1 if stopped else 0


def _replica(settings: Settings, paylink: Paylink, primary: dict[str, int]) -> ReplicaStatus | None:
    """The read replica's lag (``PAYLINK_DATABASE_READ_URL``), or None without one."""
    models = open_replica(settings)
    if models is None:
        return None
    try:
        return replica_status(paylink, primary, models)
    finally:
        models.close()


def _replica_line(replica: ReplicaStatus) -> str:
    if not replica.available:
        return "replica: does not answer (queries read the primary)"
    if not replica.standby:
        return "replica: not a standby (promoted?); it is read as it is"
    behind = max(replica.positions_behind.values(), default=0)
    return (
        f"replica: standby, {replica.lag_bytes} bytes and {replica.lag_seconds or 0:.3f} s"
        f" of WAL behind; read models up to {behind} positions behind"
    )


def _worker(row: Leadership) -> dict[str, Any]:
    led = row.led and row.node is not None and row.since is not None
    return {
        "worker": row.worker,
        "node": row.node if led else None,
        "term": row.epoch if led else None,
        "since": iso(row.since) if led and row.since else None,
        "last_node": row.node,
        "last_term": row.epoch,
        "lock_holder": row.holder,
        "lock_pid": row.holder_pid,
    }


def _print_workers(workers: list[dict[str, Any]], settings: Settings) -> None:
    if not settings.database_url:
        print(ONE_MACHINE)
        print(f"{'worker':<15} leader")
        for name in SINGLETONS:
            print(f"{name:<15} every process that runs it")
        return
    print(f"{'worker':<15} {'leader':<32} {'term':>5}  {'since':<27} lock held by")
    for row in workers:
        if row["node"] is None:
            last = (
                f" (last: {row['last_node']}, term {row['last_term']})" if row["last_node"] else ""
            )
            print(f"{row['worker']:<15} {'no leader' + last}")
            continue
        print(
            f"{row['worker']:<15} {row['node']:<32} {row['term']:>5}  {row['since']:<27}"
            f" {row['lock_holder']} (pid {row['lock_pid']})"
        )
