"""Who may do what: CSRF on every form, viewers only look, merchants never see each other."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import pytest

from api.dashboard.session import SESSION_COOKIE
from tests.support.desk import OTHER_OWNER, VIEWER, Desk, post, token

UNKNOWN = "00000000-0000-4000-8000-000000000000"
LINK_FORM: dict[str, Any] = {
    "description": "Kaos",
    "amount_kind": "fixed",
    "amount": "150000",
    "methods": ["qris"],
    "usage": "single",
}


def _owner_posts(desk: Desk) -> list[tuple[str, dict[str, Any]]]:
    """Every form an owner can submit, with valid contents."""
    link = desk.link(reference_id="ACCESS-1")
    key = desk.shop.paylink.merchants.issue_key(desk.merchant_id, "test")
    return [
        ("/dashboard/links", LINK_FORM),
        (f"/dashboard/links/{link}/cancel", {"reason": "salah harga"}),
        (f"/dashboard/links/{link}/send", {"channel": "email", "to": "budi@example.com"}),
        (f"/dashboard/links/{link}/edit", {**LINK_FORM, "description": "Kaos baru"}),
        (f"/dashboard/links/{link}/deactivate", {"message": "Libur"}),
        (f"/dashboard/links/{link}/reactivate", {}),
        (f"/dashboard/links/{link}/duplicate", {}),
        ("/dashboard/keys", {}),
        (f"/dashboard/keys/{key.key_id}/revoke", {}),
        ("/dashboard/webhooks", {"url": "https://toko.example/hooks"}),
        ("/dashboard/payouts", {"amount": "1000", "currency": "IDR"}),
        ("/dashboard/audit/what-if", {"plan": '{"name": "x", "families": {}}'}),
    ]


@pytest.mark.parametrize("case", ["missing", "forged", "another-session"])
def test_a_form_without_this_sessions_token_gets_a_403_page_and_changes_nothing(
    sqlite_desk: Desk, case: str
) -> None:
    desk = sqlite_desk
    owner = desk.signed_in()
    other_token = token(desk.signed_in())
    posts = [*_owner_posts(desk), ("/dashboard/mode", {"mode": "live"})]
    head = desk.shop.head()
    for path, data in posts:
        form: dict[str, Any] = dict(data)
        if case == "forged":
            form["csrf"] = "0" * 64
        elif case == "another-session":
            form["csrf"] = other_token
        response = owner.post(path, data=form, follow_redirects=False)
        assert response.status_code == 403, (path, response.text)
        assert "CSRF" in response.text, path
        assert "text/html" in response.headers["content-type"]
        assert f"{SESSION_COOKIE}=" not in response.headers.get("set-cookie", "")
    assert desk.shop.head() == head  # not one event


def test_a_viewer_sees_but_cannot_create_change_or_pay_out(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    viewer = desk.signed_in(VIEWER)
    links = viewer.get("/dashboard/links")
    assert links.status_code == 200
    assert 'data-testid="new-link"' not in links.text
    assert viewer.get("/dashboard/links/new").status_code == 403
    assert viewer.get(f"/dashboard/links/{desk.link()}/edit").status_code == 403
    keys = viewer.get("/dashboard/keys")
    assert 'data-testid="issue-key"' not in keys.text
    posts = _owner_posts(desk)
    head = desk.shop.head()
    for path, data in posts:
        response = post(viewer, path, data)
        assert response.status_code == 403, (path, response.text)
        assert "Hanya pemilik" in response.text
    assert desk.shop.head() == head
    # Looking around is fine, and so is switching between test and live.
    for path in ("/dashboard", "/dashboard/payments", "/dashboard/webhooks", "/dashboard/audit"):
        assert viewer.get(path).status_code == 200, path
    assert post(viewer, "/dashboard/mode", {"mode": "live"}).status_code == 303


def _other_merchants_things(desk: Desk) -> dict[str, str]:
    """Merchant B's link (paid), key and a searchable description."""
    paylink = desk.shop.paylink
    link = paylink.links.create(
        desk.other_merchant, amount=99000, description="Rahasia toko lain", reference_id="B-1"
    )
    key = paylink.merchants.issue_key(desk.other_merchant, "test")
    return {"link": str(link), "code": paylink.links.get(link).code, "key": str(key.key_id)}


def test_a_user_of_one_merchant_never_sees_anything_of_another(desk: Desk) -> None:
    b = _other_merchants_things(desk)
    mine = desk.link(reference_id="A-1", description="Kaos punya A")
    desk.pay(mine)
    desk.catch_up()
    owner = desk.signed_in()
    pages = {
        path: owner.get(path).text
        for path in (
            "/dashboard",
            "/dashboard/links",
            "/dashboard/links?q=rahasia",
            "/dashboard/payments",
            "/dashboard/keys",
            "/dashboard/audit?as_of=2030-01-01T00:00",
            "/dashboard/exports/links.csv",
            "/dashboard/exports/payments.csv",
            "/dashboard/exports/journal.csv",
        )
    }
    assert "Kaos punya A" in pages["/dashboard/links"]
    assert "Kaos punya A" in pages["/dashboard/exports/links.csv"]
    for path, text in pages.items():
        for secret in ("Rahasia toko lain", b["link"], b["code"], b["key"], "B-1"):
            assert secret not in text, (path, secret)
    for path in (f"/dashboard/links/{b['link']}", f"/dashboard/links/{UNKNOWN}"):
        response = owner.get(path)
        assert response.status_code == 404, path
        assert "Rahasia" not in response.text
    head = desk.shop.head()
    for path in (
        f"/dashboard/links/{b['link']}/cancel",
        f"/dashboard/links/{b['link']}/edit",
        f"/dashboard/links/{b['link']}/deactivate",
        f"/dashboard/links/{b['link']}/duplicate",
        f"/dashboard/keys/{b['key']}/revoke",
    ):
        assert post(owner, path).status_code == 404, path
    assert desk.shop.head() == head
    assert desk.shop.paylink.links.get(UUID(b["link"])).status == "active"
    assert owner.get(f"/dashboard/stream?page=link&link={b['link']}").status_code == 404

    # B's owner sees B's link and none of A's money.
    other = desk.signed_in(OTHER_OWNER)
    assert "Rahasia toko lain" in other.get("/dashboard/links").text
    overview = other.get("/dashboard").text
    assert "Kaos punya A" not in overview
    assert re.search(r'data-testid="pending-IDR">Rp 0<', overview), overview


def test_test_and_live_mode_are_separate_books(desk: Desk) -> None:
    desk.link(reference_id="T-1", description="Link uji")
    desk.link(mode="live", reference_id="L-1", description="Link sungguhan")
    desk.catch_up()
    owner = desk.signed_in()
    test_page = owner.get("/dashboard/links").text
    assert "Link uji" in test_page
    assert "Link sungguhan" not in test_page
    switched = post(owner, "/dashboard/mode", {"mode": "live", "next": "/dashboard/links"})
    assert switched.headers["location"] == "/dashboard/links"
    live_page = owner.get("/dashboard/links").text
    assert "Link sungguhan" in live_page
    assert "Link uji" not in live_page
    assert 'data-testid="mode">Mode live<' in live_page
