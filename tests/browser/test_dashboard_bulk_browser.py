"""Bulk links in Chromium: upload a CSV, watch the progress bar reach 100%, get the results.

One server for the module (SQLite, read models running, real uvicorn on 127.0.0.1), a
desktop-sized context per test. The batch's page polls its progress without reloading
(a marker on ``window`` proves it). Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Browser, FilePayload, Page, expect

from tests.browser.support import Shoot, desktop_page, sign_in, watch_navigations
from tests.support.shop import Shop

OWNER = "owner@bulk.example"
HEADER = "reference_id,description,amount,methods,customer_email,send_email"


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page in a fresh context (no session), downloads allowed."""
    with desktop_page(browser, accept_downloads=True) as fresh:
        yield fresh


def _choose(page: Page, name: str, text: str) -> None:
    payload: FilePayload = {"name": name, "mimeType": "text/csv", "buffer": text.encode()}
    page.get_by_label("File CSV").set_input_files(files=[payload])


def test_a_small_csv_runs_to_100_percent_and_its_results_download(
    desktop: Page, desk: Shop, shoot: Shoot, tmp_path: Path
) -> None:
    page = desktop
    sign_in(page, desk, OWNER)
    page.get_by_role("link", name="Tautan", exact=True).click()
    page.get_by_test_id("bulk-links").click()
    expect(page.get_by_role("heading", name="Tautan massal")).to_be_visible()
    shoot(page, "01-bulk-form")
    _choose(
        page,
        "pesanan.csv",
        f"{HEADER}\n"
        "WEB-1,Kaos polos hitam,150000,qris,budi@example.com,true\n"
        "WEB-2,Topi,lima puluh ribu,,,\n"
        "WEB-3,Sepatu,250000,va_bca|qris,,\n",
    )
    page.get_by_test_id("bulk-upload").click()

    page.wait_for_url(re.compile(r"/dashboard/links/bulk/[\w-]+$"))
    expect(page.get_by_test_id("bulk-percent")).to_have_text("100%")
    expect(page.get_by_test_id("bulk-state")).to_have_text("Selesai")
    expect(page.get_by_test_id("bulk-rows")).to_have_text("3 dari 3 baris")
    expect(page.get_by_test_id("bulk-created")).to_have_text("2")
    expect(page.get_by_test_id("bulk-errors")).to_have_text("1")
    result = page.get_by_test_id("bulk-result")
    expect(result).to_be_visible()
    bar = page.get_by_test_id("bulk-bar")
    assert bar.evaluate("el => el.value === el.max && el.max === 3")
    shoot(page, "02-bulk-done")

    with page.expect_download() as info:
        result.click()
    saved = tmp_path / "results.csv"
    info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert [(row["reference_id"], row["status"]) for row in rows] == [
        ("WEB-1", "created"),
        ("WEB-2", "error"),
        ("WEB-3", "created"),
    ]
    assert rows[0]["send_email"] == "sent"
    assert rows[1]["error_field"] == "amount"


def test_the_bar_moves_while_a_larger_file_runs_without_reloading_the_page(
    desktop: Page, desk: Shop, shoot: Shoot
) -> None:
    page = desktop
    sign_in(page, desk, OWNER)
    page.goto(f"{desk.url}/dashboard/links/bulk")
    rows = "".join(f"MOVE-{i:04d},Barang {i},{10_000 + i},qris,,\n" for i in range(3_000))
    _choose(page, "banyak.csv", f"{HEADER}\n{rows}")
    page.get_by_test_id("bulk-upload").click()
    page.wait_for_url(re.compile(r"/dashboard/links/bulk/[\w-]+$"))
    started_unfinished = page.get_by_test_id("bulk-batch").get_attribute("data-finished")
    navigations = watch_navigations(page)
    expect(page.get_by_test_id("bulk-result")).to_be_hidden()
    shoot(page, "01-bulk-running")

    expect(page.get_by_test_id("bulk-percent")).to_have_text("100%", timeout=60_000)

    expect(page.get_by_test_id("bulk-result")).to_be_visible()
    expect(page.get_by_test_id("bulk-created")).to_have_text("3000")
    assert started_unfinished == "false", "the file ran faster than the page loaded"
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert navigations == [], f"the page navigated: {navigations}"
    shoot(page, "02-bulk-finished-live")
