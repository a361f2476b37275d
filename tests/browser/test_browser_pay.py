"""Paying on a phone: pick a method, see the instructions, pay, watch the receipt appear.

The receipt arrives by the page's own polling, without a reload: the test marks the
document (``window.__marker``) and counts navigations, then pays from outside through
``POST /v1/sandbox/payments`` while the page stays open. A link with a ``success_url``
then sends the customer to the merchant's own page (a small site on 127.0.0.1 here),
with the outcome signed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import Shoot, watch_navigations
from tests.support.redirects import readme_recipe
from tests.support.shop import PAYMENT_PATH, Shop

REFERENCES = count(1)


def _link_url(served: Shop, **overrides: Any) -> tuple[str, str]:
    """A fresh FULL_LINK expiring in two hours; (its page URL, its code).

    Two hours by the real clock, which the page's countdown runs on (the server's
    FakeClock stands still at when the module started). Without a ``success_url`` unless
    given: the customer then stays on the receipt instead of being sent back.
    """
    terms = {
        "reference_id": f"PAY-{next(REFERENCES)}",
        "expires_at": datetime.now(tz=UTC).replace(microsecond=0) + timedelta(hours=2),
        "success_url": None,
        **overrides,
    }
    link = served.link(**terms)
    return f"{served.url}/l/{link.code}", link.code


def _payment_id(page: Page) -> UUID:
    match = PAYMENT_PATH.search(page.url)
    assert match is not None, page.url
    return UUID(match["payment"])


def test_va_on_a_phone_turns_into_the_receipt_without_reload(
    page: Page, served: Shop, shoot: Shoot
) -> None:
    url, code = _link_url(served)
    response = page.goto(url)
    assert response is not None
    assert response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_text("Toko Budi Jaya")).to_be_visible()
    expect(page.get_by_test_id("amount")).to_have_text("Rp 150.000")
    countdown = page.locator("#countdown")
    expect(countdown).to_have_text(re.compile(r"^01:59:\d\d$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks
    # mobile first: nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "01-link-page")

    expect(page.get_by_label("BCA Virtual Account")).to_be_checked()  # the first, by default
    page.get_by_label("BRI Virtual Account").check()
    expect(page.get_by_label("BCA Virtual Account")).not_to_be_checked()
    shoot(page, "02-bri-chosen")
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    page.wait_for_url(re.compile(rf"/l/{code}/p/"))
    number = page.get_by_test_id("va-number")
    expect(number).to_have_text(re.compile(r"^2620( \d{4}){3}$"))  # in fours, as banks print
    _fits_on_one_line(page, "va-number")
    expect(page.get_by_role("heading", name="Nomor Virtual Account — BRI")).to_be_visible()
    expect(page.get_by_test_id("waiting")).to_have_text("Menunggu pembayaran…")
    expect(page.locator("button[data-copy=va-number]")).to_be_visible()
    shoot(page, "03-va-number")

    navigations = watch_navigations(page)
    paid = served.sandbox_pay(_payment_id(page))  # the bank reports, the page is open
    assert paid.status_code == 200, paid.text

    receipt = page.get_by_test_id("receipt")
    expect(receipt).to_be_visible(timeout=10_000)
    expect(receipt).to_contain_text("Pembayaran berhasil")
    expect(receipt).to_contain_text("Rp 150.000")
    expect(receipt).to_contain_text("BRI Virtual Account")
    expect(page.get_by_test_id("va-number")).to_have_count(0)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert navigations == [], f"the page navigated: {navigations}"
    shoot(page, "04-receipt")


def test_copy_button_copies_the_va_number(page: Page, served: Shop, shoot: Shoot) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    url, _ = _link_url(served, methods=["va_mandiri"])
    page.goto(url)
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    number = page.get_by_test_id("va-number").inner_text()
    assert re.fullmatch(r"8902( \d{4}){3}", number)
    copy = page.locator("button[data-copy=va-number]")  # its label: see test_page_render
    copy.click()
    expect(copy).to_have_text("Tersalin")
    # The digits alone, as a bank's app wants them pasted.
    assert page.evaluate("navigator.clipboard.readText()") == number.replace(" ", "")
    shoot(page, "01-copied")


def test_the_simulate_button_pays_a_qris_payment(page: Page, served: Shop, shoot: Shoot) -> None:
    url, code = _link_url(served)
    page.goto(url)
    page.get_by_label("QRIS").check()
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    page.wait_for_url(re.compile(rf"/l/{code}/p/"))
    qr = page.get_by_test_id("qris")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("alt", "QRIS Rp 150.000")
    assert page.evaluate("document.querySelector('[data-testid=qris]').naturalWidth") > 0
    shoot(page, "01-qris")

    page.get_by_test_id("simulate").click()
    receipt = page.get_by_test_id("receipt")
    expect(receipt).to_be_visible()
    expect(receipt).to_contain_text("Pembayaran berhasil")
    expect(receipt).to_contain_text("QRIS")
    assert served.payment(_payment_id(page)).status == "verified"
    shoot(page, "02-receipt")


def test_paying_works_without_javascript(browser_no_js: Page, served: Shop, shoot: Shoot) -> None:
    page = browser_no_js
    url, code = _link_url(served, methods=["retail_alfamart", "va_bri"])
    page.goto(url)
    page.get_by_label("Alfamart").check()
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    page.wait_for_url(re.compile(rf"/l/{code}/p/"))
    expect(page.get_by_test_id("payment-code")).to_have_text(re.compile(r"^PLK\d{10}$"))
    assert page.locator("noscript").count() == 1  # a meta refresh stands in for polling
    shoot(page, "01-retail-code")
    page.get_by_test_id("simulate").click()
    expect(page.get_by_test_id("receipt")).to_contain_text("Pembayaran berhasil")
    shoot(page, "02-receipt")


@dataclass
class MerchantSite:
    """A merchant's web site on 127.0.0.1: its thank-you page, and what was asked of it."""

    url: str
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def merchant_site() -> Iterator[MerchantSite]:
    """A plain HTTP server standing in for the merchant's shop."""
    site = MerchantSite(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.paths.append(self.path)
            body = b'<!doctype html><title>Toko</title><h1 data-testid="thanks">Terima kasih</h1>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="merchant-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_paid_link_lands_the_customer_on_the_merchants_success_page(
    page: Page, served: Shop, merchant_site: MerchantSite, shoot: Shoot
) -> None:
    success = f"{merchant_site.url}/thanks?order=7"
    url, code = _link_url(served, success_url=success, methods=["va_bni", "qris"])
    page.goto(url)
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    page.wait_for_url(re.compile(rf"/l/{code}/p/"))
    payment_id = _payment_id(page)
    expect(page.get_by_test_id("waiting")).to_be_visible()

    paid = served.sandbox_pay(payment_id)  # the bank reports while the page is open
    assert paid.status_code == 200, paid.text
    receipt = page.get_by_test_id("receipt")
    expect(receipt).to_contain_text("Pembayaran berhasil", timeout=10_000)
    expect(page.get_by_test_id("returning")).to_contain_text("Toko Budi Jaya")
    shoot(page, "01-receipt-then-back")

    page.wait_for_url(re.compile(rf"^{re.escape(merchant_site.url)}/thanks\?"), timeout=20_000)
    expect(page.get_by_test_id("thanks")).to_have_text("Terima kasih")
    shoot(page, "02-merchant-thanks")

    landed = page.url
    pages = [path for path in merchant_site.paths if path != "/favicon.ico"]
    assert pages == [landed.removeprefix(merchant_site.url)]
    params = dict(parse_qsl(urlsplit(landed).query))
    assert params["order"] == "7"
    assert params["paylink_result"] == "success"
    assert params["paylink_payment_id"] == str(payment_id)
    assert params["paylink_link_id"] == str(served.paylink.links.id_for_code(code))
    secret = served.client.get("/v1/account/redirect-secret", headers=served.headers())
    assert secret.status_code == 200, secret.text
    checked = readme_recipe()(landed, secret.json()["secret"])
    assert checked is not None, "the landing URL verifies with the merchant's redirect secret"
    assert checked["paylink_payment_id"] == str(payment_id)


def test_an_e_wallet_payment_through_the_sandbox_wallet_in_indonesian(
    page: Page, served: Shop, shoot: Shoot
) -> None:
    url, code = _link_url(served, methods=["ewallet_ovo"])
    page.goto(url)
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    page.get_by_role("link", name="Lanjut ke OVO").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("OVO (sandbox)")
    expect(page.get_by_text("Setujui pembayaran Rp 150.000 kepada Toko Budi Jaya?")).to_be_visible()
    expect(page.get_by_text("MODE UJI")).to_be_visible()
    shoot(page, "01-wallet")
    page.get_by_role("button", name="Setujui pembayaran").click()
    page.wait_for_url(re.compile(rf"/l/{code}/p/"))
    expect(page.get_by_test_id("receipt")).to_contain_text("Pembayaran berhasil")
    shoot(page, "02-receipt")


def _fits_on_one_line(page: Page, test_id: str) -> None:
    """The element is one line, inside the screen (a phone is 390 px wide)."""
    box = page.get_by_test_id(test_id).bounding_box()
    assert box is not None
    line = page.evaluate(
        f"parseFloat(getComputedStyle(document.querySelector('[data-testid={test_id}]'))"
        ".lineHeight)"
    )
    width = page.evaluate("window.innerWidth")
    assert box["height"] < 1.5 * line, box
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= width, (box, width)
