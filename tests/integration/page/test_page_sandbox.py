"""The sandbox channel's callbacks: signed, sent over real HTTP, checked, counted once.

``POST /channels/sandbox/callback`` refuses a bad or stale signature and an altered
body (401, nothing credited). ``POST /v1/sandbox/payments`` pays in the scenarios the
issue names — normal, duplicate, late, overpay, underpay, out_of_order — by signed
callbacks to the platform's own endpoint, and is for test-mode keys only.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from pydantic import SecretStr

from paylink_es.bootstrap.adapters import sandbox_secret
from paylink_es.channels.sandbox import SIGNATURE_HEADER, SandboxChannel
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import MAX_MINOR_UNITS, Money
from paylink_es.settings import PUBLIC_SANDBOX_SECRET, Settings
from tests.support.shop import OPEN_LINK, Reply, Shop, csrf_of, in_hours, require

CALLBACK = "/channels/sandbox/callback"
UNKNOWN_PAYMENT = "00000000-0000-4000-8000-000000000000"
ZERO = {"pending": 0, "held": 0, "refund_due": 0, "verified": 0}


def _money(shop: Shop) -> dict[str, int]:
    balances = shop.balances()
    return {column: balances[column] for column in ZERO}


def _sandbox(shop: Shop) -> SandboxChannel:
    return SandboxChannel(secret=sandbox_secret(shop.settings), base_url=shop.settings.public_url)


def _callback(shop: Shop, body: bytes, signature: str | None) -> Reply:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return shop.client.post(CALLBACK, content=body, headers=headers)


def _scenario(shop: Shop, payment_id: UUID, scenario: str, **extra: Any) -> list[dict[str, Any]]:
    response = shop.sandbox_pay(payment_id, scenario, **extra)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["object"] == "sandbox_payment"
    assert body["scenario"] == scenario
    callbacks: list[dict[str, Any]] = body["callbacks"]
    assert all(sent["status_code"] == 200 for sent in callbacks), callbacks
    return callbacks


def _recorded(callbacks: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Each callback's status, and whether it was the one that recorded the money."""
    return [(sent["status"], sent["response"]["recorded"]) for sent in callbacks]


# -- the callback endpoint ----------------------------------------------------------------


def test_a_callback_with_a_bad_signature_credits_nothing(backend_shop: Shop) -> None:
    shop = backend_shop
    paid_link = shop.link(reference_id="PAID")
    paid = shop.choose(paid_link.code, "qris")
    assert shop.sandbox_pay(paid).status_code == 200
    link, payment_id = shop.chosen("va_bca", reference_id="WAITING")
    before_money, before_head = _money(shop), shop.head()
    require(before_money["pending"] == 150000, "one payment is pending")

    sandbox = _sandbox(shop)
    now = int(time.time())
    issued = sandbox.reference(payment_id, Money(150000, "IDR"))  # what the sandbox pays with
    body = sandbox.callback_body(payment_id, issued, Money(150000, "IDR"), shop.clock())
    bigger = sandbox.callback_body(payment_id, "SBX-FORGED", Money(9_999_999, "IDR"), shop.clock())
    stranger = SandboxChannel(secret="not-the-platforms-secret", base_url="")
    good = sandbox.sign(body, now)
    attempts = {
        "no signature": (body, None),
        "empty signature": (body, ""),
        "garbage": (body, "garbage"),
        "wrong secret": (body, stranger.sign(body, now)),
        "stale timestamp": (body, sandbox.sign(body, now - 3600)),
        "from the future": (body, sandbox.sign(body, now + 3600)),
        "timestamp swapped": (body, good.replace(f"t={now}", f"t={now - 1}")),
        "digest altered": (body, good[:-1] + ("0" if good[-1] != "0" else "1")),
        "altered body": (bigger, good),
        "no timestamp": (body, good.split(",", 1)[1]),
    }
    for why, (content, signature) in attempts.items():
        response = _callback(shop, content, signature)
        assert response.status_code == 401, why
        assert response.json()["status"] == "rejected", why
    assert shop.head() == before_head, "a refused callback recorded something"
    assert shop.payment(payment_id).status == "initiated"
    assert shop.paylink.links.get(link.id).collected == 0
    assert _money(shop) == before_money

    # the same report, signed properly, is what pays: the refusals were the signature's
    accepted = _callback(shop, body, good)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["recorded"] is True
    assert shop.payment(payment_id).status == "verified"
    assert _money(shop)["pending"] == 300000


def test_a_signed_but_malformed_report_is_refused(page_shop: Shop) -> None:
    sandbox = _sandbox(page_shop)
    before = page_shop.head()
    for body in (b"not json", b'{"payment_id": "x"}', b"{}", b"[]"):
        response = _callback(page_shop, body, sandbox.sign(body, int(time.time())))
        assert response.status_code == 422, body
    body = sandbox.callback_body(
        UUID(UNKNOWN_PAYMENT), "SBX-1", Money(1000, "IDR"), page_shop.clock()
    )
    unknown = _callback(page_shop, body, sandbox.sign(body, int(time.time())))
    assert unknown.status_code == 404
    assert page_shop.head() == before


def test_a_sandbox_callback_cannot_credit_a_live_payment(page_shop: Shop) -> None:
    link = page_shop.link(mode="live")
    payment_id = page_shop.paylink.payments.start(link.id, "va_bca", channel="bca_snap")
    require(page_shop.payment(payment_id).status == "initiated", "a live payment waits")
    sandbox = _sandbox(page_shop)
    body = sandbox.callback_body(payment_id, "SBX-LIVE", Money(150000, "IDR"), page_shop.clock())
    response = _callback(page_shop, body, sandbox.sign(body, int(time.time())))
    assert response.status_code in (404, 409, 422)
    assert page_shop.payment(payment_id).status == "initiated"
    assert page_shop.paylink.links.get(link.id).collected == 0


# -- simulate: over real HTTP to the platform's own endpoint -----------------------------


def test_simulate_sends_a_signed_callback_over_http_to_our_endpoint(served_shop: Shop) -> None:
    shop = served_shop
    sent: list[httpx.Request] = []
    with httpx.Client(timeout=30, event_hooks={"request": [sent.append]}) as wire:
        services = shop.app.state.services
        own, services.callback_client = services.callback_client, wire
        link, payment_id = shop.chosen("va_bri")
        page = shop.payment_page(link.code, payment_id)
        response = shop.client.post(
            f"/l/{link.code}/p/{payment_id}/simulate", data={"csrf": csrf_of(page.text)}
        )
        services.callback_client = own
    assert response.status_code == 200
    assert 'data-testid="receipt"' in response.text
    assert "Pembayaran berhasil" in response.text
    assert [str(request.url) for request in sent] == [f"{shop.url}{CALLBACK}"]
    request = sent[0]
    assert request.method == "POST"
    signature = request.headers[SIGNATURE_HEADER]
    assert _sandbox(shop).verify(signature, request.content, int(time.time()))
    assert str(payment_id) in request.content.decode()
    assert shop.payment(payment_id).status == "verified"
    assert _money(shop)["pending"] == 150000


# -- POST /v1/sandbox/payments -------------------------------------------------------------


def test_normal_pays_once_and_credits_pending(served_shop: Shop) -> None:
    shop = served_shop
    link, payment_id = shop.chosen("va_bca")
    callbacks = _scenario(shop, payment_id, "normal")
    assert _recorded(callbacks) == [("PAID", True)]
    assert callbacks[0]["response"]["anomaly"] is None
    payment = shop.payment(payment_id)
    assert payment.status == "verified"
    assert payment.channel_ref is not None
    assert payment.channel_ref.startswith("SBX-")
    assert shop.paylink.links.get(link.id).status == "completed"
    assert _money(shop) == {**ZERO, "pending": 150000, "verified": 150000}
    assert "Tautan pembayaran ini sudah dibayar" in shop.client.get(f"/l/{link.code}").text


def test_an_ewallet_goes_pending_then_paid(page_shop: Shop) -> None:
    _, payment_id = page_shop.chosen("ewallet_ovo", methods=["ewallet_ovo"])
    callbacks = _scenario(page_shop, payment_id, "normal")
    assert _recorded(callbacks) == [("PENDING", False), ("PAID", True)]
    assert page_shop.payment(payment_id).status == "verified"


def test_duplicate_callback_changes_nothing_and_money_counts_once(served_shop: Shop) -> None:
    shop = served_shop
    link = shop.link(OPEN_LINK)
    payment_id = shop.choose(link.code, "qris", amount="40000")
    callbacks = _scenario(shop, payment_id, "duplicate")
    assert _recorded(callbacks) == [("PAID", True), ("PAID", False)]
    first, second = (sent["response"] for sent in callbacks)
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert second["payment_id"] == first["payment_id"] == str(payment_id)
    assert shop.count("Payment.Received") == 1
    assert shop.count("Payment.Verified") == 1
    assert shop.count("PaymentLink.PaymentAccepted") == 1
    details = shop.paylink.links.get(link.id)
    assert (details.uses, details.collected) == (1, 40000)
    assert _money(shop) == {**ZERO, "pending": 40000, "verified": 40000}


def test_out_of_order_pending_after_paid_is_still_paid_once(served_shop: Shop) -> None:
    shop = served_shop
    link, payment_id = shop.chosen("va_bri")
    callbacks = _scenario(shop, payment_id, "out_of_order")
    assert _recorded(callbacks) == [("PAID", True), ("PENDING", False)]
    assert shop.payment(payment_id).status == "verified"
    assert shop.count("Payment.Received") == 1
    assert shop.paylink.links.get(link.id).collected == 150000
    assert _money(shop) == {**ZERO, "pending": 150000, "verified": 150000}


def test_late_payment_is_recorded_and_flagged_paid_after_expiry(served_shop: Shop) -> None:
    shop = served_shop
    link, payment_id = shop.chosen("va_bca", expires_at=in_hours(shop.clock, 2))
    callbacks = _scenario(shop, payment_id, "late")
    assert callbacks[0]["response"]["anomaly"] == "paid_after_expiry"
    payment = shop.payment(payment_id)
    assert payment.anomaly == "paid_after_expiry"
    assert payment.disposition == "needs_review"
    assert payment.paid_at is not None
    assert link.expires_at is not None
    assert payment.paid_at > link.expires_at
    assert shop.paylink.links.get(link.id).collected == 0  # not a use of the link
    assert _money(shop) == {**ZERO, "held": 150000, "verified": 150000}
    page = shop.payment_page(link.code, payment_id)
    assert "Pembayaran sedang ditinjau" in page.text


def test_late_needs_a_link_that_expires(page_shop: Shop) -> None:
    _, payment_id = page_shop.chosen("va_bca")
    before = page_shop.head()
    response = page_shop.sandbox_pay(payment_id, "late")
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert page_shop.count("Payment.Received") == 0
    assert page_shop.head() == before


@pytest.mark.parametrize(
    ("scenario", "anomaly", "received"),
    [("overpay", "overpaid", 165000), ("underpay", "underpaid", 135000)],
)
def test_over_and_under_payment_are_recorded_and_flagged(
    served_shop: Shop, scenario: str, anomaly: str, received: int
) -> None:
    shop = served_shop
    link, payment_id = shop.chosen("qris")
    callbacks = _scenario(shop, payment_id, scenario)
    assert callbacks[0]["response"]["anomaly"] == anomaly
    payment = shop.payment(payment_id)
    assert payment.received == Money(received, "IDR")
    assert (payment.anomaly, payment.disposition) == (anomaly, "needs_review")
    assert shop.paylink.links.get(link.id).status == "active"  # not counted as the one use
    assert shop.count("PaymentLink.PaymentFlagged") == 1
    assert _money(shop) == {**ZERO, "held": received, "verified": received}
    receipt = shop.client.get(f"/l/{link.code}/p/{payment_id}/receipt")
    assert receipt.status_code == 200
    assert "Pembayaran sedang ditinjau" in receipt.text


def test_an_exact_amount_can_be_given(page_shop: Shop) -> None:
    _, payment_id = page_shop.chosen("qris")
    callbacks = _scenario(page_shop, payment_id, "normal", amount=100000)
    assert callbacks[0]["response"]["anomaly"] == "underpaid"
    assert page_shop.payment(payment_id).received == Money(100000, "IDR")


def test_live_keys_unknown_and_foreign_payments_get_404(page_shop: Shop) -> None:
    shop = page_shop
    _, payment_id = shop.chosen("va_bca")
    other = shop.paylink.merchants.register("Toko Lain")
    other_key = shop.paylink.merchants.issue_key(other, "test").secret
    before = shop.head()
    live = shop.client.post(
        "/v1/sandbox/payments",
        json={"payment_id": str(payment_id)},
        headers=shop.headers("live"),
    )
    assert live.status_code == 404
    assert live.headers["content-type"].startswith("application/problem+json")
    assert live.json()["type"] == "/problems/not-found"
    assert shop.sandbox_pay(UUID(UNKNOWN_PAYMENT)).status_code == 404

    foreign = shop.client.post(
        "/v1/sandbox/payments",
        json={"payment_id": str(payment_id)},
        headers={"Authorization": f"Bearer {other_key}"},
    )
    assert foreign.status_code == 404
    anonymous = shop.client.post("/v1/sandbox/payments", json={"payment_id": str(payment_id)})
    assert anonymous.status_code == 401
    assert shop.payment(payment_id).status == "initiated"
    assert shop.count("Payment.Received") == 0
    assert shop.head() == before


def test_an_unknown_scenario_is_refused(page_shop: Shop) -> None:
    _, payment_id = page_shop.chosen("va_bca")
    response = page_shop.sandbox_pay(payment_id, "steal")
    assert response.status_code == 422
    assert page_shop.payment(payment_id).status == "initiated"


def test_a_test_key_cannot_pay_a_live_payment_in_the_sandbox(page_shop: Shop) -> None:
    link = page_shop.link(mode="live")
    payment_id = page_shop.paylink.payments.start(link.id, "va_bca", channel="bca_snap")
    require(page_shop.payment(payment_id).status == "initiated", "a live payment waits")
    response = page_shop.sandbox_pay(payment_id)
    assert response.status_code == 404
    assert page_shop.payment(payment_id).status == "initiated"


# -- nothing stops the books, nothing is paid twice ---------------------------------------


def test_an_amount_beyond_the_limit_is_refused_at_every_sandbox_entry(backend_shop: Shop) -> None:
    shop = backend_shop
    _, payment_id = shop.chosen("qris", reference_id="HUGE")
    before = shop.head()
    for amount in (10**30, 2**63, MAX_MINOR_UNITS + 1):
        response = shop.sandbox_pay(payment_id, amount=amount)
        assert response.status_code == 422, response.text
        assert response.json()["field"].endswith("amount"), response.text
        sandbox = _sandbox(shop)
        body = json.dumps(
            {
                "payment_id": str(payment_id),
                "channel_ref": "SBX-HUGE",
                "status": "PAID",
                "amount": amount,
                "currency": "IDR",
                "paid_at": shop.clock().isoformat(),
            }
        ).encode()
        signed = _callback(shop, body, sandbox.sign(body, int(time.time())))
        assert signed.status_code == 422, signed.text
    assert shop.head() == before, "an amount beyond the limit was stored"
    assert shop.payment(payment_id).status == "initiated"


def test_the_sandbox_pays_an_attempt_once_however_often_it_is_asked(served_shop: Shop) -> None:
    shop = served_shop
    link, payment_id = shop.chosen("qris", reference_id="ONCE", usage_limit=None)
    assert shop.sandbox_pay(payment_id).status_code == 200
    for _ in range(2):
        again = shop.sandbox_pay(payment_id)
        assert again.status_code == 409, again.text
        assert again.json()["type"].endswith("payment-already-paid")
    assert shop.count("Payment.Received") == 1
    assert _money(shop)["pending"] == 150000

    # Twenty clicks on "Simulate payment" at once pay once.
    clicked = shop.choose(link.code, "va_bca")
    page = shop.payment_page(link.code, clicked)
    csrf = csrf_of(page.text)

    def click(_: int) -> int:
        return shop.client.post(
            f"/l/{link.code}/p/{clicked}/simulate", data={"csrf": csrf}, follow_redirects=False
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(click, range(20)))
    assert set(codes) == {303}, codes
    assert shop.count("Payment.Received") == 2
    assert _money(shop)["pending"] == 300000


def test_a_reference_the_sandbox_never_issued_leaves_a_single_use_link_open(
    backend_shop: Shop,
) -> None:
    shop = backend_shop
    link = shop.link(reference_id="FORGED")  # single use
    payment_id = shop.choose(link.code, "qris")
    sandbox = _sandbox(shop)
    body = sandbox.callback_body(payment_id, "SBX-NEVER-ISSUED", Money(150000, "IDR"), shop.clock())
    response = _callback(shop, body, sandbox.sign(body, int(time.time())))
    assert response.status_code == 200, response.text
    assert response.json()["payment_status"] == "rejected"
    details = shop.paylink.links.get(link.id)
    assert (details.status, details.uses, details.collected) == ("active", 0, 0)
    # A real customer can still pay it, and that completes it.
    real = shop.choose(link.code, "va_bca")
    assert shop.sandbox_pay(real).status_code == 200
    assert shop.paylink.links.get(link.id).status == "completed"


def test_every_installation_signs_sandbox_callbacks_with_its_own_secret(tmp_path: Path) -> None:
    first = sandbox_secret(Settings(data_dir=tmp_path / "a"))
    second = sandbox_secret(Settings(data_dir=tmp_path / "b"))
    assert first != second
    assert len(first) >= 32
    assert sandbox_secret(Settings(data_dir=tmp_path / "a")) == first  # kept
    assert (tmp_path / "a" / "sandbox.key").stat().st_mode & 0o077 == 0
    # Settings from the environment refuse the public secret in production (see
    # tests/unit/test_settings.py); settings copied past that check are refused here.
    public = Settings(data_dir=tmp_path / "c").model_copy(
        update={"environment": "production", "sandbox_secret": SecretStr(PUBLIC_SANDBOX_SECRET)}
    )
    with pytest.raises(InvalidFieldError) as refused:
        sandbox_secret(public)
    assert refused.value.field == "sandbox_secret"
