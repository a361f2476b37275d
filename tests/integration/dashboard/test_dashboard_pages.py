"""Every page in both languages, the numbers and charts they show, keys, webhooks, audit."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from api.dashboard.charts import bars, columns, nice_top
from api.dashboard.render import NAV
from paylink_es.domain.money import Money
from paylink_es.locale import WIB
from paylink_es.locale.dashboard import EN, ID
from tests.support.desk import VIEWER, Desk, post
from workers.settlement import settle_day, today_in_jakarta

# Every page of the navigation, the create form and the audit as of an instant.
PAGES = (
    *(path for _, path in NAV),
    "/dashboard/links/new",
    "/dashboard/audit?as_of=2026-01-05T12:00",
)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_page_renders_with_strict_headers(sqlite_desk: Desk, lang: str) -> None:
    desk = sqlite_desk
    link_id = desk.link(reference_id="PAGES-1")
    desk.pay(link_id)
    desk.catch_up()
    owner = desk.signed_in()
    words = ID if lang == "id" else EN
    for path in (*PAGES, f"/dashboard/links/{link_id}"):
        joiner = "&" if "?" in path else "?"
        response = owner.get(f"{path}{joiner}lang={lang}")
        assert response.status_code == 200, (path, response.text)
        assert f'<html lang="{lang}">' in response.text
        assert '<meta name="robots" content="noindex">' in response.text
        assert words["sign_out"] in response.text
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text  # the only script is the static file


def test_the_overview_shows_money_funnel_and_charts(desk: Desk) -> None:
    paid = desk.link(reference_id="OV-1", amount=150000)
    desk.link(reference_id="OV-2", amount=20000)
    desk.pay(paid, "va_bca")
    bigger = desk.link(reference_id="OV-3", amount=1250000)
    desk.pay(bigger, "qris")
    desk.catch_up()
    page = desk.signed_in().get("/dashboard").text
    assert 'data-testid="pending-IDR">Rp 1.400.000<' in page
    assert 'data-testid="available-IDR">Rp 0<' in page
    assert 'data-testid="today-IDR">Rp 1.400.000<' in page
    assert 'data-testid="today-count-IDR">2 pembayaran<' in page
    funnel = re.search(r'data-testid="funnel-chart".*?</svg>', page, re.S)
    assert funnel is not None
    assert re.findall(r'data-value="(\d+)"', funnel.group(0)) == ["3", "0", "2", "2"]
    methods = re.search(r'data-testid="method-chart-IDR".*?</svg>', page, re.S)
    assert methods is not None
    assert re.findall(r'data-value="(\d+)"', methods.group(0)) == ["1250000", "150000"]
    days = re.search(r'data-testid="day-chart-IDR".*?</svg>', page, re.S)
    assert days is not None
    values = re.findall(r'data-value="(\d+)"', days.group(0))
    assert len(values) == 14
    assert values[-1] == "1400000"
    assert set(values[:-1]) == {"0"}


def test_charts_scale_with_integers_and_escape_their_labels() -> None:
    chart = columns(
        [("a", 0), ("b", 50), ("c", 100)],
        title="<t>",
        show=str,
        label=lambda key: f"<{key}>",
        testid="x",
    )
    heights = re.findall(r'height="(\d+)" fill', chart)
    assert heights == ["0", "85", "170"]  # of 170, on an axis from 0 to 100
    assert re.findall(r'data-tick="(\d+)"', chart) == ["0", "50", "100"]
    one = columns([("d", 150_000)], title="t", show=str, label=str, testid="one")
    assert re.findall(r'height="(\d+)" fill', one) == ["127"]  # 150 000 of an axis to 200 000
    assert re.findall(r'width="(\d+)" height', one) == ["40"]
    assert [nice_top(n) for n in (0, 1, 7, 100, 101, 150_000, 2_400_000)] == [
        0,
        1,
        10,
        100,
        200,
        200_000,
        2_500_000,
    ]
    assert "<a>" not in chart
    assert "&lt;a&gt;" in chart
    empty = bars([], title="t", show=str, label=str, testid="e")
    assert "<svg" in empty


def test_the_audit_page_shows_balances_and_links_as_they_were(desk: Desk) -> None:
    clock = desk.shop.clock
    before = clock()
    link_id = desk.link(reference_id="AUDIT-1", description="Sebelum bayar")
    clock.advance(timedelta(hours=1))
    middle = clock()
    clock.advance(timedelta(hours=1))
    desk.pay(link_id)
    desk.catch_up()
    owner = desk.signed_in()

    def at(instant: datetime) -> str:
        text = instant.astimezone(WIB).strftime("%Y-%m-%dT%H:%M:%S")
        return owner.get("/dashboard/audit", params={"as_of": text}).text

    then = at(middle)
    assert "Sebelum bayar" in then
    assert 'data-status="active"' in then
    assert 'data-testid="pending-IDR"' not in then  # no money yet
    assert "Belum ada saldo." in then
    now = at(clock() + timedelta(minutes=1))
    assert 'data-status="completed"' in now
    assert 'data-testid="pending-IDR">Rp 150.000<' in now
    assert "Sebelum bayar" not in at(before - timedelta(minutes=1))
    bad = owner.get("/dashboard/audit", params={"as_of": "kemarin"})
    assert bad.status_code == 400
    assert "as_of" in bad.text


def test_keys_are_issued_once_and_revoked(desk: Desk) -> None:
    owner = desk.signed_in()
    issued = post(owner, "/dashboard/keys")
    assert issued.status_code == 201
    secret = re.search(r"(sk_test_[0-9A-Za-z]{32})", issued.text)
    assert secret is not None
    assert desk.shop.paylink.merchants.authenticate(secret.group(1)).merchant_id == desk.merchant_id
    listed = owner.get("/dashboard/keys").text
    assert secret.group(1) not in listed  # shown once, never again
    key_id = str(desk.shop.paylink.merchants.authenticate(secret.group(1)).key_id)
    assert key_id in listed
    revoked = post(owner, f"/dashboard/keys/{key_id}/revoke")
    assert revoked.status_code == 303
    assert "Kunci dicabut." in owner.get(revoked.headers["location"]).text
    with pytest.raises(Exception, match="revoked"):
        desk.shop.paylink.merchants.authenticate(secret.group(1))


def test_webhook_endpoints_and_resending_a_delivery(desk: Desk) -> None:
    owner = desk.signed_in()
    refused = post(owner, "/dashboard/webhooks", {"url": "http://127.0.0.1:9/hooks"})
    assert refused.status_code == 422
    assert 'data-testid="webhook-error">url: ' in refused.text
    # A local receiver (nothing listens on port 9): allowed the way development allows it.
    state = desk.shop.app.state
    state.settings = state.settings.model_copy(update={"allow_private_webhooks": True})
    added = post(
        owner,
        "/dashboard/webhooks",
        {"url": "http://127.0.0.1:9/hooks", "event_types": ["link.created"]},
    )
    assert added.status_code == 201, added.text
    assert re.search(r'data-testid="endpoint-secret">[^<]*whsec_', added.text)
    desk.link(reference_id="HOOK-1")
    desk.catch_up()
    page = owner.get("/dashboard/webhooks").text
    assert "http://127.0.0.1:9/hooks" in page
    delivery = re.search(r'<tr data-delivery="([^"]+)">', page)
    assert delivery is not None
    resent = post(owner, f"/dashboard/webhooks/deliveries/{delivery.group(1)}/resend")
    assert resent.status_code == 303
    assert post(owner, "/dashboard/webhooks/deliveries/whd_nothing/resend").status_code == 404


def test_the_settlements_page_shows_every_bucket(desk: Desk) -> None:
    desk.pay(desk.link(reference_id="SET-1"))
    desk.catch_up()
    page = desk.signed_in().get("/dashboard/settlements?lang=en").text
    assert 'data-testid="pending-IDR">IDR 150,000<' in page
    assert 'data-testid="available-IDR">IDR 0<' in page
    for word in ("Held (review)", "Refund due", "Paid out", "Fees", "Refunded"):
        assert word in page


def test_an_owner_pays_out_settled_money_never_more_than_available(desk: Desk) -> None:
    paylink = desk.shop.paylink
    desk.pay(desk.link(reference_id="PAYOUT-1", amount=200000))
    desk.catch_up()
    desk.shop.clock.advance(timedelta(days=7))
    run = settle_day(paylink, desk.shop.app.state.read_models, today_in_jakarta(paylink))
    assert run.settled == 1
    owner = desk.signed_in()
    missing_account = post(owner, "/dashboard/payouts", {"amount": "50.000", "currency": "IDR"})
    assert missing_account.status_code == 422, missing_account.text
    assert "Atur dulu rekening bank penyelesaian" in missing_account.text
    paylink.merchants.set_bank_account(desk.merchant_id, "BCA", "1234567890", "Toko Budi Jaya")
    desk.catch_up()
    available = paylink.money.available_funds(desk.merchant_id, "test", "IDR").amount
    too_much = post(owner, "/dashboard/payouts", {"amount": str(available + 1)})
    assert too_much.status_code == 409, too_much.text
    assert 'data-testid="payout-error"' in too_much.text
    bad = post(owner, "/dashboard/payouts", {"amount": "lima puluh"})
    assert bad.status_code == 422
    assert "Jumlah penarikan: harus berupa bilangan bulat" in bad.text
    asked = {"amount": "50.000", "currency": "IDR", "description": "Mei"}
    confirm = post(owner, "/dashboard/payouts", asked)
    assert confirm.status_code == 200, confirm.text
    assert 'data-testid="confirm-amount">Rp 50.000<' in confirm.text
    assert 'data-testid="confirm-fee">Rp 0<' in confirm.text
    assert 'data-testid="confirm-account">BCA 1234567890 (Toko Budi Jaya)<' in confirm.text
    assert paylink.money.available_funds(desk.merchant_id, "test", "IDR").amount == available
    paid = post(owner, "/dashboard/payouts", {**asked, "amount": "50000", "confirmed": "yes"})
    assert paid.status_code == 303, paid.text
    assert (
        paylink.money.available_funds(desk.merchant_id, "test", "IDR").amount == available - 50000
    )
    desk.catch_up()
    page = owner.get(paid.headers["location"]).text
    assert "Penarikan diajukan." in page
    assert re.search(r'<tr data-payout="[^"]+" data-status="[a-z_]+">', page)
    assert "Rp 50.000" in page
    assert 'data-testid="batches-table"' in page
    viewer_page = desk.signed_in(VIEWER).get("/dashboard/settlements").text
    assert 'data-testid="payout-form"' not in viewer_page


def test_a_negative_balance_is_shown_and_nothing_is_paid_out_of_it(desk: Desk) -> None:
    paylink = desk.shop.paylink
    payment = desk.pay(desk.link(reference_id="NEG-1", amount=200000))
    desk.catch_up()
    desk.shop.clock.advance(timedelta(days=7))
    run = settle_day(paylink, desk.shop.app.state.read_models, today_in_jakarta(paylink))
    assert run.settled == 1
    paylink.merchants.set_bank_account(desk.merchant_id, "BCA", "1234567890", "Toko Budi Jaya")
    available = paylink.money.available_funds(desk.merchant_id, "test", "IDR")
    paylink.money.request_payout(desk.merchant_id, "test", available)
    paylink.money.refund(payment, Money(200_000, "IDR"), "order cancelled")  # all of it
    desk.catch_up()
    owner = desk.signed_in()
    page = owner.get("/dashboard/settlements").text
    assert 'data-testid="available-IDR">-Rp 200.000<' in page
    assert 'data-testid="negative-IDR"' in page
    assert ID["balance_negative"] in page
    overview = owner.get("/dashboard").text
    assert 'data-testid="available-IDR">-Rp 200.000<' in overview
    assert 'data-testid="negative-IDR"' in overview
    refused = post(owner, "/dashboard/payouts", {"amount": "1", "currency": "IDR"})
    assert refused.status_code == 409, refused.text
    assert 'data-testid="payout-error"' in refused.text
    assert "Saldo tersedia tidak cukup untuk penarikan ini." in refused.text
    english = owner.get("/dashboard/settlements?lang=en").text
    assert 'data-testid="available-IDR">-IDR 200,000<' in english
    assert EN["balance_negative"] in english


def test_the_owner_sets_what_links_paid_in_part_do_at_their_expiry(desk: Desk) -> None:
    merchants = desk.shop.paylink.merchants
    assert merchants.partial_expiry(desk.merchant_id) == "expire"
    owner = desk.signed_in()
    page = owner.get("/dashboard/settings/partial").text
    assert 'value="expire" checked' in page
    assert ID["partial_expiry_keep_open"] in page
    head = desk.shop.head()
    wrong = post(owner, "/dashboard/settings/partial", {"partial_expiry": "forever"})
    assert wrong.status_code == 422, wrong.text
    assert 'data-testid="partial-error"' in wrong.text
    assert "pilih kedaluwarsa atau tetap terbuka sampai lunas" in wrong.text
    assert "must be" not in wrong.text  # said in Indonesian, not the domain's English
    assert desk.shop.head() == head
    saved = post(owner, "/dashboard/settings/partial", {"partial_expiry": "keep_open"})
    assert saved.status_code == 303, saved.text
    assert merchants.partial_expiry(desk.merchant_id) == "keep_open"
    page = owner.get(saved.headers["location"]).text
    assert ID["partial_saved"] in page
    assert 'value="keep_open" checked' in page
    assert EN["partial_settings_title"] in owner.get("/dashboard/settings/partial?lang=en").text
    viewer = desk.signed_in(VIEWER)
    assert 'data-testid="save-partial"' not in viewer.get("/dashboard/settings/partial").text
    refused = post(viewer, "/dashboard/settings/partial", {"partial_expiry": "expire"})
    assert refused.status_code == 403
    assert merchants.partial_expiry(desk.merchant_id) == "keep_open"
