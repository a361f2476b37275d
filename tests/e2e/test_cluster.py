"""Three ``paylink serve`` nodes on one PostgreSQL, and the one leading the workers killed.

Each node is a real process on a port of its own, with a data folder of its own (as on
separate machines: the secrets they share are given as settings). Links are created,
paid and read through all of them; then the node that leads the background workers is
killed with SIGKILL while links are still being created. The test checks:

- each background worker has exactly one leader (``paylink cluster status`` and the
  lock table), before the kill and after the takeover, which happens within 5 s (the
  lease rows' instants, taken by PostgreSQL, against its clock at the kill);
- the nodes agree: an ``Idempotency-Key`` sent to two nodes at once makes one link, a
  merchant never sees another's links, events or webhooks, and a read on one node waits
  for a write made on another (``Paylink-Min-Position``);
- nothing is lost or doubled: every create that was answered is stored and in the read
  models, no event is stored twice, every webhook reaches its own merchant exactly once,
  and the read models equal views rebuilt from zero.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from paylink_es.store.leases import (
    EXPIRY,
    MESSAGES,
    PROJECTIONS,
    SETTLEMENT,
    WEBHOOKS,
    leadership,
)
from tests.support.app import free_port
from tests.support.leases import lock_holders
from tests.support.read_models import (
    StoredEvents,
    another_store,
    opened_views,
    positions,
    rebuilt_elsewhere,
    snapshot,
)
from tests.support.serve import outside_env, start_serve, wait_healthy
from tests.support.shop import PAYMENT_PATH, csrf_of
from tests.support.webhooks import Deliveries, webhook_receiver

pytestmark = pytest.mark.postgres

RUNNING = (PROJECTIONS, WEBHOOKS, SETTLEMENT, EXPIRY, MESSAGES)  # the workers these nodes run
TAKEOVER_S = 5.0
WAIT_S = 60.0  # a bound for what takes a moment; only the takeover's time is asserted
CLIENT_TIMEOUT_S = 30.0


@dataclass
class Node:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def node_env(url: str, schema: str, name: str, **more: str) -> dict[str, str]:
    """The environment of a cluster's ``paylink serve`` nodes: one store, its secrets, the
    schedulers ticking often, no rate limit (``more``: further settings)."""
    return outside_env(
        PAYLINK_DATABASE_URL=url,
        PAYLINK_DATABASE_SCHEMA=schema,
        PAYLINK_SECRET_KEY=f"{name}-test-secret-key-" + uuid.uuid4().hex,
        PAYLINK_SANDBOX_SECRET=f"{name}-test-sandbox-" + uuid.uuid4().hex,
        PAYLINK_ALLOW_PRIVATE_WEBHOOKS="true",
        PAYLINK_RATE_LIMIT_PER_S="0",
        PAYLINK_POSTGRES_POOL_SIZE="3",
        PAYLINK_SETTLE_EVERY_S="1",
        PAYLINK_EXPIRE_EVERY_S="0.5",
        PAYLINK_READ_WAIT_S="20",  # a busy machine must not turn a read stale
        **more,
    )


@pytest.fixture
def receiver() -> Iterator[Deliveries]:
    with webhook_receiver() as got:
        yield got


@dataclass
class Cluster:
    settings: Settings  # the test's own view of the database
    env: dict[str, str]
    folder: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    def start(self, name: str, **more: str) -> Node:
        """Start node ``name`` with the cluster's settings and ``more`` of its own."""
        port = free_port()
        folder = self.folder / name
        folder.mkdir()
        env = {
            **self.env,
            "PAYLINK_NODE_ID": name,
            "PAYLINK_DATA_DIR": str(folder / "var"),
            **more,
        }
        log = folder / "serve.log"
        process = start_serve(folder, env, log, "--port", str(port))
        node = self.nodes[name] = Node(name, f"http://127.0.0.1:{port}", process, log)
        wait_healthy(process, node.url, log, within=WAIT_S)
        return node

    def cli(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "paylink_es", *args],
            cwd=self.folder,
            env={**self.env, "PAYLINK_DATA_DIR": str(self.folder / "cli-var")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def logs(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.log.read_text()[-3000:]}" for n in self.nodes.values())


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    base = Settings(database_url=pg_url, data_dir=tmp_path / "test-var", postgres_pool_size=1)
    with another_store(base, tmp_path) as settings:
        env = node_env(pg_url, settings.database_schema or "", "cluster")
        made = Cluster(settings, env, tmp_path)
        try:
            yield made
        finally:
            for node in made.nodes.values():
                if node.process.poll() is None:
                    node.process.kill()
                    node.process.wait(timeout=30)


def headers(key: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **more}


def create(
    node: Node, key: str, description: str, *, same: str | None = None, **terms: Any
) -> httpx.Response:
    """POST /v1/links with an Idempotency-Key (``same``, else a fresh one)."""
    return httpx.post(
        f"{node.url}/v1/links",
        json={"amount": 25_000, "currency": "IDR", "description": description, **terms},
        headers=headers(key, **{"Idempotency-Key": same or uuid.uuid4().hex}),
        timeout=CLIENT_TIMEOUT_S,
    )


def pay(code: str, key: str, page_on: Node, form_on: Node, sandbox_on: Node) -> httpx.Response:
    """A customer opens the page on one node and chooses a method on another; the sandbox,
    asked on a third, pays it. The sandbox's answer."""
    with httpx.Client(timeout=CLIENT_TIMEOUT_S) as customer:
        page = customer.get(f"{page_on.url}/l/{code}")
        assert page.status_code == 200, page.text
        chosen = customer.post(
            f"{form_on.url}/l/{code}/pay",
            data={"csrf": csrf_of(page.text), "method": "va_bca"},
            follow_redirects=False,
        )
        assert chosen.status_code == 303, chosen.text
    found = PAYMENT_PATH.search(chosen.headers["location"])
    assert found is not None
    paid = httpx.post(
        f"{sandbox_on.url}/v1/sandbox/payments",
        json={"payment_id": found["payment"], "scenario": "normal"},
        headers=headers(key),
        timeout=CLIENT_TIMEOUT_S,
    )
    assert paid.status_code == 200, paid.text
    assert [c["response"]["recorded"] for c in paid.json()["callbacks"]] == [True]
    return paid


def until(condition: Any, what: str, cluster: Cluster) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}\n{cluster.logs()}")
        time.sleep(0.1)


def one_leader_each(
    cluster: Cluster, admin: psycopg.Connection[dict[str, Any]], alive: list[Node]
) -> dict[str, str]:
    """Each running worker's leader, checked three ways: the lease rows, the lock table and
    ``paylink cluster status``: exactly one live node's lease session holds each lock."""
    schema = cluster.settings.database_schema or "public"
    rows = {row.worker: row for row in leadership(cluster.settings)}
    holders = lock_holders(admin, schema)
    status = json.loads(cluster.cli("cluster", "status", "--json"))
    shown = {row["worker"]: row for row in status["workers"]}
    text = cluster.cli("cluster", "status")
    leaders = {}
    for worker in RUNNING:
        node, term = rows[worker].node, rows[worker].epoch
        assert node in {n.name for n in alive}, (worker, rows[worker], alive)
        assert holders[worker] == [f"paylink-leases {node}"], (worker, holders)
        assert (shown[worker]["node"], shown[worker]["term"]) == (node, term)
        assert re.search(rf"^{worker} +{node} +{term} ", text, re.MULTILINE), text
        leaders[worker] = str(node)
    return leaders


def test_three_nodes_share_one_database_and_a_killed_leader_is_replaced_within_5_s(
    cluster: Cluster, receiver: Deliveries
) -> None:
    registered = [cluster.cli("merchants", "create", "--name", name) for name in ("Satu", "Dua")]
    merchants = {re.findall(r"sk_test_\w+", out)[0]: out.split()[1] for out in registered}
    first_key, second_key = merchants
    nodes = [cluster.start(name) for name in ("node-a", "node-b", "node-c")]
    a, b, c = nodes
    for key, path in ((first_key, "/first"), (second_key, "/second")):
        hooked = httpx.post(
            f"{b.url}/v1/webhook-endpoints",
            json={"url": receiver.url + path, "event_types": ["payment.verified"]},
            headers=headers(key),
            timeout=CLIENT_TIMEOUT_S,
        )
        assert hooked.status_code == 201, hooked.text
    acknowledged: list[str] = []  # every create that was answered 201
    paid: dict[str, list[str]] = {first_key: [], second_key: []}

    url = cluster.settings.database_url or ""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as admin:
        until(lambda: set(leadership_nodes(cluster)) >= set(RUNNING), "leaders", cluster)
        leaders = one_leader_each(cluster, admin, nodes)

        same_keys = idempotent_creates_across_nodes(a, b, first_key, acknowledged)
        read_your_writes_across_nodes(a, c, first_key, acknowledged)
        for n, node in zip(range(9), itertools.cycle(nodes), strict=False):
            link = create(node, first_key if n % 3 else second_key, f"Barang {n}")
            assert link.status_code == 201, link.text
            acknowledged.append(link.json()["id"])
        expiring = [
            create(node, first_key, "Flash", expires_at=in_seconds(3)).json()["id"]
            for node in nodes
        ]
        acknowledged.extend(expiring)
        for n, key in enumerate([first_key, first_key, first_key, second_key]):
            paid[key].append(create_and_pay(nodes, n, key, acknowledged))
        isolation_across_nodes(b, c, first_key, second_key, acknowledged)
        until(lambda: len(receiver.received) == 4, "the webhooks before the kill", cluster)

        alive = kill_the_leader_while_creating(cluster, admin, leaders, first_key, acknowledged)
        one_leader_each(cluster, admin, alive)

        for n, key in enumerate([first_key, second_key]):
            paid[key].append(create_and_pay(alive, n, key, acknowledged))
        until(lambda: len(receiver.received) >= 6, "the webhooks after the kill", cluster)
        until(lambda: caught_up(alive[0]), "the read models to reach the head", cluster)
        until(lambda: outbox_empty(cluster), "the outbox to be sent", cluster)
        for node in alive:
            node.process.terminate()  # uvicorn shuts down, then ends by the same signal
            assert node.process.wait(timeout=WAIT_S) in (0, -signal.SIGTERM), cluster.logs()
            assert "Application shutdown complete" in node.log.read_text()

    nothing_lost_or_doubled(cluster, receiver, acknowledged, same_keys, expiring)
    webhooks_each_once_to_their_own(cluster, receiver, merchants, paid)


def create_and_pay(nodes: list[Node], n: int, key: str, acknowledged: list[str]) -> str:
    """A link made on one node, its page opened on it, its method chosen on the next, and
    the sandbox asked on the one after; the link's id."""
    link = create(nodes[n % len(nodes)], key, f"Dibayar {n}").json()
    acknowledged.append(link["id"])
    turn = [nodes[(n + step) % len(nodes)] for step in range(3)]
    pay(link["code"], key, *turn)
    return str(link["id"])


def kill_the_leader_while_creating(
    cluster: Cluster,
    admin: psycopg.Connection[dict[str, Any]],
    leaders: dict[str, str],
    key: str,
    acknowledged: list[str],
) -> list[Node]:
    """SIGKILL the node leading the projections while links are created on every node;
    each worker it led is taken over within 5 s. The nodes left alive."""
    nodes = list(cluster.nodes.values())
    victim = cluster.nodes[leaders[PROJECTIONS]]
    alive = [node for node in nodes if node is not victim]
    stop_creating = threading.Event()
    creator = threading.Thread(target=keep_creating, args=(nodes, key, acknowledged, stop_creating))
    creator.start()
    try:
        time.sleep(0.5)  # creates under way on every node
        row = admin.execute("SELECT clock_timestamp() AS now").fetchone()
        assert row is not None
        victim.process.kill()
        victim.process.wait(timeout=30)

        def taken_over() -> bool:
            now = leadership_nodes(cluster)
            return all(now.get(worker) not in (None, victim.name) for worker in RUNNING)

        until(taken_over, "the takeover", cluster)
    finally:
        stop_creating.set()
        creator.join(timeout=WAIT_S)
    rows = {lease.worker: lease for lease in leadership(cluster.settings)}
    for worker in [worker for worker, node in leaders.items() if node == victim.name]:
        since = rows[worker].since
        assert since is not None
        took = (since - row["now"]).total_seconds()
        assert took < TAKEOVER_S, f"{worker} was taken over {took:.2f} s after the kill"
    return alive


def leadership_nodes(cluster: Cluster) -> dict[str, str | None]:
    return {row.worker: row.node for row in leadership(cluster.settings) if row.led}


def in_seconds(seconds: float) -> str:
    return (datetime.now(tz=UTC) + timedelta(seconds=seconds)).isoformat()


def idempotent_creates_across_nodes(
    a: Node, b: Node, key: str, acknowledged: list[str]
) -> list[str]:
    """The same Idempotency-Key sent to two nodes at the same moment: one link, answered
    to both. Returns the descriptions used."""
    descriptions = []
    for round_number in range(4):
        description, same = f"Satu kunci {round_number}", uuid.uuid4().hex
        together = threading.Barrier(2)

        def send(
            node: Node,
            description: str = description,
            same: str = same,
            together: threading.Barrier = together,
        ) -> httpx.Response:
            together.wait()
            return create(node, key, description, same=same)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(send, [a, b]))
        assert [answer.status_code for answer in answers] == [201, 201], [
            answer.text for answer in answers
        ]
        ids = {answer.json()["id"] for answer in answers}
        assert len(ids) == 1
        acknowledged.extend(ids)
        descriptions.append(description)
    return descriptions


def read_your_writes_across_nodes(
    writer: Node, reader: Node, key: str, acknowledged: list[str]
) -> None:
    made = create(writer, key, "Baca tulisan sendiri")
    assert made.status_code == 201, made.text
    acknowledged.append(made.json()["id"])
    listed = httpx.get(
        f"{reader.url}/v1/links",
        params={"q": "Baca tulisan sendiri"},
        headers=headers(key, **{"Paylink-Min-Position": made.headers["Paylink-Position"]}),
        timeout=CLIENT_TIMEOUT_S,
    )
    assert listed.status_code == 200, listed.text
    assert "Paylink-Stale" not in listed.headers
    assert [link["id"] for link in listed.json()["data"]] == [made.json()["id"]]


def isolation_across_nodes(
    b: Node, c: Node, first: str, second: str, acknowledged: list[str]
) -> None:
    """The second merchant, on any node, sees none of the first merchant's links."""
    mine = httpx.get(f"{b.url}/v1/links", params={"limit": 100}, headers=headers(first))
    theirs = httpx.get(f"{c.url}/v1/links", params={"limit": 100}, headers=headers(second))
    first_ids = {link["id"] for link in mine.json()["data"]}
    second_ids = {link["id"] for link in theirs.json()["data"]}
    assert first_ids
    assert second_ids
    assert first_ids.isdisjoint(second_ids)
    assert first_ids | second_ids <= set(acknowledged)
    for link_id in list(first_ids)[:3]:
        hidden = httpx.get(f"{c.url}/v1/links/{link_id}", headers=headers(second))
        assert hidden.status_code == 404, hidden.text


def keep_creating(
    nodes: list[Node], key: str, acknowledged: list[str], stop: threading.Event
) -> None:
    """Create links through every node in turn until ``stop``; keep what was answered 201
    (a node that is down answers nothing, and nothing it did not answer is counted)."""
    for n, node in enumerate(itertools.cycle(nodes)):
        if stop.is_set():
            return
        try:
            made = create(node, key, f"Selama {n}")
        except httpx.TransportError:
            continue
        if made.status_code == 201:
            acknowledged.append(made.json()["id"])


def caught_up(node: Node) -> bool:
    ready = httpx.get(f"{node.url}/readyz", timeout=CLIENT_TIMEOUT_S).json()
    return all(position == ready["events"] for position in ready["projections"].values())


def outbox_empty(cluster: Cluster) -> bool:
    status = json.loads(cluster.cli("cluster", "status", "--json"))
    return bool(status["outbox"]["pending"] == 0)


def nothing_lost_or_doubled(
    cluster: Cluster,
    receiver: Deliveries,
    acknowledged: list[str],
    same_keys: list[str],
    expiring: list[str],
) -> None:
    settings = cluster.settings
    stored = StoredEvents(settings).rows()
    # No event twice: one creation per link, one verification per payment, one expiry per
    # link, one try per webhook delivery (each was answered 2xx the first time).
    for kind in ("PaymentLink.Created", "Payment.Verified", "PaymentLink.Expired"):
        per_aggregate = Counter(row.originator_id for row in stored if row.topic.endswith(kind))
        assert all(count == 1 for count in per_aggregate.values()), (kind, per_aggregate)
    tries = Counter(row.originator_id for row in stored if ":WebhookDelivery." in row.topic)
    assert sorted(tries.values()) == [1] * len(receiver.received)
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        table = sql.Identifier(settings.database_schema or "public", "worker_claims")
        claims = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    assert claims == (0,)  # every try was claimed, made, recorded, and its claim let go
    with open_paylink(settings) as paylink, opened_views(settings) as models:
        head = paylink.app.recorder.max_notification_id() or 0
        assert set(positions(models).values()) == {head}
        live = snapshot(models)
        rebuilt = rebuilt_elsewhere(paylink, settings, cluster.folder / "rebuilt")
    assert live == rebuilt  # no event applied twice or passed over by a read model
    links = {row["link_id"]: row for row in live["links"]}
    assert set(acknowledged) <= set(links)  # every answered create is stored and listed
    descriptions = Counter(row["description"] for row in live["links"])
    assert [descriptions[d] for d in same_keys] == [1] * len(same_keys)
    assert [links[link]["status"] for link in expiring] == ["expired"] * 3


def webhooks_each_once_to_their_own(
    cluster: Cluster, receiver: Deliveries, merchants: dict[str, str], paid: dict[str, list[str]]
) -> None:
    """Each merchant's endpoint got its own payments' verifications, each exactly once."""
    with opened_views(cluster.settings, ["feed"]) as models:
        feed = snapshot(models)["feed"]
    for (key, merchant_id), path in zip(merchants.items(), ("/first", "/second"), strict=True):
        got = receiver.events(path)
        assert len(got) == len(set(got)) == len(paid[key]), (path, got)
        verified = {
            json.loads(row["payload"])["id"]
            for row in feed
            if row["merchant_id"] == merchant_id and row["type"] == "payment.verified"
        }
        assert verified == set(got)
