"""``paylink bench --cluster N``: link creation over HTTP on one ``paylink serve`` node,
then on N nodes sharing its PostgreSQL, and how long the survivors take to replace the
node leading the background workers once it is killed with SIGKILL.

Each node is ``paylink serve`` (one HTTP worker, the background workers in-process, each
while its node leads it) on a loopback port, with a data folder and node id of its own,
on the run's scratch schema. The load is ``--http``'s generator (``over_http``), one
process, its connections spread over the nodes in turn, every create with an
``Idempotency-Key`` of its own (the path a client that retries takes). The one-node phase
is the baseline of the same run: on one machine the N nodes share its cores, so the
figures show what coordinating through one database costs, not a speed-up.

Every create must be answered 201, and the store must then hold exactly as many links
as were answered (``cluster_links``): nothing lost or doubled by the nodes or the kill.

``cluster_takeover_s`` counts from the SIGKILL until the lease table and PostgreSQL's
locks (what ``paylink cluster status`` shows) have every worker the killed node led held
by a live node, polled every :data:`POLL_S`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from paylink_es.bootstrap import open_paylink
from paylink_es.entrypoints.bench.over_http import (
    HTTP_CONCURRENCY,
    _caught_up,
    _free_port,
    _load,
    server_env,
    wait_started,
)
from paylink_es.entrypoints.bench.support import progress, scratch_settings
from paylink_es.settings import Settings
from paylink_es.store.leases import leadership

NEEDS_POSTGRES = (
    "paylink bench --cluster needs PostgreSQL: set PAYLINK_DATABASE_URL (the nodes share one"
    " database; SQLite is one machine's store)"
)
MAX_NODES = 8
NODE_POOL_SIZE = "3"  # each node's pool: N nodes share the server's connections with others
WARM_UP = 200  # creates each node answers before it is measured (at most as many as measured)
POLL_S = 0.05
TAKEOVER_BOUND_S = 60.0  # a bound against a cluster that never recovers, not a target
LINKS = "/v1/links"


@dataclass
class Node:
    """One ``paylink serve`` process of the run."""

    name: str
    url: str
    process: subprocess.Popen[bytes]


def run_cluster(
    settings: Settings, *, nodes: int, quick: bool, commands: int | None = None
) -> dict[str, Any]:
    """One node's creates per second and p99, then ``nodes``'s, and the takeover's time."""
    if settings.database_url is None:
        raise ValueError(NEEDS_POSTGRES)
    if not 2 <= nodes <= MAX_NODES:
        msg = f"--cluster takes 2 to {MAX_NODES} nodes, not {nodes}"
        raise ValueError(msg)
    count = commands or (1_500 if quick else 10_000)
    warm = min(WARM_UP, count)
    started: list[Node] = []
    with scratch_settings(settings) as scratch:
        with open_paylink(scratch) as app:
            merchant = app.merchants.register("Bench cluster")
            key = app.merchants.issue_key(merchant, "test").secret
        secret = uuid.uuid4().hex * 2  # one session secret for every node, as in production
        try:
            first = _start(scratch, 1, secret)
            started.append(first)
            progress(f"one node: POST /v1/links x {count:,} with Idempotency-Keys...")
            _load(first.url, LINKS, key, warm, HTTP_CONCURRENCY, idempotent=True)
            _caught_up(first.url)
            one = _load(first.url, LINKS, key, count, HTTP_CONCURRENCY, idempotent=True)
            _caught_up(first.url)
            progress(f"starting {nodes - 1} more node(s)...")
            started.extend(_start(scratch, n, secret) for n in range(2, nodes + 1))
            everyone = ",".join(node.url for node in started)
            _load(everyone, LINKS, key, warm * nodes, HTTP_CONCURRENCY, idempotent=True)
            _caught_up(first.url)
            progress(f"{nodes} nodes: POST /v1/links x {count:,} spread over them...")
            many = _load(everyone, LINKS, key, count, HTTP_CONCURRENCY, idempotent=True)
            _caught_up(first.url)
            progress("killing the node that leads the background workers (SIGKILL)...")
            takeover, moved = _takeover(scratch, started)
            survivors = ",".join(node.url for node in started if node.process.poll() is None)
            after = _load(survivors, LINKS, key, warm, HTTP_CONCURRENCY, idempotent=True)
        finally:
            _stop(started)
        failed = {"one": one["failures"], "many": many["failures"], "after": after["failures"]}
        if any(failed.values()):
            msg = f"creates failed (not 201): {failed}"
            raise RuntimeError(msg)
        answered = 2 * count + warm * (nodes + 2)
        stored = _links_stored(scratch)
        if stored != answered:
            msg = f"{answered} creates were answered 201 but {stored} links are stored"
            raise RuntimeError(msg)
    return {
        "backend": settings.backend,
        "quick": quick,
        "cluster_nodes": nodes,
        "cluster_requests": count,
        "cluster_concurrency": HTTP_CONCURRENCY,
        "cluster_links": stored,
        "cluster_create_per_s_1": round(one["per_s"], 1),
        "cluster_create_p50_ms_1": round(one["p50_ms"], 2),
        "cluster_create_p99_ms_1": round(one["p99_ms"], 2),
        f"cluster_create_per_s_{nodes}": round(many["per_s"], 1),
        f"cluster_create_p50_ms_{nodes}": round(many["p50_ms"], 2),
        f"cluster_create_p99_ms_{nodes}": round(many["p99_ms"], 2),
        "cluster_takeover_s": round(takeover, 3),
        "cluster_takeover_workers": moved,
        "cluster_loadavg_1m": round(os.getloadavg()[0], 2),
    }


def _start(scratch: Settings, n: int, secret: str) -> Node:
    """Node ``n``'s ``paylink serve``, answering."""
    name = f"bench-node-{n}"
    folder = scratch.data_dir / name
    folder.mkdir()
    port = _free_port()
    env = server_env(
        scratch,
        PAYLINK_NODE_ID=name,
        PAYLINK_DATA_DIR=str(folder / "var"),
        PAYLINK_SECRET_KEY=secret,
        PAYLINK_POSTGRES_POOL_SIZE=NODE_POOL_SIZE,
    )
    log = folder / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "paylink_es",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    node = Node(name, f"http://127.0.0.1:{port}", process)
    wait_started(process, node.url, log)
    return node


def _links_stored(scratch: Settings) -> int:
    """How many links the nodes stored between them (their Created events in the log)."""
    stored = last = 0
    with open_paylink(scratch) as app:
        while page := app.app.recorder.select_notifications(last, 1_000, inclusive_of_start=False):
            stored += sum(1 for event in page if event.topic.endswith("PaymentLink.Created"))
            last = page[-1].id
    return stored


def _leaders(scratch: Settings) -> dict[str, str]:
    """Each worker a session holds now, and the node its lease names."""
    return {row.worker: row.node for row in leadership(scratch) if row.led and row.node}


def _takeover(scratch: Settings, nodes: list[Node]) -> tuple[float, int]:
    """SIGKILL the node leading the most workers; seconds until live nodes lead them all,
    and how many workers it led."""
    names = {node.name for node in nodes}
    deadline = time.monotonic() + TAKEOVER_BOUND_S
    leaders = _leaders(scratch)
    while not leaders or not set(leaders.values()) <= names:
        if time.monotonic() > deadline:
            msg = f"the workers have no leaders among the nodes: {leaders}"
            raise RuntimeError(msg)
        time.sleep(POLL_S)
        leaders = _leaders(scratch)
    victim_name = Counter(leaders.values()).most_common(1)[0][0]
    victim = next(node for node in nodes if node.name == victim_name)
    alive = names - {victim_name}
    victim.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.process.wait(timeout=30)
    while True:
        now = _leaders(scratch)
        if all(now.get(worker) in alive for worker in leaders):
            return time.monotonic() - killed_at, len(leaders)
        if time.monotonic() - killed_at > TAKEOVER_BOUND_S:
            msg = f"no takeover within {TAKEOVER_BOUND_S:.0f} s: {now} (alive: {sorted(alive)})"
            raise RuntimeError(msg)
        time.sleep(POLL_S)


def _stop(nodes: list[Node]) -> None:
    for node in nodes:
        if node.process.poll() is None:
            node.process.terminate()
    for node in nodes:
        try:
            node.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=30)
