"""The dashboard's messages: the create form sends the new link and schedules its reminders;
the message settings page sets the merchant's alerts and default reminders. Messages and
errors in the page's language; a merchant's settings are its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.integration.notify.support import link_event_names, link_events
from tests.support.desk import VIEWER, Desk, build_desk, field_errors, post
from tests.support.fixtures import cloud_api
from tests.support.shop import shop
from tests.support.whatsapp_counterpart import CloudApiServer

__all__ = ["cloud_api"]

FORM: dict[str, Any] = {
    "description": "Kaos polos hitam",
    "amount_kind": "fixed",
    "amount": "150000",
    "currency": "IDR",
    "methods": ["qris"],
    "expires_at": "2026-02-01T23:59",
    "usage": "single",
}


@pytest.fixture
def desk(backend_settings: Settings, clock: FakeClock, cloud_api: CloudApiServer) -> Iterator[Desk]:
    """The dashboard desk; e-mail to the dev outbox, WhatsApp to the Cloud API counterpart."""
    settings = backend_settings.model_copy(update=cloud_api.settings())
    with shop(settings, clock, run_projections=True) as built:
        yield build_desk(built)


def created_link(desk: Desk, response: Any) -> UUID:
    assert response.status_code == 303, field_errors(response.text) or response.text
    location = response.headers["location"]
    return UUID(location.split("/")[3].split("?")[0])


def test_the_create_form_sends_the_link_and_schedules_its_reminders(
    desk: Desk, cloud_api: CloudApiServer
) -> None:
    owner = desk.signed_in()
    form = {
        **FORM,
        "notify_email": "budi@example.com",
        "notify_whatsapp": "0812 3456 7890",
        "notify_language": "en",
        "reminders": "24h, 1h",
    }

    link_id = created_link(desk, post(owner, "/dashboard/links", form))

    assert link_event_names(desk.shop.paylink, str(link_id)) == [
        "RemindersScheduled",
        "Sent",
        "Sent",
    ]
    events = dict(link_events(desk.shop.paylink, str(link_id))[1:])
    assert events["Sent"]["language"] == "en"
    (sent,) = cloud_api.api.sent
    assert (sent.template, sent.language, sent.to) == (
        "paylink_payment_request",
        "en",
        "6281234567890",
    )
    outbox = desk.shop.app.state.settings.data_dir / "outbox.jsonl"
    (mail,) = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert (mail["channel"], mail["to"]) == ("email", "budi@example.com")


def test_a_send_that_fails_leaves_the_link_and_says_so(
    desk: Desk, cloud_api: CloudApiServer
) -> None:
    del cloud_api.api.approved[("paylink_payment_request", "id")]
    owner = desk.signed_in()

    response = post(owner, "/dashboard/links", {**FORM, "notify_whatsapp": "081234567890"})

    link_id = created_link(desk, response)
    assert response.headers["location"].endswith("?notice=created_send_failed")
    ((name, event),) = link_events(desk.shop.paylink, str(link_id))
    assert name == "SendFailed"
    assert "132001" in event["reason"]
    desk.catch_up()
    page = owner.get(response.headers["location"]).text
    assert "ada pesan yang gagal dikirim" in page
    assert "Pengiriman lewat whatsapp ke +628" in page
    assert "gagal. Alasan: whatsapp: HTTP 404" in page


def test_the_settings_page_sets_this_merchants_alerts_and_reminders_only(desk: Desk) -> None:
    owner = desk.signed_in()
    page = owner.get("/dashboard/settings/messages")
    assert page.status_code == 200
    assert "Dikirim ke" in page.text

    alerts = post(
        owner,
        "/dashboard/settings/alerts",
        {
            "link_expired": "on",
            "webhook_failing": "on",
            "payout_failed": "on",
            "webhook_failures": "3",
            "email": "keuangan@tokobudi.example",
            "language": "en",
        },
    )
    reminders = post(owner, "/dashboard/settings/reminders", {"reminders": "2d 3h"})

    assert alerts.status_code == 303, field_errors(alerts.text) or alerts.text
    assert reminders.status_code == 303, field_errors(reminders.text) or reminders.text
    mine = desk.shop.paylink.messages.settings(desk.merchant_id)
    assert mine.alerts.to_dict() == {
        "payment_received": False,
        "link_expired": True,
        "webhook_failing": True,
        "payout_paid": False,
        "payout_failed": True,
        "webhook_failures": 3,
        "email": "keuangan@tokobudi.example",
        "language": "en",
    }
    assert mine.reminders == [2 * 86400, 3 * 3600]
    theirs = desk.shop.paylink.messages.settings(desk.other_merchant)
    assert (theirs.alerts.payment_received, theirs.reminders) == (True, [])
    shown = owner.get(alerts.headers["location"]).text
    assert "Pengaturan notifikasi disimpan." in shown
    assert "keuangan@tokobudi.example" in shown
    assert 'value="2d, 3h"' in owner.get("/dashboard/settings/messages").text


NEW_LINK = "/dashboard/links"
ALERTS = "/dashboard/settings/alerts"
REMINDERS = "/dashboard/settings/reminders"


@pytest.mark.parametrize(
    ("path", "form", "field", "message"),
    [
        (NEW_LINK, {**FORM, "notify_whatsapp": "0812"}, "notify_whatsapp", "bukan nomor telepon"),
        (NEW_LINK, {**FORM, "notify_email": "budi@"}, "notify_email", "bukan alamat e-mail"),
        (
            NEW_LINK,
            {**FORM, "reminders": "24h, sehari"},
            "reminders",
            "tulis waktu sebelum kedaluwarsa",
        ),
        (ALERTS, {"webhook_failures": "nol"}, "webhook_failures", "1 sampai"),
        (ALERTS, {"webhook_failures": "500"}, "webhook_failures", "1 sampai"),
        (ALERTS, {"webhook_failures": "5", "email": "x@"}, "email", "bukan alamat e-mail"),
        (REMINDERS, {"reminders": "1h, 1m"}, "reminders", "antara 5m dan 30d"),
    ],
)
def test_a_wrong_address_reminder_or_setting_is_named_beside_it_and_nothing_is_stored(
    desk: Desk, path: str, form: dict[str, Any], field: str, message: str
) -> None:
    owner = desk.signed_in()
    head = desk.shop.head()

    response = post(owner, path, form)

    assert response.status_code == 422, response.text
    errors = field_errors(response.text)
    assert message in errors[field], errors
    assert desk.shop.head() == head
    assert f'value="{form[field]}"' in response.text  # what was typed is kept


def test_a_viewer_sees_the_settings_but_cannot_change_them(desk: Desk) -> None:
    viewer = desk.signed_in(VIEWER)

    page = viewer.get("/dashboard/settings/messages")
    refused = post(viewer, "/dashboard/settings/reminders", {"reminders": "1h"})

    assert page.status_code == 200
    assert 'data-testid="save-alerts"' not in page.text
    assert refused.status_code == 403
    assert desk.shop.paylink.messages.settings(desk.merchant_id).reminders == []
