"""A link that asks for the payer's details and a field of its own, in Chromium.

The customer, on a phone and in Indonesian, meets the browser's own checks first (a
required field left empty does not even reach the server), then the server's: a phone
number that is none comes back named in Indonesian beside its field, with what was typed
kept. Corrected, the payment goes through, and the merchant's dashboard shows who paid
and what they answered. One server for the module (SQLite, read models running, real
uvicorn on 127.0.0.1); screenshots go to test-output/screenshots.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Page, expect

from tests.browser.support import Shoot
from tests.support.shop import PAYMENT_PATH, SCHOOL_LINK, Shop

OWNER = "owner@sekolah.example"


def test_the_customer_fixes_a_bad_phone_told_in_indonesian_then_pays_and_the_merchant_sees_it(
    page: Page, owner: Page, desk: Shop, shoot: Shoot
) -> None:
    # Two hours by the real clock, which the page's countdown runs on.
    expiry = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(hours=2)
    url = f"{desk.url}/l/{desk.link(SCHOOL_LINK, expires_at=expiry).code}"
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_test_id("payer-fields").locator("legend")).to_have_text("Data Anda")
    expect(page.get_by_label("Nama")).to_have_attribute("autocomplete", "name")
    expect(page.get_by_label("Nomor telepon")).to_have_attribute("type", "tel")
    expect(page.get_by_label("Email (opsional)")).to_have_attribute("type", "email")
    expect(page.get_by_label("Jumlah saudara (opsional)")).to_have_attribute("type", "number")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone
    shoot(page, "01-the-fields")

    # The browser's own check: a required field left empty never reaches the server.
    head = desk.head()
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    assert page.evaluate("document.querySelector('[name=\"customer.name\"]').validity.valueMissing")
    expect(page).to_have_url(url)
    assert desk.head() == head

    page.get_by_label("Nama").fill("Ani Lestari")
    page.get_by_label("Nomor telepon").fill("12345")
    page.get_by_label("NIS").fill("2027-0042")
    page.get_by_label("Kelas").select_option("7B")
    page.get_by_label("QRIS").check()
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    error = page.locator('[data-error-for="customer.phone"]')
    expect(error).to_have_text(
        "Nomor telepon harus berupa nomor telepon, misalnya 0812 3456 7890 atau +62 812 3456 7890."
    )
    expect(page.get_by_label("Nomor telepon")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Nama")).to_have_value("Ani Lestari")  # kept, to fix one thing
    expect(page.get_by_label("NIS")).to_have_value("2027-0042")
    expect(page.get_by_label("Kelas")).to_have_value("7B")
    assert desk.head() == head, "a refused form recorded something"
    shoot(page, "02-phone-refused")

    page.get_by_label("Nomor telepon").fill("0812-3456-7890")
    page.get_by_label("QRIS").check()
    page.get_by_role("button", name="Lanjutkan pembayaran").click()
    page.wait_for_url(PAYMENT_PATH)
    match = PAYMENT_PATH.search(page.url)
    assert match is not None
    payment_id = UUID(match["payment"])
    page.get_by_test_id("simulate").click()
    expect(page.get_by_test_id("receipt")).to_contain_text("Pembayaran berhasil")
    shoot(page, "03-paid")
    payment = desk.payment(payment_id)
    assert payment.customer is not None
    assert (payment.customer.name, payment.customer.phone) == ("Ani Lestari", "+6281234567890")
    assert payment.custom_fields == {"student_id": "2027-0042", "class": "7B"}

    desk.caught_up()
    owner.goto(f"{desk.url}/dashboard/links/{payment.link_id}")
    expect(owner.get_by_test_id("link-asks")).to_contain_text("NIS [student_id]")
    payer = owner.locator(f'tr[data-payment="{payment_id}"] [data-testid=payer]')
    expect(payer).to_contain_text("Ani Lestari")
    expect(payer).to_contain_text("+6281234567890")
    expect(payer).to_contain_text("student_id: 2027-0042")
    expect(payer).to_contain_text("class: 7B")
    shoot(owner, "04-dashboard")
