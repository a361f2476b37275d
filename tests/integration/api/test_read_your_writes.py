"""Read-your-writes: a command's answer says where it wrote, the next query shows it.

On both backends, with the read models kept up to date inside the app (as ``serve`` does)
or by a catch-up the app does not own (as ``serve --workers N`` beside ``projections
run``). The read model a query reads is slowed down here (a pause before each batch it
applies), so a query that did not wait would see the state before the command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.ledger import LedgerView
from projections.links import LinkTracking
from projections.readmodel import Event, ReadModel
from projections.runner import ProjectionService
from tests.integration.api.support import assert_problem
from tests.support.app import Api, MakeApi, Merchant
from workers.settlement import settle_day

PAUSE_S = 0.3  # what a slowed read model waits before applying each batch
GENEROUS_S = 10.0  # the queries' bound here: never reached unless something is wrong


def _slowed(monkeypatch: pytest.MonkeyPatch, cls: type[ReadModel]) -> None:
    original = cls.process_batch

    def slow(self: Any, batch: Sequence[tuple[Event, Tracking]]) -> None:
        time.sleep(PAUSE_S)
        original(self, batch)

    monkeypatch.setattr(cls, "process_batch", slow)


@pytest.fixture
def slow_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    """The balances' read model takes its time over every batch."""
    _slowed(monkeypatch, LedgerView)


@pytest.fixture
def slow_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """The links' read model takes its time over every batch."""
    _slowed(monkeypatch, LinkTracking)


def _position(response: Any) -> int:
    value = response.headers.get("paylink-position")
    assert value is not None, f"no Paylink-Position on {response.status_code}: {response.text}"
    assert value.isdigit(), value
    return int(value)


def _held_payment(api: Api, merchant: Merchant) -> UUID:
    """An overpaid link's payment, verified and held for review (balances caught up)."""
    created = api.create_link(merchant, amount=100_000)
    payment = api.paylink.payments.start(UUID(created["id"]), "va_bca")
    api.paylink.payments.record(payment, "VA-OVER", Money(125_000, "IDR"), api.clock())
    api.paylink.payments.verify(payment)
    api.catch_up()
    return payment


def _balance(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    [idr] = response.json()["data"]
    return dict(idr)


def test_a_review_decision_is_in_the_balances_read_right_after_it(
    make_api: MakeApi, slow_ledger: None
) -> None:
    api = make_api(read_wait_s=GENEROUS_S)
    shop = api.merchant()
    payment = _held_payment(api, shop)
    before = _balance(api.client.get("/v1/balances", headers=shop.headers()))
    assert (before["held"], before["pending"]) == (125_000, 0)

    decided = api.client.post(
        f"/v1/payments/{payment}/review", json={"decision": "accept"}, headers=shop.headers()
    )
    assert decided.status_code == 200, decided.text
    written = _position(decided)
    assert written == api.head()
    balances = api.client.get("/v1/balances", headers=shop.headers())

    after = _balance(balances)
    assert (after["held"], after["pending"]) == (0, 125_000)
    assert "paylink-stale" not in balances.headers


def test_a_created_link_is_in_the_list_read_right_after_it(
    make_api: MakeApi, slow_links: None
) -> None:
    api = make_api(read_wait_s=GENEROUS_S)
    shop = api.merchant()
    for number in range(3):
        created = api.client.post(
            "/v1/links",
            json={"amount": 50_000, "description": f"Kaos {number}"},
            headers=shop.headers(),
        )
        assert created.status_code == 201, created.text
        assert _position(created) == api.head()

        listed = api.client.get("/v1/links", headers=shop.headers())

        assert listed.status_code == 200, listed.text
        assert created.json()["id"] in [link["id"] for link in listed.json()["data"]]
        assert len(listed.json()["data"]) == number + 1
        assert "paylink-stale" not in listed.headers


def test_every_command_answers_with_the_position_it_wrote(api: Api) -> None:
    shop = api.merchant()
    headers = shop.headers()
    client = api.client

    plain = client.post("/v1/links", json={"amount": 90_000, "description": "A"}, headers=headers)
    assert plain.status_code == 201, plain.text
    assert _position(plain) == api.head()
    keyed = client.post(
        "/v1/links",
        json={"amount": 90_000, "description": "B"},
        headers={**headers, "Idempotency-Key": "link-b"},
    )
    assert keyed.status_code == 201, keyed.text
    assert _position(keyed) == api.head() > _position(plain)
    cancelled = client.post(f"/v1/links/{keyed.json()['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert _position(cancelled) == api.head()

    payment = _held_payment(api, shop)
    review = client.post(
        f"/v1/payments/{payment}/review", json={"decision": "accept"}, headers=headers
    )
    assert _position(review) == api.head()
    refund = client.post(
        f"/v1/payments/{payment}/refund",
        json={"amount": 5_000, "reason": "one shirt short"},
        headers=headers,
    )
    assert refund.status_code == 201, refund.text
    assert _position(refund) == api.head()
    account = client.put(
        "/v1/account/bank-account",
        json={"bank": "BCA", "account_number": "1234567890", "account_name": "Toko Budi"},
        headers=headers,
    )
    assert account.status_code == 200, account.text
    assert _position(account) == api.head()
    api.catch_up()
    assert settle_day(api.paylink, api.app.state.read_models, date(2026, 1, 9)).settled == 1
    payout = client.post("/v1/payouts", json={"amount": 1_000}, headers=headers)
    assert payout.status_code == 201, payout.text
    assert _position(payout) == api.head()

    # Nothing written, nothing to wait for: no position.
    refused = client.post("/v1/links", json={"amount": -1, "description": "x"}, headers=headers)
    assert_problem(refused, 422)
    assert "paylink-position" not in refused.headers
    read = client.get("/v1/links", headers=headers)
    assert read.status_code == 200
    assert "paylink-position" not in read.headers


def test_a_position_that_never_comes_is_answered_within_the_bound_as_stale(
    make_api: MakeApi,
) -> None:
    api = make_api(read_wait_s=0.5)
    shop = api.merchant()
    api.create_link(shop)
    api.catch_up()
    beyond = str(api.head() + 1_000)
    for path in ("/v1/balances", "/v1/links", "/v1/payments", "/v1/events", "/v1/payouts"):
        started = time.monotonic()
        response = api.client.get(path, headers=shop.headers(**{"Paylink-Min-Position": beyond}))
        assert response.status_code == 200, (path, response.text)
        assert response.headers.get("paylink-stale") == "true", path
        assert time.monotonic() - started < GENEROUS_S, path
    reached = api.client.get(
        "/v1/links", headers=shop.headers(**{"Paylink-Min-Position": str(api.head())})
    )
    assert reached.status_code == 200
    assert "paylink-stale" not in reached.headers


def test_a_min_position_that_is_not_a_position_is_refused(api: Api) -> None:
    shop = api.merchant()
    for given in ("-1", "abc", "1.5", "1e3", "", str(2**64)):
        response = api.client.get(
            "/v1/balances", headers=shop.headers(**{"Paylink-Min-Position": given})
        )
        assert_problem(response, 422, "validation-error", field="Paylink-Min-Position")


@pytest.fixture
def app_without_projections(
    make_api: MakeApi, backend_settings: Settings
) -> Iterator[tuple[Api, Callable[[], None]]]:
    """An app that does not feed its read models, and a catch-up of its own beside it (as
    ``projections run`` beside ``serve --workers N``); yields (api, start it)."""
    api = make_api(run_projections=False, read_wait_s=GENEROUS_S)
    service = ProjectionService(backend_settings, api.paylink.app)
    started: list[bool] = []

    def start() -> None:
        service.start()
        started.append(True)

    yield api, start
    if started:
        service.stop()


def test_queries_wait_for_read_models_fed_outside_the_app(
    app_without_projections: tuple[Api, Callable[[], None]], slow_links: None
) -> None:
    api, start_projections = app_without_projections
    shop = api.merchant()
    start_projections()

    created = api.client.post(
        "/v1/links", json={"amount": 70_000, "description": "Topi"}, headers=shop.headers()
    )
    assert created.status_code == 201, created.text
    listed = api.client.get("/v1/links", headers=shop.headers())

    assert listed.status_code == 200, listed.text
    assert [link["id"] for link in listed.json()["data"]] == [created.json()["id"]]
    assert "paylink-stale" not in listed.headers
