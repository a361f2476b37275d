"""Reminders before a link expires, sent by the messages worker on a fake clock: at their
time, once, by every channel the link went; never once the link is paid, cancelled,
deactivated or expired; two workers at once still send one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.money import Money
from paylink_es.notify import Messenger, NewLinkMessages
from paylink_es.settings import Settings
from tests.integration.notify.conftest import SmtpServer, messaging_settings
from tests.integration.notify.support import BASE_URL, Messaging, link_events
from tests.support.read_models import catch_up
from tests.support.whatsapp_counterpart import CloudApiServer
from workers.messages import send_due


def sent_link(
    world: Messaging, reminders: list[str], *, whatsapp: bool = True, hours: int = 48
) -> UUID:
    """A link expiring in ``hours``, e-mailed (and sent on WhatsApp) in English."""
    paylink = world.paylink
    merchant = paylink.merchants.register("Toko Budi", "owner@toko.example")
    link = paylink.links.create(
        merchant,
        amount=150_000,
        description="Kaos polos hitam",
        expires_at=world.clock() + timedelta(hours=hours),
    )
    notify = {"email": "budi@example.com", **({"whatsapp": "081234567890"} if whatsapp else {})}
    asked = NewLinkMessages.check(notify, reminders, "en")
    world.messenger.created(paylink.links.get(link), asked, by="key_1")
    return link


def kinds(world: Messaging, link: UUID) -> list[str]:
    return [name for name, _ in link_events(world.paylink, str(link))]


def test_each_reminder_goes_once_at_its_time_by_every_channel_the_link_went(
    messaging: Messaging,
) -> None:
    link = sent_link(messaging, ["24h", "1h"])
    sent_on_create = len(messaging.mailbox.received)

    assert messaging.tick() == 0
    messaging.clock.advance(timedelta(hours=24, minutes=1))
    assert messaging.tick() == 2
    assert messaging.tick() == 0  # once
    messaging.clock.advance(timedelta(hours=23))
    assert messaging.tick() == 2

    reminders = messaging.mailbox.received[sent_on_create:]
    # The fake clock starts on 2026-01-05 10:00 WIB: the link ends two days later.
    subject = "Reminder: payment request from Toko Budi, valid until 7 January 2026, 10:00 WIB"
    assert [r.mail["Subject"] for r in reminders] == [subject, subject]
    assert all(r.recipients == ["budi@example.com"] for r in reminders)
    templates = [sent.template for sent in messaging.cloud.sent]
    assert templates == [
        "paylink_payment_request",
        "paylink_payment_reminder",
        "paylink_payment_reminder",
    ]
    reminder = messaging.cloud.sent[1]
    assert reminder.language == "en"
    assert reminder.parameters[:2] == ("Toko Budi", "IDR 150,000")
    assert reminder.parameters[2].startswith(f"{BASE_URL}/l/")
    assert reminder.parameters[3].endswith("WIB")
    events = link_events(messaging.paylink, str(link))
    reminded = [e for name, e in events if name == "Reminded"]
    assert [(e["before_s"], e["passed"]) for e in reminded] == [(86400, []), (3600, [])]
    sent = [(e["about"], e["channel"]) for name, e in events if name == "MessageSent"]
    assert sent == [("24h", "email"), ("24h", "whatsapp"), ("1h", "email"), ("1h", "whatsapp")]


def test_the_subject_says_when_the_link_ends_in_wib(messaging: Messaging) -> None:
    sent_link(messaging, ["1h"], whatsapp=False, hours=3)
    messaging.clock.advance(timedelta(hours=2, minutes=30))

    assert messaging.tick() == 1
    # The fake clock starts on 2026-01-05 10:00 WIB: the link ends at 13:00 WIB.
    assert messaging.subjects()[-1] == (
        "Reminder: payment request from Toko Budi, valid until 5 January 2026, 13:00 WIB"
    )
    assert "The payment request from Toko Budi is not paid yet" in (
        messaging.mailbox.received[-1].part("plain")
    )


def test_a_link_sent_too_late_for_its_first_reminders_gets_only_the_last(
    messaging: Messaging,
) -> None:
    link = sent_link(messaging, ["24h", "2h", "1h"], whatsapp=False, hours=30)
    messaging.clock.advance(timedelta(hours=29, minutes=30))  # every reminder's time passed

    assert messaging.tick() == 1
    reminded = [e for name, e in link_events(messaging.paylink, str(link)) if name == "Reminded"]
    assert [(e["before_s"], e["passed"]) for e in reminded] == [(3600, [86400, 7200])]


def pay(paylink: Paylink, link: UUID) -> None:
    payment = paylink.payments.start(link, "qris")
    paylink.payments.record(payment, f"ref-{payment}", Money(150_000, "IDR"), paylink.now())


CLOSINGS: dict[str, Callable[[Paylink, UUID], object]] = {
    "paid, not verified yet": pay,
    "cancelled": lambda paylink, link: paylink.links.cancel(link, "sold out", by="key_1"),
    "deactivated": lambda paylink, link: paylink.links.deactivate(link, None, by="key_1"),
}


@pytest.mark.parametrize("closing", list(CLOSINGS))
def test_a_link_paid_cancelled_or_deactivated_is_never_reminded(
    messaging: Messaging, closing: str
) -> None:
    link = sent_link(messaging, ["24h", "1h"])
    CLOSINGS[closing](messaging.paylink, link)
    before = (len(messaging.mailbox.received), len(messaging.cloud.sent))

    messaging.clock.advance(timedelta(hours=24, minutes=30))  # the one-day reminder's time
    assert messaging.tick() == 0
    messaging.clock.advance(timedelta(hours=23))  # the one-hour reminder's time
    assert messaging.tick() == 0

    assert (len(messaging.mailbox.received), len(messaging.cloud.sent)) == before
    assert "Reminded" not in kinds(messaging, link)
    kept = messaging.views["messages"].view.query(
        "SELECT before_s FROM {s}message_reminders WHERE link_id = ?", (str(link),)
    )
    # A deactivated link may come back; one paid or cancelled never will.
    assert len(kept) == (2 if closing == "deactivated" else 0)


def test_an_expired_link_is_never_reminded(messaging: Messaging) -> None:
    link = sent_link(messaging, ["1h"], hours=2)
    messaging.clock.advance(timedelta(hours=2, minutes=1))  # past the expiry, never ticked

    assert messaging.tick() == 0
    assert messaging.paylink.links.expire(link)
    assert messaging.tick() == 1  # the merchant's alert, not a reminder
    assert messaging.mailbox.received[-1].recipients == ["owner@toko.example"]
    assert messaging.subjects()[-1] == "[TES] Tautan berakhir tanpa dibayar: Kaos polos hitam"
    assert "Reminded" not in kinds(messaging, link)


def test_two_workers_at_once_send_a_reminder_once(
    messaging: Messaging,
    backend_settings: Settings,
    smtp: SmtpServer,
    cloud_api: CloudApiServer,
) -> None:
    link = sent_link(messaging, ["1h"], hours=3)
    messaging.clock.advance(timedelta(hours=2, minutes=5))
    settings = messaging_settings(backend_settings, smtp, cloud_api)
    with open_paylink(settings, clock=messaging.clock) as other:
        second = Messenger(other, messaging.messenger.notifications, BASE_URL)
        catch_up(messaging.paylink, messaging.views)
        barrier = threading.Barrier(4)
        counts: list[int] = []

        def run(messenger: Messenger) -> None:
            barrier.wait(timeout=30)
            counts.append(send_due(messenger, messaging.views, 86400))

        threads = [
            threading.Thread(target=run, args=(m,)) for m in (messaging.messenger, second) * 2
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert sum(counts) == 2  # one reminder, by e-mail and WhatsApp
    assert kinds(messaging, link).count("Reminded") == 1
    assert [s.template for s in messaging.cloud.sent].count("paylink_payment_reminder") == 1
