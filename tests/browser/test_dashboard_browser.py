"""The merchant dashboard in Chromium: sign in, create a link, watch it get paid live.

One server for the module (SQLite, read models running, real uvicorn on 127.0.0.1)
and a desktop-sized context per test. The customer pays in a second, phone-sized
page through the hosted page's sandbox; the dashboard page is never reloaded (a
marker on ``window`` and a navigation counter prove it) and must show the payment
within 2 s through its server-sent events. Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Browser, Page, expect

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.browser.support import PASSWORD, Shoot, desktop_page, sign_in, watch_navigations
from tests.support.shop import Shop, shop

OWNER = "owner@dashboard.example"
VIEWER = "viewer@dashboard.example"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, server_clock: FakeClock) -> Iterator[Shop]:
    """The app in uvicorn with its read models running, one merchant, an owner and a viewer."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("dashboard") / "var")
    with shop(settings, server_clock, served=True, run_projections=True) as built:
        users = built.paylink.users
        users.create_user(built.merchant_id, OWNER, PASSWORD, "owner", "Budi")
        users.create_user(built.merchant_id, VIEWER, PASSWORD, "viewer", "Siti")
        yield built


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page in a fresh context (no session)."""
    with desktop_page(browser) as fresh:
        yield fresh


def test_a_link_made_in_the_form_and_paid_by_a_customer_shows_up_paid_live(
    desktop: Page, customer: Page, desk: Shop, shoot: Shoot
) -> None:
    page = desktop
    sign_in(page, desk, OWNER)
    expect(page.get_by_test_id("who")).to_contain_text(OWNER)
    shoot(page, "01-overview-empty")

    page.get_by_role("link", name="Tautan", exact=True).click()
    page.get_by_test_id("new-link").click()
    # A wrong amount first: the form says which field, and keeps what was typed.
    page.get_by_label("Deskripsi").fill("Kaos polos hitam")
    page.get_by_label("Jumlah", exact=True).fill("seratus ribu")
    page.get_by_test_id("create-link").click()
    expect(page.locator("[data-error-for=amount]")).to_have_text(
        "Jumlah: harus berupa bilangan bulat rupiah, mis. 150000"
    )
    expect(page.get_by_label("Deskripsi")).to_have_value("Kaos polos hitam")
    shoot(page, "02-form-errors")
    page.get_by_label("Jumlah", exact=True).fill("150.000")
    page.get_by_label("Referensi Anda (mis. nomor invoice)").fill("INV-DASH-1")
    page.get_by_label("E-mail", exact=True).last.fill("budi@example.com")
    page.get_by_test_id("create-link").click()
    expect(page.get_by_test_id("notice")).to_have_text("Tautan dibuat.")
    expect(page.get_by_test_id("link-amount")).to_have_text("Rp 150.000")
    expect(page.get_by_test_id("link-status")).to_have_text("Aktif")
    url = page.get_by_test_id("short-url").inner_text()
    assert re.fullmatch(rf"{re.escape(desk.url)}/l/[0-9A-Za-z]{{12}}", url), url
    assert page.evaluate("document.querySelector('[data-testid=qr]').naturalWidth") > 0
    shoot(page, "03-link-detail")

    page.goto(f"{desk.url}/dashboard")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    expect(page.get_by_test_id("pending-IDR")).to_have_text("Rp 0")
    row = page.locator("tr[data-link]", has_text="Kaos polos hitam")
    expect(row.get_by_test_id("status")).to_have_text("Aktif")
    navigations = watch_navigations(page)

    customer.goto(url)
    customer.get_by_label("QRIS").check()
    customer.get_by_role("button", name="Lanjutkan pembayaran").click()
    customer.get_by_test_id("simulate").click()
    expect(customer.get_by_test_id("receipt")).to_contain_text("Pembayaran berhasil")
    paid_at = time.monotonic()
    shoot(customer, "04-customer-receipt")

    expect(page.get_by_test_id("pending-IDR")).to_have_text("Rp 150.000", timeout=2_000)
    expect(row.get_by_test_id("status")).to_have_text("Lunas", timeout=2_000)
    seen_after = time.monotonic() - paid_at
    assert seen_after < 2.0, f"the dashboard took {seen_after:.2f} s"
    expect(page.get_by_test_id("today-IDR")).to_have_text("Rp 150.000")
    assert page.evaluate("window.__marker") == 1, "the dashboard was reloaded"
    assert navigations == [], navigations
    shoot(page, "05-overview-paid-live")

    for name, path in (
        ("06-links", "/dashboard/links"),
        ("07-payments", "/dashboard/payments"),
        ("08-settlements", "/dashboard/settlements"),
        ("09-webhooks", "/dashboard/webhooks"),
        ("10-keys", "/dashboard/keys"),
        ("11-audit", f"/dashboard/audit?as_of={time.strftime('%Y-%m-%dT%H:%M:%S')}"),
        ("12-overview-en", "/dashboard?lang=en"),
    ):
        response = page.goto(f"{desk.url}{path}")
        assert response is not None
        assert response.status == 200, path
        shoot(page, name)
    expect(page.get_by_test_id("pending-IDR")).to_have_text("IDR 150,000")


def test_a_viewer_cannot_reach_owner_actions(desktop: Page, desk: Shop, shoot: Shoot) -> None:
    page = desktop
    sign_in(page, desk, VIEWER)
    page.goto(f"{desk.url}/dashboard/links")
    expect(page.get_by_test_id("new-link")).to_have_count(0)
    response = page.goto(f"{desk.url}/dashboard/links/new")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_test_id("error")).to_contain_text("Hanya pemilik")
    shoot(page, "01-viewer-forbidden")
    page.goto(f"{desk.url}/dashboard/keys")
    expect(page.get_by_test_id("issue-key")).to_have_count(0)


def test_a_tampered_csrf_token_gives_a_403_page(desktop: Page, desk: Shop, shoot: Shoot) -> None:
    page = desktop
    sign_in(page, desk, OWNER)
    page.goto(f"{desk.url}/dashboard/keys")
    before = page.locator("tr[data-key]").count()
    page.evaluate(
        "document.querySelectorAll('input[name=csrf]').forEach(i => { i.value = 'forged'; })"
    )
    page.get_by_test_id("issue-key").click()
    expect(page.get_by_test_id("error")).to_contain_text("CSRF")
    shoot(page, "01-csrf-403")
    page.goto(f"{desk.url}/dashboard/keys")
    expect(page.locator("tr[data-key]")).to_have_count(before)
