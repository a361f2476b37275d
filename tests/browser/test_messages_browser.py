"""Messages in the dashboard, in Chromium: the owner sets the alerts and the default
reminders (a wrong value is named beside its input, in the page's language), then makes a
link that is sent as it is created; its timeline shows the send.

One server for the module (SQLite, read models running, real uvicorn on 127.0.0.1); the
link's e-mail goes to the development outbox. Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Page, expect

from tests.browser.support import Shoot
from tests.support.shop import Shop

OWNER = "owner@pesan.example"  # the conftest's desk makes this owner; ``owner`` signs in


def test_the_owner_sets_alerts_and_reminders_then_a_new_link_goes_out_as_it_is_made(
    owner: Page, desk: Shop, shoot: Shoot
) -> None:
    page = owner

    page.get_by_role("link", name="Pesan & notifikasi").click()
    page.get_by_label("Pembayaran diterima").uncheck()
    page.get_by_label("Gagal berturut-turut sebelum notifikasi webhook").fill("0")
    page.get_by_test_id("save-alerts").click()
    expect(page.locator("[data-error-for=webhook_failures]")).to_contain_text(
        "harus bilangan bulat dari 1 sampai 100"
    )
    expect(page.get_by_label("Pembayaran diterima")).not_to_be_checked()  # kept as typed
    shoot(page, "01-alerts-error")
    page.get_by_label("Gagal berturut-turut sebelum notifikasi webhook").fill("3")
    page.get_by_label("E-mail tujuan (kosong: e-mail terdaftar)").fill("kas@pesan.example")
    page.get_by_test_id("save-alerts").click()
    expect(page.get_by_test_id("notice")).to_have_text("Pengaturan notifikasi disimpan.")
    expect(page.get_by_test_id("alerts-address")).to_have_text("Dikirim ke kas@pesan.example.")
    page.locator("#reminders").fill("24h, 1h")
    page.get_by_test_id("save-reminders").click()
    expect(page.get_by_test_id("notice")).to_have_text("Pengingat bawaan disimpan.")
    expect(page.locator("#reminders")).to_have_value("24h, 1h")
    shoot(page, "02-settings-saved")

    page.goto(f"{desk.url}/dashboard/links/new")
    page.get_by_label("Deskripsi").fill("Kaos polos hitam")
    page.get_by_label("Jumlah", exact=True).fill("150.000")
    page.get_by_label("Kirim ke WhatsApp").fill("0812")
    page.get_by_test_id("create-link").click()
    expect(page.locator("[data-error-for=notify_whatsapp]")).to_contain_text("bukan nomor telepon")
    shoot(page, "03-notify-error")
    page.get_by_label("Kirim ke WhatsApp").fill("")
    page.get_by_label("Kirim ke e-mail").fill("budi@example.com")
    page.get_by_test_id("create-link").click()
    expect(page.get_by_test_id("notice")).to_have_text("Tautan dibuat.")
    page.wait_for_url(re.compile(r"/dashboard/links/[0-9a-f-]{36}"))
    expect(page.get_by_test_id("timeline")).to_contain_text(
        "Tautan dikirim lewat email ke b***@example.com."
    )
    shoot(page, "04-sent-on-create")
