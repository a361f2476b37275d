"""Tampered forms: a 4xx page with a message, and nothing recorded.

Amount outside min/max or not a number, a method the link does not take, a CSRF token
that is forged, missing, or another visitor's: each gets a page of ours saying what
is wrong, and the event store does not change.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.shop import OPEN_LINK, Reply, Shop, csrf_of, require

ALERT = re.compile(r'<p class="error" role="alert">([^<]+)</p>')


def _post(shop: Shop, code: str, csrf: str | None, **form: str) -> Reply:
    data = dict(form)
    if csrf is not None:
        data["csrf"] = csrf
    return shop.client.post(f"/l/{code}/pay", data=data, follow_redirects=False)


def _assert_refused(shop: Shop, response: Reply, status: int, before: int) -> str:
    """A 4xx HTML page of ours with a message; the store unchanged. Returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    assert shop.head() == before, "a refused form recorded something"
    assert shop.count("Payment.Initiated") == 0
    alert = ALERT.search(response.text)
    if alert is not None:
        return alert.group(1)
    assert 'role="alert"' in response.text
    assert "Permintaan tidak dapat diproses" in response.text
    return "Permintaan tidak dapat diproses"


OUT_OF_RANGE = {
    "9999": "below the minimum",
    "9.999": "below the minimum, written as Indonesians do",
    "500001": "above the maximum",
    "Rp 500.001": "above the maximum, with the currency",
    "0": "zero",
    "": "missing",
    "99999999999999999999999": "absurdly large",
}
UNREADABLE = {
    "abc": "not a number",
    "1e5": "not a whole number",
    "25000.50": "a fraction",
    "25.5": "neither thousands nor cents",
    "1.00.000": "grouped wrongly",
    "-25000": "negative",
}
BAD_AMOUNTS = {**OUT_OF_RANGE, **UNREADABLE}
BAD_METHODS = ["va_bni", "card", "bitcoin", "", "QRIS", "qris'; DROP TABLE links;--"]


def test_open_amount_outside_the_range_or_not_a_number_is_refused(backend_shop: Shop) -> None:
    shop = backend_shop
    link = shop.link(OPEN_LINK)
    csrf = csrf_of(shop.open(link.code).text)
    for amount, why in BAD_AMOUNTS.items():
        before = shop.head()
        response = _post(shop, link.code, csrf, method="qris", amount=amount)
        message = _assert_refused(shop, response, 400, before)
        # in the page's language, saying what is wrong: the range, or how to write it
        expected = "Jumlah harus" if amount in OUT_OF_RANGE else "misalnya 25.000"
        assert expected in message, why
        # the form comes back, with the amount field, to try again
        assert 'id="amount"' in response.text, why
        assert 'name="csrf"' in response.text, why


def test_an_amount_within_the_range_is_taken(page_shop: Shop) -> None:
    link = page_shop.link(OPEN_LINK)
    for amount in ("10000", "500000", " 25000 "):
        payment_id = page_shop.choose(link.code, "va_bsi", amount=amount)
        assert page_shop.payment(payment_id).amount.amount == int(amount)


def test_an_amount_written_the_indonesian_way_is_read_as_people_mean_it(
    page_shop: Shop,
) -> None:
    link = page_shop.link(OPEN_LINK)
    for typed, meant in {
        "25.000": 25_000,
        "Rp 250.000": 250_000,
        "Rp25.000,00": 25_000,
        "10,000": 10_000,
        "IDR 40 000": 40_000,
    }.items():
        payment_id = page_shop.choose(link.code, "va_bsi", amount=typed)
        assert page_shop.payment(payment_id).amount.amount == meant, typed


def test_a_fixed_amount_cannot_be_changed_by_the_form(page_shop: Shop) -> None:
    link = page_shop.link()
    csrf = csrf_of(page_shop.open(link.code).text)
    before = page_shop.head()
    response = _post(page_shop, link.code, csrf, method="qris", amount="1000")
    _assert_refused(page_shop, response, 400, before)


def test_a_method_the_link_does_not_take_is_refused(backend_shop: Shop) -> None:
    shop = backend_shop
    link = shop.link()  # va_bca, va_bri, qris, ewallet_ovo
    csrf = csrf_of(shop.open(link.code).text)
    for method in BAD_METHODS:
        before = shop.head()
        response = _post(shop, link.code, csrf, method=method)
        message = _assert_refused(shop, response, 400, before)
        assert "metode pembayaran" in message, method  # in the page's language
    assert shop.choose(link.code, "ewallet_ovo")  # what it takes still works


def _forgeries(shop: Shop, code: str) -> dict[str, str | None]:
    stranger = shop.visitor()
    other_visitor = csrf_of(shop.open(code, stranger).text)
    other_link = shop.link(reference_id="OTHER")
    other_link_token = csrf_of(shop.open(other_link.code).text)
    mine = csrf_of(shop.open(code).text)
    require(other_visitor != mine, "two visitors get two tokens")
    require(other_link_token != mine, "two links get two tokens")
    return {
        "missing": None,
        "empty": "",
        "forged": "0" * 40,
        "truncated": mine[:-1],
        "altered": mine[:-1] + ("0" if mine[-1] != "0" else "1"),
        "another visitor's": other_visitor,
        "another link's": other_link_token,
    }


def test_csrf_that_is_not_this_visitors_for_this_link_is_refused(backend_shop: Shop) -> None:
    shop = backend_shop
    link = shop.link()
    forgeries = _forgeries(shop, link.code)
    before = shop.head()
    for kind, token in forgeries.items():
        response = _post(shop, link.code, token, method="qris")
        assert response.status_code == 403, kind
        _assert_refused(shop, response, 403, before)
        assert "Sesi Anda tidak valid" in response.text, kind
    # and with the visitor's own token, it goes through
    assert shop.choose(link.code, "qris")


def test_a_post_without_the_visitor_cookie_is_refused(page_shop: Shop) -> None:
    link = page_shop.link()
    csrf = csrf_of(page_shop.open(link.code).text)
    page_shop.client.cookies.clear()
    before = page_shop.head()
    response = _post(page_shop, link.code, csrf, method="qris")
    _assert_refused(page_shop, response, 403, before)


def test_a_tampered_form_in_english_says_so_in_english(page_shop: Shop) -> None:
    link = page_shop.link()
    page_shop.open(link.code, lang="en")
    before = page_shop.head()
    response = page_shop.client.post(
        f"/l/{link.code}/pay", params={"lang": "en"}, data={"csrf": "x", "method": "qris"}
    )
    assert response.status_code == 403
    assert "Your session is not valid" in response.text
    assert page_shop.head() == before


def test_pay_on_an_unknown_code_is_404(page_shop: Shop) -> None:
    response = page_shop.client.post("/l/NoSuchCode12/pay", data={"method": "qris"})
    assert response.status_code == 404
    assert "Tautan pembayaran tidak ditemukan" in response.text


def _error_page(shop: Shop) -> tuple[str, Any]:
    link = shop.link(OPEN_LINK)
    csrf = csrf_of(shop.open(link.code).text)
    response = shop.client.post(
        f"/l/{link.code}/pay",
        params={"lang": "id"},
        data={"csrf": csrf, "method": "qris", "amount": "5"},
    )
    require(response.status_code == 400, "the amount is refused")
    return link.code, response


def test_the_language_switch_on_a_refused_form_leads_to_the_page(page_shop: Shop) -> None:
    _, response = _error_page(page_shop)
    href = re.search(r'<a href="([^"]+)" hreflang="en">', response.text)
    require(href is not None, "the page has a language switch")
    assert href is not None
    target = response.url.join(href.group(1))
    switched = page_shop.client.get(str(target))
    assert switched.status_code == 200
    assert switched.headers["content-type"].startswith("text/html")


def test_the_refused_amount_message_is_in_bahasa_indonesia(page_shop: Shop) -> None:
    _, response = _error_page(page_shop)
    alert = ALERT.search(response.text)
    require(alert is not None, "the page shows a message")
    assert alert is not None
    message = alert.group(1)
    assert "must be" not in message
    assert not message.startswith("amount:")
