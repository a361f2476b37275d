"""The dashboard's rough edges in Chromium, on a phone (390x844) and a desktop, in Bahasa
Indonesia and English: the payments list live and naming each link, the link timeline in
sentences and WIB, days typed as the page shows them, the revoke button in its row, the
day chart with one bar, a payout confirmed before it is requested, domain errors in the
user's language, a refund from a payment's row.

One server for the module (SQLite, read models running, real uvicorn on 127.0.0.1); a
merchant of its own where a test needs the books to itself. Screenshots go to
test-output/screenshots.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from paylink_es.domain.clock import FakeClock
from paylink_es.locale import WIB, format_instant
from tests.browser.support import PASSWORD, Shoot, sign_in, watch_navigations
from tests.support.shop import Shop
from workers.settlement import settle_day, today_in_jakarta

OWNER = "owner@edges.example"
VIEWPORTS: dict[str, ViewportSize] = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 900},
}
BRIEF_ID = re.compile(
    r"\d{1,2} (Jan|Feb|Mar|Apr|Mei|Jun|Jul|Agu|Sep|Okt|Nov|Des) \d{4} \d{2}\.\d{2} WIB"
)
BRIEF_EN = re.compile(
    r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2} WIB"
)


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    """The name of the viewport the test runs in: ``phone`` or ``desktop``."""
    name: str = request.param
    return name


def _open(browser: Browser, viewport: str) -> Iterator[Page]:
    phone = viewport == "phone"
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        is_mobile=phone,
        has_touch=phone,
        locale="id-ID",
        timezone_id="Asia/Jakarta",
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def staff(browser: Browser, desk: Shop, viewport: str) -> Iterator[Page]:
    """The module's owner signed in, in the test's viewport."""
    for page in _open(browser, viewport):
        sign_in(page, desk, OWNER)
        yield page


@pytest.fixture
def blank(browser: Browser, viewport: str) -> Iterator[Page]:
    """A page in the test's viewport, nobody signed in."""
    yield from _open(browser, viewport)


def _new_merchant(desk: Shop, name: str) -> tuple[UUID, str, dict[str, str]]:
    """A merchant with books of its own: its id, its owner's e-mail, its test key header."""
    merchant_id = desk.paylink.merchants.register(name, f"finance@{name.lower()}.example")
    owner = f"owner@{name.lower()}.example"
    desk.paylink.users.create_user(merchant_id, owner, PASSWORD, "owner", "Dewi")
    key = desk.paylink.merchants.issue_key(merchant_id, "test").secret
    return merchant_id, owner, {"Authorization": f"Bearer {key}"}


def _pay(desk: Shop, link_id: UUID, headers: dict[str, str] | None = None) -> UUID:
    """A customer pays the link through its page and the sandbox (not through the dashboard)."""
    code = desk.paylink.links.get(link_id).code
    payment_id = desk.choose(code, "qris", client=desk.visitor())
    paid = desk.client.post(
        "/v1/sandbox/payments",
        json={"payment_id": str(payment_id), "scenario": "normal"},
        headers=headers or desk.headers(),
    )
    assert paid.status_code == 200, paid.text
    return payment_id


def _middle(box: dict[str, float]) -> float:
    return box["y"] + box["height"] / 2


def _box(locator: Locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, locator
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


# 1 and 4 ------------------------------------------------------------------------------


def test_a_payment_appears_on_the_payments_list_live_naming_its_link(
    staff: Page, desk: Shop, viewport: str, shoot: Shoot
) -> None:
    page = staff
    description = f"Sepatu lari {viewport}"
    link_id = desk.paylink.links.create(
        desk.merchant_id, amount=275_000, description=description, slug=f"sepatu-{viewport}"
    )
    page.goto(f"{desk.url}/dashboard/payments")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    navigations = watch_navigations(page)
    row = page.locator("tr[data-payment]", has_text=description)
    expect(row).to_have_count(0)

    _pay(desk, link_id)

    expect(row).to_have_count(1)
    named = row.get_by_test_id("payment-link")
    expect(named.get_by_role("link", name=description)).to_have_attribute(
        "href", f"/dashboard/links/{link_id}"
    )
    expect(named).to_contain_text(f"/l/sepatu-{viewport}")
    expect(row).to_contain_text("Rp 275.000")
    assert page.evaluate("window.__marker") == 1, "the payments list was reloaded"
    assert navigations == [], navigations
    shoot(page, f"01-payments-live-{viewport}")

    page.goto(f"{desk.url}/dashboard/payments?lang=en")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    english = f"Running shoes {viewport}"
    second = desk.paylink.links.create(desk.merchant_id, amount=99_000, description=english)
    _pay(desk, second)
    fresh = page.locator("tr[data-payment]", has_text=english)
    expect(fresh).to_contain_text("IDR 99,000")
    expect(fresh.get_by_test_id("payment-link")).to_contain_text("/l/")
    shoot(page, f"02-payments-live-en-{viewport}")
    fresh.get_by_role("link", name=english).click()
    page.wait_for_url(f"{desk.url}/dashboard/links/{second}")
    expect(page).to_have_title(re.compile(re.escape(english)))
    page.goto(f"{desk.url}/dashboard?lang=id")


# 2 ------------------------------------------------------------------------------------


def test_the_link_timeline_reads_as_sentences_in_wib(
    staff: Page, desk: Shop, server_clock: FakeClock, viewport: str, shoot: Shoot
) -> None:
    page = staff
    link_id = desk.paylink.links.create(
        desk.merchant_id, amount=150_000, description=f"Jaket {viewport}", by=OWNER
    )
    created_at = server_clock()
    _pay(desk, link_id)
    other = desk.paylink.links.create(desk.merchant_id, amount=80_000, description="Topi")
    desk.paylink.links.cancel(other, "salah harga", by=OWNER)

    page.goto(f"{desk.url}/dashboard/links/{link_id}")
    timeline = page.get_by_test_id("timeline")
    created = timeline.locator('li[data-event="Created"]')
    expect(created.get_by_test_id("sentence")).to_have_text(f"Tautan dibuat oleh {OWNER}.")
    expect(created.locator("time")).to_have_text(format_instant(created_at, "id", "brief"))
    expect(timeline.locator('li[data-event="Completed"]')).to_contain_text("Tautan lunas.")
    expect(timeline.locator('li[data-event="PaymentVerified"]')).to_contain_text(
        re.compile(r"Pembayaran Rp 150\.000 terverifikasi: biaya Rp [\d.]+, bersih Rp [\d.]+\.")
    )
    expect(timeline.locator('li[data-event="PaymentInitiated"]')).to_contain_text(
        "Pembayaran Rp 150.000 dimulai dengan QRIS."
    )
    for time in timeline.locator("time").all():
        assert BRIEF_ID.fullmatch(time.inner_text()), time.inner_text()
    assert "=" not in timeline.inner_text()
    assert "UTC" not in timeline.inner_text()
    shoot(page, f"01-timeline-id-{viewport}")

    page.goto(f"{desk.url}/dashboard/links/{other}?lang=en")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator('li[data-event="Cancelled"]')).to_contain_text(
        f"Link cancelled by {OWNER}. Reason: salah harga."
    )
    for time in timeline.locator("time").all():
        assert BRIEF_EN.fullmatch(time.inner_text()), time.inner_text()
    shoot(page, f"02-timeline-en-{viewport}")
    page.goto(f"{desk.url}/dashboard?lang=id")


# 3 ------------------------------------------------------------------------------------


def test_days_are_typed_and_shown_as_the_users_language_writes_them(
    staff: Page, desk: Shop, server_clock: FakeClock, viewport: str, shoot: Shoot
) -> None:
    page = staff
    description = f"Kalender {viewport}"
    desk.paylink.links.create(desk.merchant_id, amount=50_000, description=description)
    today = server_clock().astimezone(WIB).date()
    typed = today.strftime("%d/%m/%Y")

    page.goto(f"{desk.url}/dashboard/links")
    since = page.get_by_label("Dibuat sejak (hh/bb/tttt)")
    expect(since).to_have_attribute("placeholder", "hh/bb/tttt")
    since.fill(typed)
    page.get_by_role("button", name="Terapkan").click()
    expect(page.locator("tr[data-link]", has_text=description)).to_have_count(1)
    expect(since).to_have_value(typed)
    expect(page.get_by_test_id("export-links")).to_have_attribute(
        "href", re.compile(re.escape(f"from={today:%d}%2F{today:%m}%2F{today:%Y}"))
    )
    since.fill((today + timedelta(days=1)).strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Terapkan").click()
    expect(page.get_by_text("Tidak ada tautan yang cocok.")).to_be_visible()

    since.fill("31/02/2026")
    page.get_by_role("button", name="Terapkan").click()
    expect(page.locator('[data-error-for="from"]')).to_have_text(
        "Dibuat sejak: tanggal 31/02/2026 tidak ada di kalender."
    )
    expect(since).to_have_value("31/02/2026")
    expect(since).to_have_attribute("aria-invalid", "true")
    shoot(page, f"01-day-wrong-id-{viewport}")

    page.goto(f"{desk.url}/dashboard/links?lang=en")
    before = page.get_by_label("Created before (dd/mm/yyyy)")
    before.fill("2026/13/01")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator('[data-error-for="to"]')).to_have_text(
        "Created before: “2026/13/01” is not a date. Write dd/mm/yyyy, e.g. 31/01/2026."
    )
    before.fill((today + timedelta(days=1)).strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tr[data-link]", has_text=description)).to_have_count(1)
    shoot(page, f"02-day-en-{viewport}")
    page.goto(f"{desk.url}/dashboard?lang=id")


# 5 ------------------------------------------------------------------------------------


def test_the_revoke_button_sits_in_line_with_its_row(
    staff: Page, desk: Shop, viewport: str, shoot: Shoot
) -> None:
    page = staff
    page.goto(f"{desk.url}/dashboard/keys")
    page.get_by_test_id("issue-key").click()
    rows = page.locator("tr[data-key]", has=page.get_by_test_id("revoke"))
    assert rows.count() >= 1
    for index in range(rows.count()):
        row = rows.nth(index)
        row_box, button_box = _box(row), _box(row.get_by_test_id("revoke"))
        prefix_box = _box(row.locator("td").first)
        assert row_box["y"] <= button_box["y"], (row_box, button_box)
        assert button_box["y"] + button_box["height"] <= row_box["y"] + row_box["height"]
        assert abs(_middle(button_box) - _middle(row_box)) <= 2, (row_box, button_box)
        assert abs(_middle(button_box) - _middle(prefix_box)) <= 2, (prefix_box, button_box)
    shoot(page, f"01-keys-{viewport}")
    page.goto(f"{desk.url}/dashboard/keys?lang=en")
    row = page.locator("tr[data-key]", has=page.get_by_test_id("revoke")).first
    expect(row.get_by_test_id("revoke")).to_have_text("Revoke")
    assert abs(_middle(_box(row.get_by_test_id("revoke"))) - _middle(_box(row))) <= 2
    page.goto(f"{desk.url}/dashboard?lang=id")


# 6 ------------------------------------------------------------------------------------


def test_one_day_of_data_is_one_bar_on_a_round_axis(
    blank: Page, desk: Shop, server_clock: FakeClock, viewport: str, shoot: Shoot
) -> None:
    merchant_id, owner, headers = _new_merchant(desk, f"Grafik{viewport.title()}")
    link_id = desk.paylink.links.create(merchant_id, amount=150_000, description="Satu hari")
    _pay(desk, link_id, headers)
    page = blank
    sign_in(page, desk, owner)
    chart = page.get_by_test_id("day-chart-IDR")
    bars = chart.locator("rect")
    expect(bars).to_have_count(14)
    values = [bars.nth(index).get_attribute("data-value") for index in range(14)]
    assert values == ["0"] * 13 + ["150000"], values
    ticks = chart.locator("text.tick")
    expect(ticks).to_have_text(["Rp 0", "Rp 100.000", "Rp 200.000"])
    today = server_clock().astimezone(WIB).date()
    expect(chart.locator("text.day").last).to_have_text(today.strftime("%d/%m"))
    bar, zero_line, top_line = (
        _box(bars.last),
        _box(chart.locator("line").first),
        _box(chart.locator("line").last),
    )
    plot = zero_line["y"] - top_line["y"]
    assert plot > 0
    assert abs(bar["height"] / plot - 0.75) < 0.02, (bar, plot)  # 150 000 of 200 000
    assert abs(bar["y"] + bar["height"] - zero_line["y"]) <= 1.5  # standing on the axis
    assert bar["width"] < _box(chart)["width"] / 10, bar  # a bar, not a block
    assert bars.first.get_attribute("height") == "0"
    shoot(page, f"01-one-bar-id-{viewport}")
    page.goto(f"{desk.url}/dashboard?lang=en")
    expect(page.get_by_test_id("day-chart-IDR").locator("text.tick")).to_have_text(
        ["IDR 0", "IDR 100,000", "IDR 200,000"]
    )
    shoot(page, f"02-one-bar-en-{viewport}")


# 7 and 8 ------------------------------------------------------------------------------


def test_a_payout_waits_for_its_confirmation_and_errors_speak_the_users_language(
    blank: Page, desk: Shop, server_clock: FakeClock, viewport: str, shoot: Shoot
) -> None:
    merchant_id, owner, headers = _new_merchant(desk, f"Tarik{viewport.title()}")
    paylink = desk.paylink
    link_id = paylink.links.create(merchant_id, amount=200_000, description="Untuk ditarik")
    _pay(desk, link_id, headers)
    desk.caught_up()  # the settlement run reads the payments view
    server_clock.advance(timedelta(days=7))
    settle_day(paylink, desk.app.state.read_models, today_in_jakarta(paylink))
    page = blank
    sign_in(page, desk, owner)

    page.goto(f"{desk.url}/dashboard/settlements")
    page.get_by_label("Jumlah penarikan").fill("1.000")
    page.get_by_test_id("request-payout").click()
    expect(page.get_by_test_id("payout-error")).to_have_text(
        "Atur dulu rekening bank penyelesaian sebelum menarik dana."
    )
    shoot(page, f"01-payout-no-account-{viewport}")

    paylink.merchants.set_bank_account(merchant_id, "BCA", "1234567890", "Toko Tarik")
    available = paylink.money.available_funds(merchant_id, "test", "IDR").amount
    assert available > 50_000

    page.goto(f"{desk.url}/dashboard/settlements")
    page.get_by_label("Jumlah penarikan").fill(f"{available + 1}")
    page.get_by_test_id("request-payout").click()
    expect(page.get_by_test_id("payout-error")).to_have_text(
        "Saldo tersedia tidak cukup untuk penarikan ini."
    )

    page.get_by_label("Jumlah penarikan").fill("50.000")
    page.get_by_label("Keterangan (opsional)").fill("Gaji Mei")
    page.get_by_test_id("request-payout").click()
    confirm = page.get_by_test_id("payout-confirm")
    expect(confirm.get_by_test_id("confirm-amount")).to_have_text("Rp 50.000")
    expect(confirm.get_by_test_id("confirm-fee")).to_have_text("Rp 0")
    expect(confirm.get_by_test_id("confirm-net")).to_have_text("Rp 50.000")
    expect(confirm.get_by_test_id("confirm-account")).to_have_text("BCA 1234567890 (Toko Tarik)")
    assert paylink.money.available_funds(merchant_id, "test", "IDR").amount == available
    shoot(page, f"02-payout-confirm-{viewport}")
    confirm.get_by_test_id("payout-cancel").click()
    expect(page.get_by_test_id("notice")).to_have_text(
        "Penarikan dibatalkan. Tidak ada dana yang ditarik."
    )
    expect(page.locator("tr[data-payout]")).to_have_count(0)
    assert paylink.money.available_funds(merchant_id, "test", "IDR").amount == available

    page.get_by_label("Jumlah penarikan").fill("50.000")
    page.get_by_test_id("request-payout").click()
    page.get_by_test_id("payout-yes").click()
    expect(page.get_by_test_id("notice")).to_have_text("Penarikan diajukan.")
    expect(page.locator("tr[data-payout]")).to_have_count(1)
    assert paylink.money.available_funds(merchant_id, "test", "IDR").amount == available - 50_000
    shoot(page, f"03-payout-done-{viewport}")

    page.goto(f"{desk.url}/dashboard/settlements?lang=en")
    page.get_by_label("Payout amount").fill(f"{available}")
    page.get_by_test_id("request-payout").click()
    expect(page.get_by_test_id("payout-error")).to_contain_text(
        "The available balance is not enough for this payout"
    )
    page.get_by_label("Payout amount").fill("10000")
    page.get_by_test_id("request-payout").click()
    expect(page.get_by_test_id("confirm-amount")).to_have_text("IDR 10,000")
    page.get_by_test_id("payout-yes").click()
    expect(page.get_by_test_id("notice")).to_have_text("The payout was requested.")
    expect(page.locator("tr[data-payout]")).to_have_count(2)
    shoot(page, f"04-payout-en-{viewport}")

    page.goto(f"{desk.url}/dashboard/links/new?lang=id")
    page.get_by_label("Deskripsi").fill("Slug terlarang")
    page.get_by_label("Jumlah", exact=True).fill("150.000")
    page.locator("input[name=slug]").fill("dashboard")
    page.get_by_test_id("create-link").click()
    expect(page.locator("[data-error-for=slug]")).to_contain_text("bukan kata yang dicadangkan")
    shoot(page, f"05-domain-error-id-{viewport}")


# the policy of links paid in part --------------------------------------------------


def test_the_owner_chooses_what_links_paid_in_part_do_at_their_expiry(
    blank: Page, desk: Shop, viewport: str, shoot: Shoot
) -> None:
    merchant_id, owner, _ = _new_merchant(desk, f"Cicil{viewport.title()}")
    page = blank
    sign_in(page, desk, owner)
    page.get_by_role("link", name="Bayar sebagian").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Pembayaran sebagian saat kedaluwarsa"
    )
    expect(page.get_by_label("kedaluwarsa (yang sudah dibayar tetap masuk)")).to_be_checked()
    page.get_by_label("tetap terbuka sampai lunas").check()
    page.get_by_test_id("save-partial").click()
    expect(page.get_by_test_id("notice")).to_have_text("Kebijakan pembayaran sebagian disimpan.")
    expect(page.get_by_label("tetap terbuka sampai lunas")).to_be_checked()
    assert desk.paylink.merchants.partial_expiry(merchant_id) == "keep_open"
    shoot(page, f"01-partial-policy-id-{viewport}")
    page.goto(f"{desk.url}/dashboard/settings/partial?lang=en")
    page.get_by_label("expires (what was paid stays credited)").check()
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_test_id("notice")).to_have_text("The policy for payment in parts was saved.")
    assert desk.paylink.merchants.partial_expiry(merchant_id) == "expire"
    shoot(page, f"02-partial-policy-en-{viewport}")


def test_an_owner_refunds_part_of_a_payment_from_its_row(
    blank: Page, desk: Shop, viewport: str, shoot: Shoot
) -> None:
    merchant_id, owner, headers = _new_merchant(desk, f"Retur{viewport.title()}")
    link_id = desk.paylink.links.create(merchant_id, amount=120_000, description="Jaket hujan")
    payment_id = _pay(desk, link_id, headers)
    page = blank
    sign_in(page, desk, owner)
    page.goto(f"{desk.url}/dashboard/payments")
    row = page.locator(f"tr[data-payment='{payment_id}']")
    row.get_by_role("link", name="Kembalikan dana").click()

    expect(page.get_by_test_id("refund-refundable")).to_have_text("Rp 120.000")
    expect(page.get_by_label("Jumlah pengembalian")).to_have_value("120000")
    page.get_by_label("Jumlah pengembalian").fill("200.000")
    page.get_by_label("Alasan").fill("Ukuran tidak pas")
    page.get_by_test_id("refund-yes").click()
    expect(page.get_by_test_id("refund-error")).to_have_text(
        "Pengembalian dana melebihi yang diterima."
    )
    expect(page.get_by_label("Alasan")).to_have_value("Ukuran tidak pas")
    shoot(page, f"01-refund-too-much-{viewport}")
    page.get_by_label("Jumlah pengembalian").fill("20.000")
    page.get_by_test_id("refund-yes").click()

    expect(page.get_by_test_id("notice")).to_have_text("Dana dikembalikan.")
    assert desk.paylink.payments.get(payment_id).refunded.amount == 20_000
    row.get_by_role("link", name="Kembalikan dana").click()
    expect(page.get_by_test_id("refund-refunded")).to_have_text("Rp 20.000")
    expect(page.get_by_test_id("refund-refundable")).to_have_text("Rp 100.000")
    shoot(page, f"02-refund-rest-{viewport}")
