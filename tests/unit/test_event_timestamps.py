"""Every event is stamped by the application's clock, so a fake clock fixes history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money


def stamped(app: Paylink) -> list[tuple[str, datetime]]:
    """(event class name, timestamp) of every stored event, in order."""
    events = [
        app.app.mapper.to_domain_event(n)
        for n in app.app.recorder.select_notifications(start=1, limit=1000)
    ]
    return [(type(event).__qualname__, event.__dict__["timestamp"]) for event in events]


def test_events_carry_the_fake_clocks_time_not_the_wall_clocks(
    memory_app: Paylink, clock: FakeClock, link_request: dict[str, Any]
) -> None:
    app = memory_app
    start = clock()
    merchant_id = app.merchants.register("Toko Budi")
    clock.advance(timedelta(minutes=5))
    link_id = app.links.create(merchant_id, **link_request)
    clock.advance(timedelta(hours=2))
    payment_id = app.payments.start(link_id, "qris")
    clock.advance(timedelta(seconds=30))
    app.payments.record(payment_id, "QR-1", Money(150_000, "IDR"), clock() - timedelta(seconds=5))
    minutes = timedelta(minutes=1)
    at_create, at_start = start + 5 * minutes, start + 125 * minutes
    at_record = at_start + timedelta(seconds=30)
    assert stamped(app) == [
        ("Merchant.Registered", start),
        ("PaymentLink.Created", at_create),
        ("LinkCodeIndex.Indexed", at_create),
        ("Payment.Initiated", at_start),
        ("Payment.Received", at_record),
        ("ChannelPaymentIndex.Indexed", at_record),
    ]
    assert app.links.get(link_id).created_at == at_create


def test_the_received_at_of_a_payment_is_the_clocks_and_paid_at_the_channels(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    payment_id = memory_app.payments.start(new_link(), "qris")
    clock.advance(timedelta(minutes=10))
    paid_at = datetime(2026, 1, 5, 10, 3, tzinfo=UTC)  # the channel's own clock, +07:00 local
    memory_app.payments.record(payment_id, "QR-1", Money(150_000, "IDR"), paid_at)
    received = next(
        memory_app.app.mapper.to_domain_event(n)
        for n in memory_app.app.recorder.select_notifications(start=1, limit=1000)
        if n.topic.endswith("Payment.Received")
    )
    assert received.__dict__["received_at"] == clock()
    assert received.__dict__["paid_at"] == paid_at
    assert memory_app.payments.get(payment_id).paid_at == paid_at


def test_two_apps_keep_their_own_clocks() -> None:
    early = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    late = FakeClock(datetime(2026, 6, 1, tzinfo=UTC))
    first = Paylink.open({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=early)
    second = Paylink.open({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=late)
    first.merchants.register("Toko A")
    second.merchants.register("Toko B")
    assert [at for _, at in stamped(first)] == [early()]
    assert [at for _, at in stamped(second)] == [late()]
    first.close()
    second.close()
