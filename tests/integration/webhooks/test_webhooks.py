"""Signed webhooks to a real receiver on loopback, with the clock moved by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from paylink_es import bootstrap
from paylink_es.application.channel_port import RefundResult
from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.domain.webhooks import EVENT_TYPES, RETRY_DELAYS, verify_signature
from paylink_es.settings import Settings
from projections.runner import CatchUp
from tests.support.loopback import LoopbackServer, QuietHandler
from workers.webhook_sender import DeliveryWorker


@dataclass
class Receiver:
    """A merchant's webhook endpoint: records what arrives, answers what it is told."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            state.received.append({"headers": dict(self.headers), "body": self.body()})
            self.reply(state.answers.pop(0) if state.answers else 200)

    with LoopbackServer(Handler) as served:
        state.url = f"{served.base_url}/paylink/hooks"
        yield state


@dataclass
class World:
    """The app without background threads: the test drives projections and sending."""

    client: TestClient
    paylink: Paylink
    clock: FakeClock
    worker: DeliveryWorker
    headers: dict[str, str]
    merchant: UUID

    def settle(self) -> None:
        """Bring every read model up to date, then send what is due."""
        models = self.client.app.state.read_models  # type: ignore[attr-defined]
        CatchUp(self.paylink.app, list(models.models.values())).run_once()
        self.worker.run_once()
        CatchUp(self.paylink.app, list(models.models.values())).run_once()


@pytest.fixture
def world(backend_settings: Settings, clock: FakeClock) -> Iterator[World]:
    settings = backend_settings.model_copy(update={"allow_private_webhooks": True})
    with bootstrap.build(settings, clock=clock) as services:
        paylink = services.paylink
        app = create_app(services, run_projections=False)
        merchant = paylink.merchants.register("Toko Webhook")
        key = paylink.merchants.issue_key(merchant, "test").secret
        worker = DeliveryWorker(paylink, app.state.read_models.outbox(), allow_private=True)
        with TestClient(app) as client:
            yield World(
                client, paylink, clock, worker, {"Authorization": f"Bearer {key}"}, merchant
            )
        worker.close()
    paylink.close()


def add_endpoint(world: World, url: str, types: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if types is not None:
        body["event_types"] = types
    response = world.client.post("/v1/webhook-endpoints", json=body, headers=world.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def paid_link(world: World) -> UUID:
    response = world.client.post(
        "/v1/links", json={"amount": 50_000, "description": "Kopi"}, headers=world.headers
    )
    link_id = UUID(response.json()["id"])
    payment = world.paylink.payments.start(link_id, "qris")
    world.paylink.payments.record(payment, "QR-1", Money(50_000, "IDR"), world.clock())
    return link_id


def test_events_arrive_signed_with_the_endpoint_secret(world: World, receiver: Receiver) -> None:
    endpoint = add_endpoint(world, receiver.url, ["link.created", "payment.paid"])
    paid_link(world)
    world.settle()
    assert [json.loads(r["body"])["type"] for r in receiver.received] == [
        "link.created",
        "payment.paid",
    ]
    now = int(world.clock().timestamp())
    for request in receiver.received:
        signature = request["headers"]["Paylink-Signature"]
        assert verify_signature(endpoint["secret"], signature, request["body"], now)
        assert not verify_signature("whsec_wrong", signature, request["body"], now)
        assert not verify_signature(endpoint["secret"], signature, request["body"] + b" ", now)
        assert not verify_signature(endpoint["secret"], signature, request["body"], now + 301)
        assert request["headers"]["Paylink-Event-Id"] == json.loads(request["body"])["id"]


def test_a_failed_delivery_is_retried_on_the_backoff_schedule(
    world: World, receiver: Receiver
) -> None:
    add_endpoint(world, receiver.url, ["link.created"])
    receiver.answers = [500]
    world.client.post(
        "/v1/links", json={"amount": 1_000, "description": "x"}, headers=world.headers
    )
    world.settle()
    assert len(receiver.received) == 1
    world.clock.advance(RETRY_DELAYS[0] - timedelta(seconds=1))
    world.settle()
    assert len(receiver.received) == 1, "retried before its time"
    world.clock.advance(timedelta(seconds=2))
    world.settle()
    assert len(receiver.received) == 2
    deliveries = world.client.get("/v1/webhook-deliveries", headers=world.headers).json()["data"]
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 2)]
    detail = world.client.get(
        f"/v1/webhook-deliveries/{deliveries[0]['id']}", headers=world.headers
    ).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 200]
    first, second = (json.loads(r["body"]) for r in receiver.received)
    assert first == second, "a retry sends the same event, same id"


def test_deliveries_keep_trying_for_more_than_a_day_then_give_up(
    world: World, receiver: Receiver
) -> None:
    add_endpoint(world, receiver.url, ["link.created"])
    receiver.answers = [503] * 50
    world.client.post(
        "/v1/links", json={"amount": 1_000, "description": "x"}, headers=world.headers
    )
    world.settle()
    started = world.clock()
    for delay in RETRY_DELAYS:
        world.clock.advance(delay)
        world.settle()
    assert world.clock() - started >= timedelta(hours=24)
    assert len(receiver.received) == len(RETRY_DELAYS) + 1
    world.clock.advance(timedelta(days=7))
    world.settle()
    assert len(receiver.received) == len(RETRY_DELAYS) + 1, "kept trying after giving up"
    delivery = world.client.get("/v1/webhook-deliveries", headers=world.headers).json()["data"][0]
    assert (delivery["status"], delivery["attempts"]) == ("failed", len(RETRY_DELAYS) + 1)


def test_a_resend_delivers_the_same_event_again(world: World, receiver: Receiver) -> None:
    add_endpoint(world, receiver.url, ["link.created"])
    world.client.post(
        "/v1/links", json={"amount": 1_000, "description": "x"}, headers=world.headers
    )
    world.settle()
    delivery = world.client.get("/v1/webhook-deliveries", headers=world.headers).json()["data"][0]
    response = world.client.post(
        f"/v1/webhook-deliveries/{delivery['id']}/resend", headers=world.headers
    )
    assert response.status_code == 202
    world.settle()
    assert len(receiver.received) == 2
    ids = {json.loads(r["body"])["id"] for r in receiver.received}
    assert len(ids) == 1, "a receiver sees the duplicate by its event id"


def test_after_rotation_the_old_secret_still_verifies_for_a_day(
    world: World, receiver: Receiver
) -> None:
    endpoint = add_endpoint(world, receiver.url, ["link.created"])
    rotated = world.client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=world.headers
    ).json()
    assert rotated["secret"] != endpoint["secret"]
    world.client.post(
        "/v1/links", json={"amount": 1_000, "description": "a"}, headers=world.headers
    )
    world.settle()
    world.clock.advance(timedelta(hours=25))
    world.client.post(
        "/v1/links", json={"amount": 1_000, "description": "b"}, headers=world.headers
    )
    world.settle()
    early, late = receiver.received
    for request, old_ok in ((early, True), (late, False)):
        now = (
            int(world.clock().timestamp())
            if request is late
            else int(world.clock().timestamp() - 25 * 3600)
        )
        signature = request["headers"]["Paylink-Signature"]
        assert verify_signature(rotated["secret"], signature, request["body"], now)
        assert verify_signature(endpoint["secret"], signature, request["body"], now) is old_ok


def test_only_subscribed_types_are_sent_and_deleted_endpoints_get_nothing(
    world: World, receiver: Receiver
) -> None:
    endpoint = add_endpoint(world, receiver.url, ["payment.paid"])
    paid_link(world)
    world.settle()
    assert [json.loads(r["body"])["type"] for r in receiver.received] == ["payment.paid"]
    deleted = world.client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=world.headers)
    assert deleted.status_code == 200
    paid_link(world)
    world.settle()
    assert len(receiver.received) == 1
    listed = world.client.get("/v1/webhook-endpoints", headers=world.headers).json()["data"]
    assert listed == []


def test_private_addresses_are_refused_unless_allowed(world: World) -> None:
    world.client.app.state.settings = world.client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"allow_private_webhooks": False}
    )
    for url in (
        "https://127.0.0.1/x",
        "https://10.0.0.8/x",
        "https://169.254.169.254/x",
        "https://[::1]/x",
        "http://example.com/x",
        "ftp://example.com/x",
    ):
        response = world.client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=world.headers
        )
        assert response.status_code == 422, url
        assert response.json()["field"] == "url"
    unknown = world.client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://example.com/x", "event_types": ["nope"]},
        headers=world.headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "event_types[0]"


def test_the_event_feed_resumes_from_any_cursor_and_shows_only_the_merchants_events(
    world: World,
) -> None:
    for i in range(5):
        world.client.post(
            "/v1/links", json={"amount": 1_000 + i, "description": f"L{i}"}, headers=world.headers
        )
    other = world.paylink.merchants.register("Other")
    other_key = world.paylink.merchants.issue_key(other, "test").secret
    world.paylink.links.create(other, amount=9_999, description="theirs")
    world.settle()
    everything = world.client.get("/v1/events?limit=100", headers=world.headers).json()
    assert [e["type"] for e in everything["data"]] == ["link.created"] * 5
    assert all(e["data"]["amount"] != 9_999 for e in everything["data"])
    seen: list[str] = []
    cursor = None
    while True:
        query = "/v1/events?limit=2" + (f"&after={cursor}" if cursor else "")
        page = world.client.get(query, headers=world.headers).json()
        if not page["data"]:
            break
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
    assert seen == [e["id"] for e in everything["data"]]
    theirs = world.client.get("/v1/events", headers={"Authorization": f"Bearer {other_key}"})
    assert [e["data"]["amount"] for e in theirs.json()["data"]] == [9_999]
    bad = world.client.get("/v1/events?after=abc", headers=world.headers)
    assert (bad.status_code, bad.json()["field"]) == (422, "after")


@pytest.mark.parametrize(
    "header",
    [
        "t=1700000000,v1=\u00e9\u00e9\u00e9",  # non-ASCII signature
        "t=\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660,v1=abc",  # Arabic digits
        "t=1700000000,t=1700000000,v1=abc",
        "v1=abc",
    ],
)
def test_a_crafted_signature_header_is_refused_not_an_error(header: str) -> None:
    assert verify_signature("whsec_test", header, b"{}", now=1_700_000_000) is False


MONEY_EVENTS = [
    "payment.review_decided",
    "settlement.completed",
    "payout.created",
    "payout.paid",
    "payout.failed",
]


def test_money_moving_on_is_told_by_the_feed_and_by_webhooks(
    world: World, receiver: Receiver
) -> None:
    add_endpoint(world, receiver.url, MONEY_EVENTS)
    paylink, clock = world.paylink, world.clock
    link = world.client.post(
        "/v1/links",
        json={"amount": 50_000, "description": "Kopi", "usage_limit": None},
        headers=world.headers,
    ).json()["id"]
    paid = paylink.payments.start(UUID(link), "qris")
    paylink.payments.record(paid, "QR-1", Money(50_000, "IDR"), clock())
    paylink.payments.verify(paid)
    over = paylink.payments.start(UUID(link), "qris")
    paylink.payments.record(over, "QR-2", Money(60_000, "IDR"), clock())  # overpaid: held
    paylink.payments.verify(over)
    paylink.payments.review(over, "accept", "the customer meant it")
    run = paylink.money.settle(clock().date() + timedelta(days=10), [paid])
    assert run.settled == 1
    paylink.merchants.set_bank_account(world.merchant, "BCA", "1234567890", "Toko Webhook")
    paylink.money.request_payout(world.merchant, "test", Money(10_000, "IDR"), "Tarik")
    paylink.merchants.set_bank_account(world.merchant, "BCA", "1234560000", "Toko Webhook")
    failed = paylink.money.request_payout(world.merchant, "test", Money(5_000, "IDR"))
    world.settle()

    feed = world.client.get("/v1/events?limit=100", headers=world.headers).json()["data"]
    by_type: dict[str, dict[str, Any]] = {}
    for event in feed:
        by_type.setdefault(event["type"], event)  # the first of each type
    assert set(MONEY_EVENTS) <= set(by_type)
    settled = by_type["settlement.completed"]["data"]
    assert (settled["object"], settled["count"], settled["currency"]) == ("settlement", 1, "IDR")
    assert (settled["gross"], settled["fee"], settled["net"]) == (50_000, 350, 49_650)
    review = by_type["payment.review_decided"]["data"]
    assert (review["id"], review["decision"], review["disposition"]) == (str(over), "accept", None)
    assert by_type["payout.created"]["data"]["amount"] == 10_000
    assert by_type["payout.paid"]["data"]["channel_ref"].startswith("SBXPO-")
    lost = by_type["payout.failed"]["data"]
    assert (lost["id"], lost["amount"], lost["status"]) == (str(failed.id), 5_000, "failed")
    delivered = [json.loads(hit["body"])["type"] for hit in receiver.received]
    assert sorted(delivered) == sorted(
        event["type"] for event in feed if event["type"] in MONEY_EVENTS
    )
    other = paylink.merchants.register("Other")
    other_key = paylink.merchants.issue_key(other, "test").secret
    theirs = world.client.get("/v1/events", headers={"Authorization": f"Bearer {other_key}"})
    assert theirs.json()["data"] == []


def test_every_public_event_type_is_documented_in_the_api(world: World) -> None:
    schema = world.client.get("/openapi.json").json()["components"]["schemas"]["PublicEvent"]
    assert sorted(schema["properties"]["type"]["enum"]) == sorted(EVENT_TYPES)
    assert all(f"`{kind}`" in schema["description"] for kind in EVENT_TYPES)


REFUND_EVENTS = ["refund.created", "refund.succeeded", "refund.failed", "payment.refunded"]


def test_refunds_are_told_by_the_feed_and_by_webhooks_a_refused_one_as_failed(
    world: World, receiver: Receiver
) -> None:
    add_endpoint(world, receiver.url, REFUND_EVENTS)
    link = world.client.post(
        "/v1/links", json={"amount": 50_000, "description": "Kopi"}, headers=world.headers
    ).json()["id"]
    started = world.paylink.payments.start(UUID(link), "qris")
    world.paylink.payments.record(started, "QR-R", Money(50_000, "IDR"), world.clock())
    world.paylink.payments.verify(started)
    payment = str(started)
    path = f"/v1/payments/{payment}/refund"
    done = world.client.post(
        path, json={"amount": 20_000, "reason": "one cup"}, headers=world.headers
    )
    assert done.status_code == 201, done.text
    channels = world.client.app.state.services.channels  # type: ignore[attr-defined]
    sandbox = channels["sandbox"]
    refuse = RefundResult(accepted=False, channel_ref="", detail="the rail is closed today")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox, "refund", lambda *_: refuse)
        no = world.client.post(
            path, json={"amount": 5_000, "reason": "late"}, headers=world.headers
        )
    assert (no.status_code, no.json()["type"]) == (422, "/problems/channel-refused")
    world.settle()

    feed = world.client.get("/v1/events?limit=100", headers=world.headers).json()["data"]
    told = [e for e in feed if e["type"] in REFUND_EVENTS]
    assert [e["type"] for e in told] == [
        "refund.created",
        "payment.refunded",
        "refund.succeeded",
        "refund.created",
        "refund.failed",
    ]
    created, refunded, succeeded, asked, failed = (e["data"] for e in told)
    assert created == {
        "object": "refund",
        "id": done.json()["id"],
        "payment_id": payment,
        "status": "pending",
        "amount": 20_000,
        "currency": "IDR",
        "reason": "one cup",
    }
    assert (refunded["object"], refunded["id"], refunded["amount"]) == ("payment", payment, 20_000)
    assert (succeeded["status"], succeeded["id"], succeeded["fee_returned"]) == (
        "succeeded",
        done.json()["id"],
        0,
    )
    assert succeeded["channel_ref"] == done.json()["channel_ref"]
    assert (asked["id"], asked["status"]) == (failed["id"], "pending")
    assert (failed["status"], failed["amount"], failed["failure"]) == (
        "failed",
        5_000,
        "the rail is closed today",
    )
    assert failed["id"] != succeeded["id"]
    delivered = [json.loads(hit["body"]) for hit in receiver.received]
    assert [(d["type"], d["data"]) for d in delivered] == [(e["type"], e["data"]) for e in told]
    assert world.paylink.payments.get(UUID(payment)).refunded == Money(20_000, "IDR")
