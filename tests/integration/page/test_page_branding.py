"""The hosted page, the receipt and the page's messages in the merchant's brand, on SQLite
and PostgreSQL: the display name (escaped), the colour, the logo; another merchant's
pages keep their own (here: the platform's) look."""

from __future__ import annotations

from typing import Any

from tests.support.images import logo_upload
from tests.support.shop import MERCHANT_NAME, Shop, csrf_of, in_hours

HOSTILE = '<script>alert("x")</script> Kopi & Co'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Kopi &amp; Co"
COLOR = "#7a1f5c"
DEFAULT_COLOR = "#0b6bcb"


def brand(shop: Shop) -> dict[str, Any]:
    """Set the shop's display name, colour and logo over the API; the logo as answered."""
    named = shop.client.put(
        "/v1/account/branding",
        json={"display_name": HOSTILE, "brand_color": COLOR},
        headers=shop.headers(),
    )
    assert named.status_code == 200, named.text
    uploaded = shop.client.put(
        "/v1/account/branding/logo", content=logo_upload(), headers=shop.headers()
    )
    assert uploaded.status_code == 200, uploaded.text
    logo: dict[str, Any] = uploaded.json()["logo"]
    return logo


def assert_branded(html: str, logo: dict[str, Any], testid: str = "merchant-logo") -> None:
    assert ESCAPED in html
    assert "<script>alert" not in html
    assert f"--brand:{COLOR};" in html
    assert f'src="/brand/logos/{logo["sha256"]}.png"' in html
    assert f'data-testid="{testid}"' in html
    assert MERCHANT_NAME not in html  # the registered name is not what customers see


def test_the_page_receipt_and_messages_show_the_brand_and_another_merchant_keeps_its_own(
    backend_shop: Shop,
) -> None:
    shop = backend_shop
    logo = brand(shop)
    link = shop.link(expires_at=in_hours(shop.clock, 5))
    other_id = shop.paylink.merchants.register("Toko Lain", "lain@example.com")
    other_link = shop.paylink.links.get(
        shop.paylink.links.create(other_id, amount=50_000, description="Topi")
    )

    page = shop.open(link.code)
    assert_branded(page.text, logo)
    assert f'alt="{ESCAPED}"' in page.text

    other = shop.open(other_link.code)
    assert "Toko Lain" in other.text
    assert f"--brand:{DEFAULT_COLOR};" in other.text
    assert "/brand/logos/" not in other.text
    assert "Kopi &amp; Co" not in other.text

    refused = shop.client.post(f"/l/{link.code}/pay", data={"csrf": "forged", "method": "qris"})
    assert refused.status_code == 403
    assert_branded(refused.text, logo)

    payment_id = shop.choose(link.code, "va_bca")
    assert_branded(shop.payment_page(link.code, payment_id).text, logo)
    assert shop.sandbox_pay(payment_id).status_code == 200
    receipt = shop.client.get(f"/l/{link.code}/p/{payment_id}/receipt")
    assert receipt.status_code == 200
    assert 'data-testid="receipt"' in receipt.text
    assert f'data-testid="receipt-merchant">{ESCAPED}</td>' in receipt.text
    # The receipt sits under the page's header, which shows the logo: once, not twice.
    assert "/brand/logos/" not in receipt.text
    paid_page = shop.payment_page(link.code, payment_id).text
    assert_branded(paid_page, logo)
    assert paid_page.count(f'src="/brand/logos/{logo["sha256"]}.png"') == 1


def test_a_closed_links_page_keeps_the_brand(backend_shop: Shop) -> None:
    shop = backend_shop
    logo = brand(shop)
    link = shop.link()
    shop.paylink.links.cancel(link.id, "sold out", by="test")

    page = shop.client.get(f"/l/{link.code}")

    assert page.status_code == 200
    assert_branded(page.text, logo)


def test_the_page_follows_a_change_of_brand_at_once(backend_shop: Shop) -> None:
    shop = backend_shop
    link = shop.link()
    form_before = csrf_of(shop.open(link.code).text)
    assert MERCHANT_NAME in shop.open(link.code).text

    logo = brand(shop)
    assert_branded(shop.open(link.code).text, logo)
    removed = shop.client.delete("/v1/account/branding/logo", headers=shop.headers())
    assert removed.status_code == 200

    page = shop.open(link.code).text
    assert "/brand/logos/" not in page
    assert ESCAPED in page
    assert csrf_of(page) == form_before  # the same visitor, the same form
