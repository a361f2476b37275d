"""Deactivating a link from the dashboard in Chromium: the customer's page shows the
merchant's message instead of the methods; reactivated, the methods are back.

One server for the module (SQLite, read models running, real uvicorn on 127.0.0.1); the
owner works in a desktop-sized page, the customer in a phone-sized one of their own.
Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Page, expect

from tests.browser.support import Shoot
from tests.support.shop import Shop

OWNER = "owner@manage.example"
MESSAGE = "Stok habis, buka lagi Senin depan."


def test_a_deactivated_link_shows_the_message_and_a_reactivated_one_its_methods(
    owner: Page, customer: Page, desk: Shop, shoot: Shoot
) -> None:
    link_id = desk.paylink.links.create(
        desk.merchant_id, amount=150_000, description="Kaos polos hitam", methods=["qris", "va_bca"]
    )
    code = desk.paylink.links.get(link_id).code
    customer.goto(f"{desk.url}/l/{code}")
    expect(customer.get_by_label("QRIS")).to_be_visible()

    owner.goto(f"{desk.url}/dashboard/links/{link_id}")
    owner.get_by_label("Pesan untuk pelanggan (opsional, tampil di halaman pembayaran)").fill(
        MESSAGE
    )
    owner.get_by_test_id("deactivate-link").click()
    expect(owner.get_by_test_id("notice")).to_have_text("Tautan dinonaktifkan.")
    expect(owner.get_by_test_id("link-status")).to_have_text("Nonaktif")
    expect(owner.get_by_test_id("inactive-message")).to_have_text(MESSAGE)
    shoot(owner, "01-dashboard-deactivated")

    customer.reload()
    expect(customer.get_by_test_id("message")).to_contain_text(
        "Tautan pembayaran ini sedang tidak aktif"
    )
    expect(customer.get_by_test_id("merchant-message")).to_have_text(MESSAGE)
    expect(customer.get_by_label("QRIS")).to_have_count(0)
    expect(customer.get_by_role("button", name="Lanjutkan pembayaran")).to_have_count(0)
    shoot(customer, "02-page-inactive")
    customer.get_by_role("link", name="English").click()
    expect(customer.get_by_test_id("message")).to_contain_text(
        "This payment link is not active right now"
    )
    expect(customer.get_by_test_id("merchant-message")).to_have_text(MESSAGE)
    shoot(customer, "03-page-inactive-en")

    owner.get_by_test_id("reactivate-link").click()
    expect(owner.get_by_test_id("notice")).to_have_text("Tautan aktif lagi.")
    expect(owner.get_by_test_id("link-status")).to_have_text("Aktif")
    expect(owner.locator('li[data-event="Deactivated"]')).to_contain_text(f"oleh {OWNER}")
    expect(owner.locator('li[data-event="Reactivated"]')).to_contain_text(f"oleh {OWNER}")
    shoot(owner, "04-dashboard-reactivated")

    customer.reload()
    expect(customer.get_by_test_id("merchant-message")).to_have_count(0)
    expect(customer.get_by_label("QRIS")).to_be_visible()
    expect(customer.get_by_label("BCA Virtual Account")).to_be_visible()
    expect(customer.get_by_role("button", name="Continue to payment")).to_be_visible()
    shoot(customer, "05-page-active-again")
