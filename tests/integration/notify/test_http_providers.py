"""SMS and WhatsApp through an HTTP provider on 127.0.0.1: shape, token, retries, timeouts."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import SecretStr

from paylink_es.notify import (
    DeliveryFailedError,
    DeliveryPolicy,
    Message,
    SmsSender,
    WhatsAppSender,
)
from paylink_es.notify.port import Template
from tests.integration.api.support import assert_problem
from tests.integration.notify.support import Provider, Reply, link_events, recording_policy
from tests.support.app import Api, MakeApi

SMS_TOKEN = "sms-token-9f8e7d"
WA_TOKEN = "EAAG-whatsapp-token-1a2b3c"
LINK: dict[str, Any] = {"amount": 150000, "description": "Kaos polos hitam"}


def provider_api(make: MakeApi, provider: Provider, **overrides: Any) -> Api:
    return make(
        sms_gateway_url=f"{provider.base_url}/sms/send",
        sms_gateway_token=SecretStr(SMS_TOKEN),
        whatsapp_api_url=f"{provider.base_url}/v19.0",
        whatsapp_phone_number_id="1234567890",
        whatsapp_token=SecretStr(WA_TOKEN),
        **overrides,
    )


def send(api: Api, link: dict[str, Any], channel: str, to: str, **body: Any) -> Any:
    return api.client.post(
        f"/v1/links/{link['id']}/send",
        json={"channel": channel, "to": to, **body},
        headers=api.merchants[0].headers(),
    )


def test_an_sms_is_posted_to_the_gateway_as_json_with_the_bearer_token(
    make_send_api: MakeApi, provider: Provider
) -> None:
    api = provider_api(make_send_api, provider)
    link = api.create_link(api.merchant("Toko Budi"), **LINK)

    response = send(api, link, "sms", "0812-3456-7890")

    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["channel"], answer["delivered_to"], answer["to"]) == (
        "sms",
        "sms-gateway",
        "+628***890",
    )
    (seen,) = provider.seen
    assert seen.path == "/sms/send"
    assert seen.headers["authorization"] == f"Bearer {SMS_TOKEN}"
    assert seen.headers["content-type"] == "application/json"
    assert set(seen.body) == {"to", "message"}
    assert seen.body["to"] == "+6281234567890"
    assert link["url"] in seen.body["message"]
    assert "Rp 150.000" in seen.body["message"]
    assert seen.body["message"].startswith("Toko Budi: tagihan")
    assert [name for name, _ in link_events(api.paylink, link["id"])] == ["Sent"]


def test_whatsapp_is_a_cloud_api_template_message_to_the_number_without_plus(
    make_sqlite_send_api: MakeApi, provider: Provider
) -> None:
    api = provider_api(make_sqlite_send_api, provider)
    link = api.create_link(
        api.merchant("Toko Budi"), expires_at="2026-12-01T23:59:00+07:00", **LINK
    )
    provider.replies.append(Reply(body={"messages": [{"id": "wamid.HBgM"}]}))

    response = send(api, link, "whatsapp", "+62 812 3456 7890", language="en")

    assert response.status_code == 200, response.text
    assert response.json()["delivered_to"] == "whatsapp"
    (seen,) = provider.seen
    assert seen.path == "/v19.0/1234567890/messages"
    assert seen.headers["authorization"] == f"Bearer {WA_TOKEN}"
    assert seen.body == {
        "messaging_product": "whatsapp",
        "to": "6281234567890",
        "type": "template",
        "template": {
            "name": "paylink_payment_request",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Toko Budi"},
                        {"type": "text", "text": "IDR 150,000"},
                        {"type": "text", "text": link["url"]},
                        {"type": "text", "text": "1 December 2026, 23:59 WIB"},
                    ],
                }
            ],
        },
    }
    ((name, event),) = link_events(api.paylink, link["id"])
    assert (name, event["channel"], event["recipient"]) == ("Sent", "whatsapp", "+628***890")


def test_a_provider_that_fails_twice_then_succeeds_is_retried_through_the_api(
    make_sqlite_send_api: MakeApi, provider: Provider
) -> None:
    api = provider_api(make_sqlite_send_api, provider, notify_retries=3)
    link = api.create_link(api.merchant(), **LINK)
    provider.replies.extend([Reply(503), Reply(500)])

    response = send(api, link, "whatsapp", "081234567890")

    assert response.status_code == 200, response.text
    assert response.json()["attempts"] == 3
    assert len(provider.seen) == 3
    assert {seen.body["to"] for seen in provider.seen} == {"6281234567890"}
    assert [name for name, _ in link_events(api.paylink, link["id"])] == ["Sent"]


def test_a_provider_that_keeps_failing_is_a_502_and_a_failure_on_record(
    make_send_api: MakeApi, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = provider_api(make_send_api, provider, notify_retries=2)
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)
    provider.replies.extend([Reply(502), Reply(502)])

    response = send(api, link, "sms", "081234567890")

    problem = assert_problem(response, 502, "send-failed")
    assert "HTTP 502" in problem["detail"]
    assert len(provider.seen) == 2
    ((name, event),) = link_events(api.paylink, link["id"])
    assert name == "SendFailed"
    assert event["channel"] == "sms"
    assert event["recipient"] == "+628***890"
    assert event["reason"] == "sms-gateway: HTTP 502 (after 2 attempts)"
    link_now = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert link_now["counts"]["sent"] == 0
    assert SMS_TOKEN not in response.text
    assert all(SMS_TOKEN not in record.getMessage() for record in caplog.records)


def sms(provider: Provider, **policy: Any) -> tuple[SmsSender, list[float]]:
    """An SMS sender to ``provider``; ``policy``: the fields of its DeliveryPolicy."""
    chosen, waits = recording_policy(**policy)
    sender = SmsSender(url=f"{provider.base_url}/sms", token=SecretStr(SMS_TOKEN), policy=chosen)
    return sender, waits


SMS = Message("sms", "+6281234567890", "Toko Budi: tagihan Rp 150.000")


def test_a_provider_that_does_not_answer_in_time_is_asked_again(provider: Provider) -> None:
    provider.replies.append(Reply(delay_s=1.0))  # then answers at once
    sender, waits = sms(provider, timeout_s=0.3, backoff_s=0.1)

    delivery = sender.deliver(SMS)

    assert delivery.attempts == 2
    assert waits == [0.1]
    assert delivery.provider_id == "msg-1"
    assert len(provider.seen) == 2


def test_a_provider_that_never_answers_in_time_fails_naming_the_timeout(
    provider: Provider,
) -> None:
    provider.replies.extend([Reply(delay_s=0.8), Reply(delay_s=0.8)])
    sender, _ = sms(provider, timeout_s=0.2, tries=2, backoff_s=0)

    with pytest.raises(DeliveryFailedError) as raised:
        sender.deliver(SMS)

    assert raised.value.reason == "sms-gateway: no answer within 0.2 s (after 2 attempts)"
    assert raised.value.attempts == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_refusal_is_final_and_not_retried(provider: Provider, status: int) -> None:
    provider.replies.append(Reply(status, {"error": {"message": "Invalid parameter"}}))
    sender, waits = sms(provider)

    with pytest.raises(DeliveryFailedError) as raised:
        sender.deliver(SMS)

    assert raised.value.reason == f"sms-gateway: HTTP {status}"
    assert (raised.value.attempts, waits, len(provider.seen)) == (1, [], 1)


@pytest.mark.parametrize("status", [408, 429, 500, 503, 504])
def test_busy_and_broken_providers_are_retried(provider: Provider, status: int) -> None:
    provider.replies.append(Reply(status))
    sender, waits = sms(provider, backoff_s=0.5)

    delivery = sender.deliver(SMS)

    assert (delivery.attempts, waits, len(provider.seen)) == (2, [0.5], 2)


def test_the_whatsapp_message_id_is_kept_and_no_token_means_no_authorization(
    provider: Provider,
) -> None:
    provider.replies.append(Reply(body={"messages": [{"id": "wamid.XYZ"}]}))
    sender = whatsapp_sender(provider.base_url, token=None)
    template = Template("receipt", "id", ("Toko Budi", "Rp 1.000", "5 Januari", "https://x"))

    delivery = sender.deliver(Message("whatsapp", "+6281234567890", "Halo", template=template))

    assert delivery.provider_id == "wamid.XYZ"
    assert "authorization" not in provider.seen[0].headers
    assert provider.seen[0].body["template"]["name"] == "toko_receipt"
    assert WA_TOKEN not in repr(whatsapp_sender("x", token=SecretStr(WA_TOKEN)))


def whatsapp_sender(base_url: str, token: SecretStr | None) -> WhatsAppSender:
    return WhatsAppSender(
        url=WhatsAppSender.messages_url(base_url, "1234567890"),
        token=token,
        policy=DeliveryPolicy(5, tries=1),
        templates={
            "payment_request": "toko_request",
            "reminder": "toko_reminder",
            "receipt": "toko_receipt",
        },
    )
