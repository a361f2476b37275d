"""Winpay with the generic SNAP scheme (``PAYLINK_WINPAY_SIGNATURE_SCHEME=hmac``): the
settings, and end to end through the real app on uvicorn (SQLite and PostgreSQL) and the
local counterpart speaking B2B tokens and HMAC-SHA512, both on 127.0.0.1.

Same story as ``test_winpay_e2e``: a VA picked on the page is created at the counterpart
(after one B2B token), paid, reported by an HMAC-signed callback, confirmed by the status
inquiry and credited; refused callbacks credit nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from api.channel_registry import channels_of
from paylink_es.application.details import PaymentDetails
from paylink_es.bootstrap.adapters import build_channels, winpay_from_settings
from paylink_es.channels.registry import close_all
from paylink_es.channels.winpay import CALLBACK_PATH, WinpayChannel
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import Money
from paylink_es.locale import WIB
from paylink_es.settings import Settings
from tests.integration.channels.conftest import CLIENT_KEY, CLIENT_SECRET
from tests.support.shop import Shop, shop
from tests.support.snap_counterpart import (
    CALLBACK_TOKEN,
    TOKEN_PATH,
    WinpayCounterpart,
    private_pem,
    va_payment_body,
    winpay_at,
)

CREATE = "/v1.0/transfer-va/create-va"
STATUS = "/v1.0/transfer-va/status"
LINK: dict[str, Any] = {
    "amount": 150000,
    "currency": "IDR",
    "description": "Kaos polos hitam",
    "methods": ["va_bri", "va_bsi", "qris", "ewallet_ovo"],
    "usage_limit": None,
}


def hmac_settings(
    settings: Settings, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> Settings:
    """``settings`` with Winpay on the generic SNAP scheme against ``counterpart``."""
    return winpay_at(
        counterpart,
        settings,
        merchant_key,
        winpay_signature_scheme="hmac",
        winpay_client_key=CLIENT_KEY,
        winpay_client_secret=SecretStr(CLIENT_SECRET),
    )


@pytest.fixture
def live_counterpart(
    merchant_key: rsa.RSAPrivateKey, winpay_key: rsa.RSAPrivateKey
) -> Iterator[WinpayCounterpart]:
    """A generic SNAP counterpart on the real clock (the served app's channel uses it)."""
    with WinpayCounterpart(
        merchant_key.public_key(), winpay_key, client_key=CLIENT_KEY, client_secret=CLIENT_SECRET
    ) as server:
        yield server


# -- settings ------------------------------------------------------------------------------


def test_the_scheme_and_credentials_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAYLINK_WINPAY_SIGNATURE_SCHEME", "hmac")
    monkeypatch.setenv("PAYLINK_WINPAY_CLIENT_KEY", CLIENT_KEY)
    monkeypatch.setenv("PAYLINK_WINPAY_CLIENT_SECRET", CLIENT_SECRET)
    settings = Settings(data_dir=tmp_path)
    assert settings.winpay_signature_scheme == "hmac"
    assert settings.winpay_client_key == CLIENT_KEY
    assert settings.winpay_client_secret is not None
    assert CLIENT_SECRET not in repr(settings)
    assert CLIENT_SECRET not in str(settings.model_dump())
    assert Settings(data_dir=tmp_path, winpay_signature_scheme="rsa").winpay_signature_scheme
    monkeypatch.setenv("PAYLINK_WINPAY_SIGNATURE_SCHEME", "md5")
    with pytest.raises(ValidationError) as caught:
        Settings(data_dir=tmp_path)
    assert "winpay_signature_scheme" in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("unset", "blank"),
    [
        ("winpay_client_key", ""),
        ("winpay_client_secret", None),
        ("winpay_private_key", None),  # it signs the B2B token request
    ],
)
def test_a_missing_hmac_setting_is_named(
    tmp_path: Path,
    hmac_counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    unset: str,
    blank: object,
) -> None:
    configured = hmac_settings(Settings(data_dir=tmp_path), hmac_counterpart, merchant_key)
    with pytest.raises(InvalidFieldError) as caught:
        winpay_from_settings(configured.model_copy(update={unset: blank}))
    assert caught.value.field == unset
    assert CLIENT_SECRET not in str(caught.value)


def test_the_hmac_channel_needs_no_winpay_public_key_and_hides_its_secrets(
    tmp_path: Path,
    hmac_counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    snap_clock: FakeClock,
) -> None:
    configured = hmac_settings(Settings(data_dir=tmp_path), hmac_counterpart, merchant_key)
    assert configured.winpay_public_key is None
    channel = winpay_from_settings(configured, clock=snap_clock)
    assert isinstance(channel, WinpayChannel)
    try:
        assert channel.api.client.scheme == "HMAC-SHA512"
        assert channel.callbacks.scheme == "HMAC-SHA512"
        # The same port: a VA is created, inquired about and deleted through the HMAC scheme.
        payment_id = uuid4()
        made = channel.instructions(payment_id, "va_bni", Money(20_000, "IDR"), "Toko Budi")
        assert made["bank"] == "BNI"
        assert (
            made["virtual_account_no"] == hmac_counterpart.vas[str(payment_id)]["virtualAccountNo"]
        )
        payment = payment_of(payment_id, "va_bni", made)
        waiting = channel.inquire(payment)
        assert (waiting.paid, waiting.final) == (False, False)
        hmac_counterpart.pay(str(payment_id))
        status = channel.inquire(payment)
        assert (status.paid, status.amount) == (True, Money(20_000, "IDR"))
        other_id = uuid4()
        other = channel.instructions(other_id, "va_bni", Money(20_000, "IDR"), "Toko Budi")
        channel.withdraw(payment_of(other_id, "va_bni", other))
        assert hmac_counterpart.deleted == {str(other_id)}
        assert hmac_counterpart.tokens_issued == 1
        assert hmac_counterpart.refused == []
        shown = repr(configured) + repr(channel) + repr(channel.api) + repr(channel.callbacks)
        assert CLIENT_SECRET not in shown
        for token in hmac_counterpart.tokens:
            assert token not in shown
        pem_line = private_pem(merchant_key).splitlines()[2]
        assert pem_line not in shown
    finally:
        channel.close()
    rsa_default = configured.model_copy(update={"winpay_signature_scheme": "rsa"})
    with pytest.raises(InvalidFieldError) as caught:
        winpay_from_settings(rsa_default)
    assert caught.value.field == "winpay_public_key"


def test_the_registry_builds_winpay_with_the_configured_scheme(
    tmp_path: Path, hmac_counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    settings = hmac_settings(Settings(data_dir=tmp_path), hmac_counterpart, merchant_key)
    state = SimpleNamespace(services=SimpleNamespace(channels=build_channels(settings)))
    winpay = channels_of(state)["winpay"]
    assert isinstance(winpay, WinpayChannel)
    assert winpay.api.client.scheme == "HMAC-SHA512"
    assert winpay.callbacks.scheme == "HMAC-SHA512"
    close_all(state.services.channels)


# -- end to end ------------------------------------------------------------------------------


@pytest.fixture
def hmac_shop(
    backend_settings: Settings,
    clock: FakeClock,
    live_counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
) -> Iterator[Shop]:
    """A served shop (uvicorn on 127.0.0.1, projections running), Winpay on the HMAC scheme."""
    configured = hmac_settings(backend_settings, live_counterpart, merchant_key)
    with shop(configured, clock, served=True, run_projections=True) as built:
        yield built


def test_a_va_is_created_paid_confirmed_and_credited_over_the_hmac_scheme(
    hmac_shop: Shop, live_counterpart: WinpayCounterpart
) -> None:
    shop, counterpart = hmac_shop, live_counterpart
    payment_id = pick_va(shop, "va_bri")
    trx = str(payment_id)

    # One B2B token, then the create-va request, HMAC-signed with it (checked there).
    va = counterpart.vas[trx]
    assert va["totalAmount"] == {"value": "150000.00", "currency": "IDR"}
    assert [path for path, _, _ in counterpart.requests] == [TOKEN_PATH, CREATE]
    assert counterpart.requests[1][1]["Authorization"].startswith("Bearer ")
    assert "partnerServiceId" not in counterpart.requests[1][2]
    assert counterpart.refused == []
    payment = shop.payment(payment_id)
    assert (payment.channel, payment.status) == ("winpay", "initiated")
    assert payment.instructions["virtual_account_no"] == va["virtualAccountNo"]
    assert payment.instructions["contract_id"] == va["additionalInfo"]["contractId"]
    assert payment.instructions["customer_no"] == va["customerNo"]

    counterpart.pay(trx)
    status, answer = send(
        shop, counterpart, va_payment_body(va, "55001"), external_id="500000000001"
    )

    assert (status, answer) == (200, {"responseCode": "2002500", "responseMessage": "Successful"})
    assert inquiries(counterpart, trx) == 1, "credited without asking the status inquiry"
    assert shop.payment(payment_id).status == "verified"
    read = shop.api_payment(payment_id)
    assert (read["status"], read["channel"], read["received"]) == ("verified", "winpay", 150000)
    assert shop.live_money()["pending"] == 150000
    assert counterpart.tokens_issued == 1, "the token was not reused for the inquiry"
    (verified,) = [state for topic, state in shop.states() if topic.endswith(".Verified")]
    assert b"HMAC-SHA512" in verified, "the evidence does not name the callback's scheme"


def test_hmac_callbacks_that_are_forged_tokenless_or_stale_are_refused(
    hmac_shop: Shop, live_counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    shop, counterpart = hmac_shop, live_counterpart
    payment_id = pick_va(shop, "va_bsi")
    va = counterpart.vas[str(payment_id)]
    counterpart.pay(str(payment_id))
    body = va_payment_body(va, "66001")
    head = shop.head()

    refusals: dict[str, tuple[dict[str, Any], str]] = {
        "no X-SIGNATURE": ({"drop": ("X-SIGNATURE",)}, "4002502"),
        "a guessed secret": ({"secret": "guessed-secret"}, "4012500"),
        "RSA-signed (the other scheme)": ({"key": merchant_key}, "4012500"),
        "stale X-TIMESTAMP": ({"stamp": datetime.now(WIB) - timedelta(minutes=10)}, "4012500"),
        "altered amount": ({"tamper": (b'"150000.00"', b'"900000.00"')}, "4012500"),
        "no bearer token": ({"token": None}, "4012501"),
    }
    for number, (why, (how, code)) in enumerate(refusals.items()):
        status, answer = send_hmac(shop, counterpart, body, f"60000000000{number}", **how)
        assert (status, answer["responseCode"]) == (int(code[:3]), code), why
    assert shop.head() == head, "a refused callback stored something"
    assert inquiries(counterpart, str(payment_id)) == 0
    assert shop.live_money()["pending"] == 0

    # The provider revoked our token: the next VA is still created (one retry), and a
    # good callback pays the first payment.
    counterpart.revoke_tokens()
    second = pick_va(shop, "va_bri")
    assert str(second) in counterpart.vas
    assert counterpart.refused == ["4012701"]
    assert counterpart.tokens_issued == 2
    good = send(shop, counterpart, body, external_id="600000000009")
    assert good == (200, {"responseCode": "2002500", "responseMessage": "Successful"})
    assert shop.live_money()["pending"] == 150000


def test_a_callback_answered_not_yet_is_asked_again_on_winpays_retry(
    hmac_shop: Shop, live_counterpart: WinpayCounterpart
) -> None:
    """Status 01/02 is not final: the same notification (same X-EXTERNAL-ID) retried by
    Winpay is asked about again, not refused as a replay, and verified once paid."""
    shop, counterpart = hmac_shop, live_counterpart
    payment_id = pick_va(shop, "va_bsi")
    trx = str(payment_id)
    counterpart.pay(trx)
    counterpart.status_flags[trx] = "02"
    body = va_payment_body(counterpart.vas[trx], "70001", amount_style="plain", fees=True)

    status, answer = send(shop, counterpart, body, external_id="700000000001")
    assert (status, answer["responseCode"]) == (500, "5002500"), answer
    assert shop.payment(payment_id).status == "paid"  # received, neither verified nor rejected

    del counterpart.status_flags[trx]
    status, answer = send(shop, counterpart, body, external_id="700000000001")
    assert (status, answer["responseCode"]) == (200, "2002500"), answer
    assert inquiries(counterpart, trx) == 2
    assert shop.payment(payment_id).status == "verified"
    assert shop.count("Payment.Received") == 1
    # Processed to a decision, the id is used up now.
    status, answer = send(shop, counterpart, body, external_id="700000000001")
    assert (status, answer["responseCode"]) == (409, "4092500"), answer


def send_hmac(
    shop: Shop,
    counterpart: WinpayCounterpart,
    body: dict[str, Any],
    external_id: str,
    *,
    stamp: datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
    secret: str | None = None,
    token: str | None = CALLBACK_TOKEN,
    tamper: tuple[bytes, bytes] | None = None,
    drop: tuple[str, ...] = (),
) -> tuple[int, dict[str, Any]]:
    """Like ``send``, with the counterpart's HMAC options (secret, token) as well."""
    headers, raw = counterpart.callback(
        body,
        stamp=stamp or datetime.now(WIB),
        external_id=external_id,
        key=key,
        path="/v1.0/transfer-va/payment",  # Winpay signs the path from /v1.0/ on
        secret=secret,
        token=token,
        drop=drop,
    )
    if tamper is not None:
        assert tamper[0] in raw
        raw = raw.replace(*tamper)
    response = httpx.post(f"{shop.url}{CALLBACK_PATH}", content=raw, headers=headers)
    answer: dict[str, Any] = response.json()
    assert response.status_code == int(answer["responseCode"][:3]), answer
    return response.status_code, answer


# -- helpers ---------------------------------------------------------------------------------


def payment_of(payment_id: UUID, method: str, instructions: dict[str, str]) -> PaymentDetails:
    """A live Winpay payment as the ledger would hand it to the channel."""
    due = Money(20_000, "IDR")
    return PaymentDetails(
        id=payment_id,
        merchant_id=uuid4(),
        mode="live",
        link_id=uuid4(),
        method=method,
        channel="winpay",
        status="initiated",
        amount=due,
        received=None,
        channel_ref=None,
        paid_at=None,
        anomaly=None,
        disposition=None,
        fee=None,
        net=None,
        refunded=Money.zero("IDR"),
        rejection=None,
        instructions=instructions,
    )


def pick_va(shop: Shop, method: str = "va_bri") -> UUID:
    """A customer opens a new live link and picks ``method``; the payment's id."""
    link = shop.link(LINK, mode="live")
    return shop.choose(link.code, method)


def send(
    shop: Shop, counterpart: WinpayCounterpart, body: dict[str, Any], *, external_id: str
) -> tuple[int, dict[str, Any]]:
    """A good HMAC-signed VA payment callback, posted to the app over HTTP."""
    return send_hmac(shop, counterpart, body, external_id)


def inquiries(counterpart: WinpayCounterpart, trx_id: str) -> int:
    """How many status inquiries about ``trx_id`` the counterpart answered."""
    return sum(
        1
        for path, _, payload in counterpart.requests
        if path == STATUS and payload.get("trxId") == trx_id
    )
