"""Alerts e-mailed to merchants by the messages worker: as each merchant's preferences say,
to its own address only, at most once per cause."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.money import Money
from paylink_es.notify import Messenger
from paylink_es.settings import Settings
from tests.integration.notify.conftest import SmtpServer, messaging_settings
from tests.integration.notify.support import BASE_URL, Messaging
from tests.support.whatsapp_counterpart import CloudApiServer
from workers.settlement import settle_day


def verified(world: Messaging, merchant: UUID, description: str, amount: int = 150_000) -> UUID:
    paylink = world.paylink
    link = paylink.links.create(merchant, amount=amount, description=description)
    payment = paylink.payments.start(link, "va_bca")
    paylink.payments.record(payment, f"ref-{payment}", Money(amount, "IDR"), world.clock())
    paylink.payments.verify(payment)
    return payment


def raised(world: Messaging) -> list[tuple[str, str]]:
    """(kind, cause) of every alert raised so far."""
    return [
        (alert["kind"], alert["cause"])
        for n in world.paylink.app.recorder.select_notifications(start=1, limit=100_000)
        if n.topic.endswith("MerchantAlert.Raised")
        for alert in [world.paylink.app.mapper.to_domain_event(n).__dict__]
    ]


def test_each_merchant_gets_the_alerts_it_wants_at_its_own_address_once(
    messaging: Messaging,
) -> None:
    paylink = messaging.paylink
    toko_a = paylink.merchants.register("Toko A", "owner@a.example")
    toko_b = paylink.merchants.register("Toko B", "owner@b.example")
    paylink.messages.set_alerts(toko_a, {"email": "finance@a.example", "language": "en"})
    paylink.messages.set_alerts(toko_b, {"payment_received": False})
    payment_a = verified(messaging, toko_a, "Order A-1")
    verified(messaging, toko_b, "Order B-1")

    assert messaging.tick() == 1
    assert messaging.tick() == 0  # once

    (alert,) = messaging.mailbox.received
    assert alert.recipients == ["finance@a.example"]
    assert alert.mail["Subject"] == "[TEST] Payment received: IDR 150,000 for Order A-1"
    text = alert.part("plain")
    assert text.startswith("Hello Toko A,")
    assert "IDR 150,000" in text
    assert f"{BASE_URL}/dashboard/payments" in text
    assert f"{BASE_URL}/dashboard/settings/messages" in text
    assert "Order B-1" not in text
    assert "Toko B" not in text
    assert raised(messaging) == [("payment_received", f"payment_received:{payment_a}")]


def test_a_preference_set_after_the_payment_does_not_undo_it_and_one_set_before_holds(
    messaging: Messaging,
) -> None:
    paylink = messaging.paylink
    toko = paylink.merchants.register("Toko C", "owner@c.example")
    verified(messaging, toko, "Before")  # wanted when it happened
    paylink.messages.set_alerts(toko, {"payment_received": False})
    verified(messaging, toko, "After")  # not wanted when it happened

    assert messaging.tick() == 1
    assert messaging.subjects() == ["[TES] Pembayaran diterima: Rp 150.000 untuk Before"]


def test_a_merchant_without_an_address_gets_no_alert(messaging: Messaging) -> None:
    toko = messaging.paylink.merchants.register("Toko Tanpa Email")
    verified(messaging, toko, "Order")

    assert messaging.tick() == 0
    assert messaging.mailbox.received == []
    assert raised(messaging) == []


def test_a_link_that_expired_unpaid_is_alerted_and_one_that_took_money_is_not(
    messaging: Messaging,
) -> None:
    paylink = messaging.paylink
    toko = paylink.merchants.register("Toko Kilat", "owner@kilat.example")
    expiry = messaging.clock() + timedelta(hours=1)
    unpaid = paylink.links.create(toko, amount=50_000, description="Unpaid", expires_at=expiry)
    paid = paylink.links.create(
        toko, amount=50_000, description="Paid", expires_at=expiry, usage_limit=None
    )
    payment = paylink.payments.start(paid, "qris")
    paylink.payments.record(payment, "ref-paid", Money(50_000, "IDR"), messaging.clock())
    messaging.clock.advance(timedelta(hours=1, minutes=1))
    assert paylink.links.expire(unpaid)
    assert paylink.links.expire(paid)

    assert messaging.tick() == 1
    (alert,) = messaging.mailbox.received
    assert alert.mail["Subject"] == "[TES] Tautan berakhir tanpa dibayar: Unpaid"
    assert f"{BASE_URL}/dashboard/links/{unpaid}" in alert.part("plain")
    assert "5 Januari 2026 11.00 WIB" in alert.part("plain")


def test_an_endpoint_failing_n_times_in_a_row_is_alerted_once_a_run(
    messaging: Messaging,
) -> None:
    paylink = messaging.paylink
    toko = paylink.merchants.register("Toko Hook", "dev@hook.example")
    paylink.messages.set_alerts(toko, {"webhook_failures": 3})
    endpoint = paylink.webhooks.create_endpoint(
        toko, "test", "http://127.0.0.1:9/hooks", None, allow_private=True
    ).endpoint_id

    def attempt(position: int, status: int | None) -> None:
        error = None if status is not None else "connection refused"
        paylink.webhooks.record_delivery_attempt(endpoint, toko, position, status, error, None)

    attempt(1, 500)
    attempt(2, None)
    assert messaging.tick() == 0  # two in a row: not yet
    attempt(1, 502)
    assert messaging.tick() == 1
    attempt(3, 500)  # still the same run: no second alert
    assert messaging.tick() == 0
    attempt(4, 200)  # a delivery got through: the run is over
    for position in (5, 6, 7):
        attempt(position, 503)
    assert messaging.tick() == 1

    first, second = messaging.mailbox.received
    assert first.mail["Subject"] == "[TES] Webhook gagal 3 kali berturut-turut"
    assert "http://127.0.0.1:9/hooks" in first.part("plain")
    assert "HTTP 502" in first.part("plain")
    assert "HTTP 503" in second.part("plain")
    causes = [cause for _, cause in raised(messaging)]
    assert len(set(causes)) == 2


def test_payouts_paid_and_failed_are_alerted_as_the_merchant_wants(
    messaging: Messaging,
) -> None:
    paylink = messaging.paylink
    toko = paylink.merchants.register("Toko Cair", "owner@cair.example")
    paylink.messages.set_alerts(toko, {"payment_received": False})
    verified(messaging, toko, "Order", amount=204_000)
    messaging.tick()
    settle_day(paylink, messaging.views, date(2026, 1, 6))
    paylink.merchants.set_bank_account(toko, "BCA", "1234567890", "Toko Cair")
    done = paylink.money.request_payout(toko, "test", Money(100_000, "IDR"))
    paylink.merchants.set_bank_account(toko, "BCA", "9990000", "Toko Cair")  # the sandbox fails
    failed = paylink.money.request_payout(toko, "test", Money(50_000, "IDR"))
    assert (done.status, failed.status) == ("paid_out", "failed")

    assert messaging.tick() == 2
    paid_mail, failed_mail = sorted(messaging.mailbox.received, key=lambda r: r.mail["Subject"])
    assert paid_mail.mail["Subject"] == "[TES] Pencairan berhasil: Rp 100.000"
    assert "BCA ****7890" in paid_mail.part("plain")
    assert failed_mail.mail["Subject"] == "[TES] Pencairan gagal: Rp 50.000"
    assert "sandbox" in failed_mail.part("plain")
    assert sorted(kind for kind, _ in raised(messaging)) == ["payout_failed", "payout_paid"]


def test_an_alert_raised_by_one_process_is_not_sent_by_another(
    messaging: Messaging, backend_settings: Settings, smtp: SmtpServer, cloud_api: CloudApiServer
) -> None:
    toko = messaging.paylink.merchants.register("Toko Dua", "owner@dua.example")
    payment = verified(messaging, toko, "Order")
    cause = f"payment_received:{payment}"
    settings = messaging_settings(backend_settings, smtp, cloud_api)
    with open_paylink(settings, clock=messaging.clock) as other:
        elsewhere = Messenger(other, messaging.messenger.notifications, BASE_URL)
        sent = [
            messenger.alert(toko, "test", "payment_received", cause, str(payment), {})
            for messenger in (messaging.messenger, elsewhere)
        ]

    assert sent == [True, False]
    assert len(messaging.mailbox.received) == 1
