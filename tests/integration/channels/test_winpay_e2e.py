"""Winpay SNAP end to end: the real app on uvicorn (SQLite and PostgreSQL) and the local
Winpay counterpart, both on 127.0.0.1, speaking Winpay's documented protocol.

A customer picks a VA (or QRIS, an e-wallet, a retail outlet) on the hosted page of a
live link → the app creates it at the counterpart (signed, checked there) and keeps its
answer verbatim → the counterpart takes the payment and posts the signed notification to
the base URL the merchant registered → the app authenticates it, records the payment,
asks the status inquiry, and credits the merchant's pending balance (read back over the
API). Refused notifications answer their SNAP code and credit nothing; payments whose
notification never comes are found by the channel poller; instructions a link can no
longer take are deleted at the counterpart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from api.app import create_app
from api.channel_registry import channels_of
from paylink_es import bootstrap
from paylink_es.channels.winpay import CALLBACK_BASE
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.entrypoints import operations as commands
from paylink_es.locale import WIB, format_digits
from paylink_es.settings import Settings
from tests.support.app import live_server
from tests.support.shop import Shop, csrf_of, shop
from tests.support.snap_counterpart import (
    BINS,
    EWALLET_NOTIFY_PATH,
    QRIS_NOTIFY_PATH,
    STATUS_PATH,
    VA_PAYMENT_PATH,
    WinpayCounterpart,
    private_pem,
    public_pem,
    va_payment_body,
    winpay_at,
)
from workers.channel_poller import ChannelPoller

LINK: dict[str, Any] = {
    "amount": 150000,
    "currency": "IDR",
    "description": "Kaos polos hitam",
    "methods": [
        "va_bri",
        "va_bsi",
        "va_cimb",
        "qris",
        "ewallet_ovo",
        "retail_indomaret",
        "card",
    ],
    "usage_limit": None,
}
OK = {"responseCode": "2002500", "responseMessage": "Successful"}


def winpay_settings(
    settings: Settings,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
    **extra: Any,
) -> Settings:
    """``settings`` with Winpay configured against the counterpart (poller driven by hand)."""
    hand_driven = {"winpay_public_key": public_pem(winpay_key), "channel_poll_s": 0}
    return winpay_at(counterpart, settings, merchant_key, **(hand_driven | extra))


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


def pick(shop: Shop, method: str = "va_bri", **overrides: Any) -> UUID:
    """A customer opens a new live link and picks ``method``; the payment's id."""
    link = shop.link(LINK, mode="live", **overrides)
    return shop.choose(link.code, method)


def base(shop: Shop) -> str:
    """The base URL the merchant registers with Winpay."""
    return shop.url + CALLBACK_BASE


def va_of(counterpart: WinpayCounterpart, payment_id: UUID) -> dict[str, Any]:
    """The VA the counterpart created for a payment (our trxId is the payment id)."""
    return counterpart.vas[str(payment_id)]


def notify(
    shop: Shop, counterpart: WinpayCounterpart, body: dict[str, Any], external_id: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    """The counterpart signs and posts a payment notification (a VA's unless ``kw`` gives
    another ``path``); status and answer."""
    status, answer = counterpart.notify(base(shop), body, external_id=external_id, **kw)
    assert status == int(answer["responseCode"][:3]), answer
    return status, answer


def calls(counterpart: WinpayCounterpart, path: str, trx_id: str) -> list[tuple[str, Any]]:
    """(method, payload) of every call the counterpart answered on ``path`` about ``trx_id``."""
    return [
        (method, payload)
        for method, payload in counterpart.sent(path)
        if trx_id in (payload.get("trxId"), payload.get("partnerReferenceNo"))
    ]


def poller(shop: Shop) -> ChannelPoller:
    """The channel poller on the shop's paylink, views and channels."""
    return ChannelPoller(shop.paylink, shop.app.state.read_models, channels_of(shop.app.state))


def poll(shop: Shop) -> dict[str, int]:
    """One sweep over every waiting payment, once the payments view caught up."""
    shop.caught_up()
    return poller(shop).run_once(force=True)


# -- the happy path ----------------------------------------------------------------------


def test_a_va_is_created_as_winpay_answers_paid_confirmed_and_credited_once(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    payment_id = pick(shop, "va_cimb")
    trx = str(payment_id)

    # The create request named no BIN and no VA number; Winpay chose both, and its
    # answer is what the payment keeps and shows.
    (create,) = calls(counterpart, "/v1.0/transfer-va/create-va", trx)
    assert create[0] == "POST"
    assert "partnerServiceId" not in create[1]
    assert "virtualAccountNo" not in create[1]
    va = va_of(counterpart, payment_id)
    assert va["partnerServiceId"] == BINS["CIMB"].rjust(8)
    known = shop.payment(payment_id).instructions
    for field, key in (
        ("partner_service_id", "partnerServiceId"),
        ("customer_no", "customerNo"),
        ("virtual_account_no", "virtualAccountNo"),
    ):
        assert known[field] == va[key], field
    assert known["contract_id"] == va["additionalInfo"]["contractId"]
    number = va["virtualAccountNo"].replace(" ", "")
    assert known["va_number"] == number
    page = shop.payment_page(
        shop.paylink.links.get(shop.payment(payment_id).link_id).code, payment_id
    )
    assert format_digits(number) in page.text  # shown in fours, as the banks print it
    assert shop.live_money()["pending"] == 0

    counterpart.pay(trx)
    status, answer = notify(shop, counterpart, va_payment_body(va, "45539"), "100000000001")

    assert (status, answer) == (200, OK)
    # The status inquiry went out as Winpay documents it: POST, the VA as it gave it, the
    # contract, the trxId in both places.
    (inquiry,) = calls(counterpart, STATUS_PATH, trx)
    assert inquiry == (
        "POST",
        {
            "virtualAccountNo": va["virtualAccountNo"],
            "trxId": trx,
            "additionalInfo": {
                "contractId": va["additionalInfo"]["contractId"],
                "channel": "CIMB",
                "trxId": trx,
            },
        },
    )
    read = shop.api_payment(payment_id)
    assert (read["status"], read["channel"], read["received"]) == ("verified", "winpay", 150000)
    assert shop.live_money()["pending"] == 150000

    # Winpay sends it again (its retry, a new X-EXTERNAL-ID): answered OK, credited once.
    again = notify(shop, counterpart, va_payment_body(va, "45539"), "100000000002")
    assert again == (200, OK)
    # The same notification replayed with its X-EXTERNAL-ID: refused, nothing stored.
    head = shop.head()
    replayed = notify(shop, counterpart, va_payment_body(va, "45539"), "100000000001")
    assert replayed[0] == 409
    assert replayed[1]["responseCode"] == "4092500"
    assert shop.head() == head
    # Another notification of the same one-off VA, with another paymentRequestId, backed
    # by the same status answer: the same money.
    second = va_payment_body(va, "45540", reference_no="45540")
    other = notify(shop, counterpart, second, "100000000003")
    assert other == (200, OK)
    assert shop.live_money()["pending"] == 150000
    assert shop.count("Payment.Received") == 1
    assert shop.count("Payment.Verified") == 1


def test_notifications_in_every_form_winpay_sends_them_are_credited(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    forms: list[dict[str, Any]] = [
        {"amount_style": "plain"},
        {"amount_style": "decimal", "fees": True},
        {"amount_style": "plain", "fees": True, "millis": True},
    ]
    headers: list[dict[str, Any]] = [{}, {"millis": True}, {"pretty": True}]
    for number, (form, how) in enumerate(zip(forms, headers, strict=True)):
        payment_id = pick(shop, "va_bsi")
        va = va_of(counterpart, payment_id)
        counterpart.pay(str(payment_id))
        body = va_payment_body(va, f"6000{number}", **form)
        answer = notify(shop, counterpart, body, f"60000000000{number}", **how)
        assert answer == (200, OK), (form, how)
        assert shop.payment(payment_id).status == "verified", (form, how)
    assert shop.live_money()["pending"] == 3 * 150000


# -- refusals ------------------------------------------------------------------------------


def test_forged_stale_altered_and_incomplete_notifications_store_nothing(
    winpay_shop: Shop, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    shop = winpay_shop
    payment_id = pick(shop)
    va = va_of(counterpart, payment_id)
    counterpart.pay(str(payment_id))
    body = va_payment_body(va, "77001")
    head = shop.head()
    url = base(shop) + VA_PAYMENT_PATH

    def post(raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        response = httpx.post(url, content=raw, headers=headers)
        answer: dict[str, Any] = response.json()
        assert response.status_code == int(answer["responseCode"][:3]), answer
        return response.status_code, answer

    now = datetime.now(WIB)
    signed_with: dict[str, tuple[dict[str, Any], str, str]] = {
        "signed with another key": ({"key": merchant_key}, "4012500", "Signature"),
        "stale X-TIMESTAMP": ({"stamp": now - timedelta(minutes=10)}, "4012500", "stale"),
        "from the future": ({"stamp": now + timedelta(minutes=10)}, "4012500", "stale"),
        "no X-TIMESTAMP": ({"drop": ("X-TIMESTAMP",)}, "4002502", "X-TIMESTAMP"),
        "no X-SIGNATURE": ({"drop": ("X-SIGNATURE",)}, "4002502", "X-SIGNATURE"),
        "no X-EXTERNAL-ID": ({"drop": ("X-EXTERNAL-ID",)}, "4002502", "X-EXTERNAL-ID"),
    }
    for number, (why, (how, code, words)) in enumerate(signed_with.items()):
        headers, raw = counterpart.callback(
            body, stamp=how.pop("stamp", now), external_id=f"20000000000{number}", **how
        )
        status, answer = post(raw, headers)
        assert (status, answer["responseCode"]) == (int(code[:3]), code), why
        assert words in answer["responseMessage"], why
    for number, (old, new) in enumerate(
        [(b'"150000.00"', b'"900000.00"'), (va["customerNo"].encode(), b"99999999999")]
    ):
        headers, raw = counterpart.callback(body, stamp=now, external_id=f"21000000000{number}")
        assert old in raw
        status, answer = post(raw.replace(old, new), headers)
        assert (status, answer["responseCode"]) == (401, "4012500"), old

    assert shop.head() == head, "a refused notification stored something"
    assert not calls(counterpart, STATUS_PATH, str(payment_id))
    assert shop.payment(payment_id).status == "initiated"

    # Anything else under the base answers Winpay's format, not problem+json.
    stray = httpx.post(base(shop) + "/v1.0/transfer-va/unknown", content=b"{}")
    assert stray.status_code == 404
    assert stray.headers["content-type"] == "application/json"
    assert stray.json()["responseCode"].startswith("404")

    # The refusals were the notifications', not the payment's: a good one pays it. The
    # ids of refused notifications were not used up.
    good = notify(shop, counterpart, body, "200000000000")
    assert good == (200, OK)
    assert shop.live_money()["pending"] == 150000


def test_unknown_payments_other_vas_and_wrong_amounts_are_not_credited(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    first, second = pick(shop), pick(shop, "va_bsi")
    first_va, second_va = va_of(counterpart, first), va_of(counterpart, second)
    counterpart.pay(str(first))

    stranger = va_payment_body(first_va, "88000") | {"trxId": "INV-000000023220"}
    status, answer = notify(shop, counterpart, stranger, "300000000001")
    assert (status, answer["responseCode"]) == (404, "4042501"), answer
    nobody = va_payment_body(first_va, "88000") | {"trxId": str(uuid4())}
    status, answer = notify(shop, counterpart, nobody, "300000000002")
    assert (status, answer["responseCode"]) == (404, "4042501"), answer
    # The first payment's VA number under the second payment's trxId: not that payment's.
    crossed = va_payment_body(first_va, "88000") | {"trxId": second_va["trxId"]}
    status, answer = notify(shop, counterpart, crossed, "300000000003")
    assert (status, answer["responseCode"]) == (404, "4042512"), answer
    assert shop.payment(second).status == "initiated"

    # Winpay's books say 150000 was paid; a notification of 15000 is refused for good.
    short = va_payment_body(first_va, "88001", "15000.00")
    status, answer = notify(shop, counterpart, short, "300000000004")
    assert (status, answer["responseCode"]) == (404, "4042513"), answer
    rejected = shop.payment(first)
    assert rejected.status == "rejected"
    assert rejected.rejection is not None
    assert "150000" in rejected.rejection
    assert shop.api_payment(first)["status"] == "rejected"
    assert shop.live_money() == {"pending": 0, "held": 0, "refund_due": 0, "verified": 0}


def test_unpaid_then_paid_is_asked_again_on_winpays_retry(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    payment_id = pick(shop)
    trx = str(payment_id)
    body = va_payment_body(va_of(counterpart, payment_id), "91001")

    # Winpay's status still says 01 (unpaid): not final, nothing credited, retry asked.
    status, answer = notify(shop, counterpart, body, "500000000001")
    assert (status, answer["responseCode"]) == (500, "5002500"), answer
    assert "01" in answer["responseMessage"]
    assert shop.payment(payment_id).status == "paid"
    assert shop.live_money()["pending"] == 0

    # Winpay's retry carries the same X-EXTERNAL-ID: it is asked again, not refused.
    counterpart.pay(trx)
    assert notify(shop, counterpart, body, "500000000001") == (200, OK)
    assert len(calls(counterpart, STATUS_PATH, trx)) == 2
    assert shop.live_money()["pending"] == 150000

    # "02" (check) and a failing inquiry are not final either.
    waiting = pick(shop, "va_bsi")
    counterpart.pay(str(waiting))
    counterpart.status_flags[str(waiting)] = "02"
    later = va_payment_body(va_of(counterpart, waiting), "91002")
    status, answer = notify(shop, counterpart, later, "500000000002")
    assert (status, answer["responseCode"]) == (500, "5002500"), answer
    counterpart.status_flags.clear()
    counterpart.fail_status = True
    status, answer = notify(shop, counterpart, later, "500000000002")
    assert (status, answer["responseCode"]) == (500, "5002500"), answer
    assert shop.payment(waiting).status == "paid"
    counterpart.fail_status = False
    # Winpay gave up: the poller asks, and credits it.
    assert poll(shop)["verified"] == 1
    assert shop.payment(waiting).status == "verified"
    assert shop.live_money()["pending"] == 300000


# -- the poller and delete-va ----------------------------------------------------------------


def test_a_payment_whose_notification_never_comes_is_credited_by_the_poller(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    paid, unpaid = pick(shop), pick(shop, "va_bsi")
    counterpart.pay(str(paid))

    counts = poll(shop)

    assert counts["verified"] == 1
    found = shop.payment(paid)
    assert (found.status, found.channel_ref) == ("verified", str(paid))
    assert shop.payment(unpaid).status == "initiated"
    assert shop.live_money()["pending"] == 150000
    # Its late notification changes nothing.
    late = va_payment_body(va_of(counterpart, paid), "92001")
    assert notify(shop, counterpart, late, "700000000001") == (200, OK)
    assert shop.count("Payment.Verified") == 1


def test_cancelled_expired_and_completed_links_have_their_vas_deleted(
    winpay_shop: Shop, counterpart: WinpayCounterpart, clock: FakeClock
) -> None:
    shop = winpay_shop
    cancelled = pick(shop)
    expiring = pick(shop, "va_bsi", expires_at=clock() + timedelta(hours=2))
    single = shop.link(LINK, mode="live", usage_limit=1)
    winner = shop.choose(single.code, "va_bsi")
    loser = shop.choose(single.code, "va_cimb")
    untouched = pick(shop, "va_cimb")

    cancel = shop.client.post(
        f"/v1/links/{shop.payment(cancelled).link_id}/cancel", headers=shop.headers("live")
    )
    assert cancel.status_code == 200, cancel.text
    counterpart.pay(str(winner))
    assert notify(shop, counterpart, va_payment_body(va_of(counterpart, winner), "1"), "81") == (
        200,
        OK,
    )
    clock.advance(timedelta(hours=3))

    counts = poll(shop)

    assert counts["withdrawn"] == 3
    deletes = {
        payload["trxId"]: method
        for method, payload in counterpart.sent("/v1.0/transfer-va/delete-va")
    }
    assert deletes == dict.fromkeys(map(str, (cancelled, expiring, loser)), "DELETE")
    assert str(untouched) not in counterpart.deleted
    for payment_id in (cancelled, expiring, loser):
        assert shop.payment(payment_id).withdrawn is not None
    assert shop.count("Payment.Withdrawn") == 3
    assert poll(shop)["withdrawn"] == 0, "deleted twice"


def test_money_that_arrives_for_a_cancelled_link_is_recorded_and_flagged(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    payment_id = pick(shop)
    counterpart.pay(str(payment_id))  # paid at the bank while the merchant cancelled
    link_id = shop.payment(payment_id).link_id
    assert shop.client.post(f"/v1/links/{link_id}/cancel", headers=shop.headers("live")).is_success

    body = va_payment_body(va_of(counterpart, payment_id), "93001")
    assert notify(shop, counterpart, body, "800000000001") == (200, OK)

    flagged = shop.payment(payment_id)
    assert flagged.status == "verified"
    assert flagged.anomaly is not None
    money = shop.live_money()
    assert money["pending"] == 0
    assert money["held"] + money["refund_due"] == 150000


# -- QRIS, e-wallet, retail, methods offered ----------------------------------------------------


def test_qris_and_ewallet_payments_complete_through_their_notifications(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    qris = pick(shop, "qris")
    known = shop.payment(qris).instructions
    assert known["qr_content"].startswith("000201")
    assert known["reference_no"] == counterpart.qris[str(qris)].reference_no
    counterpart.pay_qris(str(qris))
    qris_body = counterpart.notify_body("qris", str(qris))
    _, answer = notify(shop, counterpart, qris_body, "900000000001", path=QRIS_NOTIFY_PATH)
    assert answer["responseCode"] == "2005200", answer
    assert shop.payment(qris).status == "verified"

    wallet = pick(shop, "ewallet_ovo")
    known = shop.payment(wallet).instructions
    assert known["redirect_url"].startswith(counterpart.base_url + "/ewallet/")
    assert httpx.get(known["redirect_url"]).status_code == 200
    (opened,) = calls(counterpart, "/v1.0/debit/payment-host-to-host", str(wallet))
    assert opened[1]["additionalInfo"] == {"channel": "OVO"}
    assert opened[1]["urlParams"][0]["url"].endswith(f"/p/{wallet}")
    counterpart.pay_ewallet(str(wallet))
    wallet_body = counterpart.notify_body("ewallet", str(wallet))
    _, answer = notify(shop, counterpart, wallet_body, "900000000002", path=EWALLET_NOTIFY_PATH)
    assert answer["responseCode"] == "2005600", answer
    assert shop.payment(wallet).status == "verified"
    assert shop.live_money()["pending"] == 300000

    # A QRIS paid without a notification is found by the poller through the QRIS query.
    silent = pick(shop, "qris")
    counterpart.pay_qris(str(silent))
    assert poll(shop)["verified"] == 1
    assert shop.payment(silent).status == "verified"


def test_retail_shows_winpays_code_and_a_live_page_offers_only_what_can_be_confirmed(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    link = shop.link(LINK, mode="live")
    page = shop.open(link.code)
    assert 'value="va_bri"' in page.text
    assert 'value="card"' not in page.text, "a live card payment cannot be confirmed"

    retail = shop.choose(link.code, "retail_indomaret")
    va = va_of(counterpart, retail)
    code = va["virtualAccountNo"].replace(" ", "")
    assert shop.payment(retail).instructions["payment_code"] == code
    assert code in shop.payment_page(link.code, retail).text

    before = shop.head()
    refused = shop.client.post(
        f"/l/{link.code}/pay",
        data={"csrf": csrf_of(shop.open(link.code).text), "method": "card"},
        follow_redirects=False,
    )
    assert refused.status_code == 503
    assert shop.head() == before


def test_names_winpay_refuses_are_cleaned_before_the_va_is_asked_for(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    for name, cleaned in (
        ("Kopi & Teh Bu Sri's", "Kopi Teh Bu Sris"),
        ("Warung Kafé Ñoño", "Warung Kafe Nono"),
    ):
        merchant = shop.paylink.merchants.register(name, "owner@kopi.example")
        key = shop.paylink.merchants.issue_key(merchant, "live").secret
        created = shop.client.post(
            "/v1/links",
            json={"amount": 25000, "currency": "IDR", "description": "Kopi", "methods": ["va_bsi"]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert created.status_code == 201, created.text
        payment_id = shop.choose(created.json()["code"], "va_bsi")
        assert va_of(counterpart, payment_id)["virtualAccountName"] == cleaned, name


def test_a_bad_answer_on_a_live_page_asks_winpay_for_nothing_and_stores_nothing(
    winpay_shop: Shop, counterpart: WinpayCounterpart
) -> None:
    shop = winpay_shop
    link = shop.link(LINK, mode="live", customer_fields={"phone": "required"})
    page = shop.client.get(f"/l/{link.code}")
    assert page.status_code == 200, page.text
    head, asked = shop.head(), len(counterpart.calls)
    refused = shop.client.post(
        f"/l/{link.code}/pay",
        data={"csrf": csrf_of(page.text), "method": "va_bri", "customer.phone": "12345"},
        follow_redirects=False,
    )
    assert refused.status_code == 400, refused.text
    assert "Nomor telepon harus berupa nomor telepon" in refused.text
    assert (shop.head(), len(counterpart.calls)) == (head, asked)

    payment_id = shop.choose(link.code, "va_bri", answers={"customer.phone": "0812 3456 7890"})
    assert str(payment_id) in counterpart.vas
    customer = shop.payment(payment_id).customer
    assert customer is not None
    assert customer.phone == "+6281234567890"


# -- start-up ----------------------------------------------------------------------------------


def test_a_key_that_does_not_load_stops_the_server_at_start(
    backend_settings: Settings,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
    tmp_path: Any,
) -> None:
    configured = winpay_settings(
        backend_settings,
        counterpart,
        merchant_key,
        winpay_key,
        winpay_private_key=SecretStr("-----BEGIN PRIVATE KEY-----\nnot a key\n"),
    )
    with pytest.raises(InvalidFieldError) as refused:
        bootstrap.build(configured)
    assert refused.value.field == "winpay_private_key"

    env = {
        **os.environ,
        "PAYLINK_DATA_DIR": str(tmp_path / "var"),
        "PAYLINK_WINPAY_BASE_URL": counterpart.base_url,
        "PAYLINK_WINPAY_PARTNER_ID": "PAYLINK",
        "PAYLINK_WINPAY_CHANNEL_ID": "PAYLINKWEB",
        "PAYLINK_WINPAY_PRIVATE_KEY": private_pem(merchant_key),
        "PAYLINK_WINPAY_PUBLIC_KEY": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnotakey",
    }
    env.pop("PAYLINK_DATABASE_URL", None)
    served = _serve_once(env)
    assert served.returncode == 2, served.stderr
    assert "PAYLINK_WINPAY_PUBLIC_KEY" in served.stderr
    assert "MIIBIjAN" not in served.stderr, "the key must never be printed"
    del env["PAYLINK_WINPAY_PARTNER_ID"]
    missing = _serve_once(env)
    assert missing.returncode == 2
    assert "PAYLINK_WINPAY_PARTNER_ID" in missing.stderr


def _serve_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``paylink serve`` as an operator starts it (it must stop at once, never serve)."""
    return subprocess.run(
        [sys.executable, "-m", "paylink_es", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_serving_poller_credits_a_silent_payment_within_seconds(
    backend_settings: Settings,
    clock: FakeClock,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
) -> None:
    configured = winpay_settings(
        backend_settings, counterpart, merchant_key, winpay_key, channel_poll_s=0.2
    )
    with shop(configured, clock, served=True, run_projections=True) as built:
        payment_id = pick(built)
        clock.advance(timedelta(minutes=1))  # its first scheduled ask is due
        counterpart.pay(str(payment_id))
        deadline = time.monotonic() + 15
        while built.payment(payment_id).status != "verified":
            assert time.monotonic() < deadline, "the poller did not credit the payment"
            time.sleep(0.1)
        assert built.live_money()["pending"] == 150000


def test_a_second_worker_refuses_an_external_id_the_first_processed(
    winpay_shop: Shop, counterpart: WinpayCounterpart, clock: FakeClock
) -> None:
    shop = winpay_shop
    first, second = pick(shop), pick(shop)
    for payment_id in (first, second):
        counterpart.pay(str(payment_id))
    first_body = va_payment_body(va_of(counterpart, first), "99001")
    second_body = va_payment_body(va_of(counterpart, second), "99002")
    assert notify(shop, counterpart, first_body, "400000000001") == (200, OK)

    with ExitStack() as stack:
        other_services = stack.enter_context(bootstrap.build(shop.settings, clock=clock))
        other = create_app(other_services, run_projections=False)
        other_url = stack.enter_context(live_server(other))
        status, answer = counterpart.notify(
            other_url + CALLBACK_BASE, second_body, external_id="400000000001"
        )
        assert (status, answer["responseCode"]) == (409, "4092500"), answer
        status, answer = counterpart.notify(
            other_url + CALLBACK_BASE, second_body, external_id="400000000002"
        )
        assert (status, answer["responseCode"]) == (200, "2002500"), answer

    assert shop.payment(second).status == "verified"
    assert shop.live_money()["pending"] == 300000


def test_channels_status_shows_what_the_poller_waits_on_and_poll_asks_now(
    backend_settings: Settings,
    clock: FakeClock,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock.current = datetime.now(WIB)  # the CLI reads the store on the real clock
    configured = winpay_settings(backend_settings, counterpart, merchant_key, winpay_key)
    with shop(configured, clock, served=True, run_projections=True) as built:
        waiting, paid = pick(built), pick(built, "va_bsi")
        counterpart.pay(str(paid))
        built.caught_up()
        capsys.readouterr()

        assert commands.channels_status(built.settings, as_json=True) == 0
        shown = json.loads(capsys.readouterr().out)
        assert {"channel": "winpay", "remote": True} in shown["channels"]
        rows = {row["payment_id"]: row for row in shown["waiting"]}
        assert set(rows) == {str(waiting), str(paid)}
        assert rows[str(waiting)]["status"] == "awaiting payment"
        assert datetime.fromisoformat(rows[str(waiting)]["next_ask"]) > clock() - timedelta(
            seconds=1
        )

        assert commands.channels_poll(built.settings) == 0
        assert "verified 1" in capsys.readouterr().out
        assert built.payment(paid).status == "verified"
        assert built.payment(waiting).status == "initiated"

        built.caught_up()  # the status reads the payments view, which the poll moved on
        assert commands.channels_status(built.settings, as_json=False) == 0
        table = capsys.readouterr().out
        assert "channel winpay: configured, polled" in table
        assert str(waiting) in table
        assert str(paid) not in table
