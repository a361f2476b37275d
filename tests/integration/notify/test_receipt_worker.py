"""Receipts after verification, sent by the messages worker: to the contacts the link was
sent to (in the language it went in), else to the customer's; once per payment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from paylink_es.domain.money import Money
from paylink_es.notify import NewLinkMessages
from tests.integration.notify.support import BASE_URL, Messaging, link_events


def link_for(world: Messaging, **fields: Any) -> UUID:
    merchant = world.paylink.merchants.register("Toko Budi")  # no address: no alerts
    return world.paylink.links.create(
        merchant, amount=150_000, description="Kaos polos hitam", **fields
    )


def paid(world: Messaging, link: UUID, amount: int = 150_000, verify: bool = True) -> UUID:
    payment = world.paylink.payments.start(link, "qris")
    world.paylink.payments.record(payment, f"ref-{payment}", Money(amount, "IDR"), world.clock())
    if verify:
        world.paylink.payments.verify(payment)
    return payment


def test_a_receipt_goes_once_after_verification_to_where_the_link_went(
    messaging: Messaging,
) -> None:
    link = link_for(messaging)
    asked = NewLinkMessages.check(
        {"email": "budi@example.com", "whatsapp": "081234567890"}, None, "en"
    )
    messaging.messenger.created(messaging.paylink.links.get(link), asked, by="key_1")
    payment = paid(messaging, link, verify=False)
    messaging.clock.advance(timedelta(minutes=1))

    assert messaging.tick() == 0  # received, not verified yet
    messaging.paylink.payments.verify(payment)
    assert messaging.tick() == 2
    assert messaging.tick() == 0  # once

    receipt = messaging.mailbox.received[-1]
    assert receipt.recipients == ["budi@example.com"]
    assert receipt.mail["Subject"] == "Payment received: IDR 150,000 to Toko Budi"
    text = receipt.part("plain")
    url = f"{BASE_URL}/l/{messaging.paylink.links.get(link).code}/p/{payment}"
    assert url in text
    assert "Paid at: 5 January 2026, 10:00 WIB" in text
    assert "View receipt" in receipt.part("html")
    template = messaging.cloud.sent[-1]
    assert (template.template, template.language) == ("paylink_payment_receipt", "en")
    assert template.parameters == ("Toko Budi", "IDR 150,000", url, "5 January 2026, 10:00 WIB")
    events = link_events(messaging.paylink, str(link))
    assert [e["payment_id"] for name, e in events if name == "Receipted"] == [payment]
    sent = [(e["kind"], e["channel"]) for name, e in events if name == "MessageSent"]
    assert sent == [("receipt", "email"), ("receipt", "whatsapp")]


def test_a_link_never_sent_gets_its_receipt_to_the_customers_email_in_indonesian(
    messaging: Messaging,
) -> None:
    link = link_for(messaging, customer={"name": "Siti", "email": "siti@example.com"})
    paid(messaging, link)

    assert messaging.tick() == 1
    (receipt,) = messaging.mailbox.received
    assert receipt.recipients == ["siti@example.com"]
    assert receipt.mail["Subject"] == "Pembayaran diterima: Rp 150.000 untuk Toko Budi"
    assert messaging.cloud.sent == []


def test_no_receipt_without_a_contact_nor_for_money_the_link_did_not_count(
    messaging: Messaging,
) -> None:
    nobody = link_for(messaging)
    paid(messaging, nobody)
    overpaid = link_for(messaging, customer={"email": "siti@example.com"})
    paid(messaging, overpaid, amount=175_000)  # held for review: not a use of the link

    assert messaging.tick() == 0
    assert messaging.mailbox.received == []
    assert "Receipted" not in [name for name, _ in link_events(messaging.paylink, str(nobody))]


def test_a_receipt_that_cannot_be_delivered_is_recorded_as_failed(messaging: Messaging) -> None:
    link = link_for(messaging, customer={"email": "siti@example.com"})
    paid(messaging, link)
    messaging.mailbox.replies.append("550 5.1.1 no such mailbox")

    assert messaging.tick() == 0
    assert messaging.tick() == 0  # decided once: not tried again
    events = link_events(messaging.paylink, str(link))
    failed = [e for name, e in events if name == "MessageFailed"]
    assert [(e["kind"], e["channel"], e["recipient"]) for e in failed] == [
        ("receipt", "email", "s***@example.com")
    ]
    assert "550" in failed[0]["reason"]


def test_a_receipt_whose_payment_is_older_than_the_limit_is_not_sent(
    messaging: Messaging,
) -> None:
    link = link_for(messaging, customer={"email": "siti@example.com"})
    paid(messaging, link)
    messaging.clock.advance(timedelta(hours=25))

    assert messaging.tick(max_age_s=24 * 3600) == 0
    assert messaging.mailbox.received == []
    rows = messaging.views["messages"].view.query("SELECT cause FROM {s}messages_due")
    assert rows == []
