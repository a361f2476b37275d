"""What the hosted page shows: merchant, amount, items, countdown, methods, language, QR.

And what it never shows: anything private to the merchant. Closed links (expired,
cancelled, completed) and unknown codes get a clear page, never an error page.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from paylink_es.domain.clock import WIB, FakeClock
from paylink_es.locale import PAGE_TEXT
from tests.support.shop import (
    ALL_METHODS,
    BASE62,
    MERCHANT_NAME,
    OPEN_LINK,
    PNG_MAGIC,
    PRIVATE,
    Reply,
    Shop,
    csrf_of,
    in_hours,
    qr_encodes,
    require,
)

RADIO = re.compile(r'<input type="radio" name="method" value="([^"]+)"')
TIMES = "\u00d7"  # the multiplication sign between an item and its quantity
UNKNOWN_PAYMENT = "00000000-0000-4000-8000-000000000000"


def text_of(response: Reply) -> str:
    """The visible text of a page, roughly: tags and scripts out, entities decoded."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.text, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def html_lang(response: Reply) -> str:
    match = re.search(r'<html lang="([a-z]+)"', response.text)
    assert match is not None, response.text[:300]
    return match.group(1)


def assert_message_page(response: Reply, status: int, heading: str) -> None:
    """A page of our own with a heading, not a stack trace or a bare JSON error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-testid="message"' in response.text
    assert heading in text_of(response)
    assert "Traceback" not in response.text
    assert '<form class="card"' not in response.text
    assert 'name="method"' not in response.text


# -- what the page shows ------------------------------------------------------------------


def test_page_shows_merchant_description_items_amount_and_countdown(page_shop: Shop) -> None:
    link = page_shop.link(expires_at=in_hours(page_shop.clock, 50))
    response = page_shop.open(link.code)
    assert response.headers["content-type"].startswith("text/html")
    assert html_lang(response) == "id"
    text = text_of(response)
    assert f"Bayar ke {MERCHANT_NAME}" in text
    assert '<h1 id="what">Kaos polos hitam</h1>' in response.text
    assert "Rp 150.000" in text
    assert f"Kaos polos hitam {TIMES} 2 Rp 100.000" in text
    assert f"Ongkos kirim {TIMES} 1 Rp 50.000" in text
    # 50 hours left by the app's clock, and the instant it ends for the script.
    assert re.search(
        r'<span id="countdown" data-left="180000" data-code="[0-9A-Za-z]+"'
        r' data-over="[^"]+">50:00:00</span>',
        response.text,
    )
    assert "Sisa waktu" in text
    ends = in_hours(page_shop.clock, 50).astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")
    assert ends in text
    assert "MODE UJI" in text  # a test-mode link says so
    assert 'name="viewport" content="width=device-width' in response.text
    assert '<meta name="robots" content="noindex">' in response.text


def test_countdown_follows_the_clock(page_shop: Shop) -> None:
    link = page_shop.link(expires_at=in_hours(page_shop.clock, 2))
    page_shop.clock.advance(timedelta(minutes=30, seconds=15))
    response = page_shop.open(link.code)
    assert ">01:29:45</span>" in response.text


def test_items_heading_is_a_word_not_a_python_repr(page_shop: Shop) -> None:
    link = page_shop.link()
    indonesian = page_shop.open(link.code)
    english = page_shop.open(link.code, lang="en")
    require(f"Kaos polos hitam {TIMES} 2" in text_of(indonesian), "the items are listed")
    assert "built-in method" not in indonesian.text
    assert "<h2>Rincian</h2>" in indonesian.text
    assert "<h2>Items</h2>" in english.text


def test_copy_buttons_say_copy(page_shop: Shop) -> None:
    link = page_shop.link(methods=["va_bca", "retail_indomaret"])
    for method in ("va_bca", "retail_indomaret"):
        payment_id = page_shop.choose(link.code, method)
        html = page_shop.payment_page(link.code, payment_id).text
        button = re.search(r"<button type=\"button\" [^>]*data-copy=[^>]*>([^<]*)</button>", html)
        require(button is not None, f"the {method} page has a copy button")
        assert button is not None
        assert button.group(1) == "Salin", method


def test_page_offers_exactly_the_links_methods_grouped_by_family(page_shop: Shop) -> None:
    link = page_shop.link(methods=["qris", "va_bri", "ewallet_ovo"])
    response = page_shop.open(link.code)
    offered = RADIO.findall(response.text)
    assert sorted(offered) == ["ewallet_ovo", "qris", "va_bri"]
    text = text_of(response)
    for absent in ("BCA", "Mandiri", "Alfamart", "Indomaret", "Kartu kredit", "DANA"):
        assert absent not in text
    assert "Virtual Account (transfer bank)" in text
    assert "Dompet digital" in text
    # every radio has its label: the method's name is inside the <label>
    assert re.search(
        r'<label class="method"><input [^>]*value="va_bri"[^>]*> BRI Virtual', response.text
    )


def test_every_family_is_offered_when_the_link_allows_it(page_shop: Shop) -> None:
    link = page_shop.link(methods=ALL_METHODS)
    response = page_shop.open(link.code)
    assert sorted(RADIO.findall(response.text)) == sorted(ALL_METHODS)
    text = text_of(response)
    for family in (
        "Virtual Account (transfer bank)",
        "QRIS",
        "Dompet digital",
        "Kartu kredit / debit",
        "Gerai retail",
    ):
        assert family in text


def test_open_amount_page_has_a_labelled_input_saying_its_range(page_shop: Shop) -> None:
    link = page_shop.link(OPEN_LINK)
    response = page_shop.open(link.code)
    # Text with a numeric keypad: a number input would refuse "25.000" as people write it.
    assert re.search(
        r'<input id="amount" name="amount" type="text" inputmode="numeric"[^>]*'
        r'aria-describedby="range"',
        response.text.replace("\n", " "),
    )
    assert '<label class="field" for="amount">Masukkan jumlah</label>' in response.text
    assert "antara Rp 10.000 dan Rp 500.000" in text_of(response)
    assert 'data-testid="amount"' not in response.text  # no fixed amount shown


def _pages_of_a_paid_link(shop: Shop) -> list[Reply]:
    """Every page a customer of FULL_LINK sees, from the link to the receipt."""
    link = shop.link(expires_at=in_hours(shop.clock, 5))
    pages = [shop.open(link.code), shop.open(link.code, lang="en")]
    payment_id = shop.choose(link.code, "va_bca")
    pages.append(shop.payment_page(link.code, payment_id))
    pages.append(shop.client.get(f"/l/{link.code}/p/{payment_id}/qris.svg"))
    pages.append(shop.client.get(f"/l/{link.code}/p/{payment_id}/receipt"))
    paid = shop.sandbox_pay(payment_id)
    assert paid.status_code == 200, paid.text
    pages.append(shop.client.get(f"/l/{link.code}/p/{payment_id}/receipt"))
    pages.append(shop.payment_page(link.code, payment_id))
    pages.append(shop.client.get(f"/l/{link.code}"))  # completed
    pages.append(shop.client.post(f"/l/{link.code}/pay", data={"csrf": "x", "method": "qris"}))
    pages.append(shop.client.get(f"/l/{link.code}/qr.svg"))
    return pages


def test_no_page_shows_anything_private_to_the_merchant(page_shop: Shop) -> None:
    pages = _pages_of_a_paid_link(page_shop)
    assert any('data-testid="receipt"' in page.text for page in pages)
    private = [
        *PRIVATE,
        str(page_shop.merchant_id),
        page_shop.merchant_id.hex,
        page_shop.test_key,
        page_shop.live_key,
        "sk_test_",
        "sk_live_",
    ]
    for page in pages:
        seen = page.text + " ".join(f"{k}: {v}" for k, v in page.headers.items())
        leaked = [value for value in private if value in seen]
        assert not leaked, f"{page.request.url} shows {leaked}"


def test_what_the_merchant_typed_is_escaped(page_shop: Shop) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    link = page_shop.link(
        {
            "amount": 20000,
            "description": f"Kaos {evil}",
            "line_items": [{"name": f"Topi {evil}", "quantity": 1, "unit_amount": 20000}],
            "methods": ["qris", "va_bca"],
        }
    )
    page = page_shop.open(link.code)
    payment_id = page_shop.choose(link.code, "va_bca")
    instructions = page_shop.payment_page(link.code, payment_id)
    for response in (page, instructions):
        assert evil not in response.text
        assert "<img src=x" not in response.text
        assert "&lt;script&gt;alert(" in response.text
    assert response.text.count("<script>") == 1  # the page's own, only


def _unlabelled_inputs(html: str) -> list[str]:
    """Visible inputs with neither a <label for=...> nor an enclosing <label>."""
    targets = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
    wrapped = " ".join(re.findall(r"<label[^>]*>.*?</label>", html, flags=re.S))
    missing = []
    for tag in re.findall(r"<input\b[^>]*>", html):
        if 'type="hidden"' in tag:
            continue
        ident = re.search(r'id="([^"]+)"', tag)
        if (ident is None or ident.group(1) not in targets) and tag not in wrapped:
            missing.append(tag)
    return missing


def test_every_input_has_a_label(page_shop: Shop) -> None:
    link = page_shop.link(OPEN_LINK, methods=ALL_METHODS)
    page = page_shop.open(link.code)
    assert len(re.findall(r"<input\b", page.text)) >= 6
    assert _unlabelled_inputs(page.text) == []
    payment_id = page_shop.choose(link.code, "card", amount="20000")
    card = page_shop.payment_page(link.code, payment_id)
    assert 'id="card-number"' in card.text
    assert _unlabelled_inputs(card.text) == []


# -- language -----------------------------------------------------------------------------


def test_english_with_lang_and_the_cookie_keeps_it(page_shop: Shop) -> None:
    link = page_shop.link(expires_at=in_hours(page_shop.clock, 1))
    default = page_shop.open(link.code)
    assert html_lang(default) == "id"
    assert "Lanjutkan pembayaran" in text_of(default)
    assert f'<a href="/l/{link.code}?lang=en" hreflang="en">English</a>' in default.text

    english = page_shop.open(link.code, lang="en")
    assert html_lang(english) == "en"
    text = text_of(english)
    for words in ("Pay to", "Continue to payment", "Choose a payment method", "IDR 150,000"):
        assert words in text
    assert "Lanjutkan" not in text
    assert "TEST MODE" in text
    assert f'<a href="/l/{link.code}?lang=id" hreflang="id">Bahasa Indonesia</a>' in english.text

    again = page_shop.open(link.code)  # no ?lang: the cookie remembers
    assert html_lang(again) == "en"
    assert "Continue to payment" in text_of(again)

    back = page_shop.open(link.code, lang="id")
    assert html_lang(back) == "id"
    assert html_lang(page_shop.open(link.code)) == "id"


def test_another_visitor_still_gets_bahasa_indonesia(page_shop: Shop) -> None:
    link = page_shop.link()
    page_shop.open(link.code, lang="en")
    assert html_lang(page_shop.open(link.code, page_shop.visitor())) == "id"


def test_an_unknown_language_falls_back_to_bahasa_indonesia(page_shop: Shop) -> None:
    link = page_shop.link()
    response = page_shop.open(link.code, lang="xx")
    assert html_lang(response) == "id"
    assert "pl_lang" not in response.headers.get("set-cookie", "")


def test_the_payment_page_and_receipt_follow_the_language(page_shop: Shop) -> None:
    link = page_shop.link()
    payment_id = page_shop.choose(link.code, "va_bri", lang="en")
    page = page_shop.payment_page(link.code, payment_id)
    assert html_lang(page) == "en"
    assert "Virtual account number — BRI" in text_of(page)
    assert "Simulate payment (test mode)" in text_of(page)
    assert page_shop.sandbox_pay(payment_id).status_code == 200
    receipt = page_shop.client.get(f"/l/{link.code}/p/{payment_id}/receipt")
    assert "Payment successful" in text_of(receipt)
    assert "IDR 150,000" in text_of(receipt)


# -- short code and QR --------------------------------------------------------------------


def test_the_code_is_at_least_ten_base62_characters_and_unguessable(page_shop: Shop) -> None:
    codes = [page_shop.link(reference_id=f"INV-{n}").code for n in range(20)]
    for code in codes:
        assert BASE62.fullmatch(code), code
    assert len(set(codes)) == len(codes)
    # not a counter or a timestamp: codes made one after another share no long prefix
    assert len({code[:4] for code in codes}) >= len(codes) - 1


def test_qr_svg_and_png_encode_the_short_url(page_shop: Shop) -> None:
    first, second = page_shop.link(reference_id="A"), page_shop.link(reference_id="B")
    svgs, pngs = [], []
    for link in (first, second):
        svg = page_shop.client.get(f"/l/{link.code}/qr.svg")
        assert svg.status_code == 200
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert b"<svg" in svg.content[:300]
        assert svg.content.rstrip().endswith(b"</svg>")
        png = page_shop.client.get(f"/l/{link.code}/qr.png")
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(PNG_MAGIC)
        url = f"{page_shop.settings.public_url}/l/{link.code}"
        assert qr_encodes(png.content, url), f"the PNG is not the QR code of {url}"
        assert not qr_encodes(png.content, f"{url}x")
        svgs.append(svg.content)
        pngs.append(png.content)
    assert svgs[0] != svgs[1]
    assert pngs[0] != pngs[1]


def test_qr_of_an_unknown_code_is_404(page_shop: Shop) -> None:
    for suffix in ("qr.svg", "qr.png"):
        response = page_shop.client.get(f"/l/NoSuchCode12/{suffix}")
        assert response.status_code == 404


# -- unknown, expired, cancelled, completed -----------------------------------------------


def test_unknown_code_is_a_404_page(page_shop: Shop) -> None:
    response = page_shop.client.get("/l/NoSuchCode12")
    assert_message_page(response, 404, "Tautan pembayaran tidak ditemukan")
    assert 'role="alert"' in response.text
    english = page_shop.client.get("/l/NoSuchCode12", params={"lang": "en"})
    assert_message_page(english, 404, "Payment link not found")
    assert page_shop.client.head("/l/NoSuchCode12").status_code == 404


def test_unknown_payment_or_a_payment_of_another_link_is_404(page_shop: Shop) -> None:
    first, second = page_shop.link(reference_id="A"), page_shop.link(reference_id="B")
    payment_id = page_shop.choose(first.code, "qris")
    for path in (
        f"/l/{first.code}/p/{UNKNOWN_PAYMENT}",
        f"/l/{second.code}/p/{payment_id}",
        f"/l/NoSuchCode12/p/{payment_id}",
    ):
        assert_message_page(page_shop.client.get(path), 404, "Tautan pembayaran tidak ditemukan")
        assert page_shop.client.get(f"{path}/receipt").status_code == 404
        assert page_shop.client.get(f"{path}/qris.svg").status_code == 404


def _closed_cases(shop: Shop, clock: FakeClock) -> dict[str, tuple[str, str]]:
    """A link of each closed kind: kind -> (code, the heading its page must show)."""
    expired = shop.link(reference_id="EXP", expires_at=in_hours(clock, 1))
    cancelled = shop.link(reference_id="CAN")
    shop.paylink.links.cancel(cancelled.id, "customer changed their mind")
    completed = shop.link(reference_id="DONE")
    payment_id = shop.choose(completed.code, "qris")
    assert shop.sandbox_pay(payment_id).status_code == 200
    require(shop.paylink.links.get(completed.id).status == "completed", "the link completed")
    clock.advance(timedelta(hours=2))
    return {
        "expired": (expired.code, "Tautan pembayaran ini sudah kedaluwarsa"),
        "cancelled": (cancelled.code, "Tautan pembayaran ini dibatalkan"),
        "completed": (completed.code, "Tautan pembayaran ini sudah dibayar"),
    }


def test_closed_links_get_a_clear_page_without_a_payment_form(page_shop: Shop) -> None:
    cases = _closed_cases(page_shop, page_shop.clock)
    for kind, (code, heading) in cases.items():
        response = page_shop.client.get(f"/l/{code}")
        assert_message_page(response, 200, heading)
        assert 'role="status"' in response.text, kind
        assert 'name="csrf"' not in response.text, kind
        assert MERCHANT_NAME in text_of(response), kind
        # What the link was for, so the customer knows which one this was.
        description = page_shop.paylink.links.get(
            page_shop.paylink.links.id_for_code(code)
        ).description
        assert f'data-testid="link-about">{description}</p>' in response.text, kind


def test_a_paid_link_offers_its_receipt_to_the_browser_that_paid_and_no_other(
    page_shop: Shop,
) -> None:
    link, payment_id = page_shop.chosen("qris", reference_id="PAID")
    assert page_shop.sandbox_pay(payment_id).status_code == 200

    mine = page_shop.client.get(f"/l/{link.code}")
    assert_message_page(mine, 200, "Tautan pembayaran ini sudah dibayar")
    receipt = re.search(
        r'href="([^"]+)" data-testid="see-receipt">Lihat bukti pembayaran', mine.text
    )
    assert receipt is not None, mine.text
    assert receipt.group(1) == f"/l/{link.code}/p/{payment_id}?lang=id"
    assert 'data-testid="receipt"' in page_shop.client.get(receipt.group(1)).text

    stranger = page_shop.visitor()
    assert 'data-testid="see-receipt"' not in stranger.get(f"/l/{link.code}").text
    genuine = page_shop.client.cookies.get("pl_payment", path=f"/l/{link.code}")
    assert genuine is not None
    for value, offered in ((f"{payment_id}.{'0' * 64}", False), (genuine, True)):
        other = page_shop.visitor()  # the cookie, forged or carried over to a new browser
        other.cookies.set("pl_payment", value, path=f"/l/{link.code}")
        page = other.get(f"/l/{link.code}").text
        assert ('data-testid="see-receipt"' in page) is offered, value


def test_closed_links_refuse_new_payments_and_record_none(page_shop: Shop) -> None:
    link = page_shop.link(expires_at=in_hours(page_shop.clock, 1))
    csrf = csrf_of(page_shop.open(link.code).text)
    page_shop.clock.advance(timedelta(hours=1))
    before = page_shop.head()
    response = page_shop.client.post(f"/l/{link.code}/pay", data={"csrf": csrf, "method": "qris"})
    assert_message_page(response, 200, "Tautan pembayaran ini sudah kedaluwarsa")
    assert page_shop.head() == before


def test_an_expired_page_in_english(page_shop: Shop) -> None:
    link = page_shop.link(expires_at=in_hours(page_shop.clock, 1))
    page_shop.clock.advance(timedelta(hours=1, seconds=1))
    response = page_shop.client.get(f"/l/{link.code}", params={"lang": "en"})
    assert_message_page(response, 200, "This payment link has expired")
    assert "Ask the merchant for a new link." in text_of(response)


def _english_phrases() -> list[str]:
    """Runs of words only the English page says (its catalogue, placeholders cut out)."""
    english, indonesian = PAGE_TEXT["en"], PAGE_TEXT["id"]
    phrases = set()
    for key, said in english.items():
        if said == indonesian[key]:
            continue
        for piece in re.split(r"\{[a-z_]+\}|\|", said):
            piece = piece.strip(" .,:;!?—-()")
            if len(piece) >= 8 and " " in piece and piece not in indonesian[key]:
                phrases.add(piece)
    return sorted(phrases)


def test_every_page_in_indonesian_says_nothing_in_english_and_writes_rupiah_as_rupiah(
    served_shop: Shop,
) -> None:
    shop = served_shop
    phrases = _english_phrases()
    assert len(phrases) > 40  # the check reads the catalogue, not a hand-picked list
    open_link = shop.link(OPEN_LINK, reference_id="OPEN-ID")
    link = shop.link(methods=sorted(ALL_METHODS), expires_at=in_hours(shop.clock, 5))
    csrf = csrf_of(shop.open(link.code).text)
    pages = [
        shop.open(link.code),
        shop.open(open_link.code),
        shop.client.post(
            f"/l/{open_link.code}/pay",
            data={"csrf": csrf_of(shop.open(open_link.code).text), "method": "qris", "amount": "5"},
        ),
        shop.client.post(f"/l/{link.code}/pay", data={"csrf": csrf, "method": "bitcoin"}),
        shop.client.get("/l/NoSuchCode12"),
    ]
    for method in sorted(ALL_METHODS):
        payment_id = shop.choose(link.code, method)
        pages.append(shop.payment_page(link.code, payment_id))
        redirect = shop.payment(payment_id).instructions.get("redirect_url")
        if redirect:
            pages.append(shop.client.get(redirect))  # the sandbox wallet
    for page in pages:
        assert html_lang(page) == "id", page.request.url
        shown = text_of(page)
        said_in_english = [phrase for phrase in phrases if phrase in shown]
        assert not said_in_english, f"{page.request.url} says {said_in_english}"
        assert not re.search(r"IDR ?[0-9]", shown), f"{page.request.url}: {shown}"
