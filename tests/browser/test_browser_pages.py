"""The other pages a customer meets on a phone: expired, the language switch, open amounts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from playwright.sync_api import Frame, Page, expect

from tests.browser.support import Shoot
from tests.support.shop import OPEN_LINK, Shop

REFERENCES = count(1)


def _link(served: Shop, hours: float = 2, terms: dict[str, Any] | None = None) -> tuple[str, str]:
    link = served.link(
        terms,
        reference_id=f"PAGE-{next(REFERENCES)}",
        expires_at=served.clock() + timedelta(hours=hours),
    )
    return f"{served.url}/l/{link.code}", link.code


def test_an_expired_link_gets_a_clear_page(page: Page, served: Shop, shoot: Shoot) -> None:
    url, _ = _link(served, hours=1 / 60)
    served.clock.advance(timedelta(minutes=2))
    response = page.goto(url)
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Tautan pembayaran ini sudah kedaluwarsa"
    )
    expect(page.get_by_text("Hubungi penjual untuk meminta tautan baru.")).to_be_visible()
    expect(page.get_by_text("Toko Budi Jaya")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    expect(page.locator("input[name=method]")).to_have_count(0)
    shoot(page, "01-bahasa")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This payment link has expired")
    shoot(page, "02-english")


def test_the_countdown_turns_the_page_into_the_expired_page(
    page: Page, served: Shop, shoot: Shoot
) -> None:
    url, _ = _link(served, hours=1 / 60)  # a minute left by the server's clock
    page.clock.install()
    page.goto(url)
    page.clock.fast_forward("00:57")  # the page counts the server's minute on its own clock
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^00:00:0[1-3]$"))
    shoot(page, "01-seconds-left")
    served.clock.advance(timedelta(minutes=2))  # and then the minute is over
    page.clock.fast_forward("00:05")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Tautan pembayaran ini sudah kedaluwarsa", timeout=8000)
    expect(page.locator("form")).to_have_count(0)
    shoot(page, "02-expired")


def test_an_unknown_link_gets_a_404_page(page: Page, served: Shop, shoot: Shoot) -> None:
    response = page.goto(f"{served.url}/l/NoSuchCode12")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("Tautan pembayaran tidak ditemukan")
    shoot(page, "01-not-found")


def test_the_language_switch(page: Page, served: Shop, shoot: Shoot) -> None:
    url, code = _link(served)
    page.goto(url)
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "id")
    expect(page.get_by_role("button", name="Lanjutkan pembayaran")).to_be_visible()
    expect(page.get_by_text("Pilih metode pembayaran")).to_be_visible()
    shoot(page, "01-bahasa-indonesia")

    page.get_by_role("link", name="English").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Continue to payment")).to_be_visible()
    expect(page.get_by_text("Choose a payment method")).to_be_visible()
    expect(page.get_by_test_id("amount")).to_have_text("IDR 150,000")
    expect(page.get_by_text("Time left")).to_be_visible()
    shoot(page, "02-english")

    page.goto(url)  # no ?lang: the choice is remembered
    expect(html).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(rf"/l/{code}/p/"))
    expect(page.get_by_role("heading", name="Virtual account number — BCA")).to_be_visible()
    expect(page.get_by_test_id("waiting")).to_have_text("Waiting for your payment…")
    shoot(page, "03-english-instructions")

    page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(html).to_have_attribute("lang", "id")
    expect(page.get_by_role("heading", name="Nomor Virtual Account — BCA")).to_be_visible()
    shoot(page, "04-back-to-bahasa")


def test_an_open_amount_link(page: Page, served: Shop, shoot: Shoot) -> None:
    url, code = _link(served, terms=OPEN_LINK)
    page.goto(url)
    amount = page.get_by_label("Masukkan jumlah")
    expect(amount).to_be_visible()
    expect(page.get_by_text("antara Rp 10.000 dan Rp 500.000")).to_be_visible()
    amount.fill("25.000")  # as Indonesians write twenty-five thousand
    page.get_by_label("BSI Virtual Account").check()
    shoot(page, "01-amount-entered")
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    page.wait_for_url(re.compile(rf"/l/{code}/p/"))
    expect(page.get_by_test_id("amount")).to_have_text("Rp 25.000")
    expect(page.get_by_text("Periksa jumlah Rp 25.000 dan konfirmasi")).to_be_visible()
    expect(page.get_by_test_id("va-number")).to_have_text(re.compile(r"^9347( \d{4}){3}$"))
    shoot(page, "02-instructions-with-the-amount")

    # Out of range or not a number people write: the page says which, in its language.
    for typed, limit in (
        ("5.000", "Rp 10.000"),
        ("600000", "Rp 500.000"),
        ("25,5", "misalnya 25.000"),
    ):
        page.goto(url)
        amount.fill(typed)
        page.get_by_role("button", name="Lanjutkan pembayaran").click()
        error = page.get_by_role("alert")
        expect(error).to_contain_text(limit)
        expect(amount).to_have_value(typed)  # kept, to correct
        shoot(page, f"04-server-refuses-{typed}")
    assert served.paylink.links.get(served.paylink.links.id_for_code(code)).uses == 0


def test_at_zero_the_page_stops_offering_methods_before_the_server_answers(
    page: Page, served: Shop
) -> None:
    url, _ = _link(served, hours=1 / 60)  # a minute left by the server's clock
    page.clock.install()
    page.goto(url)
    pay = page.get_by_role("button", name="Lanjutkan pembayaran")
    expect(pay).to_be_visible()
    # The page's clock runs a second at a time until its minute is up, then stands still
    # (it asks the server a second later, whose clock here stands before the expiry).
    # Paused a few seconds ahead: the page's clock runs on while this process is slow to
    # ask, and a pause in its past is refused.
    now_ms = page.evaluate("Date.now()")
    page.clock.pause_at(datetime.fromtimestamp(now_ms / 1000 + 5, tz=UTC))
    countdown = page.locator("#countdown")
    for _ in range(70):
        if countdown.text_content() == "00:00:00":
            break
        page.clock.run_for(1000)
    expect(countdown).to_have_text("00:00:00")
    expect(pay).to_be_hidden()
    expect(page.get_by_role("radio")).to_have_count(0)
    expect(page.get_by_test_id("time-up")).to_have_text("Tautan pembayaran ini sudah kedaluwarsa")
    # (No screenshot: it waits for an animation frame, which a paused clock never gives.)


def test_a_phone_clock_ahead_of_the_server_does_not_reload_in_a_loop(
    page: Page, served: Shop
) -> None:
    url, _ = _link(served, hours=1 / 60)  # a minute left by the server's clock
    page.clock.set_system_time(served.clock() + timedelta(minutes=3))  # phone 3 min fast
    loads: list[str] = []

    def navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            loads.append(frame.url)

    page.on("framenavigated", navigated)
    page.goto(url, wait_until="commit")
    page.wait_for_timeout(2500)
    assert len(loads) <= 2, f"the page loaded {len(loads)} times in 2.5 s"


def test_the_api_docs_render_with_no_request_leaving_this_server(
    page: Page, served: Shop, shoot: Shoot
) -> None:
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(served.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{served.url}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/v1/links").first).to_be_visible()
    shoot(page, "01-swagger")
    page.goto(f"{served.url}/redoc")
    # The title as ReDoc renders it (its first text match may be one it keeps hidden).
    title = page.get_by_role("heading", level=1, name=re.compile(r"^Paylink ES"))
    expect(title).to_be_visible(timeout=15_000)
    expect(page.locator("[data-section-id]").first).to_be_attached()
    # (No screenshot of ReDoc: the whole reference is one page some 45,000 px tall.)
    assert elsewhere == []
