"""PostgreSQL goes away under a running ``paylink serve``, then comes back.

The server reaches PostgreSQL through a loopback proxy the test cuts (the shared server
itself is never stopped). While the database is away, requests must be answered — 503
``/problems/database-unavailable`` with ``Retry-After`` — long before the client's own
timeout; ``/healthz`` stays 200 and ``/readyz`` says 503. When it is back, the same
server, never restarted, answers again, and a link created then reaches the list
endpoint: the in-process projections resumed by themselves.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.support.app import free_port
from tests.support.serve import outside_env, start_serve
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

CLIENT_TIMEOUT_S = 10.0  # a request that takes this long has hung: the test fails on it
RECOVERY_S = 60.0  # how long the server may take to notice the database is back
LINK = {"amount": 25_000, "currency": "IDR", "description": "Kopi susu"}


@dataclass
class Served:
    """A ``paylink serve`` process whose database is behind ``proxy``."""

    url: str
    key: str
    proxy: TcpProxy
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=CLIENT_TIMEOUT_S,
        )


@pytest.fixture
def served(pg_url: str, tmp_path: Path) -> Iterator[Served]:
    target = urlsplit(pg_url)
    schema = "t_outage_" + uuid.uuid4().hex[:10]
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        netloc = target.netloc.rsplit("@", 1)
        userinfo = f"{netloc[0]}@" if len(netloc) == 2 else ""
        url = urlunsplit(target._replace(netloc=f"{userinfo}127.0.0.1:{proxy.port}"))
        env = outside_env(
            PAYLINK_DATABASE_URL=url,
            PAYLINK_DATABASE_SCHEMA=schema,
            PAYLINK_DATA_DIR=str(tmp_path / "var"),
            PAYLINK_RATE_LIMIT_PER_S="0",
            PAYLINK_SETTLE_EVERY_S="0",
            # What an operator would set for a quick failover; the defaults are larger.
            PAYLINK_POSTGRES_CONNECT_TIMEOUT_S="2",
            PAYLINK_POSTGRES_STATEMENT_TIMEOUT_S="2",
            PAYLINK_POSTGRES_POOL_TIMEOUT_S="2",
        )
        cli = [sys.executable, "-m", "paylink_es"]
        demo = subprocess.run(  # noqa: S603 - our own interpreter and module
            [*cli, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        )
        found = re.search(r"sk_test_\w+", demo.stdout)
        assert found is not None, demo.stdout
        port = free_port()
        log = tmp_path / "server.log"
        process = start_serve(tmp_path, env, log, "--port", str(port))
        try:
            served = Served(f"http://127.0.0.1:{port}", found.group(0), proxy, log)
            _until(lambda: _status(served, "/readyz") == 200, process, log, "the server to start")
            yield served
        finally:
            proxy.up()
            process.terminate()
            process.wait(timeout=20)
            with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as admin:
                admin.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )


def _status(served: Served, path: str) -> int | None:
    try:
        return httpx.get(f"{served.url}{path}", timeout=CLIENT_TIMEOUT_S).status_code
    except httpx.TransportError:
        return None


def _until(
    condition: Callable[[], bool],
    process: subprocess.Popen[bytes] | None,
    log: Path,
    what: str,
    within: float = RECOVERY_S,
) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the server died waiting for {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def assert_unavailable(response: httpx.Response) -> None:
    """503 problem+json, database-unavailable, with a Retry-After in whole seconds."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "/problems/database-unavailable"
    assert body["status"] == 503
    assert "database" in body["detail"]
    assert int(response.headers["retry-after"]) >= 1


def create(client: httpx.Client, key: str, description: str) -> httpx.Response:
    return client.post(
        "/v1/links", json={**LINK, "description": description}, headers={"Idempotency-Key": key}
    )


def listed(client: httpx.Client, link_id: str) -> bool:
    response = client.get("/v1/links", params={"limit": 100})
    return response.status_code == 200 and any(
        link["id"] == link_id for link in response.json()["data"]
    )


def outage_then_recovery(served: Served, cut: Callable[[], None]) -> None:
    with served.client() as client:
        before = create(client, "before-outage", "Sebelum")
        assert before.status_code == 201, before.text
        assert client.get("/v1/links").status_code == 200

        cut()
        # Every request is answered (an httpx timeout here fails the test): the first ones
        # find the database gone, the later ones are refused at once.
        for attempt in range(3):
            assert_unavailable(client.get("/v1/links"))
            assert_unavailable(create(client, "during-outage", "Selama"))
            assert_unavailable(client.get(f"/v1/links/{before.json()['id']}"))
            ready = httpx.get(f"{served.url}/readyz", timeout=CLIENT_TIMEOUT_S)
            assert_unavailable(ready)
            health = httpx.get(f"{served.url}/healthz", timeout=CLIENT_TIMEOUT_S)
            assert health.status_code == 200, f"liveness failed during the outage ({attempt})"

        served.proxy.up()
        _until(lambda: _status(served, "/readyz") == 200, None, served.log, "/readyz again")
        after = create(client, "after-outage", "Sesudah")
        assert after.status_code == 201, after.text
        # The key refused during the outage claimed nothing: it works now.
        retried = create(client, "during-outage", "Selama")
        assert retried.status_code == 201, retried.text
        for link_id in (after.json()["id"], retried.json()["id"]):
            _until(
                partial(listed, client, link_id),
                None,
                served.log,
                "the link created after the outage in the list (projections resumed)",
            )
        _until(partial(caught_up, served), None, served.log, "every read model at the head")


def caught_up(served: Served) -> bool:
    ready = httpx.get(f"{served.url}/readyz", timeout=CLIENT_TIMEOUT_S).json()
    return set(ready["projections"].values()) == {ready["events"]}


def test_requests_answer_503_while_the_database_refuses_and_succeed_when_it_is_back(
    served: Served,
) -> None:
    outage_then_recovery(served, served.proxy.down)


def test_a_database_that_swallows_every_byte_times_out_instead_of_hanging(
    served: Served,
) -> None:
    # Open connections freeze mid-conversation, new ones are accepted and never answered:
    # only the client's own limits (connect timeout, the reply deadline) end the wait.
    outage_then_recovery(served, served.proxy.blackhole)
    assert served.proxy.accepted > 0
