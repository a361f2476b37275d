"""Two ``paylink serve`` nodes on a primary and its synchronous standby; the leader node is
killed, then the primary, and the standby is promoted in its place.

A throwaway pair of its own (``tests.support.pg_pair``: ``initdb``, ``pg_basebackup -R``,
synchronous replication) on loopback ports; the nodes are given the multi-host URL
(``…127.0.0.1:P1,127.0.0.1:P2/…?target_session_attrs=read-write``), and one of them the
standby as its read replica. Links are created (with Idempotency-Keys) and paid through
both; the node leading the background workers is killed (SIGKILL) and a new node joins;
then the primary is stopped as a crash would stop it (``pg_ctl stop -m immediate``) while
requests keep coming, and the standby is promoted. The test checks:

- during the gap every request is answered at once (well within the connection and pool
  limits, never a hang): ``201`` or ``503`` ``application/problem+json`` with
  ``Retry-After``, and there is a gap (some ``503``);
- the nodes carry on by themselves on the new primary: the workers are led again (new
  terms), creates, reads (through the replica URL too) and payments work, webhooks go;
- nothing acknowledged is lost and nothing is doubled: every create answered ``201`` is
  stored, a create answered ``503`` and sent again with its Idempotency-Key makes one
  link, no event is stored twice, each webhook reaches its merchant once, the read models
  equal a rebuild and ``paylink audit verify`` finds the hash chain whole.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from paylink_es.settings import Settings
from paylink_es.store.leases import leadership
from tests.e2e.test_cluster import (
    CLIENT_TIMEOUT_S,
    RUNNING,
    WAIT_S,
    Cluster,
    Node,
    caught_up,
    create,
    create_and_pay,
    headers,
    idempotent_creates_across_nodes,
    in_seconds,
    kill_the_leader_while_creating,
    leadership_nodes,
    node_env,
    nothing_lost_or_doubled,
    one_leader_each,
    outbox_empty,
    read_your_writes_across_nodes,
    receiver,
    until,
    webhooks_each_once_to_their_own,
)
from tests.support.pg_pair import PgPair, pg_pair
from tests.support.webhooks import Deliveries

pytestmark = pytest.mark.postgres

__all__ = ["receiver"]  # the webhook endpoint fixture, used by the test below

# The longest any request may take while the database is gone: the connection's and the
# pool's limits (2 s each here) with slack for a busy machine. A hang would be 30 s+.
GAP_ANSWER_S = 10.0
GAP_S = 2.0  # how long no server takes writes before the standby is promoted


@pytest.fixture
def pair() -> Iterator[PgPair]:
    with pg_pair() as made:
        yield made


@pytest.fixture
def ha_cluster(pair: PgPair, tmp_path: Path) -> Cluster:
    url = pair.failover_url()
    settings = Settings(
        database_url=url,
        database_schema="paylink",
        data_dir=tmp_path / "test-var",
        postgres_pool_size=1,
    )
    env = node_env(
        url,
        "paylink",
        "failover",
        PAYLINK_POSTGRES_CONNECT_TIMEOUT_S="2",
        PAYLINK_POSTGRES_POOL_TIMEOUT_S="2",
        PAYLINK_REPLICA_WAIT_S="2",
        PAYLINK_IDEMPOTENCY_LEASE_S="3",  # a claim the gap broke is retaken soon
    )
    return Cluster(settings, env, tmp_path)


@pytest.fixture
def running(ha_cluster: Cluster) -> Iterator[Cluster]:
    try:
        yield ha_cluster
    finally:
        for node in ha_cluster.nodes.values():
            if node.process.poll() is None:
                node.process.kill()
                node.process.wait(timeout=30)


@dataclass
class Answer:
    """One request sent while the primary died and the standby took over."""

    node: str
    key: str  # the create's Idempotency-Key ("" for a read)
    description: str
    status: int
    took_s: float
    retry_after: str | None
    content_type: str


def test_nodes_ride_through_the_primary_failing_over_to_its_standby_and_lose_nothing(
    pair: PgPair, running: Cluster, receiver: Deliveries
) -> None:
    cluster = running
    registered = [cluster.cli("merchants", "create", "--name", name) for name in ("Satu", "Dua")]
    merchants = {re.findall(r"sk_test_\w+", out)[0]: out.split()[1] for out in registered}
    first_key, second_key = merchants
    a = cluster.start("node-a")  # first: it takes every worker
    b = cluster.start("node-b", PAYLINK_DATABASE_READ_URL=pair.standby.url())
    for key, path in ((first_key, "/first"), (second_key, "/second")):
        hooked = httpx.post(
            f"{b.url}/v1/webhook-endpoints",
            json={"url": receiver.url + path, "event_types": ["payment.verified"]},
            headers=headers(key),
            timeout=CLIENT_TIMEOUT_S,
        )
        assert hooked.status_code == 201, hooked.text
    acknowledged: list[str] = []
    paid: dict[str, list[str]] = {first_key: [], second_key: []}

    with psycopg.connect(pair.failover_url(), autocommit=True, row_factory=dict_row) as admin:
        until(lambda: set(leadership_nodes(cluster)) >= set(RUNNING), "leaders", cluster)
        leaders = one_leader_each(cluster, admin, [a, b])
        same_keys = idempotent_creates_across_nodes(a, b, first_key, acknowledged)
        read_your_writes_across_nodes(a, b, first_key, acknowledged)  # b reads the replica
        replica_is_a_streaming_standby(b)
        expiring = [
            create(node, first_key, "Flash", expires_at=in_seconds(3)).json()["id"]
            for node in (a, b, a)
        ]
        acknowledged.extend(expiring)
        for n, key in enumerate([first_key, second_key]):
            paid[key].append(create_and_pay([a, b], n, key, acknowledged))
        until(lambda: len(receiver.received) == 2, "the webhooks before the kills", cluster)

        kill_the_leader_while_creating(cluster, admin, leaders, first_key, acknowledged)
    c = cluster.start("node-c")  # a node joins: cold while b leads
    alive = [node for node in (a, b, c) if node.process.poll() is None]
    assert alive == [b, c]
    terms_before = {row.worker: row.epoch for row in leadership(cluster.settings)}

    answers = fail_over_while_requests_come(pair, cluster, alive, first_key)
    the_gap_was_answered_fast(answers, cluster)
    same_keys.extend(sent_again_after_the_gap(answers, cluster, alive, first_key, acknowledged))

    with psycopg.connect(pair.failover_url(), autocommit=True, row_factory=dict_row) as admin:
        assert admin.execute("SHOW port").fetchone() == {"port": str(pair.standby.port)}

        def led_anew() -> bool:
            now = {row.worker: row for row in leadership(cluster.settings) if row.led}
            return all(
                worker in now and now[worker].epoch > (terms_before.get(worker) or 0)
                for worker in RUNNING
            )

        until(led_anew, "the workers led again on the new primary", cluster)
        one_leader_each(cluster, admin, alive)
    for n, key in enumerate([first_key, second_key]):
        paid[key].append(create_and_pay(alive, n, key, acknowledged))
    until(lambda: len(receiver.received) == 4, "the webhooks after the failover", cluster)
    until(lambda: caught_up(b), "the read models to reach the head", cluster)
    until(lambda: outbox_empty(cluster), "the outbox to be sent", cluster)
    promoted = httpx.get(f"{b.url}/readyz", timeout=CLIENT_TIMEOUT_S).json()["replica"]
    assert promoted["available"] is True
    assert promoted["standby"] is False  # what it replicated is now the primary itself
    for node in alive:
        node.process.terminate()
        node.process.wait(timeout=60)

    nothing_lost_or_doubled(cluster, receiver, acknowledged, same_keys, expiring)
    webhooks_each_once_to_their_own(cluster, receiver, merchants, paid)
    assert cluster.cli("audit", "verify").startswith("OK: ")


def replica_is_a_streaming_standby(node: Node) -> None:
    """The replica's lag as /readyz shows it: a standby, in bytes, seconds and positions."""
    ready = httpx.get(f"{node.url}/readyz", timeout=CLIENT_TIMEOUT_S).json()
    replica = ready["replica"]
    assert replica["available"] is True
    assert replica["standby"] is True
    assert replica["lag_bytes"] >= 0
    assert replica["lag_seconds"] >= 0
    assert set(replica["positions_behind"]) == set(ready["projections"])
    assert all(behind >= 0 for behind in replica["positions_behind"].values())


def fail_over_while_requests_come(
    pair: PgPair, cluster: Cluster, nodes: list[Node], key: str
) -> list[Answer]:
    """Creates (each with its own Idempotency-Key) and reads go to both nodes while the
    primary is killed and, ``GAP_S`` later, the standby promoted; until both nodes create
    again. Every answer, with how long it took."""
    answers: list[Answer] = []
    stop = threading.Event()

    def send(node: Node, n: int) -> None:
        description = f"Gagal alih {node.name} {n}"
        same = uuid.uuid4().hex
        started = time.monotonic()
        if n % 3 == 2:
            got = httpx.get(f"{node.url}/v1/links", headers=headers(key), timeout=60)
            same = description = ""
        else:
            got = create(node, key, description, same=same)
        answers.append(
            Answer(
                node.name,
                same,
                description,
                got.status_code,
                time.monotonic() - started,
                got.headers.get("Retry-After"),
                got.headers.get("content-type", ""),
            )
        )

    def drive(node: Node) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            send(node, n)
            time.sleep(0.05)

    drivers = [threading.Thread(target=drive, args=(node,)) for node in nodes]
    for driver in drivers:
        driver.start()
    try:
        time.sleep(0.5)  # requests under way on both nodes
        pair.kill_primary()
        time.sleep(GAP_S)
        pair.promote()

        def both_create_again() -> bool:
            last = {answer.node: answer for answer in answers if answer.key}
            return all(last.get(node.name) and last[node.name].status == 201 for node in nodes)

        until(both_create_again, "both nodes to create links again", cluster)
    finally:
        stop.set()
        for driver in drivers:
            driver.join(timeout=120)
    return answers


def the_gap_was_answered_fast(answers: list[Answer], cluster: Cluster) -> None:
    refused = [answer for answer in answers if answer.status == 503]
    assert refused, "no request met the gap"
    assert {answer.status for answer in answers} <= {200, 201, 503}, cluster.logs()
    for answer in refused:
        assert answer.retry_after is not None, answer
        assert answer.content_type.startswith("application/problem+json"), answer
    slowest = max(answers, key=lambda answer: answer.took_s)
    assert slowest.took_s < GAP_ANSWER_S, slowest


def sent_again_after_the_gap(
    answers: list[Answer], cluster: Cluster, nodes: list[Node], key: str, acknowledged: list[str]
) -> list[str]:
    """Every create sent during the failover, sent again with its Idempotency-Key: each
    answers the one link it made (created then, or now). Their descriptions."""
    creates = [answer for answer in answers if answer.key]
    for n, answer in enumerate(creates):
        deadline = time.monotonic() + WAIT_S
        while True:
            again = create(nodes[n % len(nodes)], key, answer.description, same=answer.key)
            # A claim of the key left by a request the gap broke on another node holds
            # it until its lease ends: the client is told so, and when to come back.
            if again.status_code != 409 or time.monotonic() > deadline:
                break
            assert again.json()["type"] == "/problems/request-in-progress", again.text
            time.sleep(float(again.headers["Retry-After"]))
        assert again.status_code == 201, (again.text, answer, cluster.logs())
        acknowledged.append(again.json()["id"])
    return [answer.description for answer in creates]
