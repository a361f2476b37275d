"""WhatsApp as the Cloud API takes it: approved templates, checked by the local counterpart.

The counterpart (``tests.support.whatsapp_counterpart``) checks each template's name,
language and number of parameters against its registry of approved templates, as Meta
does, and answers in the Cloud API's shapes; these tests send through it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from paylink_es.bootstrap.adapters import notifications_from_settings
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.settings import Settings
from tests.integration.api.support import assert_problem
from tests.integration.notify.support import link_events
from tests.support.app import MakeApi
from tests.support.whatsapp_counterpart import PHONE_NUMBER_ID, TOKEN, VERSION, CloudApiServer

LINK: dict[str, Any] = {
    "amount": 150000,
    "description": "Kaos polos hitam",
    "expires_at": "2026-12-01T23:59:00+07:00",
}


def send_whatsapp(api: Any, link: dict[str, Any], language: str = "id") -> httpx.Response:
    response: httpx.Response = api.client.post(
        f"/v1/links/{link['id']}/send",
        json={"channel": "whatsapp", "to": "0812-3456-7890", "language": language},
        headers=api.merchants[0].headers(),
    )
    return response


def test_a_payment_request_goes_as_the_approved_template_and_is_accepted(
    make_send_api: MakeApi, cloud_api: CloudApiServer
) -> None:
    api = make_send_api(**cloud_api.settings())
    link = api.create_link(api.merchant("Toko Budi"), **LINK)

    response = send_whatsapp(api, link)

    assert response.status_code == 200, response.text
    assert response.json()["delivered_to"] == "whatsapp"
    assert cloud_api.api.refused == []
    (sent,) = cloud_api.api.sent
    assert (sent.to, sent.type, sent.template, sent.language) == (
        "6281234567890",
        "template",
        "paylink_payment_request",
        "id",
    )
    assert sent.parameters == ("Toko Budi", "Rp 150.000", link["url"], "1 Desember 2026 23.59 WIB")
    ((name, event),) = link_events(api.paylink, link["id"])
    assert (name, event["channel"], event["recipient"]) == ("Sent", "whatsapp", "+628***890")


def test_a_link_without_expiry_says_so_in_the_template_language(
    make_send_api: MakeApi, cloud_api: CloudApiServer
) -> None:
    api = make_send_api(**cloud_api.settings())
    link = api.create_link(api.merchant("Toko Budi"), amount=50000, description="Topi")

    response = send_whatsapp(api, link, language="en")

    assert response.status_code == 200, response.text
    (sent,) = cloud_api.api.sent
    assert sent.language == "en"
    assert sent.parameters == ("Toko Budi", "IDR 50,000", link["url"], "no expiry date")


def test_an_unknown_template_is_refused_with_132001_and_the_refusal_is_recorded(
    make_send_api: MakeApi, cloud_api: CloudApiServer
) -> None:
    api = make_send_api(
        **cloud_api.settings(), whatsapp_template_payment_request="tagihan_toko", notify_retries=3
    )
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)

    response = send_whatsapp(api, link)

    problem = assert_problem(response, 502, "send-failed")
    assert "132001" in problem["detail"]
    assert cloud_api.api.sent == []
    (refusal,) = cloud_api.api.refused  # final: not tried again
    assert (refusal.status, refusal.code) == (404, 132001)
    assert refusal.details == "template name (tagihan_toko) does not exist in id"
    ((name, event),) = link_events(api.paylink, link["id"])
    assert name == "SendFailed"
    assert event["channel"] == "whatsapp"
    assert event["reason"] == (
        "whatsapp: HTTP 404: error 132001: (#132001) Template name does not exist in the"
        " translation (template name (tagihan_toko) does not exist in id)"
    )
    shown = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert shown["counts"]["sent"] == 0


def test_a_template_approved_in_another_language_only_is_refused(
    make_sqlite_send_api: MakeApi, cloud_api: CloudApiServer
) -> None:
    del cloud_api.api.approved[("paylink_payment_request", "en")]
    api = make_sqlite_send_api(**cloud_api.settings())
    link = api.create_link(api.merchant(), **LINK)

    assert send_whatsapp(api, link, language="id").status_code == 200
    refused = send_whatsapp(api, link, language="en")

    assert_problem(refused, 502, "send-failed")
    assert [r.code for r in cloud_api.api.refused] == [132001]
    assert [name for name, _ in link_events(api.paylink, link["id"])] == ["Sent", "SendFailed"]


def test_a_template_approved_with_other_parameters_is_refused_with_132000(
    make_sqlite_send_api: MakeApi, cloud_api: CloudApiServer
) -> None:
    cloud_api.api.approved[("paylink_payment_request", "id")] = 5
    api = make_sqlite_send_api(**cloud_api.settings())
    link = api.create_link(api.merchant(), **LINK)

    problem = assert_problem(send_whatsapp(api, link), 502, "send-failed")

    assert "132000" in problem["detail"]
    assert [(r.status, r.code) for r in cloud_api.api.refused] == [(400, 132000)]
    ((name, event),) = link_events(api.paylink, link["id"])
    assert name == "SendFailed"
    assert "number of localizable_params (4)" in event["reason"]


def test_the_counterpart_takes_free_text_only_in_the_customers_window(
    cloud_api: CloudApiServer,
) -> None:
    url = f"{cloud_api.api_url}/{PHONE_NUMBER_ID}/messages"
    body = {
        "messaging_product": "whatsapp",
        "to": "6281234567890",
        "type": "text",
        "text": {"body": "Halo"},
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}

    closed = httpx.post(url, json=body, headers=headers)
    cloud_api.api.customer_wrote("6281234567890")
    opened = httpx.post(url, json=body, headers=headers)
    wrong_token = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})

    assert closed.status_code == 400
    assert closed.json()["error"]["code"] == 131047
    assert opened.status_code == 200
    assert opened.json()["messages"][0]["id"].startswith("wamid.")
    assert wrong_token.status_code == 401
    assert wrong_token.json()["error"]["code"] == 190
    assert cloud_api.api_url.endswith(f"/{VERSION}")


def test_a_rate_limit_answer_is_tried_again(
    make_sqlite_send_api: MakeApi, cloud_api: CloudApiServer
) -> None:
    api = make_sqlite_send_api(**cloud_api.settings(), notify_retries=2)
    link = api.create_link(api.merchant(), **LINK)
    calls = {"n": 0}
    answer = cloud_api.api.answer

    def rate_limited_once(path: str, authorization: str | None, raw: bytes) -> tuple[int, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            return 400, {"error": {"message": "(#130429) Rate limit hit", "code": 130429}}
        return answer(path, authorization, raw)

    cloud_api.api.answer = rate_limited_once  # type: ignore[method-assign]

    response = send_whatsapp(api, link)

    assert response.status_code == 200, response.text
    assert response.json()["attempts"] == 2
    assert len(cloud_api.api.sent) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"whatsapp_api_url": "https://graph.facebook.com/v21.0/1065/messages"},
            "whatsapp_api_url",
        ),
        ({"whatsapp_phone_number_id": "1065"}, "whatsapp_token"),
        (
            {"whatsapp_phone_number_id": "nomor", "whatsapp_token": SecretStr("t")},
            "whatsapp_phone_number_id",
        ),
        (
            {
                "whatsapp_phone_number_id": "1065",
                "whatsapp_token": SecretStr("t"),
                "whatsapp_template_receipt": "Kuitansi Toko",
            },
            "whatsapp_template_receipt",
        ),
    ],
)
def test_whatsapp_settings_that_cannot_work_stop_the_process_naming_them(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        notifications_from_settings(Settings(**overrides))
    assert raised.value.field == field
