"""kill -9 a real ``paylink serve`` where it hurts; after a restart no Idempotency-Key is stuck.

Two ways to die: at a named crash point (``PAYLINK_CRASH_AT``: the command stored, its
answer not), and from outside with SIGKILL while clients create links concurrently. After
the restart every key is retried as a client would: an acknowledged key must return its
one link, a key whose request was in flight must end with exactly one link, none stuck.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.link import PaymentLink
from paylink_es.settings import Settings
from tests.support.app import free_port
from tests.support.serve import outside_env, start_serve, wait_healthy

CLIENTS = 8
LEASE_S = "2"  # the restarted server retakes a dead claim after this long


@dataclass
class Server:
    settings: Settings
    tmp_path: Path
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, **extra: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = outside_env(
            PAYLINK_DATA_DIR=str(self.settings.data_dir),
            PAYLINK_IDEMPOTENCY_LEASE_S=LEASE_S,
            PAYLINK_RATE_LIMIT_PER_S="0",  # the load is one key's: no 429 in the way
        )
        if self.settings.database_url:
            env |= {
                "PAYLINK_DATABASE_URL": self.settings.database_url,
                "PAYLINK_DATABASE_SCHEMA": self.settings.database_schema or "",
            }
        env |= {f"PAYLINK_{k.upper()}": v for k, v in extra.items()}
        self.starts += 1
        log = self.tmp_path / f"server-{self.starts}.log"
        self.process = start_serve(self.tmp_path, env, log, "--port", str(port))
        wait_healthy(self.process, self.url, log)

    def killed(self) -> int:
        """Wait for the process to be gone; its return code."""
        assert self.process is not None
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def server(backend_settings: Settings, tmp_path: Path) -> Iterator[Server]:
    running = Server(backend_settings, tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def auth(server: Server) -> dict[str, str]:
    """The headers of a merchant's test key, issued in the store before the server starts."""
    with open_paylink(server.settings) as app:
        merchant = app.merchants.register("Toko Kopi")
        secret = app.merchants.issue_key(merchant, "test").secret
    return {"Authorization": f"Bearer {secret}"}


def links_by_description(settings: Settings) -> Counter[str]:
    """Every link in the store (not a read model), counted by its description."""
    with open_paylink(settings) as app:
        firsts = [
            UUID(str(n.originator_id))
            for n in app.app.recorder.select_notifications(1, 1_000_000)
            if n.originator_version == 1 and n.topic.endswith("PaymentLink.Created")
        ]
        links: list[object] = [app.app.repository.get(i) for i in firsts]
    return Counter(link.description for link in links if isinstance(link, PaymentLink))


def create(client: httpx.Client, auth: dict[str, str], key: str) -> httpx.Response:
    body = {"amount": 125_000, "description": key}
    return client.post("/v1/links", json=body, headers={**auth, "Idempotency-Key": key})


def retry_until_answered(client: httpx.Client, auth: dict[str, str], key: str) -> httpx.Response:
    """A client's retry loop: 409 request-in-progress means wait Retry-After and retry."""
    for _ in range(5):
        response = create(client, auth, key)
        if response.status_code != 409:
            return response
        time.sleep(min(int(response.headers.get("Retry-After", "1")), 5))
    return response


def stored_topics(settings: Settings) -> Counter[str]:
    """Every stored event counted by its topic's class and event name."""
    with open_paylink(settings) as app:
        notifications = app.app.recorder.select_notifications(1, 1_000_000)
    return Counter(n.topic.rpartition(":")[2] for n in notifications)


@pytest.mark.parametrize(
    ("point", "stored"),
    [("idempotency.answer", True), ("idempotency.claim", False)],
    ids=["after-the-write", "before-the-write"],
)
def test_a_request_killed_around_its_one_write_answers_its_one_link_after_a_restart(
    server: Server, auth: dict[str, str], point: str, stored: bool
) -> None:
    server.start(crash_at=point)
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        pytest.raises(httpx.TransportError),
    ):
        create(client, auth, "order-1")
    assert server.killed() == -signal.SIGKILL
    # The link and the key's record with its answer (one event) are one write: both or
    # neither.
    topics = stored_topics(server.settings)
    written = {
        "PaymentLink.Created": topics["PaymentLink.Created"],
        "IdempotentRequest.Started": topics["IdempotentRequest.Started"],
    }
    assert set(written.values()) == {1 if stored else 0}, written

    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        first = create(client, auth, "order-1")
        again = create(client, auth, "order-1")
    assert first.status_code == 201, first.text
    # Stored before the kill: its kept answer; else it runs now, for the first time.
    assert ("Idempotent-Replayed" in first.headers) is stored
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    server.stop()
    assert links_by_description(server.settings) == Counter({"order-1": 1})
    assert stored_topics(server.settings)["IdempotentRequest.Retaken"] == 0


@dataclass
class Tally:
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> link id
    in_flight: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # key -> body (must stay empty)
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_until_killed(server: Server, auth: dict[str, str], stop: threading.Event) -> Tally:
    """CLIENTS threads create links with unique keys until the server dies."""
    tally = Tally()

    def client_loop(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            i = 0
            while not stop.is_set():
                key = f"load-{n}-{i}"
                i += 1
                try:
                    response = create(client, auth, key)
                except httpx.TransportError:
                    with tally.lock:
                        tally.in_flight.add(key)
                    return
                with tally.lock:
                    if response.status_code == 201:
                        tally.acknowledged[key] = response.json()["id"]
                    else:
                        tally.refused[key] = response.text

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return tally


@pytest.mark.parametrize("how", ["sigkill-from-outside", "crash-point"])
def test_kill_9_under_concurrent_creates_loses_duplicates_and_sticks_no_key(
    server: Server, auth: dict[str, str], how: str
) -> None:
    stop = threading.Event()
    if how == "crash-point":
        server.start(crash_at=f"idempotency.answer:{random.randint(30, 90)}")
    else:
        server.start()
        process = server.process
        assert process is not None

        def kill_later() -> None:
            time.sleep(random.uniform(1.0, 2.5))
            process.send_signal(signal.SIGKILL)

        threading.Thread(target=kill_later, daemon=True).start()
    tally = load_until_killed(server, auth, stop)
    assert server.killed() == -signal.SIGKILL
    assert tally.refused == {}
    assert tally.acknowledged, "the server died before any request was answered"

    server.start()
    answers: dict[str, httpx.Response] = {}
    keys = [*tally.acknowledged, *sorted(tally.in_flight)]

    def retry(chunk: list[str]) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for key in chunk:
                answers[key] = retry_until_answered(client, auth, key)

    chunks = [keys[n::CLIENTS] for n in range(CLIENTS)]
    threads = [threading.Thread(target=retry, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    server.stop()

    stored = links_by_description(server.settings)
    lost = [
        k
        for k, link_id in tally.acknowledged.items()
        if answers[k].status_code != 201 or answers[k].json()["id"] != link_id or not stored[k]
    ]
    stuck = [k for k in keys if answers[k].status_code == 409]
    unresolved = [k for k in tally.in_flight if answers[k].status_code != 201 or stored[k] != 1]
    duplicated = [k for k, count in stored.items() if count > 1]
    print(  # the figures for the record (pytest -s shows them)
        f"\n[{how}, {server.settings.backend}] acknowledged={len(tally.acknowledged)} "
        f"in_flight={len(tally.in_flight)} lost={len(lost)} duplicated={len(duplicated)} "
        f"stuck={len(stuck)} unresolved={len(unresolved)}"
    )
    assert (lost, duplicated, stuck, unresolved) == ([], [], [], [])
    assert set(stored) == set(keys), "a link exists for a key no client sent"


def test_one_key_raced_across_two_processes_makes_one_link_and_one_answer(
    backend_settings: Settings, tmp_path: Path
) -> None:
    servers = [Server(backend_settings, tmp_path / name) for name in ("a", "b")]
    with open_paylink(backend_settings) as app:
        merchant = app.merchants.register("Toko Kopi")
        secret = app.merchants.issue_key(merchant, "test").secret
    auth = {"Authorization": f"Bearer {secret}"}
    rounds, racers = 4, 8
    answers: dict[int, list[httpx.Response]] = {n: [] for n in range(rounds)}
    errors: list[BaseException] = []
    try:
        for server in servers:
            server.tmp_path.mkdir()
            server.start()
        barrier = threading.Barrier(racers)

        def racer(n: int) -> None:
            server = servers[n % len(servers)]
            try:
                with httpx.Client(base_url=server.url, timeout=30) as client:
                    for round_ in range(rounds):
                        # A key just seen: the process answers on its direct path.
                        assert client.get("/v1/links", headers=auth).status_code == 200
                        barrier.wait(timeout=30)
                        answers[round_].append(create(client, auth, f"race-{round_}"))
            except BaseException as error:  # reported below, not lost in a thread
                errors.append(error)

        threads = [threading.Thread(target=racer, args=(n,)) for n in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for server in servers:
            server.stop()
    assert not errors, errors
    for round_, responses in answers.items():
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        assert len({r.content for r in responses}) == 1, f"round {round_}: different answers"
        executed = [r for r in responses if "Idempotent-Replayed" not in r.headers]
        assert len(executed) == 1, f"round {round_}: {len(executed)} requests executed"
    assert links_by_description(backend_settings) == Counter(
        {f"race-{n}": 1 for n in range(rounds)}
    )
    topics = stored_topics(backend_settings)
    assert topics["IdempotentRequest.Started"] == rounds
