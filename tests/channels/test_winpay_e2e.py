"""Winpay SNAP end to end: the real app on uvicorn (SQLite and PostgreSQL) and the local
SNAP counterpart, both on 127.0.0.1.

A customer picks a VA on the hosted page of a live link → the app creates the VA at the
counterpart (signed, checked there) → the counterpart marks it paid and sends the signed
VA payment callback → the app verifies it, records the payment, asks the counterpart's
status inquiry, and credits the merchant's pending balance (read back over the API).
Every refused callback answers its SNAP code and credits nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from api.app import create_app
from paylink_es.bootstrap import open_app
from paylink_es.channels.snap import WIB
from paylink_es.channels.winpay import CALLBACK_PATH
from paylink_es.clock import FakeClock
from paylink_es.settings import Settings
from projections.runner import ProjectionService
from tests.api.support import live_server
from tests.channels.snap_counterpart import (
    WinpayCounterpart,
    private_pem,
    public_pem,
    va_payment_body,
)
from tests.page.support import Shop, csrf_of, shop

LINK: dict[str, Any] = {
    "amount": 150000,
    "currency": "IDR",
    "description": "Kaos polos hitam",
    "methods": ["va_bri", "va_bsi", "qris", "ewallet_ovo"],
    "usage_limit": None,
}


def winpay_settings(
    settings: Settings,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
) -> Settings:
    """``settings`` with Winpay configured against the counterpart."""
    return settings.model_copy(
        update={
            "winpay_base_url": counterpart.base_url,
            "winpay_partner_id": "PAYLINK",
            "winpay_channel_id": "PAYLINKWEB",
            "winpay_partner_service_id": "9042",
            "winpay_private_key": SecretStr(private_pem(merchant_key)),
            "winpay_public_key": public_pem(winpay_key),
        }
    )


@pytest.fixture
def winpay_shop(
    backend_settings: Settings,
    clock: FakeClock,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
) -> Iterator[Shop]:
    """A served shop (uvicorn on 127.0.0.1, projections running) with Winpay configured."""
    configured = winpay_settings(backend_settings, counterpart, merchant_key, winpay_key)
    with shop(configured, clock, served=True, run_projections=True) as built:
        yield built


# -- helpers ---------------------------------------------------------------------------


def pick_va(shop: Shop, method: str = "va_bri") -> UUID:
    """A customer opens a new live link and picks ``method``; the payment's id."""
    link = shop.link(LINK, mode="live")
    return shop.choose(link.code, method)


def send(
    shop: Shop,
    counterpart: WinpayCounterpart,
    body: dict[str, Any] | bytes,
    *,
    external_id: str,
    stamp: datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
    tamper: tuple[bytes, bytes] | None = None,
    url: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """The counterpart signs a VA payment callback and posts it to the app over HTTP."""
    headers, raw = counterpart.callback(
        body,
        stamp=stamp or datetime.now(WIB),
        external_id=external_id,
        key=key,
        path=CALLBACK_PATH,
    )
    if tamper is not None:
        assert tamper[0] in raw, raw
        raw = raw.replace(*tamper)
    response = httpx.post(f"{url or shop.url}{CALLBACK_PATH}", content=raw, headers=headers)
    answer: dict[str, Any] = response.json()
    assert response.status_code == int(answer["responseCode"][:3]), answer
    return response.status_code, answer


def live_money(shop: Shop) -> dict[str, int]:
    """The merchant's live IDR buckets from GET /v1/balances, once projections caught up."""
    service: ProjectionService = shop.app.state.projections
    service.wait_until(shop.head(), timeout=20)
    response = shop.client.get("/v1/balances", headers=shop.headers("live"))
    assert response.status_code == 200, response.text
    rows = [row for row in response.json()["data"] if row["currency"] == "IDR"]
    buckets = ("pending", "held", "refund_due", "verified")
    return {name: rows[0][name] for name in buckets} if rows else dict.fromkeys(buckets, 0)


def api_payment(shop: Shop, payment_id: UUID) -> dict[str, Any]:
    """GET /v1/payments/{id} with the live key, once projections caught up."""
    service: ProjectionService = shop.app.state.projections
    service.wait_until(shop.head(), timeout=20)
    response = shop.client.get(f"/v1/payments/{payment_id}", headers=shop.headers("live"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def inquiries(counterpart: WinpayCounterpart, trx_id: str) -> int:
    """How many status inquiries about ``trx_id`` the counterpart answered."""
    return sum(
        1
        for path, _, payload in counterpart.requests
        if path == "/v1.0/transfer-va/status" and payload.get("trxId") == trx_id
    )


# -- the happy path ----------------------------------------------------------------------


def test_a_va_picked_on_the_page_is_created_paid_confirmed_and_credited(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    payment_id = pick_va(shop, "va_bri")
    trx = str(payment_id)

    # The VA exists at the counterpart, which checked our RSA signature to create it.
    va = counterpart.vas[trx]
    assert va["totalAmount"] == {"value": "150000.00", "currency": "IDR"}
    assert va["additionalInfo"]["channel"] == "BRI"
    assert va["partnerServiceId"] == "    9042"
    payment = shop.payment(payment_id)
    assert (payment.channel, payment.status, payment.mode) == ("winpay", "initiated", "live")
    number = va["virtualAccountNo"].replace(" ", "")
    assert payment.instructions["va_number"] == number
    assert payment.instructions["virtual_account_no"] == va["virtualAccountNo"]
    page = shop.payment_page(shop.ledger.link(payment.link_id).code, payment_id)
    assert number in page.text
    assert live_money(shop)["pending"] == 0

    counterpart.pay(trx)
    status, answer = send(
        shop, counterpart, va_payment_body(va, "45539"), external_id="100000000001"
    )

    assert (status, answer) == (200, {"responseCode": "2002500", "responseMessage": "Successful"})
    assert inquiries(counterpart, trx) == 1, "credited without asking the status inquiry"
    assert shop.payment(payment_id).status == "verified"
    read = api_payment(shop, payment_id)
    assert (read["status"], read["channel"], read["received"]) == ("verified", "winpay", 150000)
    assert isinstance(read["fee"], int)
    assert live_money(shop)["pending"] == 150000

    # Winpay retries the same payment (new X-EXTERNAL-ID): answered OK, credited once.
    head = shop.head()
    again = send(shop, counterpart, va_payment_body(va, "45539"), external_id="100000000002")
    assert again == (200, {"responseCode": "2002500", "responseMessage": "Successful"})
    assert live_money(shop)["pending"] == 150000
    assert shop.count("Payment.Received") == 1
    assert shop.head() == head + 1, "only the new X-EXTERNAL-ID was stored"


def test_qris_is_generated_at_winpay_and_unsupported_methods_answer_503(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    payment_id = pick_va(shop, "qris")
    payment = shop.payment(payment_id)
    assert payment.channel == "winpay"
    assert payment.instructions["qr_content"].startswith("000201")
    assert "ID.CO.WINPAY.WWW" in payment.instructions["qr_content"]
    assert any(path == "/v1.0/qr/qr-mpm-generate" for path, _, _ in counterpart.requests)

    link = shop.link(LINK, mode="live")
    page = shop.open(link.code)
    before = shop.head()
    response = shop.client.post(
        f"/l/{link.code}/pay",
        data={"csrf": csrf_of(page.text), "method": "ewallet_ovo"},
        follow_redirects=False,
    )
    assert response.status_code == 503
    assert shop.head() == before


# -- refusals ------------------------------------------------------------------------------


def test_forged_stale_and_altered_callbacks_are_refused_and_store_nothing(
    winpay_shop: Shop, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    shop = winpay_shop
    payment_id = pick_va(shop)
    va = counterpart.vas[str(payment_id)]
    counterpart.pay(str(payment_id))
    body = va_payment_body(va, "77001")
    head = shop.head()
    old = datetime.now(WIB) - timedelta(minutes=10)

    attempts: dict[str, dict[str, Any]] = {
        "signed with another key": {"key": merchant_key},
        "stale X-TIMESTAMP": {"stamp": old},
        "from the future": {"stamp": datetime.now(WIB) + timedelta(minutes=10)},
        "altered amount": {"tamper": (b'"150000.00"', b'"900000.00"')},
        "altered VA number": {"tamper": (b"    9042", b"    9043")},
    }
    expected = {
        "signed with another key": "Unauthorized. Signature",
        "stale X-TIMESTAMP": "Unauthorized. stale X-TIMESTAMP",
        "from the future": "Unauthorized. stale X-TIMESTAMP",
        "altered amount": "Unauthorized. Signature",
        "altered VA number": "Unauthorized. Signature",
    }
    for number, (why, how) in enumerate(attempts.items()):
        status, answer = send(shop, counterpart, body, external_id=f"20000000000{number}", **how)
        assert (status, answer["responseCode"]) == (401, "4012500"), why
        assert answer["responseMessage"] == expected[why], why

    assert shop.head() == head, "a refused callback stored something"
    assert inquiries(counterpart, str(payment_id)) == 0
    assert shop.payment(payment_id).status == "initiated"
    assert live_money(shop)["pending"] == 0

    # The refusals were the callbacks', not the payment's: a good one pays it. The ids
    # of refused callbacks were not burnt (nothing was stored for them).
    good = send(shop, counterpart, body, external_id="200000000000")
    assert good == (200, {"responseCode": "2002500", "responseMessage": "Successful"})
    assert live_money(shop)["pending"] == 150000


def test_a_wrong_amount_or_an_unpaid_va_is_rejected_by_the_status_inquiry(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    short = pick_va(shop)
    va = counterpart.vas[str(short)]
    counterpart.pay(str(short))  # Winpay's books: paid, the full 150000

    status, answer = send(
        shop, counterpart, va_payment_body(va, "88001", "15000.00"), external_id="300000000001"
    )

    assert (status, answer["responseCode"]) == (404, "4042513"), answer
    assert inquiries(counterpart, str(short)) == 1
    rejected = shop.payment(short)
    assert rejected.status == "rejected"
    assert rejected.rejection is not None
    assert "150000" in rejected.rejection
    assert api_payment(shop, short)["status"] == "rejected"
    money = live_money(shop)
    assert (money["pending"], money["held"], money["refund_due"], money["verified"]) == (
        0,
        0,
        0,
        0,
    )

    unpaid = pick_va(shop, "va_bsi")  # signed by Winpay, but its status says 01 unpaid
    status, answer = send(
        shop,
        counterpart,
        va_payment_body(counterpart.vas[str(unpaid)], "88002"),
        external_id="300000000002",
    )
    assert (status, answer["responseCode"]) == (404, "4042512"), answer
    assert shop.payment(unpaid).status == "rejected"
    assert live_money(shop)["pending"] == 0


def test_a_replayed_external_id_is_refused_by_every_worker(
    winpay_shop: Shop,
    counterpart: WinpayCounterpart,
    clock: FakeClock,
) -> None:
    shop = winpay_shop
    first, second = pick_va(shop), pick_va(shop)
    for payment_id in (first, second):
        counterpart.pay(str(payment_id))
    first_body = va_payment_body(counterpart.vas[str(first)], "99001")
    second_body = va_payment_body(counterpart.vas[str(second)], "99002")

    assert send(shop, counterpart, first_body, external_id="400000000001")[0] == 200
    assert live_money(shop)["pending"] == 150000
    head = shop.head()

    # The same callback again, and another payment's genuine callback reusing the id.
    for body in (first_body, second_body):
        status, answer = send(shop, counterpart, body, external_id="400000000001")
        assert (status, answer["responseCode"]) == (409, "4092500"), answer

    # A second worker on the same store (another app, another uvicorn) knows it too.
    with ExitStack() as stack:
        other_ledger = open_app(shop.settings, clock=clock)
        stack.callback(other_ledger.close)
        other = create_app(shop.settings, ledger=other_ledger, run_projections=False)
        other_url = stack.enter_context(live_server(other))
        status, answer = send(
            shop, counterpart, second_body, external_id="400000000001", url=other_url
        )
        assert (status, answer["responseCode"]) == (409, "4092500"), answer
        # …and a fresh id through that worker is accepted and pays the second payment.
        status, answer = send(
            shop, counterpart, second_body, external_id="400000000002", url=other_url
        )
        assert (status, answer["responseCode"]) == (200, "2002500"), answer

    assert shop.payment(second).status == "verified"
    assert shop.head() > head
    assert live_money(shop)["pending"] == 300000
