"""``POST /v1/links/{id}/send`` and ``GET …/share``: outbox, validation, state, isolation, keys."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from tests.integration.api.support import UNKNOWN_ID, assert_problem
from tests.integration.notify.support import link_event_names
from tests.support.app import Api, MakeApi, Merchant, outbox_file

LINK: dict[str, Any] = {
    "amount": 150000,
    "description": "Kaos polos hitam",
    "expires_at": "2026-02-01T23:59:00+07:00",
}


@pytest.fixture
def api(make_sqlite_send_api: MakeApi) -> Api:
    """The app on SQLite with no provider configured: every channel goes to the dev outbox."""
    return make_sqlite_send_api()


def send(api: Api, link_id: str, merchant: Merchant, mode: str = "test", **body: Any) -> Any:
    payload = {"channel": "email", "to": "budi@example.com", **body}
    return api.client.post(
        f"/v1/links/{link_id}/send", json=payload, headers=merchant.headers(mode)
    )


def test_without_a_provider_the_dev_outbox_keeps_the_message_and_says_so(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="paylink.notify")
    merchant = api.merchant("Toko Budi")
    link = api.create_link(merchant, **LINK)

    email = send(api, link["id"], merchant)
    whatsapp = send(api, link["id"], merchant, channel="whatsapp", to="0812 3456 7890")

    assert email.status_code == 200, email.text
    assert whatsapp.status_code == 200, whatsapp.text
    assert email.json()["delivered_to"] == "dev-outbox"
    assert whatsapp.json()["delivered_to"] == "dev-outbox"
    first, second = api.outbox()
    assert (first["channel"], first["to"]) == ("email", "budi@example.com")
    assert first["subject"] == "Tagihan dari Toko Budi: Rp 150.000"
    assert link["url"] in first["text"]
    assert link["url"] in first["html"]
    assert (second["channel"], second["to"]) == ("whatsapp", "+6281234567890")
    assert "*Rp 150.000*" in second["text"]
    assert second["html"] is None
    logged = [r.getMessage() for r in caplog.records if r.name == "paylink.notify"]
    assert len(logged) == 2
    assert all("NOT sent" in message and link["url"] in message for message in logged)
    assert str(outbox_file(api.app.state.settings)) in logged[0]
    assert link_event_names(api.paylink, link["id"]) == ["Sent", "Sent"]
    details = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert details["counts"]["sent"] == 2


@pytest.mark.parametrize(
    ("channel", "to"),
    [
        ("sms", "12"),
        ("sms", "08abc"),
        ("whatsapp", "+1 234"),
        ("whatsapp", "budi@example.com"),
        ("sms", "   "),
        ("sms", ""),
        ("email", "budi@"),
        ("email", "budi at example.com"),
        ("email", "081234567890"),
    ],
)
def test_a_recipient_the_channel_cannot_reach_is_a_422_naming_to(
    api: Api, channel: str, to: str
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)

    response = send(api, link["id"], merchant, channel=channel, to=to)

    assert_problem(response, 422, field="to")
    assert link_event_names(api.paylink, link["id"]) == []
    assert api.outbox() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"channel": "EMAIL"}, "channel"),
        ({"channel": None}, "channel"),
        ({"language": "fr"}, "language"),
        ({"cc": "x@example.com"}, "cc"),
    ],
)
def test_unknown_channels_languages_and_fields_are_422_naming_them(
    api: Api, body: dict[str, Any], field: str
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)

    response = send(api, link["id"], merchant, **body)

    assert_problem(response, 422, "validation-error", field=field)
    assert api.outbox() == []


def test_a_cancelled_link_is_not_sent_and_nothing_is_recorded(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)
    cancel = api.client.post(f"/v1/links/{link['id']}/cancel", headers=merchant.headers())
    assert cancel.status_code == 200, cancel.text
    head = api.head()

    response = send(api, link["id"], merchant)

    problem = assert_problem(response, 409, "link-closed")
    assert "cancelled" in problem["detail"]
    assert api.head() == head
    assert api.outbox() == []


def test_an_expired_link_is_not_sent_and_nothing_is_recorded(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)
    api.clock.advance(timedelta(days=40))
    head = api.head()

    response = send(api, link["id"], merchant, channel="sms", to="081234567890")

    problem = assert_problem(response, 409, "link-closed")
    assert "expired" in problem["detail"]
    assert api.head() == head
    assert api.outbox() == []


def test_another_merchants_link_or_mode_is_404_for_send_and_share(api: Api) -> None:
    owner, stranger = api.merchant("Toko Budi"), api.merchant("Toko Siti")
    link = api.create_link(owner, **LINK)
    head = api.head()

    answers = [
        send(api, link["id"], stranger),
        send(api, link["id"], owner, mode="live"),
        send(api, UNKNOWN_ID, owner),
        api.client.get(f"/v1/links/{link['id']}/share", headers=stranger.headers()),
        api.client.get(f"/v1/links/{link['id']}/share", headers=owner.headers("live")),
        api.client.get(f"/v1/links/{UNKNOWN_ID}/share", headers=owner.headers()),
    ]

    for response in answers:
        assert_problem(response, 404, "not-found", field="link_id")
    assert api.head() == head
    assert api.outbox() == []
    assert send(api, link["id"], owner).status_code == 200


def test_a_send_without_a_key_is_401(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)

    response = api.client.post(
        f"/v1/links/{link['id']}/send", json={"channel": "email", "to": "budi@example.com"}
    )

    assert_problem(response, 401, "authentication-required")
    assert api.outbox() == []


def test_the_same_idempotency_key_replays_the_answer_and_sends_once(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)
    headers = merchant.headers(**{"Idempotency-Key": "send-42"})
    body = {"channel": "sms", "to": "081234567890"}

    first = api.client.post(f"/v1/links/{link['id']}/send", json=body, headers=headers)
    again = api.client.post(f"/v1/links/{link['id']}/send", json=body, headers=headers)
    other = api.client.post(
        f"/v1/links/{link['id']}/send", json={**body, "to": "081299998888"}, headers=headers
    )

    assert first.status_code == 200, first.text
    assert again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == first.content
    assert_problem(other, 409, "idempotency-key-reused")
    assert len(api.outbox()) == 1
    assert link_event_names(api.paylink, link["id"]) == ["Sent"]


def test_without_a_key_every_post_sends_again(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)

    for _ in range(2):
        assert send(api, link["id"], merchant).status_code == 200

    assert len(api.outbox()) == 2
    assert link_event_names(api.paylink, link["id"]) == ["Sent", "Sent"]


@pytest.mark.parametrize(
    ("language", "text", "amount"),
    [
        ("id", "Bayar Kaos polos hitam dari Toko Budi (Rp 150.000) di sini: ", "*Rp 150.000*"),
        ("en", "Pay Toko Budi IDR 150,000 for Kaos polos hitam here: ", "*IDR 150,000*"),
    ],
)
def test_the_share_payload_gives_urls_a_wa_me_link_and_a_post_text(
    api: Api, language: str, text: str, amount: str
) -> None:
    merchant = api.merchant("Toko Budi")
    link = api.create_link(merchant, **LINK)
    head = api.head()

    response = api.client.get(
        f"/v1/links/{link['id']}/share", params={"language": language}, headers=merchant.headers()
    )

    assert response.status_code == 200, response.text
    share = response.json()
    assert share["object"] == "link_share"
    assert share["language"] == language
    assert share["url"] == link["url"]
    assert share["qr_url"] == link["qr_url"]
    assert share["text"] == text + link["url"]
    assert share["whatsapp_url"].startswith("https://wa.me/?text=")
    (wa_text,) = parse_qs(urlsplit(share["whatsapp_url"]).query)["text"]
    assert wa_text == share["whatsapp_text"]
    assert amount in wa_text
    assert link["url"] in wa_text
    assert api.head() == head  # sharing records nothing


def test_the_share_language_defaults_to_indonesian_and_refuses_others(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)
    url = f"/v1/links/{link['id']}/share"

    default = api.client.get(url, headers=merchant.headers())
    french = api.client.get(url, params={"language": "fr"}, headers=merchant.headers())

    assert default.json()["language"] == "id"
    assert "Rp 150.000" in default.json()["text"]
    assert_problem(french, 422, field="language")


def test_a_send_answers_with_the_share_payload_too(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)

    sent = send(api, link["id"], merchant, language="en").json()
    shared = api.client.get(
        f"/v1/links/{link['id']}/share", params={"language": "en"}, headers=merchant.headers()
    ).json()

    assert sent["share"] == shared


def test_in_production_a_channel_without_provider_is_503_and_nothing_is_recorded(
    make_sqlite_send_api: MakeApi,
) -> None:
    api = make_sqlite_send_api(environment="production", secret_key=SecretStr("k" * 32))
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)
    head = api.head()

    response = send(api, link["id"], merchant, channel="sms", to="081234567890")

    assert_problem(response, 503, "channel-not-configured", field="channel")
    assert api.head() == head
    assert api.outbox() == []


def test_the_openapi_document_declares_what_send_and_share_answer(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    send_operation = document["paths"]["/v1/links/{link_id}/send"]["post"]
    share_operation = document["paths"]["/v1/links/{link_id}/share"]["get"]

    assert {"200", "404", "409", "422", "502", "503"} <= set(send_operation["responses"])
    assert {"200", "404", "422"} <= set(share_operation["responses"])
    schema = document["components"]["schemas"]["SendRequest"]
    assert schema["properties"]["channel"]["enum"] == ["email", "sms", "whatsapp"]
    assert schema["examples"]
    parameters = {p["name"].lower() for p in send_operation["parameters"]}
    assert "idempotency-key" in parameters


def test_every_example_of_the_send_request_is_accepted(api: Api) -> None:
    merchant = api.merchant()
    document = api.client.get("/openapi.json").json()
    examples = document["components"]["schemas"]["SendRequest"]["examples"]

    for example in examples:
        link = api.create_link(merchant, **LINK)
        response = api.client.post(
            f"/v1/links/{link['id']}/send", json=example, headers=merchant.headers()
        )
        assert response.status_code == 200, f"{example}: {response.text}"

    assert {line["channel"] for line in api.outbox()} == {"email", "sms", "whatsapp"}
