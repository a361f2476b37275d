"""The merchant API through a real uvicorn server on 127.0.0.1, reached with httpx."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from tests.integration.api.support import (
    CODE,
    FULL_LINK,
    UNKNOWN_ID,
    ExplodingPaylink,
    assert_problem,
    instant,
    require,
)
from tests.support.app import MakeServer


def test_a_link_travels_create_read_list_cancel_over_http(make_server: MakeServer) -> None:
    server = make_server()
    merchant = server.merchant()

    with httpx.Client(base_url=server.url, timeout=30) as client:
        created = client.post(
            "/v1/links",
            json=FULL_LINK,
            headers=merchant.headers(**{"Idempotency-Key": "srv-1", "X-Request-Id": "srv-req-1"}),
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "srv-req-1"
        link = created.json()
        assert CODE.fullmatch(link["code"])
        assert link["url"].endswith(f"/l/{link['code']}")
        replay = client.post(
            "/v1/links",
            json=FULL_LINK,
            headers=merchant.headers(**{"Idempotency-Key": "srv-1"}),
        )
        assert replay.content == created.content
        assert replay.headers["idempotent-replayed"] == "true"

        read = client.get(f"/v1/links/{link['id']}", headers=merchant.headers())
        assert read.status_code == 200
        assert read.json()["id"] == link["id"]

        server.clock.advance(timedelta(minutes=1))
        cancelled = client.post(f"/v1/links/{link['id']}/cancel", headers=merchant.headers())
        assert cancelled.json()["status"] == "cancelled"
        server.catch_up()

        listed = client.get("/v1/links", params={"status": "cancelled"}, headers=merchant.headers())
        assert [item["id"] for item in listed.json()["data"]] == [link["id"]]
        detail = client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
        assert [entry["event"] for entry in detail["timeline"]] == ["Created", "Cancelled"]
        assert instant(detail["timeline"][1]["at"]) == server.clock()
        again = client.post(f"/v1/links/{link['id']}/cancel", headers=merchant.headers())
        assert_problem(again, 409)


def test_concurrent_requests_with_one_reference_id_create_one_link(
    make_server: MakeServer,
) -> None:
    server = make_server()
    merchant = server.merchant()
    body = {"amount": 50000, "description": "Kaos", "reference_id": "INV-RACE-1"}
    barrier = threading.Barrier(4)
    answers: list[httpx.Response] = []

    def post() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            barrier.wait(timeout=10)
            answers.append(client.post("/v1/links", json=body, headers=merchant.headers()))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == 4
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert server.count("PaymentLink.Created") == 1


def test_errors_over_http_are_problem_documents_with_request_ids(
    make_sqlite_server: MakeServer,
) -> None:
    server = make_sqlite_server()
    merchant = server.merchant()

    with httpx.Client(base_url=server.url, timeout=30) as client:
        anonymous = client.get("/v1/links")
        assert_problem(anonymous, 401, "authentication-required")
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert_problem(client.get(f"/v1/links/{UNKNOWN_ID}", headers=merchant.headers()), 404)
        assert_problem(client.delete("/v1/links", headers=merchant.headers()), 405)
        bad = client.post(
            "/v1/links", json={"amount": 0, "description": "x"}, headers=merchant.headers()
        )
        assert_problem(bad, 422, "amount-invalid", field="amount")


@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_a_body_over_the_limit_is_refused_with_413_over_http(
    make_sqlite_server: MakeServer, chunked: bool
) -> None:
    server = make_sqlite_server(max_body_bytes=2048)
    merchant = server.merchant()
    body = json.dumps({"amount": 1000, "description": "x" * 4096}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post(
            "/v1/links",
            content=chunks() if chunked else body,
            headers=merchant.headers(**{"Content-Type": "application/json"}),
        )

    if chunked:
        require(response.request.headers.get("transfer-encoding") == "chunked", "sent chunked")
    assert_problem(response, 413, "payload-too-large")
    assert server.count("PaymentLink.Created") == 0


def test_an_internal_error_over_http_hides_its_cause_and_is_logged_with_the_request_id(
    make_sqlite_server: MakeServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = make_sqlite_server()
    merchant = server.merchant()
    monkeypatch.setattr(server.app.state, "paylink", ExplodingPaylink(server.paylink))
    caplog.set_level(logging.ERROR)

    with httpx.Client(base_url=server.url, timeout=30) as client:
        post = client.post(
            "/v1/links",
            json={"amount": 1000, "description": "x"},
            headers=merchant.headers(**{"X-Request-Id": "srv-boom-1"}),
        )
        get = client.get("/v1/links", headers=merchant.headers(**{"X-Request-Id": "srv-boom-2"}))

    for response, given in ((post, "srv-boom-1"), (get, "srv-boom-2")):
        problem = assert_problem(response, 500, "internal-error")
        assert problem["request_id"] == given
        assert response.headers["x-request-id"] == given
        for secret in ("hunter2", "db-primary", "RuntimeError", "Traceback"):
            assert secret not in response.text
        assert any(given in record.getMessage() for record in caplog.records), given
