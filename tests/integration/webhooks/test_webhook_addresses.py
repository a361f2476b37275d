"""Webhook URLs may not reach special-purpose addresses: at registration and before each try.

No test looks a name up in real DNS: names are resolved by a fake resolver, and the one
network test listens on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from paylink_es import bootstrap
from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.webhooks import (
    RETRY_DELAYS,
    WebhookTarget,
    check_webhook_address,
    check_webhook_target,
    special_purpose,
)
from paylink_es.settings import Settings
from projections.runner import CatchUp
from tests.support.loopback import LoopbackServer, QuietHandler
from workers.webhook_sender import DeliveryWorker, post_pinned

NOT_REACHABLE = "not reachable on the internet"

# One address inside every special-purpose block that is not globally reachable, and
# the block the refusal must name.
REFUSED = [
    ("0.1.2.3", "0.0.0.0/8"),
    ("10.20.30.40", "10.0.0.0/8"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("100.127.255.254", "100.64.0.0/10"),
    ("127.0.0.1", "127.0.0.0/8"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("172.31.0.9", "172.16.0.0/12"),
    ("192.0.0.9", "192.0.0.0/24"),
    ("192.0.2.10", "192.0.2.0/24"),
    ("192.88.99.1", "192.88.99.0/24"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("198.19.255.1", "198.18.0.0/15"),
    ("198.51.100.7", "198.51.100.0/24"),
    ("203.0.113.9", "203.0.113.0/24"),
    ("240.0.0.1", "240.0.0.0/4"),
    ("255.255.255.255", "255.255.255.255/32"),
    ("224.0.0.251", "224.0.0.0/4"),
    ("239.255.255.250", "224.0.0.0/4"),
    ("::", "::/128"),
    ("::1", "::1/128"),
    ("::ffff:127.0.0.1", "127.0.0.0/8"),
    ("::ffff:10.0.0.1", "10.0.0.0/8"),
    ("64:ff9b::7f00:1", "127.0.0.0/8"),
    ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
    ("64:ff9b:1::808:808", "64:ff9b:1::/48"),
    ("100::1", "100::/64"),
    ("100:0:0:1::1", "100:0:0:1::/64"),
    ("2001::1", "2001::/32"),
    ("2001:2::1", "2001:2::/48"),
    ("2001:10::1", "2001:10::/28"),
    ("2001:1::4", "2001::/23"),
    ("2001:100::1", "2001::/23"),
    ("2001:db8::1", "2001:db8::/32"),
    ("2002:7f00:1::", "127.0.0.0/8"),
    ("2002:c0a8:101::1", "192.168.0.0/16"),
    ("2002:6440:1::", "100.64.0.0/10"),
    ("3fff::1", "3fff::/20"),
    ("5f00::1", "5f00::/16"),
    ("fc00::1", "fc00::/7"),
    ("fd12:3456::1", "fc00::/7"),
    ("fe80::1", "fe80::/10"),
    ("fe80::1%eth0", "fe80::/10"),
    ("ff02::1", "ff00::/8"),
    ("::7f00:1", "::/96"),
    ("::808:808", "::/96"),
    ("fec0::1", "2000::/3"),
]
# Globally reachable: these must pass.
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "100.128.0.1",
    "172.32.0.1",
    "192.31.196.1",
    "198.20.0.1",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2002:0808:0808::",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2001:1::1",
    "2001:3::1",
    "2001:4:112::1",
    "2001:20::1",
    "2620:4f:8000::1",
]


@pytest.mark.parametrize(("address", "block"), REFUSED, ids=[a for a, _ in REFUSED])
def test_every_special_purpose_block_that_is_not_globally_reachable_is_refused(
    address: str, block: str
) -> None:
    why = special_purpose(address)
    assert why is not None
    assert f"({block})" in why
    with pytest.raises(InvalidFieldError) as refused:
        check_webhook_address(address)
    assert refused.value.field == "url"
    assert refused.value.message.endswith(NOT_REACHABLE)


@pytest.mark.parametrize("address", ALLOWED)
def test_globally_reachable_addresses_pass(address: str) -> None:
    assert special_purpose(address) is None
    check_webhook_address(address)


def test_the_refusal_says_which_block_and_why() -> None:
    with pytest.raises(InvalidFieldError) as shared:
        check_webhook_address("100.64.0.1")
    assert shared.value.message == (
        "url: 100.64.0.1 is in the shared address space (100.64.0.0/10), " + NOT_REACHABLE
    )
    with pytest.raises(InvalidFieldError) as six_to_four:
        check_webhook_address(ipaddress.ip_address("2002:7f00:1::"))
    assert six_to_four.value.message == (
        "url: 2002:7f00:1:: is a 6to4 address of 127.0.0.1, which is in the loopback range "
        "(127.0.0.0/8), " + NOT_REACHABLE
    )


def resolver(table: dict[str, Sequence[str]], calls: list[str] | None = None) -> Any:
    """A fake DNS: names in ``table`` resolve, others fail like ``getaddrinfo``."""

    def resolve(host: str) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def no_lookups(host: str) -> Sequence[str]:
    raise AssertionError(f"looked {host} up")


def test_every_address_a_name_resolves_to_is_checked() -> None:
    resolve = resolver(
        {"hooks.toko.example": ["93.184.216.34", "2606:2800:220:1::1"], "mixed.example": []}
    )
    target = check_webhook_target(
        "https://hooks.toko.example/paylink", allow_private=False, resolve=resolve
    )
    assert target == WebhookTarget(
        "https://hooks.toko.example/paylink",
        "hooks.toko.example",
        ("93.184.216.34", "2606:2800:220:1::1"),
    )
    sneaky = resolver({"mixed.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(InvalidFieldError) as refused:
        check_webhook_target("https://mixed.example/", allow_private=False, resolve=sneaky)
    assert refused.value.message == (
        "url: mixed.example resolves to 10.0.0.5, which is in the private-use range "
        "(10.0.0.0/8), " + NOT_REACHABLE
    )
    for url in ("https://nowhere.example/", "https://mixed.example/"):
        with pytest.raises(InvalidFieldError, match="does not resolve"):
            check_webhook_target(url, allow_private=False, resolve=resolve)


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://127.000.000.001/",
    ],
)
def test_numeric_hosts_that_are_not_standard_addresses_are_refused_without_a_lookup(
    url: str,
) -> None:
    with pytest.raises(InvalidFieldError, match="neither a host name nor a standard IP"):
        check_webhook_target(url, allow_private=False, resolve=no_lookups)


def test_literal_addresses_are_checked_without_a_lookup_and_private_ones_only_when_allowed() -> (
    None
):
    target = check_webhook_target(
        "https://[2002:808:808::]:8443/x", allow_private=False, resolve=no_lookups
    )
    assert target.addresses == ("2002:808:808::",)
    with pytest.raises(InvalidFieldError):
        check_webhook_target("https://[2002:7f00:1::]/", allow_private=False, resolve=no_lookups)
    allowed = check_webhook_target(
        "http://localhost:8000/hooks", allow_private=True, resolve=no_lookups
    )
    assert allowed.addresses == (), "with private addresses allowed the URL is used as it is"


@dataclass
class World:
    """The API on a real backend, without background threads; DNS is a fake table."""

    client: TestClient
    paylink: Paylink
    clock: FakeClock
    headers: dict[str, str]
    merchant: UUID
    dns: dict[str, Sequence[str]]
    lookups: list[str] = field(default_factory=list)

    def add_endpoint(self, url: str) -> Any:
        return self.client.post(
            "/v1/webhook-endpoints",
            json={"url": url, "event_types": ["link.created"]},
            headers=self.headers,
        )

    def catch_up(self) -> None:
        models = self.client.app.state.read_models  # type: ignore[attr-defined]
        CatchUp(self.paylink.app, list(models.models.values())).run_once()

    def head(self) -> int:
        return self.paylink.app.recorder.max_notification_id() or 0


@pytest.fixture
def world(backend_settings: Settings, clock: FakeClock) -> Iterator[World]:
    settings = backend_settings.model_copy(update={"allow_private_webhooks": False})
    dns: dict[str, Sequence[str]] = {}
    lookups: list[str] = []
    with bootstrap.build(
        settings, clock=clock, webhook_resolver=resolver(dns, lookups)
    ) as services:
        paylink = services.paylink
        app = create_app(services, run_projections=False)
        merchant = paylink.merchants.register("Toko Alamat")
        key = paylink.merchants.issue_key(merchant, "test").secret
        with TestClient(app) as client:
            yield World(
                client, paylink, clock, {"Authorization": f"Bearer {key}"}, merchant, dns, lookups
            )


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        (
            "https://100.64.0.1/",
            "url: 100.64.0.1 is in the shared address space (100.64.0.0/10), " + NOT_REACHABLE,
        ),
        (
            "https://[2002:7f00:1::]/",
            "url: 2002:7f00:1:: is a 6to4 address of 127.0.0.1, which is in the loopback range"
            " (127.0.0.0/8), " + NOT_REACHABLE,
        ),
    ],
    ids=["shared-address-space", "6to4-of-loopback"],
)
def test_the_api_refuses_a_special_purpose_url_with_422_and_stores_nothing(
    world: World, url: str, detail: str
) -> None:
    before = world.head()
    response = world.add_endpoint(url)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["field"], problem["detail"]) == ("url", detail)
    assert world.head() == before, "a refused endpoint left an event behind"
    world.catch_up()
    listed = world.client.get("/v1/webhook-endpoints", headers=world.headers)
    assert listed.json()["data"] == []
    assert world.lookups == [], "a literal address is not looked up"


def test_the_api_refuses_a_name_that_resolves_to_a_private_address(world: World) -> None:
    world.dns["inside.toko.example"] = ["93.184.216.34", "192.168.10.2"]
    before = world.head()
    response = world.add_endpoint("https://inside.toko.example/hooks")
    assert (response.status_code, response.json()["field"]) == (422, "url")
    assert "inside.toko.example resolves to 192.168.10.2" in response.json()["detail"]
    assert world.head() == before
    world.dns["hooks.toko.example"] = ["93.184.216.34"]
    assert world.add_endpoint("https://hooks.toko.example/hooks").status_code == 201


@dataclass
class Sent:
    """What the mock transport was asked to send."""

    requests: list[httpx.Request] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.refuse:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append(request)
        return httpx.Response(200)


def worker_for(world: World, sent: Sent) -> tuple[DeliveryWorker, httpx.Client]:
    client = httpx.Client(transport=httpx.MockTransport(sent.handler))
    outbox = world.client.app.state.read_models.outbox()  # type: ignore[attr-defined]
    resolve: Callable[[str], Sequence[str]] = resolver(world.dns, world.lookups)
    return DeliveryWorker(
        world.paylink, outbox, allow_private=False, client=client, resolve=resolve
    ), client


def new_link(world: World) -> None:
    response = world.client.post(
        "/v1/links", json={"amount": 1_000, "description": "Teh"}, headers=world.headers
    )
    assert response.status_code == 201, response.text


def deliver(world: World, worker: DeliveryWorker) -> dict[str, Any]:
    world.catch_up()
    worker.run_once()
    world.catch_up()
    rows = world.client.get("/v1/webhook-deliveries", headers=world.headers).json()["data"]
    assert len(rows) == 1
    detail: dict[str, Any] = world.client.get(
        f"/v1/webhook-deliveries/{rows[0]['id']}", headers=world.headers
    ).json()
    return detail


def test_a_delivery_to_a_host_that_now_resolves_to_loopback_is_not_sent_and_fails_with_why(
    world: World,
) -> None:
    world.dns["hooks.toko.example"] = ["93.184.216.34"]
    assert world.add_endpoint("https://hooks.toko.example/paylink").status_code == 201
    world.dns["hooks.toko.example"] = ["127.0.0.1"]  # rebound after registration
    sent = Sent()
    worker, client = worker_for(world, sent)
    with client:
        new_link(world)
        delivery = deliver(world, worker)
        assert sent.requests == [], "sent to an address that became special-purpose"
        why = (
            "url: hooks.toko.example resolves to 127.0.0.1, which is in the loopback range"
            " (127.0.0.0/8), " + NOT_REACHABLE
        )
        assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
        assert (delivery["last_status_code"], delivery["last_error"]) == (None, why)
        assert [(a["status_code"], a["error"]) for a in delivery["attempt_log"]] == [(None, why)]
        assert delivery["next_attempt_at"] is not None, "a refused try is retried like others"

        world.dns["hooks.toko.example"] = ["93.184.216.34"]
        world.clock.advance(RETRY_DELAYS[0])
        delivery = deliver(world, worker)
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
        assert [r.url.host for r in sent.requests] == ["93.184.216.34"]


def test_a_delivery_connects_to_the_address_it_checked_not_to_a_second_lookup(
    world: World,
) -> None:
    world.dns["hooks.toko.example"] = ["93.184.216.34"]
    assert world.add_endpoint("https://hooks.toko.example:8443/paylink?x=1").status_code == 201
    world.dns["hooks.toko.example"] = ["2606:2800:220:1::1", "93.184.216.35"]
    world.lookups.clear()
    sent = Sent(refuse={"2606:2800:220:1::1"})  # the first address does not answer
    worker, client = worker_for(world, sent)
    with client:
        new_link(world)
        delivery = deliver(world, worker)
    assert delivery["status"] == "delivered"
    assert world.lookups == ["hooks.toko.example"], "one lookup per try, checked and used"
    (request,) = sent.requests
    assert str(request.url) == "https://93.184.216.35:8443/paylink?x=1"
    assert request.headers["Host"] == "hooks.toko.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.toko.example"
    assert json.loads(request.content)["type"] == "link.created"


@dataclass
class Loopback:
    url_port: int
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    state = Loopback(url_port=0)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.body()
            state.hosts.append(str(self.headers["Host"]))
            self.send_response(204)
            self.end_headers()

    with LoopbackServer(Handler) as served:
        state.url_port = served.port
        yield state


def test_a_pinned_post_reaches_the_checked_address_with_the_name_in_the_host_header(
    loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def numeric_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        ipaddress.ip_address(host)  # a name here would be a real DNS lookup: fail instead
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    url = f"http://hooks.toko.test:{loopback.url_port}/paylink"
    target = WebhookTarget(url, "hooks.toko.test", ("127.0.0.1",))
    with httpx.Client(timeout=5, trust_env=False) as client:
        response = post_pinned(client, target, b"{}", {"Content-Type": "application/json"})
    assert response.status_code == 204
    assert loopback.hosts == [f"hooks.toko.test:{loopback.url_port}"]


def test_a_registered_endpoint_keeps_its_url_with_the_name_not_the_address(world: World) -> None:
    world.dns["hooks.toko.example"] = ["93.184.216.34"]
    created = world.add_endpoint("https://hooks.toko.example/paylink").json()
    endpoint = world.paylink.webhooks.endpoint(world.merchant, "test", UUID(created["id"]))
    assert created["url"] == endpoint.url == "https://hooks.toko.example/paylink"
