"""``Idempotency-Key`` on POSTs: the first answer is kept and replayed byte for byte."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest

from paylink_es.store.postgres import DatabaseUnavailableError
from tests.integration.api.support import assert_problem
from tests.support.app import Api, MakeServer

BODY = {"amount": 150000, "description": "Kaos polos hitam"}
REPLAYED = "idempotent-replayed"


def test_the_same_key_and_body_replay_the_first_answer_byte_for_byte_and_run_once(
    api: Api,
) -> None:
    merchant = api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "order-42"})
    first = api.client.post("/v1/links", json=BODY, headers=headers)
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    events = api.head()
    api.clock.advance(timedelta(minutes=5))

    second = api.client.post("/v1/links", json=BODY, headers=headers)

    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers[REPLAYED] == "true"
    assert second.headers["content-type"] == first.headers["content-type"]
    assert api.head() == events
    assert api.count("PaymentLink.Created") == 1


def test_a_replay_answers_what_was_answered_then_even_after_the_link_changed(api: Api) -> None:
    merchant = api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "order-43"})
    first = api.client.post("/v1/links", json=BODY, headers=headers)
    link_id = first.json()["id"]
    cancel = api.client.post(f"/v1/links/{link_id}/cancel", headers=merchant.headers())
    assert cancel.json()["status"] == "cancelled"

    second = api.client.post("/v1/links", json=BODY, headers=headers)

    assert second.content == first.content
    assert second.json()["status"] == "active"


def test_the_same_key_with_another_body_is_a_409_problem_and_runs_nothing(api: Api) -> None:
    merchant = api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "order-44"})
    first = api.client.post("/v1/links", json=BODY, headers=headers)
    assert first.status_code == 201
    events = api.head()

    other = api.client.post("/v1/links", json={**BODY, "amount": 150001}, headers=headers)

    assert_problem(other, 409, "idempotency-key-reused", field="Idempotency-Key")
    assert REPLAYED not in other.headers
    assert api.head() == events
    assert api.count("PaymentLink.Created") == 1


def test_the_same_key_on_another_route_is_a_409_problem(api: Api) -> None:
    merchant = api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "order-45"})
    link = api.client.post("/v1/links", json=BODY, headers=headers).json()

    cancel = api.client.post(f"/v1/links/{link['id']}/cancel", headers=headers)

    assert_problem(cancel, 409, "idempotency-key-reused")
    read = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers())
    assert read.json()["status"] == "active"


def test_keys_belong_to_one_merchant_and_one_mode(api: Api) -> None:
    first_merchant = api.merchant("Toko Satu")
    second_merchant = api.merchant("Toko Dua")
    key = {"Idempotency-Key": "shared-key"}

    mine = api.client.post("/v1/links", json=BODY, headers=first_merchant.headers(**key))
    theirs = api.client.post("/v1/links", json=BODY, headers=second_merchant.headers(**key))
    my_live = api.client.post("/v1/links", json=BODY, headers=first_merchant.headers("live", **key))

    for response in (mine, theirs, my_live):
        assert response.status_code == 201, response.text
        assert REPLAYED not in response.headers
    assert len({mine.json()["id"], theirs.json()["id"], my_live.json()["id"]}) == 3
    assert api.count("PaymentLink.Created") == 3


def test_a_second_cancel_with_the_same_key_replays_the_first_success(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant)
    headers = merchant.headers(**{"Idempotency-Key": "cancel-1"})
    body = {"reason": "duplicate order"}

    first = api.client.post(f"/v1/links/{link['id']}/cancel", json=body, headers=headers)
    second = api.client.post(f"/v1/links/{link['id']}/cancel", json=body, headers=headers)
    unkeyed = api.client.post(
        f"/v1/links/{link['id']}/cancel", json=body, headers=merchant.headers()
    )

    assert first.status_code == 200, first.text
    assert (second.status_code, second.content) == (200, first.content)
    assert second.headers[REPLAYED] == "true"
    assert_problem(unkeyed, 409, "link-closed")
    assert api.count("PaymentLink.Cancelled") == 1


def test_a_refused_request_is_replayed_as_the_same_problem(api: Api) -> None:
    merchant = api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "too-late"})
    past = {**BODY, "expires_at": "2025-12-31T23:59:00+07:00"}
    first = api.client.post("/v1/links", json=past, headers=headers)
    assert_problem(first, 422, "expiry-invalid", field="expires_at")
    api.clock.advance(timedelta(minutes=1))

    second = api.client.post("/v1/links", json=past, headers=headers)

    assert second.status_code == 422
    assert second.content == first.content
    assert second.headers[REPLAYED] == "true"
    assert second.headers["content-type"].startswith("application/problem+json")
    assert api.count("PaymentLink.Created") == 0


def test_a_request_refused_by_body_validation_never_claims_the_key(sqlite_api: Api) -> None:
    """Deliberate, as Stripe does: a body that fails validation never started executing,
    so nothing is stored under its key — the key stays free for the corrected request.
    (A 422 from the domain, once the request ran, is stored and replayed: see above.)"""
    merchant = sqlite_api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "bad-amount"})
    bad = {**BODY, "amount": 1.5}
    first = sqlite_api.client.post("/v1/links", json=bad, headers=headers)
    again = sqlite_api.client.post("/v1/links", json=bad, headers=headers)
    assert_problem(first, 422, field="amount")
    assert_problem(again, 422, field="amount")
    assert REPLAYED not in again.headers
    assert sqlite_api.count("IdempotentRequest.Started") == 0

    fixed = sqlite_api.client.post("/v1/links", json=BODY, headers=headers)
    assert fixed.status_code == 201, fixed.text
    replayed = sqlite_api.client.post("/v1/links", json=BODY, headers=headers)
    assert replayed.content == fixed.content
    assert replayed.headers[REPLAYED] == "true"


@pytest.mark.parametrize("key", ["", " ", "k" * 256, "line\tbreak"])
def test_a_malformed_key_is_a_422_problem_naming_the_header(sqlite_api: Api, key: str) -> None:
    merchant = sqlite_api.merchant()
    events = sqlite_api.head()

    response = sqlite_api.client.post(
        "/v1/links", json=BODY, headers=merchant.headers(**{"Idempotency-Key": key})
    )

    assert_problem(response, 422, field="Idempotency-Key")
    assert sqlite_api.head() == events


def _race(url: str, headers: dict[str, str], body: object, racers: int) -> list[httpx.Response]:
    """``racers`` clients POST the same request at the same moment; their answers."""
    barrier = threading.Barrier(racers)
    answers: list[httpx.Response] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                barrier.wait(timeout=10)
                answers.append(client.post("/v1/links", json=body, headers=headers))
        except BaseException as error:  # reported below, not lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(answers) == racers
    return answers


def test_concurrent_requests_with_one_key_execute_once_over_a_real_server(
    make_server: MakeServer,
) -> None:
    server = make_server()
    merchant = server.merchant()
    rounds = 3

    for n in range(rounds):
        headers = merchant.headers(**{"Idempotency-Key": f"race-{n}"})
        body = {**BODY, "reference_id": None, "description": f"race {n}"}
        responses = _race(server.url, headers, body, racers=4)

        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        assert len({r.content for r in responses}) == 1, f"round {n} got different bodies"
        executed = [r for r in responses if REPLAYED not in r.headers]
        assert len(executed) == 1, f"round {n}: {len(executed)} requests executed"

    assert server.count("PaymentLink.Created") == rounds
    assert server.count("IdempotentRequest.Started") == rounds
    # The key's record starts answered (one event), in the same write as the link.
    assert server.count("IdempotentRequest.Answered") == 0


def test_a_request_the_database_dropped_mid_way_answers_503_and_its_retry_runs_at_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant = api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "order-outage"})
    recorder = api.paylink.app.recorder
    working = recorder.insert_events

    def database_gone(*args: object, **kwargs: object) -> object:
        raise DatabaseUnavailableError("connection lost")

    # The write of the link and the key's record (one write) meets the outage.
    monkeypatch.setattr(recorder, "insert_events", database_gone)
    dropped = api.client.post("/v1/links", json=BODY, headers=headers)
    assert_problem(dropped, 503)
    assert dropped.headers["retry-after"]
    assert api.count("IdempotentRequest.Answered") == 0, "an outage is not an answer to keep"
    assert api.count("IdempotentRequest.Started") == 0, "nothing of the request was stored"

    monkeypatch.setattr(recorder, "insert_events", working)
    retried = api.client.post("/v1/links", json=BODY, headers=headers)
    assert retried.status_code == 201, retried.text  # no claim left behind to wait for
    assert REPLAYED not in retried.headers
    assert api.count("IdempotentRequest.Retaken") == 0
    assert api.count("PaymentLink.Created") == 1


def test_a_send_the_database_dropped_mid_way_answers_503_and_its_retry_retakes_the_claim(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A create that sends the link leaves the store: it claims the key first (two writes).
    merchant = api.merchant()
    headers = merchant.headers(**{"Idempotency-Key": "order-outage-sent"})
    body = {**BODY, "notify": {"email": "budi@example.com"}}
    working = api.paylink.links.create_or_find

    def database_gone(*args: object, **kwargs: object) -> object:
        raise DatabaseUnavailableError("connection lost")

    monkeypatch.setattr(api.paylink.links, "create_or_find", database_gone)
    dropped = api.client.post("/v1/links", json=body, headers=headers)
    assert_problem(dropped, 503)
    assert api.count("IdempotentRequest.Answered") == 0, "an outage is not an answer to keep"

    monkeypatch.setattr(api.paylink.links, "create_or_find", working)
    retried = api.client.post("/v1/links", json=body, headers=headers)
    assert retried.status_code == 201, retried.text  # not 409 until the lease runs out
    assert REPLAYED not in retried.headers
    assert api.count("IdempotentRequest.Retaken") == 1
    assert api.count("PaymentLink.Created") == 1
