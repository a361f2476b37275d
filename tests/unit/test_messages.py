"""What the messages say, recipients, and the retry loop — pure, no network."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest

from paylink_es.application.details import LinkDetails
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.locale import MESSAGE_TEXT, format_link_amount
from paylink_es.notify import LinkContent, check_recipient, compose, share_for
from paylink_es.notify.port import (
    DeliveryFailedError,
    PermanentDeliveryError,
    TransientDeliveryError,
    deliver_with_retries,
)

BASE = "https://pay.example"
LINK = LinkDetails(
    id=uuid4(),
    merchant_id=uuid4(),
    code="Ab3dE9fGh2xK",
    slug=None,
    mode="test",
    status="active",
    currency="IDR",
    description="Kaos polos hitam\nukuran L",
    amount=150000,
    amount_min=None,
    amount_max=None,
    reference_id=None,
    methods=["qris"],
    expires_at=datetime(2026, 12, 1, 16, 59, tzinfo=UTC),
    usage_limit=1,
    line_items=[],
    customer=None,
    success_url=None,
    failure_url=None,
    metadata={},
    sent_count=0,
    opened_count=0,
    uses=0,
    flagged_count=0,
    collected=0,
    created_at=datetime(2026, 1, 5, tzinfo=UTC),
    version=1,
)
SHORT_URL = f"{BASE}/l/Ab3dE9fGh2xK"


def test_open_amounts_show_their_range_or_their_minimum() -> None:
    id_words, en_words = MESSAGE_TEXT["id"], MESSAGE_TEXT["en"]
    assert (
        format_link_amount(None, 10000, 5000000, "IDR", "id", id_words)
        == "Rp 10.000 \u2013 Rp 5.000.000"
    )
    assert format_link_amount(None, 10000, None, "IDR", "en", en_words) == "from IDR 10,000"
    assert format_link_amount(None, None, None, "IDR", "id", id_words) == "min. Rp 1"


def test_the_indonesian_email_carries_the_short_url_amount_and_expiry_in_wib() -> None:
    message = compose("email", "budi@example.com", LinkContent.of(LINK, "Toko Budi", BASE, "id"))

    assert message.subject == "Tagihan dari Toko Budi: Rp 150.000"
    assert message.html is not None
    for part in (message.text, message.html):
        assert SHORT_URL in part
        assert "Rp 150.000" in part
        assert "1 Desember 2026 23.59 WIB" in part
    assert "Bayar sekarang" in message.html
    assert f'href="{SHORT_URL}"' in message.html


def test_the_english_email_is_in_english() -> None:
    message = compose("email", "budi@example.com", LinkContent.of(LINK, "Toko Budi", BASE, "en"))

    assert message.subject == "Payment request from Toko Budi: IDR 150,000"
    assert message.html is not None
    assert "Valid until: 1 December 2026, 23:59 WIB" in message.text
    assert "Pay now" in message.html
    assert "Rp " not in message.text
    assert "Tagihan" not in message.text


def test_the_html_email_escapes_what_the_merchant_wrote() -> None:
    link = replace(LINK, description='<script>alert("x")</script>\nline two')
    content = LinkContent.of(link, "Toko <b>Budi</b> & Co", BASE, "id")

    html = compose("email", "budi@example.com", content).html

    assert html is not None
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<b>Budi</b>" not in html
    assert "Toko &lt;b&gt;Budi&lt;/b&gt; &amp; Co" in html
    assert "line two" in html


def test_sms_is_one_line_with_the_url_and_a_shortened_description() -> None:
    link = replace(LINK, description="Paket hemat " * 20)
    message = compose("sms", "+6281234567890", LinkContent.of(link, "Toko Budi", BASE, "id"))

    assert message.subject is None
    assert message.html is None
    assert "\n" not in message.text
    assert message.text.startswith("Toko Budi: tagihan Rp 150.000 untuk Paket hemat")
    assert message.text.endswith(f"Bayar di {SHORT_URL}")
    assert "…" in message.text
    assert len(message.text) < 160


def test_the_subject_never_carries_a_line_break() -> None:
    content = LinkContent.of(LINK, "Toko\r\nBcc: evil@example.com", BASE, "id")

    subject = compose("email", "budi@example.com", content).subject

    assert subject == "Tagihan dari Toko Bcc: evil@example.com: Rp 150.000"


def test_the_share_payload_has_a_wa_me_link_whose_text_carries_the_url_and_amount() -> None:
    share = share_for(LinkContent.of(LINK, "Toko Budi", BASE, "id"))

    assert share.url == SHORT_URL
    assert share.qr_url == f"{SHORT_URL}/qr.svg"
    assert (
        share.text
        == f"Bayar Kaos polos hitam ukuran L dari Toko Budi (Rp 150.000) di sini: {SHORT_URL}"
    )
    parts = urlsplit(share.whatsapp_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", "/")
    (text,) = parse_qs(parts.query)["text"]
    assert text == share.whatsapp_text
    assert "*Rp 150.000*" in text
    assert SHORT_URL in text
    assert " " not in share.whatsapp_url


@pytest.mark.parametrize(
    "given",
    [
        "081234567890",
        "0812-3456-7890",
        "0812 3456 7890",
        "(0812) 3456-7890",
        "6281234567890",
        "+6281234567890",
        "+62 812 3456 7890",
        "+62-812-3456-7890",
        "006281234567890",
    ],
)
@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_phone_numbers_become_e164(given: str, channel: str) -> None:
    assert check_recipient(channel, given) == "+6281234567890"  # type: ignore[arg-type]


@pytest.mark.parametrize("given", ["12", "08abc", "+1 234", "0812", "+62 12", "", "   ", "+"])
def test_what_is_not_a_phone_number_is_refused_naming_the_field(given: str) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        check_recipient("sms", given)
    assert raised.value.field == "to"


@pytest.mark.parametrize("given", ["budi", "budi@", "budi@example", "budi example@x.com", "0812"])
def test_what_is_not_an_email_address_is_refused_naming_the_field(given: str) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        check_recipient("email", given)
    assert raised.value.field == "to"


def test_email_addresses_keep_their_local_part_and_lower_their_domain() -> None:
    assert check_recipient("email", "  Budi.S@Example.COM ") == "Budi.S@example.com"


def test_transient_failures_are_retried_with_doubling_waits_then_given_up() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def attempt() -> str | None:
        calls.append(1)
        raise TransientDeliveryError("sms-gateway: HTTP 503")

    with pytest.raises(DeliveryFailedError) as raised:
        deliver_with_retries("sms-gateway", attempt, tries=4, backoff_s=0.5, sleep=waits.append)

    assert len(calls) == 4
    assert waits == [0.5, 1.0, 2.0]
    assert raised.value.attempts == 4
    assert raised.value.reason == "sms-gateway: HTTP 503 (after 4 attempts)"


def test_a_permanent_failure_is_not_retried() -> None:
    waits: list[float] = []

    def attempt() -> str | None:
        raise PermanentDeliveryError("smtp: refused: 554 no\r\nthanks")

    with pytest.raises(DeliveryFailedError) as raised:
        deliver_with_retries("smtp", attempt, tries=3, backoff_s=0.5, sleep=waits.append)

    assert waits == []
    assert raised.value.attempts == 1
    assert raised.value.reason == "smtp: refused: 554 no thanks"


def test_a_success_after_failures_reports_its_attempts_and_the_provider_id() -> None:
    answers: list[str | None] = []

    def attempt() -> str | None:
        if len(answers) < 2:
            answers.append(None)
            raise TransientDeliveryError("timeout")
        return "wamid.1"

    delivery = deliver_with_retries("whatsapp", attempt, tries=3, backoff_s=0, sleep=lambda _: None)

    assert (delivery.delivered_to, delivery.attempts, delivery.provider_id) == (
        "whatsapp",
        3,
        "wamid.1",
    )
