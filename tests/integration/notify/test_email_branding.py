"""A link's e-mail in the merchant's brand, through a real SMTP server on 127.0.0.1, on
SQLite and PostgreSQL: the display name (escaped in HTML), the colour of the button, the
logo at a URL the app serves; another merchant's e-mail keeps the platform's look."""

from __future__ import annotations

from typing import Any

from tests.integration.notify.conftest import SmtpServer
from tests.support.app import Api, MakeApi, Merchant
from tests.support.images import decoded, logo_upload

HOSTILE = "<b>Kopi</b> & Senja"
LINK: dict[str, Any] = {"amount": 150000, "description": "Kaos polos hitam"}


def send_email(api: Api, merchant: Merchant) -> Any:
    link = api.create_link(merchant, **LINK)
    response = api.client.post(
        f"/v1/links/{link['id']}/send",
        json={"channel": "email", "to": "budi@example.com"},
        headers=merchant.headers(),
    )
    assert response.status_code == 200, response.text
    return link


def test_the_email_carries_the_brand_and_another_merchants_does_not(
    make_send_api: MakeApi, smtp: SmtpServer
) -> None:
    controller, mailbox = smtp
    api = make_send_api(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none")
    branded, plain = api.merchant("PT Kopi Senja Abadi"), api.merchant("Toko Lain")
    set_name = api.client.put(
        "/v1/account/branding",
        json={"display_name": HOSTILE, "brand_color": "#7a1f5c"},
        headers=branded.headers(),
    )
    assert set_name.status_code == 200, set_name.text
    uploaded = api.client.put(
        "/v1/account/branding/logo", content=logo_upload(), headers=branded.headers()
    )
    logo = uploaded.json()["logo"]

    send_email(api, branded)
    send_email(api, plain)

    mine, theirs = mailbox.received
    assert mine.mail["Subject"] == f"Tagihan dari {HOSTILE}: Rp 150.000"
    text, html = mine.part("plain"), mine.part("html")
    assert f"{HOSTILE} mengirimkan tautan pembayaran untuk Anda." in text
    assert "&lt;b&gt;Kopi&lt;/b&gt; &amp; Senja mengirimkan tautan" in html
    assert "<b>Kopi</b>" not in html
    assert "PT Kopi Senja Abadi" not in text + html
    assert "background:#7a1f5c;color:#ffffff" in html
    assert "border-top:4px solid #7a1f5c" in html
    assert f'<img src="{logo["url"]}" alt="&lt;b&gt;Kopi&lt;/b&gt; &amp; Senja"' in html
    assert 'width="96" height="48"' in html  # 512x256 shown in at most 200x48
    served = api.client.get(logo["url"].removeprefix("http://127.0.0.1:8000"))
    assert served.status_code == 200
    assert decoded(served.content).size == (512, 256)

    other_html = theirs.part("html")
    assert theirs.mail["Subject"] == "Tagihan dari Toko Lain: Rp 150.000"
    assert "background:#0b7a75;color:#ffffff" in other_html
    assert "<img" not in other_html
    assert "Kopi" not in other_html
