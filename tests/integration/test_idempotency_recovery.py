"""An Idempotency-Key whose request died between its two saves is resolved, not stuck.

The process is "killed" here by simply not saving the answer (the e2e tests kill a real
server with SIGKILL at the same point): the claim is left as a crash leaves it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import orjson

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.idempotency import OUTCOME_GRACE, IdempotentRequest, ids_from
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.webhooks import WebhookEndpoint

LEASE = timedelta(seconds=30)
KEY = "order-7781"


def claim(app: Paylink, merchant: UUID, key: str = KEY) -> UUID:
    assert app.requests.begin(merchant, "test", key, "fingerprint") is None
    return IdempotentRequest.create_id(merchant, "test", key)


def create_link(app: Paylink, merchant: UUID) -> tuple[UUID, bool]:
    details, created = app.links.create_or_find(
        merchant, mode="test", amount=125_000, description="Kopi"
    )
    return details.id, created


def stored(app: Paylink, kind: type) -> list[UUID]:
    """Ids of the aggregates of one kind in the store, in the order they were created."""
    firsts = [
        UUID(str(n.originator_id))
        for n in app.app.recorder.select_notifications(1, 10_000)
        if n.originator_version == 1
    ]
    return [i for i in firsts if isinstance(app.app.repository.get(i), kind)]


def test_a_claim_whose_link_was_stored_is_retaken_after_the_grace_and_finds_that_link(
    backend_app: Paylink, clock: FakeClock
) -> None:
    merchant = backend_app.merchants.register("Toko Kopi")
    request_id = claim(backend_app, merchant)
    with ids_from(request_id):
        first, created = create_link(backend_app, merchant)  # ...and the process dies here
    assert created

    record, taken = backend_app.requests.retake(merchant, "test", KEY, LEASE)
    assert not taken, "a live owner answers within the grace: not retaken yet"

    clock.advance(OUTCOME_GRACE)
    record, taken = backend_app.requests.retake(merchant, "test", KEY, LEASE)
    assert taken
    assert record.retake_reason == "outcome-stored"
    with ids_from(request_id):
        again, created_again = create_link(backend_app, merchant)
    assert (again, created_again) == (first, True)
    assert stored(backend_app, PaymentLink) == [first]

    _, taken_twice = backend_app.requests.retake(merchant, "test", KEY, LEASE)
    assert not taken_twice, "the retake is itself a claim: a second retry waits for it"


def test_a_claim_that_stored_nothing_waits_for_its_lease_then_runs_once(
    backend_app: Paylink, clock: FakeClock
) -> None:
    merchant = backend_app.merchants.register("Toko Kopi")
    request_id = claim(backend_app, merchant)  # ...and the process dies before the command

    clock.advance(LEASE - timedelta(seconds=1))
    _, taken = backend_app.requests.retake(merchant, "test", KEY, LEASE)
    assert not taken, "nothing in the log: the owner may still be running"

    clock.advance(timedelta(seconds=1))
    record, taken = backend_app.requests.retake(merchant, "test", KEY, LEASE)
    assert taken
    assert record.retake_reason == "lease-expired"
    _, second = backend_app.requests.retake(merchant, "test", KEY, LEASE)
    assert not second, "two retries after the lease: one takes over"
    with ids_from(request_id):
        link_id, created = create_link(backend_app, merchant)
    assert created
    assert stored(backend_app, PaymentLink) == [link_id]


def test_an_answered_key_is_never_retaken(backend_app: Paylink, clock: FakeClock) -> None:
    merchant = backend_app.merchants.register("Toko Kopi")
    claim(backend_app, merchant)
    backend_app.requests.answer(merchant, "test", KEY, 201, '{"id": "x"}')
    clock.advance(LEASE * 10)
    record, taken = backend_app.requests.retake(merchant, "test", KEY, LEASE)
    assert not taken
    assert record.kept == (201, '{"id": "x"}')


def test_ids_are_derived_per_key_so_other_keys_and_plain_requests_still_get_new_links(
    backend_app: Paylink,
) -> None:
    merchant = backend_app.merchants.register("Toko Kopi")
    with ids_from(claim(backend_app, merchant, "a")):
        a, _ = create_link(backend_app, merchant)
    with ids_from(claim(backend_app, merchant, "b")):
        b, _ = create_link(backend_app, merchant)
    plain_1, _ = create_link(backend_app, merchant)
    plain_2, _ = create_link(backend_app, merchant)
    assert len({a, b, plain_1, plain_2}) == 4
    assert sorted(map(str, stored(backend_app, PaymentLink))) == sorted(
        map(str, [a, b, plain_1, plain_2])
    )


def test_a_webhook_endpoint_made_by_a_dead_request_is_found_with_its_secret(
    backend_app: Paylink,
) -> None:
    merchant = backend_app.merchants.register("Toko Kopi")
    request_id = claim(backend_app, merchant)

    def register() -> tuple[UUID, str]:
        with ids_from(request_id):
            made = backend_app.webhooks.create_endpoint(
                merchant, "test", "http://127.0.0.1:9/hooks", None, allow_private=True
            )
        return made.endpoint_id, made.secret

    first = register()
    assert register() == first
    assert stored(backend_app, WebhookEndpoint) == [first[0]]


def test_a_claim_stored_before_records_could_start_answered_still_reads_as_a_claim(
    backend_app: Paylink, clock: FakeClock
) -> None:
    # A Started event as stored before it could carry an answer: without those fields.
    record = IdempotentRequest(merchant_id=UUID(int=7), mode="test", key=KEY, fingerprint="f")
    [started] = record.collect_events()
    app = backend_app.app
    stored_event = app.mapper.to_stored_event(started)
    state = orjson.loads(stored_event.state)
    del state["status_code"], state["body"]
    app.recorder.insert_events([replace(stored_event, state=orjson.dumps(state))])

    earlier = backend_app.requests.earlier(UUID(int=7), "test", KEY)

    assert (earlier.fingerprint, earlier.kept, earlier.answered) == ("f", None, False)
    backend_app.requests.answer(UUID(int=7), "test", KEY, 201, "{}")
    assert backend_app.requests.earlier(UUID(int=7), "test", KEY).kept == (201, "{}")
