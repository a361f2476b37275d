"""The per-key rate limit across nodes: two apps on one PostgreSQL store and one Redis.

Each app is a node of its own (its own services, limiter and connections), as two
``paylink serve`` processes would be. With ``PAYLINK_REDIS_URL`` they grant a key its
limit once between them, on the direct path (``POST /v1/links``) and the routed one
alike; when Redis stops answering (a TCP proxy in front of it is cut) every node goes on
answering, judging each key by its own bucket, and says so in ``GET /readyz``.

Every test has a Redis key prefix of its own (``redis_prefix``): parallel runs share Redis.
The limits are a window of 40 s (``rate 0.5/s``, ``burst 20``): the requests of a test
fall in one window however slow the machine is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.auth import RateLimiter
from api.rate_limit import RETRY_REDIS_S, SharedRateLimiter, limiter_state, rate_limiter
from paylink_es.settings import Settings
from tests.integration.api.support import HttpResponse, assert_problem
from tests.support.app import Api, MakeApi, Merchant, free_port
from tests.support.tcp_proxy import TcpProxy

BURST = 20
WINDOW_S = 400  # a token back every 20 s: none comes back while a test runs, however slow
LINK = {"amount": 150000, "description": "Kaos polos hitam"}
LIMITS: dict[str, Any] = {"rate_limit_per_s": BURST / WINDOW_S, "rate_limit_burst": BURST}

ON_POSTGRES = pytest.mark.parametrize(
    "backend_settings", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def nodes(make_api: MakeApi, redis_url: str, prefix: str, count: int = 2) -> list[Api]:
    """``count`` apps on the test's store sharing the limits in Redis under ``prefix``."""
    return [
        make_api(
            run_projections=False,
            read_wait_s=0,
            redis_url=redis_url,
            redis_key_prefix=prefix,
            **LIMITS,
        )
        for _ in range(count)
    ]


def create(node: Api, merchant: Merchant, mode: str = "test") -> HttpResponse:
    """``POST /v1/links`` as the merchant (a known key: the direct path answers it)."""
    return node.client.post("/v1/links", json=LINK, headers=merchant.headers(mode))


def listing(node: Api, merchant: Merchant, mode: str = "test") -> HttpResponse:
    """``GET /v1/links`` as the merchant (the routed path)."""
    return node.client.get("/v1/links", headers=merchant.headers(mode))


def readiness(client: TestClient) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()["rate_limit"]
    return state


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    """A loopback proxy in front of the test Redis, to cut."""
    parts = urlsplit(redis_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as cut:
        yield cut


def through(proxy: TcpProxy, redis_url: str) -> str:
    """``redis_url`` reached through ``proxy``."""
    parts = urlsplit(redis_url)
    netloc = parts.netloc.rpartition("@")
    host = f"127.0.0.1:{proxy.port}"
    return parts._replace(netloc=f"{netloc[0]}@{host}" if netloc[1] else host).geturl()


@ON_POSTGRES
def test_two_nodes_grant_a_key_its_limit_once_between_them(
    make_api: MakeApi, redis_url: str, redis_prefix: str
) -> None:
    first, second = nodes(make_api, redis_url, redis_prefix)
    merchant = first.merchant("Toko Ramai")

    answers: dict[int, list[int]] = {0: [], 1: []}
    for n in range(2 * BURST):
        node = (first, second)[n % 2]
        # Both paths on both nodes: creates (the direct path) and lists (the route).
        response = create(node, merchant) if n % 4 < 2 else listing(node, merchant)
        answers[n % 2].append(response.status_code)
        if response.status_code == 429:
            assert_problem(response, 429, "rate-limited")

    accepted = [sum(1 for s in answers[i] if s != 429) for i in (0, 1)]
    assert sum(accepted) == BURST, answers  # each node alone would have granted BURST
    assert min(accepted) >= BURST // 2 - 1, answers  # both nodes took part
    assert {s for i in (0, 1) for s in answers[i]} <= {200, 201, 429}
    creates = sum(1 for n in range(BURST) if n % 4 < 2)
    assert first.count("PaymentLink.Created") == creates  # every refused create stored nothing
    for node in (first, second):
        assert readiness(node.client) == {
            "store": "redis",
            "redis_reachable": True,
            "local_decisions": 0,
        }


@ON_POSTGRES
def test_a_spent_key_gets_429_with_retry_after_on_every_node_and_other_keys_do_not(
    make_api: MakeApi, redis_url: str, redis_prefix: str
) -> None:
    first, second = nodes(make_api, redis_url, redis_prefix)
    busy = first.merchant("Toko Sibuk")
    calm = first.merchant("Toko Tenang")
    for n in range(BURST):
        assert listing((first, second)[n % 2], busy).status_code == 200

    for node in (first, second):
        for response in (create(node, busy), listing(node, busy)):
            problem = assert_problem(response, 429, "rate-limited")
            assert "slow down" in problem["detail"]
            retry_after = int(response.headers["retry-after"])
            assert 1 <= retry_after <= WINDOW_S
        assert create(node, calm).status_code == 201
        assert listing(node, busy, "live").status_code == 200  # the same merchant's other key
    assert first.count("PaymentLink.Created") == 2


@ON_POSTGRES
@pytest.mark.parametrize("cut", ["down", "blackhole"])
def test_nodes_keep_answering_by_their_own_limit_while_redis_is_cut_and_share_it_again(
    make_api: MakeApi, redis_url: str, redis_prefix: str, proxy: TcpProxy, cut: str
) -> None:
    first, second = nodes(make_api, through(proxy, redis_url), redis_prefix)
    merchant = first.merchant("Toko Tahan")
    for n in range(BURST):
        assert listing((first, second)[n % 2], merchant).status_code == 200
    assert listing(first, merchant).status_code == 429

    proxy.down() if cut == "down" else proxy.blackhole()
    # Each node judges the key by its own bucket: a full burst each, then 429, never a 5xx.
    for node in (first, second):
        statuses = [create(node, merchant).status_code for _ in range(BURST + 2)]
        assert statuses == [201] * BURST + [429] * 2, statuses
        state = readiness(node.client)
        assert state["store"] == "redis"
        assert state["redis_reachable"] is False
        assert state["local_decisions"] >= BURST + 2
    assert first.count("PaymentLink.Created") == 2 * BURST

    proxy.up()
    # Once Redis is asked again, the shared window (still full) decides for both nodes.
    deadline = time.monotonic() + RETRY_REDIS_S + 30
    for node in (first, second):
        while True:
            status = listing(node, merchant).status_code
            if readiness(node.client)["redis_reachable"]:
                break
            assert time.monotonic() < deadline, "the node did not ask Redis again"
            time.sleep(0.2)
        assert status == 429


def test_without_redis_each_node_keeps_its_own_bucket() -> None:
    limiter = rate_limiter(Settings(**LIMITS))
    assert isinstance(limiter, RateLimiter)
    assert [limiter.wait_needed("key") == 0 for _ in range(BURST + 1)] == [True] * BURST + [False]


def test_a_redis_nobody_answers_at_leaves_the_node_bucket_to_decide(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = rate_limiter(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", **LIMITS))
    assert isinstance(limiter, SharedRateLimiter)  # made without connecting to anything
    assert limiter_state(limiter).redis_reachable
    waits = [limiter.wait_needed("key") for _ in range(BURST + 1)]
    assert waits[:BURST] == [0.0] * BURST
    assert waits[BURST] > 0
    assert limiter_state(limiter).model_dump() == {
        "store": "redis",
        "redis_reachable": False,
        "local_decisions": BURST + 1,
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings  # once per outage, not once per request
    assert "Redis does not answer" in warnings[0]
    limiter.close()
