"""The audit page's what-if: an owner pastes or uploads a fee plan and sees their merchant's
verified payments re-priced under it, never another merchant's, and nothing is written."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from paylink_es.domain.clock import WIB
from paylink_es.domain.money import Money
from tests.support.desk import OTHER_OWNER, VIEWER, Desk, post
from tests.support.read_models import CHEAPER_PLAN
from tests.support.shop import Reply

CHEAPER = json.dumps({**CHEAPER_PLAN, "name": "lebih-murah"})
ROW = re.compile(r'<tr data-method="([^"]+)" data-currency="([^"]+)">(.*?)</tr>', re.S)
CELL = re.compile(r'data-col="([a-z_]+)">([^<]*)<')


def table(reply: Reply) -> dict[str, dict[str, str]]:
    """The what-if table's cells by method (``total`` for the sums), as the page shows them."""
    assert reply.status_code == 200, reply.text
    start = reply.text.index('data-testid="whatif-result"')
    return {
        method: dict(CELL.findall(cells)) for method, _, cells in ROW.findall(reply.text[start:])
    }


def paid_elsewhere(desk: Desk) -> None:
    """Merchant B's verified e-wallet payment of Rp 99.999."""
    paylink = desk.shop.paylink
    link = paylink.links.create(desk.other_merchant, amount=99_999, description="Toko lain")
    payment = paylink.payments.start(link, "ewallet_dana")
    paylink.payments.record(payment, "b-1", Money(99_999, "IDR"), desk.shop.clock())
    paylink.payments.verify(payment)


def test_an_owner_sees_their_fees_under_a_pasted_or_uploaded_plan_and_nothing_else(
    desk: Desk,
) -> None:
    desk.pay(desk.link(amount=150_000), "qris")  # 0.7% = Rp 1.050; 0.5% = Rp 750
    desk.pay(desk.link(amount=80_000), "va_bca")  # Rp 4.000 flat; Rp 2.500 flat
    paid_elsewhere(desk)
    desk.catch_up()
    owner = desk.signed_in()
    owner_b = desk.signed_in(OTHER_OWNER)  # signing in is an event; a what-if is none
    form = owner.get("/dashboard/audit")
    assert 'data-testid="whatif-form"' in form.text
    assert "&#34;name&#34;: &#34;default&#34;" in form.text  # the current plan, to start from
    head = desk.shop.head()

    pasted = post(owner, "/dashboard/audit/what-if", {"plan": CHEAPER})
    assert "lebih-murah" in pasted.text
    rows = table(pasted)
    assert set(rows) == {"qris", "va_bca", "total"}  # not B's e-wallet payment
    assert rows["qris"] == {
        "count": "1",
        "gross": "Rp 150.000",
        "fees_were": "Rp 1.050",
        "fees_would_be": "Rp 750",
        "fees_difference": "-Rp 300",
        "net_were": "Rp 148.950",
        "net_would_be": "Rp 149.250",
        "net_difference": "Rp 300",
    }
    assert rows["va_bca"]["fees_were"] == "Rp 4.000"
    assert rows["va_bca"]["fees_would_be"] == "Rp 2.500"
    assert rows["va_bca"]["net_difference"] == "Rp 1.500"
    assert rows["total"]["count"] == "2"
    assert rows["total"]["fees_difference"] == "-Rp 1.800"
    for secret in ("99.999", "DANA", "Toko lain", str(desk.other_merchant)):
        assert secret not in pasted.text

    uploaded = post(
        owner,
        "/dashboard/audit/what-if",
        {"plan": "", "from": "", "to": ""},
        files={"plan_file": ("murah.json", CHEAPER.encode(), "application/json")},
    )
    assert table(uploaded) == rows
    tomorrow = desk.shop.clock().astimezone(WIB).date() + timedelta(days=1)
    later = post(
        owner,
        "/dashboard/audit/what-if",
        {"plan": CHEAPER, "from": tomorrow.isoformat(), "to": tomorrow.isoformat()},
        files={"plan_file": ("", b"", "application/octet-stream")},  # no file chosen
    )
    assert later.status_code == 200, later.text
    assert 'data-testid="whatif-none"' in later.text

    # B's owner sees B's payment only.
    other = post(owner_b, "/dashboard/audit/what-if", {"plan": CHEAPER})
    rows_b = table(other)
    assert set(rows_b) == {"ewallet_dana", "total"}
    assert rows_b["ewallet_dana"]["fees_were"] == "Rp 1.500"  # 1.5% of 99.999 = 1,499.985
    assert rows_b["ewallet_dana"]["fees_would_be"] == "Rp 1.200"  # 1.2% = 1,199.988
    assert "Rp 150.000" not in other.text
    assert desk.shop.head() == head  # a what-if writes nothing


def test_a_bad_plan_is_shown_beside_the_form_naming_the_field_and_nothing_is_written(
    desk: Desk,
) -> None:
    desk.pay(desk.link(amount=150_000), "qris")
    desk.catch_up()
    owner = desk.signed_in()
    head = desk.shop.head()
    bad = CHEAPER.replace('"rate_ppm": 5000', '"rate_ppm": -5')
    for plan, field in (
        (bad, "families.qris.rate_ppm"),
        ("{nope", "plan"),
        ("", "plan"),
        (CHEAPER.replace('"families"', '"famillies"'), "plan"),
    ):
        response = post(owner, "/dashboard/audit/what-if", {"plan": plan})
        assert response.status_code == 422, (plan, response.text)
        error = re.search(r'data-testid="whatif-error">([^<]*)<', response.text)
        assert error is not None, response.text
        assert error.group(1).startswith(f"{field}: "), error.group(1)
        assert 'data-testid="whatif-result"' not in response.text
    backwards = post(
        owner,
        "/dashboard/audit/what-if",
        {"plan": CHEAPER, "from": "2026-03-03", "to": "2026-03-02"},
    )
    assert backwards.status_code == 422
    assert "to: tanggal akhir tidak boleh sebelum tanggal awal." in backwards.text
    assert (
        post(owner, "/dashboard/audit/what-if", {"plan": CHEAPER, "from": "kemarin"}).status_code
        == 422
    )
    assert desk.shop.head() == head


def test_only_owners_get_the_what_if_and_it_follows_the_mode_shown(desk: Desk) -> None:
    desk.pay(desk.link(amount=150_000), "qris")
    desk.catch_up()
    viewer = desk.signed_in(VIEWER)
    assert 'data-testid="whatif-form"' not in viewer.get("/dashboard/audit").text
    refused = post(viewer, "/dashboard/audit/what-if", {"plan": CHEAPER})
    assert refused.status_code == 403
    assert "Hanya pemilik" in refused.text

    owner = desk.signed_in()
    assert set(table(post(owner, "/dashboard/audit/what-if", {"plan": CHEAPER}))) == {
        "qris",
        "total",
    }
    assert post(owner, "/dashboard/mode", {"mode": "live"}).status_code == 303
    live = post(owner, "/dashboard/audit/what-if", {"plan": CHEAPER})
    assert live.status_code == 200
    assert 'data-testid="whatif-none"' in live.text
