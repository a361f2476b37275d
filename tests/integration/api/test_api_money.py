"""Payouts, refunds, reviews, settlements and the account over HTTP, on both backends."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from api.channel_registry import sandbox_channel
from paylink_es.application.channel_port import RefundResult
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan
from paylink_es.domain.money import Money
from projections.queries.ledger import journal
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


def _account(api: Api, merchant: Merchant) -> None:
    put = api.client.put(
        "/v1/account/bank-account",
        json={"bank": "BCA", "account_number": "1234567890", "account_name": "Toko Minus"},
        headers=merchant.headers(),
    )
    assert put.status_code == 200, put.text


def _events(api: Api, merchant: Merchant) -> list[dict[str, Any]]:
    return api.listed(merchant, "/v1/events", limit=100)


def test_a_settled_payment_is_refunded_in_full_the_balance_goes_negative_and_recovers(
    api: Api,
) -> None:
    shop = api.merchant("Toko Minus")
    _account(api, shop)
    client = api.client
    first = verified_payment(api, shop, 104_000, "VA-NEG-1")  # net 100,000 after 4,000
    assert settle(api, date(2026, 1, 6)) == 1
    paid = client.post("/v1/payouts", json={"amount": 100_000}, headers=shop.headers())
    assert paid.status_code == 201, paid.text
    api.catch_up()
    assert balance(api, shop)["available"] == 0

    # Without an amount: everything the customer paid, not only the merchant's net.
    refund = client.post(
        f"/v1/payments/{first}/refund", json={"reason": "order cancelled"}, headers=shop.headers()
    )
    assert refund.status_code == 201, refund.text
    body = refund.json()
    assert (body["status"], body["amount"], body["payment_refunded"]) == (
        "succeeded",
        104_000,
        104_000,
    )
    assert body["fee_returned"] == 0  # the default plan keeps the fee
    assert body["channel_ref"].startswith("SBXR-")
    api.catch_up()
    books = balance(api, shop)
    assert (books["available"], books["refunded"], books["fees"], books["paid_out"]) == (
        -104_000,
        104_000,
        4_000,
        100_000,
    )
    assert books["verified"] == 104_000

    refused = client.post("/v1/payouts", json={"amount": 1}, headers=shop.headers())
    problem = assert_problem(refused, 409, "insufficient-funds", field="amount")
    assert "IDR -104000" in problem["detail"]
    assert "next settlements" in problem["detail"]

    # The next settlement makes the negative balance good before anything is paid out.
    verified_payment(api, shop, 150_000, "VA-NEG-2")  # net 146,000
    assert settle(api, date(2026, 1, 7)) == 1
    assert balance(api, shop)["available"] == 42_000
    too_much = client.post("/v1/payouts", json={"amount": 42_001}, headers=shop.headers())
    assert_problem(too_much, 409, "insufficient-funds", field="amount")
    rest = client.post("/v1/payouts", json={"amount": 42_000}, headers=shop.headers())
    assert rest.status_code == 201, rest.text
    api.catch_up()
    assert balance(api, shop)["available"] == 0

    told = [
        (e["type"], e["data"]["object"], e["data"]["id"])
        for e in _events(api, shop)
        if e["type"].startswith("refund.") or e["type"] == "payment.refunded"
    ]
    assert told == [
        ("refund.created", "refund", body["id"]),
        ("payment.refunded", "payment", str(first)),
        ("refund.succeeded", "refund", body["id"]),
    ]


def test_the_fee_plan_says_whether_a_refund_gives_the_fee_back(api: Api) -> None:
    kept, returned = api.merchant("Toko Simpan"), api.merchant("Toko Kembali")
    plan = FeePlan.from_dict({**DEFAULT_PLAN.to_dict(), "refund_fee": "returned"})
    api.paylink.merchants.set_fee_plan(returned.id, plan)
    account = api.client.get("/v1/account", headers=returned.headers()).json()
    assert account["fee_plan"]["refund_fee"] == "returned"
    payments = {
        shop.id: verified_payment(api, shop, 104_000, f"VA-FEE-{n}")
        for n, shop in enumerate((kept, returned))
    }
    assert settle(api, date(2026, 1, 6)) == 2
    answers = {}
    for shop in (kept, returned):
        path = f"/v1/payments/{payments[shop.id]}/refund"
        half = api.client.post(
            path, json={"amount": 52_000, "reason": "half"}, headers=shop.headers()
        )
        assert half.status_code == 201, half.text
        answers[shop.id] = half.json()["fee_returned"]
    assert answers == {kept.id: 0, returned.id: 2_000}
    api.catch_up()
    # By hand: net 100,000 was available. Kept: the refund takes 52,000 of it and the
    # platform keeps its 4,000. Returned: half the fee (2,000) comes back with the half
    # refunded, so available pays 50,000 and the platform keeps 2,000.
    assert (balance(api, kept)["available"], balance(api, kept)["fees"]) == (48_000, 4_000)
    assert (balance(api, returned)["available"], balance(api, returned)["fees"]) == (50_000, 2_000)
    models = api.app.state.read_models
    lines = [
        (
            row["account"].split(":")[0] + ":" + row["account"].split(":")[-1],
            row["debit"],
            row["credit"],
        )
        for page in journal(models, merchant_id=returned.id)
        for row in page
        if row["event"] == "Payment.Refunded"
    ]
    assert lines == [
        ("platform:fees", 2_000, 0),
        ("merchant:available", 50_000, 0),
        ("channel:refunds", 0, 52_000),
    ]
    rest = api.client.post(
        f"/v1/payments/{payments[returned.id]}/refund",
        json={"reason": "the other half"},
        headers=returned.headers(),
    )
    assert (rest.json()["amount"], rest.json()["fee_returned"]) == (52_000, 2_000)
    api.catch_up()
    books = balance(api, returned)
    assert (books["available"], books["fees"], books["refunded"]) == (0, 0, 104_000)
    [succeeded] = [e["data"] for e in _events(api, returned) if e["type"] == "refund.succeeded"][
        -1:
    ]
    assert (succeeded["amount"], succeeded["fee_returned"]) == (52_000, 2_000)


def test_a_refund_the_channel_refuses_is_told_as_failed_and_moves_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = api.merchant("Toko Tolak")
    payment = verified_payment(api, shop, 100_000, "VA-NO")
    api.catch_up()
    before = balance(api, shop)
    asked: list[UUID] = []

    def refuse(channel_ref: str, payment_id: UUID, refund_id: UUID, amount: Money) -> RefundResult:
        asked.append(refund_id)
        return RefundResult(accepted=False, channel_ref="", detail="the payer's account is closed")

    monkeypatch.setattr(sandbox_channel(api.app.state), "refund", refuse)
    path = f"/v1/payments/{payment}/refund"
    key = shop.headers(**{"Idempotency-Key": "refund-refused-1"})
    first = api.client.post(path, json={"amount": 40_000, "reason": "damaged"}, headers=key)
    problem = assert_problem(first, 422, "channel-refused", field="payment")
    assert problem["detail"] == (
        "the sandbox channel refused the refund: the payer's account is closed"
    )
    again = api.client.post(path, json={"amount": 40_000, "reason": "damaged"}, headers=key)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len(asked) == 1, "a replayed answer asks the channel nothing"
    assert api.paylink.payments.get(payment).refunded == Money(0, "IDR")
    assert balance(api, shop) == before
    events = _events(api, shop)
    refund_events = [e for e in events if e["data"]["object"] == "refund"]
    assert [e["type"] for e in refund_events] == ["refund.created", "refund.failed"]
    failed = refund_events[1]["data"]
    assert failed == {
        "object": "refund",
        "id": str(asked[0]),
        "payment_id": str(payment),
        "status": "failed",
        "amount": 40_000,
        "currency": "IDR",
        "reason": "damaged",
        "failure": "the payer's account is closed",
    }
    assert not any(e["type"] == "payment.refunded" for e in events)
    models = api.app.state.read_models
    posted = [row for page in journal(models, merchant_id=shop.id) for row in page]
    assert {row["event"] for row in posted} == {"Payment.Verified"}, "no money moved"
