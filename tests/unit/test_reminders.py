"""Reminders, receipts and alert settings as the domain decides them: pure, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.domain.alerts import AlertPreferences, check_alert_preferences
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import Money
from paylink_es.domain.reminders import check_reminders, due_reminder, written

T0 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
HOUR, DAY = 3600, 86400


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        (["24h", "1h"], [DAY, HOUR]),
        (["30m", "2d"], [2 * DAY, 1800]),
        ([" 90M "], [5400]),
        ([HOUR, "2h"], [2 * HOUR, HOUR]),
        ([], []),
    ],
)
def test_a_schedule_is_read_as_seconds_the_earliest_reminder_first(
    given: list[str], seconds: list[int]
) -> None:
    assert check_reminders(given) == seconds


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ("24h", "reminders"),
        (["24h", "1 hour"], "reminders[1]"),
        (["24h", 1.5], "reminders[1]"),
        (["24h", True], "reminders[1]"),
        (["1m"], "reminders[0]"),
        (["31d"], "reminders[0]"),
        (["1h", "60m"], "reminders[1]"),
        (["1h", "2h", "3h", "4h", "5h", "6h"], "reminders"),
    ],
)
def test_a_schedule_that_is_not_one_is_refused_naming_the_entry(given: object, field: str) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        check_reminders(given)
    assert raised.value.field == field


def test_a_time_is_written_in_days_from_two_days_up_else_hours_else_minutes() -> None:
    assert [written(s) for s in (3 * DAY, DAY, 2 * HOUR, 5400, 1800)] == [
        "3d",
        "24h",
        "2h",
        "90m",
        "30m",
    ]


def test_the_reminder_nearest_the_expiry_is_sent_and_earlier_ones_are_passed_over() -> None:
    expires = T0 + timedelta(days=3)
    schedule = [DAY, HOUR]

    assert due_reminder(schedule, [], expires, T0, expires - timedelta(days=2)) is None
    assert due_reminder(schedule, [], expires, T0, expires - timedelta(hours=20)) == (DAY, [])
    assert due_reminder(schedule, [DAY], expires, T0, expires - timedelta(hours=2)) is None
    assert due_reminder(schedule, [], expires, T0, expires - timedelta(minutes=30)) == (HOUR, [DAY])
    assert due_reminder(schedule, [DAY, HOUR], expires, T0, expires - timedelta(minutes=1)) is None
    assert due_reminder(schedule, [], expires, T0, expires) is None  # at the expiry: too late
    assert due_reminder(schedule, [], None, T0, expires) is None


def test_a_reminder_whose_time_came_before_the_link_was_made_is_never_due() -> None:
    created = T0
    expires = created + timedelta(hours=2)  # the one-day reminder's time was yesterday

    assert due_reminder([DAY, HOUR], [], expires, created, created + timedelta(minutes=1)) is None
    assert due_reminder([DAY, HOUR], [], expires, created, expires - timedelta(minutes=59)) == (
        HOUR,
        [],
    )


def sent_link(
    app: Paylink, new_link: Callable[..., UUID], clock: FakeClock, reminders: list[str]
) -> UUID:
    link_id = new_link(expires_at=clock() + timedelta(days=2))
    app.messages.schedule_reminders(link_id, reminders, by="key_1")
    app.links.send(link_id, "email", "budi@example.com", language="en")
    return link_id


def test_a_link_is_reminded_once_per_reminder_and_never_after_a_payment(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id = sent_link(memory_app, new_link, clock, ["24h", "1h"])

    assert memory_app.messages.remind(link_id) is None  # not yet
    clock.advance(timedelta(days=1, minutes=1))
    first = memory_app.messages.remind(link_id)
    assert first is not None
    assert (first.kind, first.about, [r.to for r in first.recipients]) == (
        "reminder",
        "24h",
        ["budi@example.com"],
    )
    assert first.recipients[0].language == "en"
    assert memory_app.messages.remind(link_id) is None  # once
    payment = memory_app.payments.start(link_id, "qris")
    memory_app.payments.record(payment, "ch-1", Money(150_000, "IDR"), clock())
    memory_app.payments.verify(payment)
    clock.advance(timedelta(hours=23, minutes=30))
    assert memory_app.messages.remind(link_id) is None  # paid: no more reminders


@pytest.mark.parametrize("closing", ["cancel", "deactivate"])
def test_a_cancelled_or_deactivated_link_is_not_reminded(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock, closing: str
) -> None:
    link_id = sent_link(memory_app, new_link, clock, ["1h"])
    if closing == "cancel":
        memory_app.links.cancel(link_id, "no longer needed", by="key_1")
    else:
        memory_app.links.deactivate(link_id, None, by="key_1")
    clock.advance(timedelta(days=1, hours=23, minutes=30))

    assert memory_app.messages.remind(link_id) is None


def test_a_link_sent_to_nobody_has_no_reminder_and_one_without_its_own_takes_the_default(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    unsent = new_link(expires_at=clock() + timedelta(days=2))
    memory_app.messages.schedule_reminders(unsent, ["1h"], by=None)
    merchant = memory_app.links.get(unsent).merchant_id
    memory_app.messages.set_reminders(merchant, ["2h"])
    defaulted = new_link(expires_at=clock() + timedelta(days=2))
    memory_app.links.send(
        defaulted,
        "sms",
        "+6281234567890",
        reminders=memory_app.messages.settings(merchant).reminders,
    )
    clock.advance(timedelta(days=1, hours=22, minutes=30))

    assert memory_app.messages.remind(unsent) is None
    reminded = memory_app.messages.remind(defaulted)
    assert reminded is not None
    assert (reminded.about, reminded.recipients[0].channel) == ("2h", "sms")


def test_a_receipt_is_due_once_per_payment_the_link_counted(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id = new_link(customer={"name": "Budi", "email": "budi@example.com"})
    payment = memory_app.payments.start(link_id, "qris")
    memory_app.payments.record(payment, "ch-1", Money(150_000, "IDR"), clock())

    assert memory_app.messages.receipt(link_id, payment) is None  # not verified yet
    memory_app.payments.verify(payment)
    receipt = memory_app.messages.receipt(link_id, payment)
    assert receipt is not None
    assert receipt.payment is not None
    assert receipt.payment.id == payment
    assert [(r.channel, r.to) for r in receipt.recipients] == [("email", "budi@example.com")]
    assert memory_app.messages.receipt(link_id, payment) is None


def test_alert_preferences_are_checked_naming_the_field() -> None:
    assert check_alert_preferences({}) == AlertPreferences()
    assert check_alert_preferences({"link_expired": False, "webhook_failures": 3}) == (
        AlertPreferences(link_expired=False, webhook_failures=3)
    )
    for given, field in [
        ({"payment_received": "yes"}, "payment_received"),
        ({"webhook_failures": 0}, "webhook_failures"),
        ({"webhook_failures": True}, "webhook_failures"),
        ({"email": "not an address"}, "email"),
        ({"language": "fr"}, "language"),
        ({"sms": True}, "sms"),
    ]:
        with pytest.raises(InvalidFieldError) as raised:
            check_alert_preferences(given)
        assert raised.value.field == field
