"""The direct path of ``POST /v1/links`` (api.direct) answers as the route does, or declines.

The handler is called as RequestContext calls it; the route is reached over HTTP with a
key the direct path has not seen lately (which it always leaves to the route). Everything
the direct path declines goes through FastAPI unchanged, and nothing is stored first.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import RateLimiter
from api.direct import create_link_handler, json_content
from api.middleware import Answer
from paylink_es import bootstrap
from paylink_es.domain.clock import FakeClock
from paylink_es.entrypoints.bench import validation
from paylink_es.settings import Settings
from tests.support.app import Api, Merchant


def direct(api: Api, merchant: Merchant | None, body: object, **headers: bytes) -> Answer | None:
    handler = create_link_handler(api.app.state)
    sent = {b"content-type": b"application/json", **{k.encode(): v for k, v in headers.items()}}
    if merchant is not None:
        sent[b"authorization"] = f"Bearer {merchant.test_key.secret}".encode()
    raw = body if isinstance(body, bytes) else orjson.dumps(body)

    async def call() -> Answer | None:
        return await handler({k.lower(): v for k, v in sent.items()}, raw, "req-direct-1")

    # A loop of its own in a thread of its own: the test's thread may have one running.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, call()).result(timeout=60)


def known(api: Api) -> Merchant:
    """A merchant whose key was just used (the direct path only knows recent keys)."""
    merchant = api.merchant()
    assert api.client.get("/v1/links", headers=merchant.headers()).status_code == 200
    return merchant


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A response without what differs between two creations (ids, codes, times)."""
    varying = {"id", "code", "url", "qr_url", "created_at", "request_id"}
    return {k: v for k, v in document.items() if k not in varying}


def both_paths(
    api: Api, merchant: Merchant, body: dict[str, Any], key: str
) -> tuple[int, bytes, dict[str, Any], int, dict[str, Any]]:
    """The direct answer (status, content type, document) and the route's (status, document),
    both under the Idempotency-Key ``key``.

    The route is reached with another merchant's key, one not seen lately, which the
    direct path always declines.
    """
    answer = direct(api, merchant, body, **{"Idempotency-Key": key.encode()})
    unseen = api.merchant()
    routed = api.client.post(
        "/v1/links", json=body, headers=unseen.headers(**{"Idempotency-Key": key})
    )
    assert answer is not None
    status, content_type, content = answer
    return status, content_type, orjson.loads(content), routed.status_code, routed.json()


def test_a_valid_create_is_answered_directly_as_the_route_answers_it(api: Api) -> None:
    merchant = known(api)
    body = {"amount": 150_000, "description": "Kaos polos", "methods": ["qris", "va_bca"]}

    status, content_type, created, routed_status, routed = both_paths(api, merchant, body, "k-1")

    assert status == routed_status == 201
    assert content_type == b"application/json"
    assert comparable(created) == comparable(routed)
    assert api.paylink.links.get(UUID(created["id"])).amount == 150_000  # stored


def test_a_refused_create_gets_the_routes_problem_document(api: Api) -> None:
    merchant = known(api)
    body = {"amount": 150_000, "description": "Kaos", "expires_at": "2020-01-01T00:00:00Z"}
    links_before = api.count("PaymentLink.Created")

    status, content_type, problem, routed_status, routed = both_paths(api, merchant, body, "k-2")

    assert status == routed_status == 422
    assert content_type == b"application/problem+json"
    assert comparable(problem) == comparable(routed)
    assert api.count("PaymentLink.Created") == links_before


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"amount": 1_000, "description": "a"}, {"Idempotency-Key": b"k" * 256}),
        ({"amount": 1_000, "description": "a"}, {"Idempotency-Key": b""}),
        ({"amount": 1_000, "description": "a"}, {"Content-Type": b"text/plain"}),
        (b'{"amount": 1000, "description": ', {}),
        ({"amount": "lots", "description": "a"}, {}),
        ({"amount": 1_000}, {}),
        (b"\xff\xfe", {}),
    ],
    ids=[
        "long-idempotency-key",
        "empty-idempotency-key",
        "not-json",
        "malformed",
        "invalid-field",
        "missing-field",
        "not-utf8",
    ],
)
def test_what_the_route_must_judge_is_declined_and_nothing_is_stored(
    api: Api, body: object, headers: dict[str, bytes]
) -> None:
    merchant = known(api)
    before = api.head()

    assert direct(api, merchant, body, **headers) is None
    assert api.head() == before


def test_a_key_used_before_stores_nothing_and_is_left_to_the_route_which_replays_it(
    api: Api,
) -> None:
    merchant = known(api)
    body = {"amount": 150_000, "description": "Kaos polos"}
    first = direct(api, merchant, body, **{"Idempotency-Key": b"order-7"})
    assert first is not None
    assert first[0] == 201
    before = api.head()

    assert direct(api, merchant, body, **{"Idempotency-Key": b"order-7"}) is None
    assert (
        direct(api, merchant, {**body, "amount": 1_000}, **{"Idempotency-Key": b"order-7"}) is None
    )
    assert api.head() == before
    replayed = api.client.post(
        "/v1/links", json=body, headers=merchant.headers(**{"Idempotency-Key": "order-7"})
    )
    assert (replayed.status_code, replayed.content) == (201, first[2])
    assert replayed.headers["idempotent-replayed"] == "true"
    reused = api.client.post(
        "/v1/links",
        json={**body, "amount": 1_000},
        headers=merchant.headers(**{"Idempotency-Key": "order-7"}),
    )
    assert reused.status_code == 409
    assert api.count("PaymentLink.Created") == 1


def test_a_key_not_seen_lately_or_no_key_is_left_to_the_route(api: Api) -> None:
    body = {"amount": 1_000, "description": "a"}
    assert direct(api, api.merchant(), body) is None  # never authenticated here yet
    assert direct(api, None, body) is None


def test_a_key_over_its_rate_is_left_to_the_route_which_says_429(api: Api) -> None:
    merchant = known(api)
    api.app.state.rate_limiter = RateLimiter(rate=0.001, burst=1)
    body = {"amount": 1_000, "description": "a"}

    assert direct(api, merchant, body) is not None  # the one token of the burst
    assert direct(api, merchant, body) is None
    response = api.client.post("/v1/links", json=body, headers=merchant.headers())
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"application/merge-patch+json", True),
        (b"text/plain", False),
        (b"application/x-www-form-urlencoded", False),
        (None, False),
    ],
)
def test_json_content_reads_content_type_as_fastapi_does(
    value: bytes | None, expected: bool
) -> None:
    assert json_content(value) is expected


def test_the_benchs_baselines_answer_alike_on_both_paths(tmp_path: Path, clock: FakeClock) -> None:
    # Built as the bench's server builds each worker's app: the product's, plus the baselines.
    settings = Settings(data_dir=tmp_path / "sqlite-var")
    with bootstrap.build(settings, clock=clock) as services:
        app = create_app(services, extra_direct=validation.DIRECT, extra_routers=validation.ROUTERS)
        with TestClient(app) as client:
            api = Api(app=app, client=client, paylink=services.paylink, clock=clock)
            merchant = known(api)
            body = {"amount": 150_000, "description": "Kaos"}
            direct_answer = client.post(validation.VALIDATE, json=body, headers=merchant.headers())
            routed = client.post(validation.VALIDATE_ROUTED, json=body, headers=merchant.headers())
    assert direct_answer.status_code == routed.status_code == 201
    assert direct_answer.content == routed.content
    assert direct_answer.json() == {"object": "payment_link", "amount": 150_000, "currency": "IDR"}


def test_the_products_app_serves_no_bench_route(sqlite_api: Api) -> None:
    merchant = known(sqlite_api)
    body = {"amount": 150_000, "description": "Kaos"}
    for path in (validation.VALIDATE, validation.VALIDATE_ROUTED):
        response = sqlite_api.client.post(path, json=body, headers=merchant.headers())
        assert response.status_code == 404, path
