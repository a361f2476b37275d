"""After the customer chooses: the instructions of each method family, and the receipt.

Virtual account (bank, number, copy button, steps), QRIS (an EMVCo payload with the
amount and a valid CRC, drawn as a QR image), e-wallet (a redirect to the sandbox
wallet that pays when approved), card (a form; the number is never kept), retail (a
payment code). The receipt fragment the page polls is 204 until the payment is verified.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from paylink_es.channels.qris import crc16_ccitt, parse_tlv
from paylink_es.channels.sandbox import BANK_PREFIX
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan, FeeRule
from tests.support.shop import ALL_METHODS, MERCHANT_NAME, OPEN_LINK, Reply, Shop, csrf_of, require

CARD = "4111 1111 1111 1111"  # Luhn-valid test number
CARD_DIGITS = CARD.replace(" ", "")


def test_virtual_account_number_is_the_banks_prefix_and_twelve_digits(page_shop: Shop) -> None:
    link = page_shop.link(methods=["va_bca", "va_mandiri", "va_bri"])
    numbers = []
    for method, bank in (("va_bca", "BCA"), ("va_mandiri", "Mandiri")):
        payment_id = page_shop.choose(link.code, method)
        number = page_shop.payment(payment_id).instructions["va_number"]
        assert re.fullmatch(r"\d{16}", number), number
        assert number[:4] == BANK_PREFIX[method]
        page = page_shop.payment_page(link.code, payment_id)
        grouped = " ".join(re.findall(r"\d{1,4}", number))  # "3901 7168 1041 1330"
        assert f'data-testid="va-number">{grouped}</span>' in page.text
        assert f"Nomor Virtual Account — {bank}" in page.text
        assert 'data-copy="va-number"' in page.text  # the copy button
        steps = re.findall(r"<li>(.*?)</li>", page.text)
        assert len(steps) >= 3
        assert f"Buka aplikasi atau ATM {bank}" in steps[0]
        assert any("Rp 150.000" in step for step in steps)
        numbers.append(number)
    assert len(set(BANK_PREFIX.values())) == len(BANK_PREFIX)
    assert all(re.fullmatch(r"\d{4}", prefix) for prefix in BANK_PREFIX.values())
    assert numbers[0] != numbers[1]


def _check_qris(content: str, amount: int) -> dict[str, str]:
    tags = parse_tlv(content)
    assert tags["00"] == "01"
    assert tags["54"] == str(amount)
    assert tags["53"] == "360"
    assert tags["58"] == "ID"
    assert tags["59"] == MERCHANT_NAME
    assert content.endswith(tags["63"])
    assert tags["63"] == crc16_ccitt(content[:-4].encode())
    assert content[-8:-4] == "6304"
    return tags


def test_qris_is_an_emvco_payload_with_the_amount_and_a_valid_crc(page_shop: Shop) -> None:
    link, payment_id = page_shop.chosen("qris")
    content = page_shop.payment(payment_id).instructions["qr_content"]
    _check_qris(content, 150000)
    tampered = content.replace("5406150000", "5406100000")
    assert parse_tlv(tampered)["54"] == "100000"
    assert parse_tlv(tampered)["63"] != crc16_ccitt(tampered[:-4].encode())

    page = page_shop.payment_page(link.code, payment_id)
    src = f"/l/{link.code}/p/{payment_id}/qris.svg"
    assert f'<img class="qr" src="{src}" alt="QRIS Rp 150.000"' in page.text
    image = page_shop.client.get(src)
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in image.content[:300]

    other = page_shop.choose(link.code, "qris")
    assert page_shop.client.get(f"/l/{link.code}/p/{other}/qris.svg").content != image.content


def test_qris_of_an_open_amount_carries_the_amount_chosen(page_shop: Shop) -> None:
    link = page_shop.link(OPEN_LINK)
    payment_id = page_shop.choose(link.code, "qris", amount="25000")
    _check_qris(page_shop.payment(payment_id).instructions["qr_content"], 25000)
    assert "Rp 25.000" in page_shop.payment_page(link.code, payment_id).text


def test_retail_shows_a_payment_code_and_the_outlets_steps(page_shop: Shop) -> None:
    link, payment_id = page_shop.chosen(
        "retail_indomaret", methods=["retail_alfamart", "retail_indomaret"]
    )
    code = page_shop.payment(payment_id).instructions["payment_code"]
    assert re.fullmatch(r"PLK\d{10}", code), code
    page = page_shop.payment_page(link.code, payment_id)
    assert f'data-testid="payment-code">{code}</span>' in page.text
    assert "Kode pembayaran — Indomaret" in page.text
    assert "Datang ke kasir Indomaret" in page.text
    assert "Bayar Rp 150.000" in page.text


def _wait_then_pay(shop: Shop, code: str, payment_id: UUID) -> Reply:
    """The receipt fragment: 204 while waiting, 200 with the receipt once verified."""
    waiting = shop.client.get(f"/l/{code}/p/{payment_id}/receipt")
    assert waiting.status_code == 204
    assert waiting.content == b""
    assert waiting.headers["cache-control"] == "no-store"
    page = shop.payment_page(code, payment_id)
    assert 'data-testid="waiting">Menunggu pembayaran' in page.text
    assert 'data-status-url="/l/' in page.text  # the page polls the fragment
    assert shop.sandbox_pay(payment_id).status_code == 200
    receipt = shop.client.get(f"/l/{code}/p/{payment_id}/receipt")
    assert receipt.status_code == 200
    assert 'data-testid="receipt"' in receipt.text
    assert "Pembayaran berhasil" in receipt.text
    assert "<html" not in receipt.text  # a fragment for the page to put in place
    return receipt


def test_receipt_fragment_is_204_until_verified_then_the_receipt(page_shop: Shop) -> None:
    link, payment_id = page_shop.chosen("va_bri")
    receipt = _wait_then_pay(page_shop, link.code, payment_id)
    assert "Rp 150.000" in receipt.text
    assert payment_id.hex[:12].upper() in receipt.text
    assert page_shop.payment(payment_id).status == "verified"
    full = page_shop.payment_page(link.code, payment_id)
    assert 'data-testid="receipt"' in full.text
    assert 'data-testid="simulate"' not in full.text


def test_the_simulate_button_pays_and_shows_the_receipt(page_shop: Shop) -> None:
    link, payment_id = page_shop.chosen("va_bca")
    page = page_shop.payment_page(link.code, payment_id)
    assert 'data-testid="simulate"' in page.text
    response = page_shop.client.post(
        f"/l/{link.code}/p/{payment_id}/simulate",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/l/{link.code}/p/{payment_id}")
    assert page_shop.payment(payment_id).status == "verified"
    final = page_shop.payment_page(link.code, payment_id)
    assert "Pembayaran berhasil" in final.text


def test_simulate_refuses_a_forged_csrf_and_pays_nothing(page_shop: Shop) -> None:
    link, payment_id = page_shop.chosen("va_bca")
    before = page_shop.head()
    response = page_shop.client.post(
        f"/l/{link.code}/p/{payment_id}/simulate", data={"csrf": "f" * 40}
    )
    assert response.status_code == 403
    assert "Sesi Anda tidak valid" in response.text
    assert page_shop.head() == before
    assert page_shop.payment(payment_id).status == "initiated"


def test_ewallet_redirect_opens_the_sandbox_wallet_and_approving_pays(served_shop: Shop) -> None:
    shop = served_shop
    link, payment_id = shop.chosen("ewallet_dana", methods=["ewallet_ovo", "ewallet_dana"])
    redirect = shop.payment(payment_id).instructions["redirect_url"]
    assert redirect == f"{shop.url}/sandbox/ewallet/{payment_id}"
    page = shop.payment_page(link.code, payment_id)
    assert f'href="{redirect}" data-testid="ewallet">Lanjut ke DANA</a>' in page.text

    with httpx.Client(timeout=30) as wallet:  # the customer's browser, off to the wallet
        opened = wallet.get(redirect)
        assert opened.status_code == 200
        # The customer's language (Indonesian unless asked), the amount as rupiah.
        assert "DANA (sandbox)" in opened.text
        assert "Setujui pembayaran Rp 150.000 kepada Toko Budi Jaya?" in opened.text
        english = wallet.get(redirect, params={"lang": "en"})
        assert "Approve a payment of IDR 150,000 to Toko Budi Jaya?" in english.text
        assert "IDR 150000" not in opened.text + english.text
        approved = wallet.post(f"{redirect}/approve", follow_redirects=False)
    assert approved.status_code == 303
    assert approved.headers["location"].startswith(f"/l/{link.code}/p/{payment_id}")
    payment = shop.payment(payment_id)
    assert payment.status == "verified"
    assert payment.received is not None
    assert payment.received.amount == 150000
    assert shop.paylink.links.get(link.id).collected == 150000
    assert shop.balances()["pending"] == 150000
    assert 'data-testid="receipt"' in shop.payment_page(link.code, payment_id).text


def test_ewallet_of_an_unknown_payment_is_404(page_shop: Shop) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    assert page_shop.client.get(f"/sandbox/ewallet/{unknown}").status_code == 404
    assert page_shop.client.post(f"/sandbox/ewallet/{unknown}/approve").status_code == 404


def _card_page(shop: Shop, code: str) -> tuple[UUID, str]:
    payment_id = shop.choose(code, "card")
    page = shop.payment_page(code, payment_id)
    for field, label in (
        ("card-number", "Nomor kartu"),
        ("card-expiry", "Berlaku hingga (BB/TT)"),
        ("card-cvc", "CVC"),
    ):
        assert f'<label class="field" for="{field}">{label}</label>' in page.text
        assert f'id="{field}"' in page.text
    assert 'autocomplete="off"' in page.text
    assert 'data-testid="simulate"' not in page.text  # the card form is the way to pay
    return payment_id, csrf_of(page.text)


def _stored_everywhere(shop: Shop) -> list[str]:
    """Where the card number shows up: event states, and any file in the data dir."""
    places = []
    for topic, state in shop.states():
        if CARD_DIGITS.encode() in state or CARD.encode() in state:
            places.append(topic)
    for path in Path(shop.settings.data_dir).rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            if CARD_DIGITS.encode() in content or CARD.encode() in content:
                places.append(str(path))
    return places


def test_card_form_pays_and_the_card_number_is_kept_nowhere(
    backend_shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop = backend_shop
    link = shop.link(methods=["card", "qris"])
    payment_id, csrf = _card_page(shop, link.code)
    response = shop.client.post(
        f"/l/{link.code}/p/{payment_id}/card",
        data={"csrf": csrf, "card_number": CARD, "card_expiry": "12/30", "card_cvc": "123"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert shop.payment(payment_id).status == "verified"
    assert shop.balances()["pending"] == 150000  # the read models have it all too
    assert "Pembayaran berhasil" in shop.payment_page(link.code, payment_id).text
    assert len(shop.states()) > 10
    assert _stored_everywhere(shop) == []
    assert CARD_DIGITS not in caplog.text
    assert CARD_DIGITS[-12:] not in caplog.text


@pytest.mark.parametrize(
    ("number", "expiry", "cvc"),
    [
        ("4111 1111 1111 1112", "12/30", "123"),  # Luhn fails
        ("4111", "12/30", "123"),  # too short
        ("4111-1111-1111-1111", "12/30", "123"),  # not digits
        (CARD, "13/30", "123"),  # no month 13
        (CARD, "12/30", "12"),  # short CVC
        ("", "", ""),
    ],
)
def test_card_form_refuses_a_bad_card_and_records_nothing(
    page_shop: Shop, number: str, expiry: str, cvc: str
) -> None:
    link = page_shop.link(methods=["card"])
    payment_id, csrf = _card_page(page_shop, link.code)
    before = page_shop.head()
    response = page_shop.client.post(
        f"/l/{link.code}/p/{payment_id}/card",
        data={"csrf": csrf, "card_number": number, "card_expiry": expiry, "card_cvc": cvc},
    )
    assert response.status_code == 400
    assert 'id="card-number"' in response.text  # the form again, to correct
    assert number.replace(" ", "") == "" or number not in response.text
    assert page_shop.head() == before
    assert page_shop.payment(payment_id).status == "initiated"


def test_card_form_refuses_a_forged_csrf(page_shop: Shop) -> None:
    link = page_shop.link(methods=["card"])
    payment_id, _ = _card_page(page_shop, link.code)
    stranger = page_shop.visitor()
    stolen = csrf_of(page_shop.open(link.code, stranger).text)  # another visitor's token
    before = page_shop.head()
    for csrf in ("", "0" * 40, stolen):
        response = page_shop.client.post(
            f"/l/{link.code}/p/{payment_id}/card",
            data={"csrf": csrf, "card_number": CARD, "card_expiry": "12/30", "card_cvc": "123"},
        )
        assert response.status_code == 403
        assert "Sesi Anda tidak valid" in response.text
    assert page_shop.head() == before
    assert page_shop.payment(payment_id).status == "initiated"


def test_card_form_is_only_for_card_payments(page_shop: Shop) -> None:
    link, payment_id = page_shop.chosen("qris", methods=["qris", "card"])
    csrf = csrf_of(page_shop.payment_page(link.code, payment_id).text)
    response = page_shop.client.post(
        f"/l/{link.code}/p/{payment_id}/card",
        data={"csrf": csrf, "card_number": CARD, "card_expiry": "12/30", "card_cvc": "123"},
    )
    assert response.status_code == 404
    assert page_shop.payment(payment_id).status == "initiated"


def test_the_sandbox_card_form_does_not_pay_a_live_payment(page_shop: Shop) -> None:
    link = page_shop.link(mode="live", methods=["card"])
    payment_id = page_shop.paylink.payments.start(
        link.id, "card", channel="card_acquirer", instructions={"family": "card"}
    )
    csrf = csrf_of(page_shop.open(link.code).text)
    require(page_shop.payment(payment_id).status == "initiated", "a live card payment waits")
    response = page_shop.client.post(
        f"/l/{link.code}/p/{payment_id}/card",
        data={"csrf": csrf, "card_number": CARD, "card_expiry": "12/30", "card_cvc": "123"},
        follow_redirects=False,
    )
    assert response.status_code == 404
    assert page_shop.payment(payment_id).status == "initiated"


def test_a_live_link_offers_no_sandbox_payment(page_shop: Shop) -> None:
    link = page_shop.link(mode="live", methods=ALL_METHODS)
    page = page_shop.open(link.code)
    assert "MODE UJI" not in page.text
    before = page_shop.head()
    response = page_shop.client.post(
        f"/l/{link.code}/pay", data={"csrf": csrf_of(page.text), "method": "qris"}
    )
    assert response.status_code == 503
    assert "Metode ini belum tersedia" in response.text
    assert page_shop.head() == before
    payment_id = page_shop.paylink.payments.start(link.id, "qris", channel="qris_acquirer")
    simulate = page_shop.client.post(
        f"/l/{link.code}/p/{payment_id}/simulate", data={"csrf": csrf_of(page.text)}
    )
    assert simulate.status_code == 404
    assert page_shop.payment(payment_id).status == "initiated"


def test_a_fee_passed_on_to_the_payer_is_shown_in_the_amount_and_named(page_shop: Shop) -> None:
    plan = FeePlan(
        name="payer-pays-retail",
        families={**DEFAULT_PLAN.families, "retail": FeeRule(flat=5_000, payer_pays=True)},
    )
    page_shop.paylink.merchants.set_fee_plan(page_shop.merchant_id, plan)
    link = page_shop.link(methods=["retail_alfamart", "qris"])
    retail = page_shop.choose(link.code, "retail_alfamart")
    page = page_shop.payment_page(link.code, retail)
    assert "Rp 155.000" in page.text
    assert "termasuk biaya layanan Rp 5.000" in page.text
    qris = page_shop.choose(link.code, "qris")
    assert "biaya layanan" not in page_shop.payment_page(link.code, qris).text
