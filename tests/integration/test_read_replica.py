"""Queries on a read replica: a real primary and its streaming standby (``pg_pair``), a
real server (uvicorn) given ``PAYLINK_DATABASE_READ_URL``.

The standby's replay is paused and resumed (``pg_wal_replay_pause()``) to hold it behind
the primary for as long as a test needs: no timing decides what a test sees.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.entrypoints.cluster import cluster_status
from paylink_es.settings import Settings
from tests.support import pg_pair as pg_pair_module
from tests.support.app import MakeServer, Merchant, Server, server_builder
from tests.support.pg_pair import PgPair, pg_pair

pytestmark = pytest.mark.postgres

WAIT_S = 30.0  # a bound for what takes a moment, never asserted as a speed


@pytest.fixture
def pair() -> Iterator[PgPair]:
    with pg_pair() as made:
        yield made


@pytest.fixture
def make_server(pair: PgPair, tmp_path: Path, clock: FakeClock) -> Iterator[MakeServer]:
    base = Settings(
        database_url=pair.primary.url(),
        database_read_url=pair.standby.url(),
        database_schema="paylink",
        data_dir=tmp_path / "var",
        postgres_pool_size=2,
        rate_limit_per_s=0,
        replica_wait_s=0.3,
        allow_private_webhooks=True,
    )
    with server_builder(base, clock) as build:
        yield build


def replay(pair: PgPair, *, paused: bool) -> None:
    """Pause or resume the standby's replay of the primary's WAL."""
    with psycopg.connect(pair.standby.url(), autocommit=True) as conn:
        if not paused:
            conn.execute("SELECT pg_wal_replay_resume()")
            return
        conn.execute("SELECT pg_wal_replay_pause()")

        def in_effect() -> bool:  # a pause is requested first, and holds from a moment later
            row = conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
            return row == ("paused",)

        until(in_effect, "the standby's replay to pause")


def create(server: Server, merchant: Merchant, description: str) -> tuple[str, int]:
    made = httpx.post(
        f"{server.url}/v1/links",
        json={"amount": 50_000, "currency": "IDR", "description": description},
        headers=merchant.headers(),
        timeout=WAIT_S,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"]), int(made.headers["Paylink-Position"])


def listed(server: Server, merchant: Merchant, position: int) -> tuple[list[str], httpx.Response]:
    got = httpx.get(
        f"{server.url}/v1/links",
        params={"limit": 100},
        headers=merchant.headers(**{"Paylink-Min-Position": str(position)}),
        timeout=WAIT_S,
    )
    assert got.status_code == 200, got.text
    return [link["id"] for link in got.json()["data"]], got


def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_queries_read_the_replica_and_a_callers_own_write_falls_back_to_the_primary(
    pair: PgPair, make_server: MakeServer
) -> None:
    server = make_server()
    merchant = server.merchant()
    first, at = create(server, merchant, "Kaos")
    ids, answer = listed(server, merchant, at)  # the replica, once it replayed the write
    assert ids == [first]
    assert "Paylink-Stale" not in answer.headers

    replay(pair, paused=True)
    second, later = create(server, merchant, "Topi")
    ids, _ = listed(server, merchant, 0)  # no position to wait for: the replica, behind
    assert ids == [first]
    ids, answer = listed(server, merchant, later)  # the replica stays behind: the primary
    assert "Paylink-Stale" not in answer.headers
    assert sorted(ids) == sorted([second, first])

    replay(pair, paused=False)
    until(lambda: len(listed(server, merchant, 0)[0]) == 2, "the replica to replay")


def test_readyz_shows_how_far_the_replica_is_behind(pair: PgPair, make_server: MakeServer) -> None:
    server = make_server()
    merchant = server.merchant()
    _, at = create(server, merchant, "Kaos")
    listed(server, merchant, at)
    replay(pair, paused=True)
    _, later = create(server, merchant, "Topi")
    server.catch_up()

    behind = httpx.get(f"{server.url}/readyz", timeout=WAIT_S).json()
    replica = behind["replica"]
    assert replica["available"] is True
    assert replica["standby"] is True
    assert replica["lag_bytes"] > 0
    assert replica["lag_seconds"] > 0
    assert behind["projections"]["links"] >= later
    assert replica["projections"]["links"] < later
    assert replica["positions_behind"]["links"] == (
        behind["projections"]["links"] - replica["projections"]["links"]
    )

    replay(pair, paused=False)

    def caught_up() -> bool:
        now = httpx.get(f"{server.url}/readyz", timeout=WAIT_S).json()["replica"]
        return bool(now["lag_bytes"] == 0 and set(now["positions_behind"].values()) == {0})

    until(caught_up, "the replica to catch up")
    assert httpx.get(f"{server.url}/readyz", timeout=WAIT_S).json()["replica"]["lag_seconds"] == 0


def test_a_replica_that_is_down_is_passed_over_for_the_primary(
    pair: PgPair, make_server: MakeServer
) -> None:
    server = make_server()
    merchant = server.merchant()
    first, at = create(server, merchant, "Kaos")
    listed(server, merchant, at)
    # No write after this: the primary's commits wait for their synchronous standby.
    pair.stop_standby()

    # The query that finds the replica gone is answered 503 (retry); then the primary's.
    found_out = httpx.get(f"{server.url}/v1/links", headers=merchant.headers(), timeout=WAIT_S)
    assert found_out.status_code in (200, 503), found_out.text
    if found_out.status_code == 503:
        assert found_out.headers["Retry-After"]
    ids, answer = listed(server, merchant, at)
    assert ids == [first]
    assert "Paylink-Stale" not in answer.headers
    ready = httpx.get(f"{server.url}/readyz", timeout=WAIT_S)
    assert ready.status_code == 200  # the node serves: the primary answers
    assert ready.json()["replica"] == {
        "available": False,
        "standby": None,
        "lag_bytes": None,
        "lag_seconds": None,
        "projections": {},
        "positions_behind": {},
    }
    # A query that waits for nothing as well.
    unwaited, answer = listed(server, merchant, 0)
    assert unwaited == [first]
    assert "Paylink-Stale" not in answer.headers


def test_without_postgresqls_tools_the_pair_skips_loudly_or_fails_where_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg_pair_module, "postgres_bin", lambda: None)
    monkeypatch.delenv(pg_pair_module.REQUIRE_VAR, raising=False)
    with pytest.raises(pytest.skip.Exception, match="POSTGRESQL NOT AVAILABLE: no initdb"):
        pg_pair().__enter__()
    monkeypatch.setenv(pg_pair_module.REQUIRE_VAR, "1")
    with pytest.raises(pytest.fail.Exception, match="PAYLINK_REQUIRE_POSTGRES=1 requires it"):
        pg_pair().__enter__()


def test_cluster_status_shows_how_far_the_replica_is_behind(
    pair: PgPair, make_server: MakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_server()
    merchant = server.merchant()
    _, at = create(server, merchant, "Kaos")
    listed(server, merchant, at)
    replay(pair, paused=True)
    create(server, merchant, "Topi")
    server.catch_up()
    settings: Settings = server.app.state.settings

    assert cluster_status(settings, as_json=True) == 0
    replica = json.loads(capsys.readouterr().out)["replica"]
    assert (replica["available"], replica["standby"]) == (True, True)
    assert replica["lag_bytes"] > 0
    assert replica["positions_behind"]["links"] > 0
    assert cluster_status(settings, as_json=False) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(
        r"replica: standby, [1-9]\d* bytes and \d+\.\d{3} s of WAL behind;"
        r" read models up to [1-9]\d* positions behind",
        line,
    ), line
    replay(pair, paused=False)


def test_a_resend_finds_a_delivery_the_replica_has_not_replayed(
    pair: PgPair, make_server: MakeServer
) -> None:
    server = make_server()
    merchant = server.merchant()
    endpoint = httpx.post(
        f"{server.url}/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks", "event_types": ["link.created"]},
        headers=merchant.headers(),
        timeout=WAIT_S,
    )
    assert endpoint.status_code == 201, endpoint.text
    replay(pair, paused=True)
    _, at = create(server, merchant, "Kaos")
    deliveries = httpx.get(  # the replica is behind: the primary answers
        f"{server.url}/v1/webhook-deliveries",
        headers=merchant.headers(**{"Paylink-Min-Position": str(at)}),
        timeout=WAIT_S,
    )
    assert deliveries.status_code == 200, deliveries.text
    (delivery,) = deliveries.json()["data"]

    resent = httpx.post(
        f"{server.url}/v1/webhook-deliveries/{delivery['id']}/resend",
        headers=merchant.headers(),
        timeout=WAIT_S,
    )

    assert resent.status_code == 202, resent.text  # decided on the primary's outbox
    assert resent.json()["status"] == "pending"
    replay(pair, paused=False)
