"""Branding in Chromium: the owner picks a colour (the preview follows as it is typed),
names the shop and uploads a logo in the dashboard; the customer's page shows all three.

One server for the module (SQLite, read models running, real uvicorn on 127.0.0.1); the
owner works in a desktop-sized page, the customer in a phone-sized one of their own.
Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")

from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.support import Shoot
from tests.support.images import SVG_LOGO, encoded
from tests.support.shop import Shop

OWNER = "owner@brand.example"
PLUM = "rgb(122, 31, 92)"  # #7a1f5c


def test_a_logo_uploaded_in_the_dashboard_shows_on_the_hosted_page(
    owner: Page, page: Page, desk: Shop, shoot: Shoot, tmp_path: Path
) -> None:
    """``page`` is the customer's phone, a browser of its own."""
    logo_file = tmp_path / "logo.png"
    logo = Image.new("RGBA", (600, 300), (0, 0, 0, 0))
    logo.paste((122, 31, 92, 255), (50, 50, 550, 250))
    logo_file.write_bytes(encoded(logo))
    fake = tmp_path / "logo-palsu.png"
    fake.write_bytes(SVG_LOGO)

    owner.get_by_role("link", name="Merek", exact=True).click()
    owner.wait_for_url(f"{desk.url}/dashboard/branding")
    preview = owner.get_by_test_id("preview-button")
    expect(preview).to_have_css("background-color", "rgb(11, 107, 203)")  # the default
    owner.get_by_label("Nama tampilan").fill("Kopi Senja")
    owner.get_by_label("Warna merek", exact=True).fill("#7a1f5c")
    expect(preview).to_have_css("background-color", PLUM)  # as typed, before saving
    shoot(owner, "01-preview")
    owner.get_by_test_id("save-branding").click()
    expect(owner.get_by_test_id("notice")).to_have_text("Merek disimpan.")
    expect(preview).to_have_css("background-color", PLUM)

    owner.get_by_label(re.compile("File logo")).set_input_files(str(fake))
    owner.get_by_test_id("upload-logo").click()
    expect(owner.locator("[data-error-for=logo]")).to_have_text(
        "Logo harus berupa gambar PNG atau JPEG."
    )
    owner.get_by_label(re.compile("File logo")).set_input_files(str(logo_file))
    owner.get_by_test_id("upload-logo").click()
    expect(owner.get_by_test_id("notice")).to_have_text("Logo diunggah.")
    expect(owner.get_by_test_id("current-logo")).to_be_visible()
    shoot(owner, "02-branding-saved")

    link = desk.link(amount=150_000, description="Kopi susu gula aren", methods=["qris"])
    page.goto(f"{desk.url}/l/{link.code}")
    shown = page.get_by_test_id("merchant-logo")
    expect(shown).to_be_visible()
    assert shown.evaluate("img => img.complete && img.naturalWidth") == 512
    expect(page.get_by_test_id("merchant-name")).to_have_text("Kopi Senja")
    expect(page.get_by_role("button", name="Lanjutkan pembayaran")).to_have_css(
        "background-color", PLUM
    )
    shoot(page, "03-hosted-page")
