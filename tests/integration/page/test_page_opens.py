"""Opens: one ``PaymentLink.Opened`` per visitor session; previews and HEAD are not opens."""

from __future__ import annotations

import json

import pytest

from tests.support.shop import Shop

OPENED = "PaymentLink.Opened"
PREVIEW_AGENTS = {
    "whatsapp": "WhatsApp/2.23.20.0 A",
    "facebook": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "telegram": "TelegramBot (like TwitterBot)",
    "slack": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "twitter": "Twitterbot/1.0",
}
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36"
)


def test_one_open_per_visitor_session(backend_shop: Shop) -> None:
    shop = backend_shop
    link = shop.link()
    assert shop.count(OPENED) == 0
    shop.open(link.code)
    shop.open(link.code)  # same cookies: the same session
    shop.open(link.code, lang="en")
    assert shop.count(OPENED) == 1
    other = shop.visitor()
    shop.open(link.code, other)
    shop.open(link.code, other)
    assert shop.count(OPENED) == 2
    assert shop.paylink.links.get(link.id).opened_count == 2
    visitors = {
        json.loads(state)["visitor"] for topic, state in shop.states() if topic.endswith(OPENED)
    }
    assert len(visitors) == 2
    assert {other.cookies["pl_visitor"], shop.client.cookies["pl_visitor"]} == visitors


def test_opens_are_counted_per_link(backend_shop: Shop) -> None:
    shop = backend_shop
    first, second = shop.link(reference_id="A"), shop.link(reference_id="B")
    shop.open(first.code)
    shop.open(second.code)
    shop.open(first.code)
    assert shop.paylink.links.get(first.id).opened_count == 1
    assert shop.paylink.links.get(second.id).opened_count == 1


def test_head_is_not_an_open(backend_shop: Shop) -> None:
    shop = backend_shop
    link = shop.link()
    for _ in range(3):
        response = shop.visitor().head(f"/l/{link.code}")
        assert response.status_code == 200
    assert shop.count(OPENED) == 0
    shop.open(link.code)  # the customer who follows: counted
    assert shop.count(OPENED) == 1


@pytest.mark.parametrize("agent", PREVIEW_AGENTS.values(), ids=PREVIEW_AGENTS.keys())
def test_link_preview_fetchers_are_not_opens(page_shop: Shop, agent: str) -> None:
    link = page_shop.link()
    for _ in range(2):
        fetcher = page_shop.visitor()
        response = fetcher.get(f"/l/{link.code}", headers={"User-Agent": agent})
        assert response.status_code == 200
        assert "Kaos polos hitam" in response.text  # the preview still gets the page
    assert page_shop.count(OPENED) == 0
    phone = page_shop.visitor()
    assert phone.get(f"/l/{link.code}", headers={"User-Agent": PHONE}).status_code == 200
    assert page_shop.count(OPENED) == 1


def test_preview_bots_on_both_backends(backend_shop: Shop) -> None:
    link = backend_shop.link()
    for agent in PREVIEW_AGENTS.values():
        backend_shop.visitor().get(f"/l/{link.code}", headers={"User-Agent": agent})
    assert backend_shop.count(OPENED) == 0
    assert backend_shop.paylink.links.get(link.id).opened_count == 0


def test_closed_and_unknown_links_record_no_open(page_shop: Shop) -> None:
    link = page_shop.link()
    page_shop.paylink.links.cancel(link.id)
    page_shop.client.get(f"/l/{link.code}")
    page_shop.client.get("/l/NoSuchCode12")
    assert page_shop.count(OPENED) == 0
