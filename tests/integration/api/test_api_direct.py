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
    status, content_type, content = answer[:3]
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


def test_a_key_used_before_replays_its_answer_and_a_different_request_is_left_to_the_route(
    api: Api,
) -> None:
    merchant = known(api)
    body = {"amount": 150_000, "description": "Kaos polos"}
    first = direct(api, merchant, body, **{"Idempotency-Key": b"order-7"})
    assert first is not None
    assert first[0] == 201
    before = api.head()

    again = direct(api, merchant, body, **{"Idempotency-Key": b"order-7"})
    assert again == (201, b"application/json", first[2], ((b"idempotent-replayed", b"true"),))
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


def test_a_refusal_kept_for_a_key_is_replayed_as_the_same_problem(api: Api) -> None:
    merchant = known(api)
    body = {"amount": 150_000, "description": "Kaos", "expires_at": "2000-01-01T00:00:00Z"}
    first = direct(api, merchant, body, **{"Idempotency-Key": b"order-past"})
    assert first is not None
    assert first[:2] == (422, b"application/problem+json")

    again = direct(api, merchant, body, **{"Idempotency-Key": b"order-past"})

    assert again == (*first[:3], ((b"idempotent-replayed", b"true"),))


def test_a_replay_spends_one_rate_token_as_a_first_request_does(api: Api) -> None:
    merchant = known(api)
    api.app.state.rate_limiter = RateLimiter(rate=0.001, burst=2)
    body = {"amount": 1_000, "description": "a"}
    headers = merchant.headers(**{"Idempotency-Key": "order-9"})

    first = api.client.post("/v1/links", json=body, headers=headers)
    replayed = api.client.post("/v1/links", json=body, headers=headers)
    third = api.client.post("/v1/links", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert (replayed.status_code, replayed.content) == (201, first.content)
    assert third.status_code == 429


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


def spy_writes(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The topics (class and event) of every write of the store from now on, write by write."""
    recorder = api.paylink.app.recorder
    writes: list[list[str]] = []
    insert = recorder.insert_events

    def spying(stored_events: Any, **kwargs: Any) -> Any:
        writes.append([event.topic.rpartition(":")[2] for event in stored_events])
        return insert(stored_events, **kwargs)

    monkeypatch.setattr(recorder, "insert_events", spying)
    return writes


def race_direct(
    api: Api, merchant: Merchant, bodies: list[tuple[dict[str, Any], bytes]]
) -> list[Answer | None]:
    """The direct handler called for each (body, Idempotency-Key) at once on one event loop."""
    handler = create_link_handler(api.app.state)
    sent = {
        b"content-type": b"application/json",
        b"authorization": f"Bearer {merchant.test_key.secret}".encode(),
    }

    async def call() -> list[Answer | None]:
        return await asyncio.gather(
            *(
                handler({**sent, b"idempotency-key": key}, orjson.dumps(body), f"req-{n}")
                for n, (body, key) in enumerate(bodies)
            )
        )

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, call()).result(timeout=60)


def test_idempotent_creates_write_each_link_with_its_keys_record_in_one_write(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant = known(api)
    writes = spy_writes(api, monkeypatch)
    bodies = [
        ({"amount": 10_000 + n, "description": f"order {n}"}, b"order-%d" % n) for n in range(6)
    ]

    answers = race_direct(api, merchant, bodies)

    assert [answer and answer[0] for answer in answers] == [201] * 6
    # One write (the loop's batch) holds every link with its key's record and answer.
    with_links = [write for write in writes if "PaymentLink.Created" in write]
    assert len(with_links) == 1
    write = with_links[0]
    assert write.count("PaymentLink.Created") == 6
    assert write.count("IdempotentRequest.Started") == 6
    assert all("IdempotentRequest.Started" not in w for w in writes if w is not write)


def test_one_key_sent_many_times_at_once_on_one_loop_makes_one_link(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant = known(api)
    body = {"amount": 20_000, "description": "one order"}

    answers = race_direct(api, merchant, [(body, b"order-once")] * 5)

    answered = [answer for answer in answers if answer is not None]
    # The one that ran answers; the rest found its record with the answer kept in the
    # same write, stored nothing, and replay that answer.
    assert [answer[:3] for answer in answered] == [answered[0][:3]] * 5
    assert answered[0][0] == 201
    assert sorted(len(answer) for answer in answered) == [3, 4, 4, 4, 4]
    assert api.count("PaymentLink.Created") == 1
    assert api.count("IdempotentRequest.Started") == 1
    replayed = api.client.post(
        "/v1/links", json=body, headers=merchant.headers(**{"Idempotency-Key": "order-once"})
    )
    assert replayed.content == answered[0][2]


def test_a_write_that_fails_stores_neither_the_link_nor_the_keys_record(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant = known(api)
    recorder = api.paylink.app.recorder
    insert = recorder.insert_events

    def failing_with_links(stored_events: Any, **kwargs: Any) -> Any:
        if any(e.topic.endswith("PaymentLink.Created") for e in stored_events):
            raise RuntimeError("the write failed")
        return insert(stored_events, **kwargs)  # any other write goes through

    monkeypatch.setattr(recorder, "insert_events", failing_with_links)
    with pytest.raises(RuntimeError):
        race_direct(api, merchant, [({"amount": 5_000, "description": "x"}, b"order-x")])
    assert api.count("PaymentLink.Created") == 0
    assert api.count("IdempotentRequest.Started") == 0  # no claim left without its link

    monkeypatch.setattr(recorder, "insert_events", insert)
    [answer] = race_direct(api, merchant, [({"amount": 5_000, "description": "x"}, b"order-x")])
    assert answer is not None
    assert answer[0] == 201  # runs at once: nothing to take over
