"""After the outcome the hosted page sends the customer to the link's URL, signed.

Through the page's own routes (TestClient): the receipt (or why it failed) says where it
goes and goes there after a few seconds, by script and by a meta refresh; ``…/return``
signs the outcome at that moment and answers 303 to the link's ``success_url`` or
``failure_url``. The signature verifies with the merchant's redirect secret (as the
API hands it out) by the README's recipe, and nothing tampered with does.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from itertools import count
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

from paylink_es.domain.money import Money
from paylink_es.domain.redirects import verify_redirect
from tests.support.redirects import readme_recipe
from tests.support.shop import Reply, Shop, in_hours

SUCCESS_URL = "https://shop.example/thanks?order=42"
FAILURE_URL = "https://shop.example/sorry?order=42"
REFERENCES = count(1)
META_REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+);url=([^"]+)">')


def _chosen(shop: Shop, method: str = "va_bca", **overrides: Any) -> tuple[UUID, str, UUID]:
    """A link with both URLs (and an expiry), its method chosen on the page: the link's
    id and code, the payment's id."""
    terms = {
        "reference_id": f"REDIRECT-{next(REFERENCES)}",
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
        "expires_at": in_hours(shop.clock, 2),
        **overrides,
    }
    link = shop.link(**terms)
    return link.id, link.code, shop.choose(link.code, method)


def _redirect_secret(shop: Shop, mode: str = "test") -> str:
    response = shop.client.get("/v1/account/redirect-secret", headers=shop.headers(mode))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "redirect_secret"
    assert body["mode"] == mode
    secret: str = body["secret"]
    return secret


def _meta_refresh(page: Reply) -> str:
    found = META_REFRESH.search(page.text)
    assert found is not None, page.text
    assert int(found.group(1)) > 0, "the outcome is shown before the customer is sent on"
    return found.group(2)


def _follow(shop: Shop, path: str) -> str:
    """GET our return route; the 303's Location (the merchant's signed URL)."""
    response = shop.client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["cache-control"] == "no-store"
    location: str = response.headers["location"]
    return location


def _params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def _params_naming(url: str, link_id: UUID, payment_id: UUID) -> dict[str, str]:
    """The query of a URL the customer was sent to, which names the link and the payment."""
    params = _params(url)
    assert params["paylink_link_id"] == str(link_id)
    assert params["paylink_payment_id"] == str(payment_id)
    return params


def _verifies(url: str, secret: str) -> bool:
    recipe_says = readme_recipe()(url, secret) is not None
    code_says = verify_redirect(secret, url, int(time.time())) is not None
    assert recipe_says == code_says, url
    return recipe_says


def _tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    pairs = [(k, changes.get(k, v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def test_a_verified_payment_sends_the_customer_to_the_success_url_signed(
    backend_shop: Shop,
) -> None:
    shop = backend_shop
    link_id, code, payment_id = _chosen(shop)
    waiting = shop.payment_page(code, payment_id)
    assert "data-return=" not in waiting.text
    assert shop.client.get(f"/l/{code}/p/{payment_id}/receipt").status_code == 204
    before = _follow(shop, f"/l/{code}/p/{payment_id}/return")
    assert urlsplit(before).path == f"/l/{code}/p/{payment_id}", "no outcome: back to the page"

    assert shop.sandbox_pay(payment_id).status_code == 200
    receipt = shop.payment_page(code, payment_id)
    fragment = shop.client.get(f"/l/{code}/p/{payment_id}/receipt")

    back = f"/l/{code}/p/{payment_id}/return"
    assert _meta_refresh(receipt) == back
    assert fragment.status_code == 200
    assert f'data-return="{back}"' in fragment.text
    assert SUCCESS_URL not in receipt.text, "the page links to its own route, signed on use"
    location = _follow(shop, back)
    assert location.startswith("https://shop.example/thanks?order=42&paylink_result=success&")
    params = _params_naming(location, link_id, payment_id)
    assert "paylink_reason" not in params
    assert abs(int(params["paylink_t"]) - time.time()) < 60, "signed now, in real time"
    secret = _redirect_secret(shop)
    assert secret.startswith("rdsec_test_")
    assert _verifies(location, secret)
    for name, value in {
        "paylink_result": "failure",
        "paylink_payment_id": "00000000-0000-4000-8000-000000000000",
        "paylink_link_id": str(payment_id),
        "paylink_t": str(int(params["paylink_t"]) + 1),
        "paylink_signature": params["paylink_signature"][::-1],
    }.items():
        assert not _verifies(_tampered(location, **{name: value}), secret), name
    assert not _verifies(location, _redirect_secret(shop, "live"))


def test_a_rejected_payment_sends_the_customer_to_the_failure_url(page_shop: Shop) -> None:
    shop = page_shop
    link_id, code, payment_id = _chosen(shop, "va_bri")
    shop.paylink.payments.record(payment_id, "VA-NOT-PAID", Money(150000, "IDR"), shop.clock())
    require_paid = shop.payment_page(code, payment_id)
    assert "data-return=" not in require_paid.text, "money being checked: no outcome yet"
    shop.paylink.payments.reject(payment_id, "the bank says it was never paid")

    receipt = shop.payment_page(code, payment_id)
    location = _follow(shop, _meta_refresh(receipt))

    assert location.startswith(FAILURE_URL + "&paylink_result=failure&")
    params = _params_naming(location, link_id, payment_id)
    assert params["paylink_reason"] == "rejected"
    secret = _redirect_secret(shop)
    assert _verifies(location, secret)
    assert not _verifies(_tampered(location, paylink_result="success"), secret)
    assert not _verifies(_tampered(location, paylink_reason="review"), secret)


def test_a_link_that_expires_while_the_customer_waits_sends_them_to_the_failure_url(
    page_shop: Shop,
) -> None:
    shop = page_shop
    link_id, code, payment_id = _chosen(shop, "qris")
    assert shop.client.get(f"/l/{code}/p/{payment_id}/receipt").status_code == 204

    shop.clock.advance(timedelta(hours=3))
    fragment = shop.client.get(f"/l/{code}/p/{payment_id}/receipt")

    assert fragment.status_code == 200, "the polling page learns it at its next look"
    assert f'data-return="/l/{code}/p/{payment_id}/return"' in fragment.text
    location = _follow(shop, f"/l/{code}/p/{payment_id}/return")
    params = _params_naming(location, link_id, payment_id)
    assert (params["paylink_result"], params["paylink_reason"]) == ("failure", "expired")
    assert _verifies(location, _redirect_secret(shop))


def test_a_cancelled_link_sends_the_waiting_customer_and_a_late_visitor_back(
    page_shop: Shop,
) -> None:
    shop = page_shop
    link_id, code, payment_id = _chosen(shop)
    shop.paylink.links.cancel(link_id, "out of stock")

    waited = _follow(shop, _meta_refresh(shop.payment_page(code, payment_id)))
    opened = shop.client.get(f"/l/{code}")
    assert opened.status_code == 200
    late = _follow(shop, _meta_refresh(opened))

    secret = _redirect_secret(shop)
    assert _params(waited)["paylink_reason"] == "cancelled"
    assert _params(waited)["paylink_payment_id"] == str(payment_id)
    assert _verifies(waited, secret)
    assert _params(late)["paylink_reason"] == "cancelled"
    assert "paylink_payment_id" not in _params(late), "that visitor never started a payment"
    assert _params(late)["paylink_link_id"] == str(link_id)
    assert _verifies(late, secret)


def test_a_payment_held_for_review_goes_to_the_failure_url_saying_so(page_shop: Shop) -> None:
    shop = page_shop
    _, code, payment_id = _chosen(shop)
    assert shop.sandbox_pay(payment_id, "overpay").status_code == 200

    location = _follow(shop, _meta_refresh(shop.payment_page(code, payment_id)))

    params = _params(location)
    assert (params["paylink_result"], params["paylink_reason"]) == ("failure", "review")
    assert _verifies(location, _redirect_secret(shop))


def test_without_the_links_url_the_customer_stays_on_the_receipt(page_shop: Shop) -> None:
    shop = page_shop
    link, payment_id = shop.chosen("va_bca", success_url=None, failure_url=None)
    assert shop.sandbox_pay(payment_id).status_code == 200

    receipt = shop.payment_page(link.code, payment_id)

    assert 'data-testid="receipt"' in receipt.text
    assert "data-return=" not in receipt.text
    assert META_REFRESH.search(receipt.text) is None
    back = _follow(shop, f"/l/{link.code}/p/{payment_id}/return")
    assert urlsplit(back).path == f"/l/{link.code}/p/{payment_id}"
    other = shop.link(success_url=None, failure_url=None, reference_id="NO-URLS-2")
    shop.paylink.links.cancel(other.id)
    closed = shop.client.get(f"/l/{other.code}")
    assert 'data-testid="message"' in closed.text
    assert META_REFRESH.search(closed.text) is None


def test_the_return_route_goes_only_where_the_link_says(page_shop: Shop) -> None:
    shop = page_shop
    _, code, payment_id = _chosen(
        shop, success_url="https://shop.example/ok?paylink_result=failure&x=1#done"
    )
    assert shop.sandbox_pay(payment_id).status_code == 200

    for query in ("", "?url=https://evil.example/", "?next=//evil.example&success_url=x"):
        location = _follow(shop, f"/l/{code}/p/{payment_id}/return{query}")
        parts = urlsplit(location)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "shop.example", "/ok")
        assert parts.fragment == "done"
        assert parse_qsl(parts.query).count(("paylink_result", "success")) == 1
        assert ("paylink_result", "failure") not in parse_qsl(parts.query)
        assert ("x", "1") in parse_qsl(parts.query)
    other = shop.link(success_url="https://other.example/", reference_id="OTHER")
    stranger = shop.client.get(f"/l/{other.code}/p/{payment_id}/return", follow_redirects=False)
    assert stranger.status_code == 404, "a payment of another link"


def test_the_redirect_secret_is_kept_per_mode_and_rotates(page_shop: Shop) -> None:
    shop = page_shop
    test_secret = _redirect_secret(shop)
    assert _redirect_secret(shop) == test_secret, "made once, then the same"
    live_secret = _redirect_secret(shop, "live")
    assert live_secret.startswith("rdsec_live_")
    _, code, payment_id = _chosen(shop)
    assert shop.sandbox_pay(payment_id).status_code == 200
    before = _follow(shop, f"/l/{code}/p/{payment_id}/return")

    rotated = shop.client.post("/v1/account/redirect-secret/rotate", headers=shop.headers())
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    after = _follow(shop, f"/l/{code}/p/{payment_id}/return")

    assert new_secret not in (test_secret, live_secret)
    assert _redirect_secret(shop) == new_secret
    assert _redirect_secret(shop, "live") == live_secret
    assert _verifies(before, test_secret)
    assert _verifies(after, new_secret)
    assert not _verifies(after, test_secret)
    assert verify_redirect([new_secret, test_secret], before, int(time.time())) is not None
