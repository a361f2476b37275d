"""On real SQLite and PostgreSQL: the lifecycle survives a restart, every event reads back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Recording

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import ReferenceReusedError
from paylink_es.domain.fields import Customer
from paylink_es.domain.money import Money
from paylink_es.domain.terms import LineItem
from paylink_es.settings import Settings


@dataclass(frozen=True)
class Lifecycle:
    """What one run through the lifecycle left behind."""

    merchant_id: UUID
    secret: str
    revoked_secret: str
    link_id: UUID
    payment_id: UUID
    open_link_id: UUID
    flagged_payment_id: UUID


FIRST_LINK: dict[str, Any] = {
    "description": "Kaos polos hitam\nukuran L",
    "reference_id": "INV-2026-0042",
    "methods": ["va_bca", "qris", "ewallet_ovo"],
    "expires_at": "2026-01-12T23:59:00+07:00",
    "usage_limit": 1,
    "line_items": [
        {"name": "Kaos polos hitam", "quantity": 2, "unit_amount": 62_500},
        {"name": "Ongkos kirim", "quantity": 1, "unit_amount": 25_000},
    ],
    "customer": {"name": "Budi", "email": "budi@example.com", "phone": "0812-3456-7890"},
    "success_url": "https://toko.example/terima-kasih",
    "metadata": {"order": "42", "catatan": "bungkus kado"},
}


def run_lifecycle(app: Paylink, clock: FakeClock) -> Lifecycle:
    """Merchant, keys, a link sent, opened, paid, verified, settled and partly refunded."""
    merchant_id = app.merchants.register("Toko Budi", "budi@example.com")
    key = app.merchants.issue_key(merchant_id)
    revoked = app.merchants.issue_key(merchant_id, "live")
    app.merchants.revoke_key(merchant_id, revoked.key_id)
    clock.advance(timedelta(minutes=3))
    link_id = app.links.create(merchant_id, **FIRST_LINK)
    app.links.send(link_id, "email", "budi@example.com")
    app.links.open(link_id, "visitor-abc")
    clock.advance(timedelta(minutes=2))
    payment_id = app.payments.start(
        link_id,
        "va_bca",
        channel="bca",
        instructions={"va_number": "8808123456789012"},
        expires_at=clock() + timedelta(hours=6),
    )
    clock.advance(timedelta(minutes=7))
    app.payments.record(
        payment_id,
        "BCA-20260105-0001",
        Money(150_000, "IDR"),
        datetime.fromisoformat("2026-01-05T10:11:59+07:00"),
    )
    app.payments.verify(payment_id, Money(4_000, "IDR"), {"inquiry": "PAID", "rrn": "123456"})
    app.money.settle_payment(payment_id, uuid4(), date(2026, 1, 6))
    app.money.refund(payment_id, Money(10_000, "IDR"), "ongkos kirim dikembalikan")

    open_link_id = app.links.create(
        merchant_id, description="Donasi", amount_min=10_000, amount_max=1_000_000, usage_limit=None
    )
    flagged_payment_id = app.payments.start(open_link_id, "qris", amount=50_000)
    app.payments.record(flagged_payment_id, "QR-9", Money(50_001, "IDR"), clock())
    app.links.cancel(open_link_id, "kampanye selesai")
    return Lifecycle(
        merchant_id=merchant_id,
        secret=key.secret,
        revoked_secret=revoked.secret,
        link_id=link_id,
        payment_id=payment_id,
        open_link_id=open_link_id,
        flagged_payment_id=flagged_payment_id,
    )


def test_the_whole_lifecycle_survives_reopening_the_app(
    backend_app: Paylink, backend_settings: Settings, clock: FakeClock
) -> None:
    done = run_lifecycle(backend_app, clock)
    link = backend_app.links.get(done.link_id)
    payment = backend_app.payments.get(done.payment_id)
    assert (link.status, link.uses, link.collected) == ("completed", 1, 150_000)
    assert (payment.status, payment.refunded) == ("settled", Money(10_000, "IDR"))

    reopened = open_paylink(backend_settings, clock=clock)
    try:
        assert (
            reopened.app.recorder.max_notification_id()
            == backend_app.app.recorder.max_notification_id()
        )
        assert reopened.links.get(done.link_id) == link
        assert reopened.payments.get(done.payment_id) == payment
        assert reopened.links.get(done.open_link_id) == backend_app.links.get(done.open_link_id)
        flagged = reopened.payments.get(done.flagged_payment_id)
        assert (flagged.anomaly, flagged.disposition) == ("overpaid", "needs_review")
        assert reopened.links.id_for_code(link.code) == done.link_id
        assert reopened.merchants.name(done.merchant_id) == "Toko Budi"
        assert reopened.merchants.authenticate(done.secret).merchant_id == done.merchant_id
        with pytest.raises(Exception, match="revoked"):
            reopened.merchants.authenticate(done.revoked_secret)
        # The repeat create and the duplicate report are still recognised after a restart.
        again = reopened.links.create(done.merchant_id, **FIRST_LINK)
        assert again == done.link_id
        with pytest.raises(ReferenceReusedError):
            reopened.links.create(done.merchant_id, **{**FIRST_LINK, "usage_limit": 2})
        repeat = reopened.payments.record(
            done.payment_id, "BCA-20260105-0001", Money(150_000, "IDR"), clock()
        )
        assert (repeat.duplicate, repeat.payment_id) == (True, done.payment_id)
        # What the reopened app writes, the first one reads.
        reopened.money.refund(done.payment_id, Money(5_000, "IDR"), "diskon")
        assert backend_app.payments.get(done.payment_id).refunded == Money(15_000, "IDR")
    finally:
        reopened.close()


def assert_same_value(decoded: object, original: object, where: str) -> None:
    """Equal, and of exactly the same type all the way down (no float, str or naive drift)."""
    assert type(decoded) is type(original), f"{where}: {type(decoded)} != {type(original)}"
    if isinstance(original, dict):
        assert isinstance(decoded, dict)
        assert sorted(decoded) == sorted(original), where
        for key, value in original.items():
            assert_same_value(decoded[key], value, f"{where}.{key}")
    elif isinstance(original, list | tuple):
        assert isinstance(decoded, list | tuple)
        assert len(decoded) == len(original), where
        for index, (got, want) in enumerate(zip(decoded, original, strict=True)):
            assert_same_value(got, want, f"{where}[{index}]")
    elif isinstance(original, datetime):
        assert isinstance(decoded, datetime)
        assert decoded.tzinfo is not None, f"{where}: naive after decoding"
        assert decoded == original, where
        assert decoded.utcoffset() == original.utcoffset(), where
    elif is_dataclass(original):
        for item in fields(original):
            assert_same_value(
                getattr(decoded, item.name), getattr(original, item.name), f"{where}.{item.name}"
            )
    else:
        assert decoded == original, where


def test_every_stored_event_round_trips_exactly(
    backend_app: Paylink, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    produced: list[Any] = []
    put = backend_app.app.events.put  # every write goes through here, group commit or not

    def recording_put(*args: Any, **kwargs: Any) -> list[Recording[UUID]]:
        recordings = put(*args, **kwargs)
        produced.extend(recording.domain_event for recording in recordings)
        return recordings

    monkeypatch.setattr(backend_app.app.events, "put", recording_put)
    run_lifecycle(backend_app, clock)

    stored = backend_app.app.recorder.select_notifications(start=1, limit=1000)
    assert len(stored) == len(produced) >= 25
    for notification, original in zip(stored, produced, strict=True):
        where = notification.topic
        decoded = backend_app.app.mapper.to_domain_event(notification)
        again = backend_app.app.mapper.to_stored_event(decoded)
        assert again.topic == notification.topic, where
        assert again.state == notification.state, where
        assert again.originator_id == notification.originator_id, where
        assert again.originator_version == notification.originator_version, where
        assert type(decoded) is type(original), where
        assert_same_value(decoded.__dict__, original.__dict__, where)


def test_domain_values_come_back_as_domain_types(backend_app: Paylink, clock: FakeClock) -> None:
    """Guards the round-trip test above: it would pass vacuously if no event held these."""
    run_lifecycle(backend_app, clock)
    seen: dict[type, Callable[[Any], bool]] = {
        Money: lambda money: type(money.amount) is int,
        LineItem: lambda item: type(item.unit_amount) is int,
        Customer: lambda customer: customer.phone == "+6281234567890",
        UUID: lambda _: True,
        datetime: lambda moment: moment.tzinfo is not None,
    }
    found: dict[type, int] = dict.fromkeys(seen, 0)

    def visit(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
        for kind, check in seen.items():
            if type(value) is kind:
                assert check(value), value
                found[kind] += 1

    for notification in backend_app.app.recorder.select_notifications(start=1, limit=1000):
        visit(backend_app.app.mapper.to_domain_event(notification).__dict__)
    assert all(found.values()), found
    assert b"150000.0" not in b"".join(
        n.state for n in backend_app.app.recorder.select_notifications(start=1, limit=1000)
    )
