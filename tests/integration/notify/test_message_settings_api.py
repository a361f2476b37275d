"""``/v1/merchant/alerts`` and ``/v1/merchant/reminders``: each merchant's own settings,
checked naming the field, and what links sent afterwards take."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from tests.integration.api.support import assert_problem
from tests.integration.notify.support import link_events
from tests.support.app import Api, MakeApi


def alerts(api: Api, merchant: int = 0, **kwargs: Any) -> Any:
    headers = api.merchants[merchant].headers()
    if "json" in kwargs:
        return api.client.put("/v1/merchant/alerts", headers=headers, **kwargs)
    return api.client.get("/v1/merchant/alerts", headers=headers)


def test_alert_settings_are_each_merchants_own_and_default_to_all_on(
    make_send_api: MakeApi,
) -> None:
    api = make_send_api()
    api.merchant("Toko A")
    api.merchant("Toko B")

    changed = alerts(
        api, json={"payment_received": False, "webhook_failures": 3, "email": "fin@a.example"}
    )

    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "object": "merchant_alerts",
        "payment_received": False,
        "link_expired": True,
        "webhook_failing": True,
        "webhook_failures": 3,
        "payout_paid": True,
        "payout_failed": True,
        "email": "fin@a.example",
        "language": "id",
        "address": "fin@a.example",
    }
    assert alerts(api).json() == changed.json()
    other = alerts(api, merchant=1).json()
    assert (other["payment_received"], other["email"], other["address"]) == (
        True,
        None,
        "1@example.com",  # the address Toko B registered with
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"webhook_failures": 0}, "webhook_failures"),
        ({"payment_received": "maybe"}, "payment_received"),
        ({"email": "not-an-address"}, "email"),
        ({"language": "fr"}, "language"),
        ({"sms": True}, "sms"),
    ],
)
def test_an_alert_setting_that_is_not_one_is_a_422_naming_it_and_changes_nothing(
    make_send_api: MakeApi, body: dict[str, Any], field: str
) -> None:
    api = make_send_api()
    api.merchant()
    before = api.head()

    assert_problem(alerts(api, json=body), 422, field=field)
    assert api.head() == before
    assert alerts(api).json()["webhook_failures"] == 5


def test_default_reminders_go_to_links_sent_without_their_own(make_send_api: MakeApi) -> None:
    api = make_send_api()
    merchant = api.merchant()
    headers = merchant.headers()

    refused = api.client.put(
        "/v1/merchant/reminders", json={"reminders": ["2h", "7"]}, headers=headers
    )
    put = api.client.put(
        "/v1/merchant/reminders", json={"reminders": ["2h", "2d"]}, headers=headers
    )
    expiry = (api.clock() + timedelta(days=3)).isoformat()
    own = api.create_link(
        merchant, expires_at=expiry, reminders=["30m"], notify={"sms": "0812345678"}
    )
    default = api.create_link(merchant, expires_at=expiry, notify={"sms": "081234567890"})

    assert_problem(refused, 422, field="reminders[1]")
    assert put.json() == {"object": "merchant_reminders", "reminders": ["2d", "2h"]}
    got = api.client.get("/v1/merchant/reminders", headers=headers).json()
    assert got["reminders"] == ["2d", "2h"]
    scheduled = [
        [
            e["reminders"]
            for name, e in link_events(api.paylink, link["id"])
            if name == "RemindersScheduled"
        ]
        for link in (own, default)
    ]
    assert scheduled == [[[1800]], [[172800, 7200]]]
    assert api.paylink.links.get(UUID(default["id"])).sent_count == 1
