"""A link created with ``notify`` goes out at once: e-mail through a real SMTP server on
127.0.0.1, WhatsApp through the Cloud API counterpart; a failed send is recorded and shown,
and never fails the create; a bad address is a 422 naming it, and nothing is stored."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from pydantic import SecretStr

from tests.integration.api.support import assert_problem
from tests.integration.notify.conftest import SmtpServer
from tests.integration.notify.support import link_event_names, link_events
from tests.support.app import Api, MakeApi
from tests.support.whatsapp_counterpart import CloudApiServer

LINK: dict[str, Any] = {
    "amount": 150000,
    "description": "Kaos polos hitam",
    "expires_at": "2026-02-01T23:59:00+07:00",
}


def smtp_settings(smtp: SmtpServer) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": smtp[0].port, "smtp_security": "none"}


def create(api: Api, **fields: Any) -> Any:
    merchant = api.merchants[0] if api.merchants else api.merchant("Toko Budi")
    return api.client.post("/v1/links", json={**LINK, **fields}, headers=merchant.headers())


def test_a_link_created_with_an_email_to_notify_is_mailed_and_the_send_recorded(
    make_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = make_send_api(**smtp_settings(smtp))

    response = create(api, notify={"email": "Budi@Example.COM", "language": "en"})

    assert response.status_code == 201, response.text
    link = response.json()
    assert link["notifications"] == [
        {
            "channel": "email",
            "to": "B***@example.com",
            "status": "sent",
            "reason": None,
            "delivered_to": "smtp",
        }
    ]
    assert link["counts"]["sent"] == 1
    (received,) = smtp[1].received
    assert received.recipients == ["Budi@example.com"]
    assert received.mail["Subject"] == "Payment request from Toko Budi: IDR 150,000"
    assert link["url"] in received.part("plain")
    ((name, event),) = link_events(api.paylink, link["id"])
    assert (name, event["channel"], event["recipient"], event["language"]) == (
        "Sent",
        "email",
        "B***@example.com",
        "en",
    )


def test_email_and_whatsapp_both_go_and_each_is_on_the_timeline(
    make_send_api: MakeApi, smtp: SmtpServer, cloud_api: CloudApiServer
) -> None:
    api = make_send_api(**smtp_settings(smtp), **cloud_api.settings())

    response = create(api, notify={"email": "budi@example.com", "whatsapp": "0812-3456-7890"})

    assert response.status_code == 201, response.text
    link = response.json()
    assert [(n["channel"], n["status"]) for n in link["notifications"]] == [
        ("email", "sent"),
        ("whatsapp", "sent"),
    ]
    (sent,) = cloud_api.api.sent
    assert (sent.to, sent.template) == ("6281234567890", "paylink_payment_request")
    assert len(smtp[1].received) == 1
    assert link_event_names(api.paylink, link["id"]) == ["Sent", "Sent"]


def test_a_send_that_fails_is_recorded_and_shown_and_the_link_stays_created(
    make_send_api: MakeApi, smtp: SmtpServer, cloud_api: CloudApiServer
) -> None:
    smtp[1].replies.append("550 mailbox unavailable")
    api = make_send_api(
        **smtp_settings(smtp),
        **cloud_api.settings(),
        whatsapp_template_payment_request="tagihan_toko",
    )
    merchant = api.merchant()

    response = create(api, notify={"email": "budi@example.com", "whatsapp": "+6281234567890"})

    assert response.status_code == 201, response.text
    link = response.json()
    email, whatsapp = link["notifications"]
    assert (email["status"], whatsapp["status"]) == ("failed", "failed")
    assert "550" in email["reason"]
    assert "132001" in whatsapp["reason"]
    assert link["counts"]["sent"] == 0
    failed = [(name, e["channel"]) for name, e in link_events(api.paylink, link["id"])]
    assert failed == [("SendFailed", "email"), ("SendFailed", "whatsapp")]
    shown = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers())
    assert shown.status_code == 200
    assert shown.json()["status"] == "active"


def test_a_channel_without_a_provider_in_production_is_a_failed_send_on_record(
    make_sqlite_send_api: MakeApi,
) -> None:
    api = make_sqlite_send_api(environment="production", secret_key=SecretStr("k" * 40))

    response = create(api, notify={"sms": "081234567890"})

    assert response.status_code == 201, response.text
    (sms,) = response.json()["notifications"]
    assert (sms["status"], sms["reason"]) == (
        "failed",
        "no sms provider is configured on this server",
    )
    ((name, event),) = link_events(api.paylink, response.json()["id"])
    assert (name, event["reason"]) == ("SendFailed", "no sms provider is configured on this server")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"notify": {"whatsapp": "0812"}}, "notify.whatsapp"),
        ({"notify": {"email": "budi@", "sms": "081234567890"}}, "notify.email"),
        ({"notify": {"sms": "budi@example.com"}}, "notify.sms"),
        ({"notify": {"fax": "0211234567"}}, "notify.fax"),
        ({"reminders": ["24h", "sehari"]}, "reminders[1]"),
        ({"reminders": ["1h", "1h"]}, "reminders[1]"),
    ],
)
def test_an_address_or_reminder_that_is_not_one_is_a_422_naming_it_and_stores_nothing(
    make_send_api: MakeApi, smtp: SmtpServer, fields: dict[str, Any], field: str
) -> None:
    api = make_send_api(**smtp_settings(smtp))
    api.merchant()
    before = api.head()

    response = create(api, **fields)

    assert_problem(response, 422, field=field)
    assert api.head() == before
    assert smtp[1].received == []


def test_reminders_are_scheduled_with_the_link_and_a_replayed_request_sends_nothing_again(
    make_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = make_send_api(**smtp_settings(smtp))
    merchant = api.merchant()
    body = {**LINK, "notify": {"email": "budi@example.com"}, "reminders": ["1h", "24h"]}
    headers = merchant.headers(**{"Idempotency-Key": "inv-77"})

    first = api.client.post("/v1/links", json=body, headers=headers)
    again = api.client.post("/v1/links", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    assert len(smtp[1].received) == 1
    events = link_events(api.paylink, first.json()["id"])
    assert [name for name, _ in events] == ["RemindersScheduled", "Sent"]
    assert events[0][1]["reminders"] == [86400, 3600]
    assert events[0][1]["by"] == str(merchant.test_key.key_id)


def test_a_reference_that_names_its_link_already_sends_nothing_again(
    make_sqlite_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = make_sqlite_send_api(**smtp_settings(smtp))
    body = {"reference_id": "INV-9", "notify": {"email": "budi@example.com"}}

    first = create(api, **body)
    second = create(api, **body)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["notifications"] is None
    assert len(smtp[1].received) == 1
    assert api.paylink.links.get(UUID(first.json()["id"])).sent_count == 1
