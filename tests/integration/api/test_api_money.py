"""Payouts, refunds, reviews, settlements and the account over HTTP, on both backends."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any
from uuid import UUID

from paylink_es.domain.money import Money
from tests.integration.api.support import assert_problem
from tests.support.app import Api, Merchant
from workers.settlement import settle_day


def verified_payment(api: Api, merchant: Merchant, amount: int, ref: str, **link: Any) -> UUID:
    """A link paid by BCA VA (Rp 4,000 fee by the default plan), recorded and verified."""
    created = api.create_link(merchant, amount=amount, **link)
    payment = api.paylink.payments.start(UUID(created["id"]), "va_bca")
    api.paylink.payments.record(payment, ref, Money(amount, "IDR"), api.clock())
    api.paylink.payments.verify(payment)
    return payment


def settle(api: Api, day: date) -> int:
    api.catch_up()
    run = settle_day(api.paylink, api.app.state.read_models, day)
    api.catch_up()
    return run.settled


def balance(api: Api, merchant: Merchant) -> dict[str, Any]:
    response = api.client.get("/v1/balances", headers=merchant.headers())
    assert response.status_code == 200, response.text
    [idr] = response.json()["data"]
    return dict(idr)


def test_a_merchant_sets_its_account_settles_and_pays_out_exactly_once(api: Api) -> None:
    shop = api.merchant()
    client = api.client
    account = client.get("/v1/account", headers=shop.headers()).json()
    assert account["bank_account"] is None
    assert account["anomaly_policy"]["overpaid"] == "hold"
    assert account["fee_plan"]["families"]["virtual_account"]["flat"] == 4_000

    early = client.post("/v1/payouts", json={"amount": 1_000}, headers=shop.headers())
    assert_problem(early, 422, "bank-account-missing", field="bank_account")
    bad = client.put(
        "/v1/account/bank-account",
        json={"bank": "BCA", "account_number": "12-34", "account_name": "Toko"},
        headers=shop.headers(),
    )
    assert_problem(bad, 422, field="account_number")
    put = client.put(
        "/v1/account/bank-account",
        json={"bank": "BCA", "account_number": "1234567890", "account_name": "Toko Budi"},
        headers=shop.headers(),
    )
    assert put.status_code == 200, put.text
    assert put.json()["bank_account"]["account_number"].endswith("7890")
    assert "123456" not in put.text, "the account number is never shown whole"

    verified_payment(api, shop, 150_000, "VA-1")
    verified_payment(api, shop, 54_000, "VA-2")
    assert settle(api, date(2026, 1, 6)) == 2
    assert settle(api, date(2026, 1, 6)) == 0
    settlements = client.get("/v1/settlements", headers=shop.headers()).json()["data"]
    assert [
        (s["settlement_date"], s["payments"], s["gross"], s["fee"], s["net"]) for s in settlements
    ] == [("2026-01-06", 2, 204_000, 8_000, 196_000)]
    report = client.get(
        "/v1/settlements/report.csv", params={"date": "2026-01-06"}, headers=shop.headers()
    )
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert sorted(int(row["net"]) for row in rows) == [50_000, 146_000]
    assert balance(api, shop)["available"] == 196_000

    too_much = client.post("/v1/payouts", json={"amount": 196_001}, headers=shop.headers())
    assert_problem(too_much, 409, "insufficient-funds", field="amount")
    typed = client.post("/v1/payouts", json={"amount": "1000"}, headers=shop.headers())
    assert_problem(typed, 422, field="amount")

    key = shop.headers(**{"Idempotency-Key": "payout-2026-01-06"})
    first = client.post(
        "/v1/payouts", json={"amount": 100_000, "description": "week 1"}, headers=key
    )
    again = client.post(
        "/v1/payouts", json={"amount": 100_000, "description": "week 1"}, headers=key
    )
    assert first.status_code == again.status_code == 201, first.text
    assert first.content == again.content
    assert again.headers["idempotent-replayed"] == "true"
    payout = first.json()
    assert (payout["status"], payout["amount"], payout["currency"]) == ("paid_out", 100_000, "IDR")
    api.catch_up()
    assert balance(api, shop)["available"] == 96_000
    assert balance(api, shop)["paid_out"] == 100_000
    listed = client.get("/v1/payouts", headers=shop.headers()).json()["data"]
    assert [p["id"] for p in listed] == [payout["id"]]
    one = client.get(f"/v1/payouts/{payout['id']}", headers=shop.headers())
    assert one.json()["bank_account"]["account_number"].endswith("7890")

    other = api.merchant("Toko Lain")
    assert_problem(client.get(f"/v1/payouts/{payout['id']}", headers=other.headers()), 404)
    assert client.get("/v1/payouts", headers=other.headers()).json()["data"] == []
    assert client.get("/v1/settlements", headers=other.headers()).json()["data"] == []
    live = client.get("/v1/payouts", headers=shop.headers("live")).json()["data"]
    assert live == [], "test and live never mix"


def test_refunds_partial_then_the_rest_then_nothing(api: Api) -> None:
    shop = api.merchant()
    payment = verified_payment(api, shop, 100_000, "VA-R")
    client = api.client
    path = f"/v1/payments/{payment}/refund"
    part = client.post(path, json={"amount": 30_000, "reason": "one item"}, headers=shop.headers())
    assert part.status_code == 201, part.text
    assert (part.json()["amount"], part.json()["payment_refunded"]) == (30_000, 30_000)
    rest = client.post(path, json={"reason": "order cancelled"}, headers=shop.headers())
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == 70_000
    more = client.post(path, json={"amount": 1, "reason": "again"}, headers=shop.headers())
    assert_problem(more, 409, "refund-exceeds-payment", field="amount")
    nothing = client.post(path, json={"reason": "again"}, headers=shop.headers())
    assert_problem(nothing, 409, "refund-exceeds-payment")
    no_reason = client.post(path, json={"amount": 1}, headers=shop.headers())
    assert_problem(no_reason, 422, field="reason")
    other = api.merchant("Toko Lain")
    stranger = client.post(path, json={"amount": 1, "reason": "x"}, headers=other.headers())
    assert_problem(stranger, 404, "not-found", field="payment_id")
    api.catch_up()
    books = balance(api, shop)
    assert (books["pending"], books["refunded"], books["verified"]) == (0, 100_000, 100_000)
    refunds = [t for t in api.topics() if t.endswith("Payment.Refunded")]
    assert len(refunds) == 2


def test_a_held_payment_is_reviewed_and_then_counts(api: Api) -> None:
    shop = api.merchant()
    created = api.create_link(shop, amount=100_000)
    payment = api.paylink.payments.start(UUID(created["id"]), "va_bca")
    api.paylink.payments.record(payment, "VA-OVER", Money(125_000, "IDR"), api.clock())
    api.paylink.payments.verify(payment)
    api.catch_up()
    assert balance(api, shop)["held"] == 125_000
    path = f"/v1/payments/{payment}/review"
    wrong = api.client.post(path, json={"decision": "maybe"}, headers=shop.headers())
    assert_problem(wrong, 422, field="decision")
    ok = api.client.post(path, json={"decision": "accept", "note": "tip"}, headers=shop.headers())
    assert ok.status_code == 200, ok.text
    assert ok.json()["disposition"] is None
    twice = api.client.post(path, json={"decision": "accept"}, headers=shop.headers())
    assert_problem(twice, 409, "payment-state-invalid")
    api.catch_up()
    assert (balance(api, shop)["held"], balance(api, shop)["pending"]) == (0, 125_000)


def test_the_anomaly_policy_is_set_per_merchant_with_clear_errors(api: Api) -> None:
    shop = api.merchant()
    path = "/v1/account/anomaly-policy"
    bad = api.client.put(path, json={"policy": {"overpaid": "keep"}}, headers=shop.headers())
    assert_problem(bad, 422)
    unknown = api.client.put(path, json={"policy": {"stolen": "accept"}}, headers=shop.headers())
    assert_problem(unknown, 422, field="policy.stolen")
    ok = api.client.put(path, json={"policy": {"overpaid": "accept"}}, headers=shop.headers())
    assert ok.status_code == 200, ok.text
    assert ok.json()["anomaly_policy"]["overpaid"] == "accept"
    assert ok.json()["anomaly_policy"]["link_cancelled"] == "refund"
