"""The messages worker inside a served app (a real uvicorn on 127.0.0.1, read models and
schedulers running): a link created over HTTP with ``notify`` and ``reminders`` is mailed
at once, and reminded when its time comes on the app's clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.integration.notify.conftest import SmtpServer, messaging_overrides
from tests.support.app import MakeServer, server_builder
from tests.support.whatsapp_counterpart import CloudApiServer


@pytest.fixture
def make_server(backend_settings: Settings, clock: FakeClock) -> Iterator[MakeServer]:
    """Serve apps on the test's store (stopped afterwards)."""
    with server_builder(backend_settings, clock) as build:
        yield build


def wait_for(condition: object, what: str, within_s: float = 30.0) -> None:
    """Poll ``condition()`` until it holds; fail naming ``what`` after ``within_s``."""
    assert callable(condition)
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {within_s:g} s"
        time.sleep(0.05)


def test_a_served_app_sends_the_link_at_once_and_its_reminder_on_time(
    make_server: MakeServer,
    smtp: SmtpServer,
    cloud_api: CloudApiServer,
    clock: FakeClock,
) -> None:
    server = make_server(**messaging_overrides(smtp, cloud_api), messages_every_s=0.05)
    merchant = server.paylink.merchants.register("Toko Budi", "owner@toko.example")
    key = server.paylink.merchants.issue_key(merchant, "test").secret
    body = {
        "amount": 150000,
        "description": "Kaos polos hitam",
        "expires_at": (clock() + timedelta(hours=3)).isoformat(),
        "notify": {"email": "budi@example.com", "whatsapp": "081234567890"},
        "reminders": ["1h"],
    }

    created = httpx.post(
        f"{server.url}/v1/links", json=body, headers={"Authorization": f"Bearer {key}"}
    )

    assert created.status_code == 201, created.text
    assert [n["status"] for n in created.json()["notifications"]] == ["sent", "sent"]
    mailbox = smtp[1]
    assert len(mailbox.received) == 1
    clock.advance(timedelta(hours=2, minutes=1))
    wait_for(lambda: len(mailbox.received) == 2, "reminder e-mail")
    wait_for(lambda: len(cloud_api.api.sent) == 2, "reminder on WhatsApp")
    subject = str(mailbox.received[1].mail["Subject"]).strip()
    assert subject.startswith("Pengingat: tagihan dari Toko Budi")
    assert cloud_api.api.sent[1].template == "paylink_payment_reminder"
