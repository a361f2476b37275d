"""``/v1/payments`` and ``/v1/balances``: payments driven through the paylink, read over HTTP."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from paylink_es.domain.clock import WIB
from paylink_es.domain.money import Money
from projections.ledger import BALANCE_COLUMNS
from tests.integration.api.support import UNKNOWN_ID, assert_problem, instant
from tests.support.app import Api, Merchant


def _idr(amount: int) -> Money:
    return Money(amount, "IDR")


def _balances(api: Api, merchant: Merchant, as_of: datetime | None = None) -> dict[str, Any]:
    params = {} if as_of is None else {"as_of": as_of.astimezone(WIB).isoformat()}
    response = api.client.get("/v1/balances", params=params, headers=merchant.headers())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["object"] == "balance"
    assert body["mode"] == "test"
    for row in body["data"]:
        for column in BALANCE_COLUMNS:
            value = row[column]
            assert type(value) is int, f"{column} is {value!r}, not an integer of minor units"
    return body


def _pay(api: Api, link_id: str, method: str, ref: str, amount: int = 100000) -> UUID:
    payment = api.paylink.payments.start(UUID(link_id), method)
    api.paylink.payments.record(payment, ref, _idr(amount), api.clock())
    return payment


def _payments(api: Api, merchant: Merchant, **params: Any) -> list[dict[str, Any]]:
    return api.listed(merchant, "/v1/payments", **params)


def test_balances_move_with_each_payment_step_and_as_of_shows_them_as_they_were(
    api: Api,
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, usage_limit=None)
    before_anything = api.clock()
    snapshots: list[tuple[datetime, list[dict[str, Any]]]] = []

    def step() -> None:
        api.catch_up()
        snapshots.append((api.clock(), _balances(api, merchant)["data"]))
        api.clock.advance(timedelta(hours=1))

    api.clock.advance(timedelta(minutes=1))
    first = _pay(api, link["id"], "qris", "QR-1")
    step()  # paid, not verified: nothing is owed yet
    api.paylink.payments.verify(first, fee=_idr(700))
    step()
    second = _pay(api, link["id"], "va_bca", "VA-1")
    api.paylink.payments.verify(second, fee=_idr(4000))
    step()
    api.paylink.money.settle_payment(first, uuid4(), date(2026, 1, 6))
    step()
    api.paylink.money.refund(first, _idr(20000), "customer returned one shirt")
    step()

    def row(**columns: int) -> list[dict[str, Any]]:
        return [{"currency": "IDR", **dict.fromkeys(BALANCE_COLUMNS, 0), **columns}]

    assert [data for _, data in snapshots] == [
        [],
        row(pending=100000, verified=100000),
        row(pending=200000, verified=200000),
        row(pending=100000, available=99300, fees=700, verified=200000),
        row(pending=100000, available=79300, fees=700, refunded=20000, verified=200000),
    ]
    assert _balances(api, merchant)["data"] == snapshots[-1][1]
    assert _balances(api, merchant, before_anything)["data"] == []
    for at, data in snapshots:
        for moment in (at, at + timedelta(minutes=30)):
            body = _balances(api, merchant, moment)
            assert body["data"] == data, f"as of {moment}"
            assert instant(body["as_of"]) == moment


def test_balances_as_of_keep_microseconds_so_events_in_the_same_second_are_told_apart(
    api: Api,
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, usage_limit=None)
    whole_second = api.clock()
    assert whole_second.microsecond == 0
    first_at = api.clock.advance(timedelta(microseconds=100_000))
    api.paylink.payments.verify(_pay(api, link["id"], "qris", "QR-1"))
    second_at = api.clock.advance(timedelta(microseconds=400_000))
    api.paylink.payments.verify(_pay(api, link["id"], "va_bca", "VA-1"))
    api.catch_up()

    def verified(as_of: datetime) -> int:
        body = _balances(api, merchant, as_of)
        assert instant(body["as_of"]) == as_of
        return sum(row["verified"] for row in body["data"])

    assert verified(whole_second) == 0
    assert verified(first_at - timedelta(microseconds=1)) == 0
    assert verified(first_at) == 100000
    assert verified(second_at - timedelta(microseconds=1)) == 100000
    assert verified(second_at) == 200000
    # Digits past the microsecond are cut, never rounded up into the next event.
    text = second_at.strftime("%Y-%m-%dT%H:%M:%S.") + "4999999Z"
    response = api.client.get("/v1/balances", params={"as_of": text}, headers=merchant.headers())
    assert response.status_code == 200, response.text
    assert [row["verified"] for row in response.json()["data"]] == [100000]


def test_payments_are_listed_newest_first_filtered_by_link_and_status_and_paged(
    api: Api,
) -> None:
    merchant = api.merchant()
    shirts = api.create_link(merchant, usage_limit=None)
    hats = api.create_link(merchant, usage_limit=None, description="Topi")
    first = _pay(api, shirts["id"], "qris", "QR-1")
    api.paylink.payments.verify(first, fee=_idr(700))
    api.paylink.money.settle_payment(first, uuid4(), date(2026, 1, 6))
    api.clock.advance(timedelta(minutes=1))
    second = _pay(api, shirts["id"], "va_bca", "VA-1")
    api.paylink.payments.verify(second, fee=_idr(4000))
    api.clock.advance(timedelta(minutes=1))
    third = api.paylink.payments.start(UUID(hats["id"]), "ewallet_ovo")
    api.catch_up()

    everything = [p["id"] for p in _payments(api, merchant)]
    assert everything == [str(third), str(second), str(first)]
    assert [p["id"] for p in _payments(api, merchant, link_id=shirts["id"])] == [
        str(second),
        str(first),
    ]
    assert [p["id"] for p in _payments(api, merchant, status="settled")] == [str(first)]
    assert [p["id"] for p in _payments(api, merchant, status="verified")] == [str(second)]
    assert [p["id"] for p in _payments(api, merchant, status="initiated")] == [str(third)]
    assert _payments(api, merchant, status="rejected") == []
    assert _payments(api, merchant, link_id=hats["id"], status="settled") == []

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in range(5):
        response = api.client.get("/v1/payments", params=params, headers=merchant.headers())
        page = response.json()
        assert len(page["data"]) == 1
        seen += [p["id"] for p in page["data"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": 1, "cursor": page["next_cursor"]}
    assert seen == everything


def test_a_payment_is_read_with_its_money_in_minor_units(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, usage_limit=None)
    payment = _pay(api, link["id"], "qris", "QR-7", amount=100000)
    api.paylink.payments.verify(payment, fee=_idr(700))
    api.paylink.money.settle_payment(payment, uuid4(), date(2026, 1, 6))
    api.paylink.money.refund(payment, _idr(20000), "one shirt back")
    api.catch_up()

    response = api.client.get(f"/v1/payments/{payment}", headers=merchant.headers())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "payment"
    assert body["id"] == str(payment)
    assert body["link_id"] == link["id"]
    assert body["mode"] == "test"
    assert (body["method"], body["channel"], body["channel_ref"]) == ("qris", "sandbox", "QR-7")
    assert body["status"] == "settled"
    assert body["currency"] == "IDR"
    money = {name: body[name] for name in ("amount", "received", "fee", "net", "refunded")}
    assert money == {
        "amount": 100000,
        "received": 100000,
        "fee": 700,
        "net": 99300,
        "refunded": 20000,
    }
    assert all(type(value) is int for value in money.values())
    assert instant(body["paid_at"]) == api.clock()


def test_reading_an_unknown_payment_is_a_404_problem(api: Api) -> None:
    merchant = api.merchant()

    response = api.client.get(f"/v1/payments/{UNKNOWN_ID}", headers=merchant.headers())

    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/payments", {"status": "paid-ish"}, "status"),
        ("/v1/payments", {"limit": 0}, "limit"),
        ("/v1/payments", {"limit": 101}, "limit"),
        ("/v1/payments", {"cursor": "not a cursor"}, "cursor"),
        ("/v1/payments", {"link_id": "not-a-uuid"}, "link_id"),
        ("/v1/balances", {"as_of": "2026-01-05T10:00:00"}, "as_of"),
        ("/v1/balances", {"as_of": "yesterday"}, "as_of"),
        ("/v1/links", {"status": "paid"}, "status"),
        ("/v1/links", {"created_from": "2026-01-05T10:00:00"}, "created_from"),
        ("/v1/links", {"created_to": "2026-01-05T10:00:00"}, "created_to"),
        ("/v1/links", {"limit": 0}, "limit"),
        ("/v1/links", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ],
)
def test_a_bad_query_parameter_is_a_422_problem_naming_it(
    sqlite_api: Api, path: str, params: dict[str, Any], field: str
) -> None:
    merchant = sqlite_api.merchant()

    response = sqlite_api.client.get(path, params=params, headers=merchant.headers())

    assert_problem(response, 422, field=field)
