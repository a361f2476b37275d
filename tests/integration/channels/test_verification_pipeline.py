"""The one verification pipeline: the same steps, the same verdicts, for every channel.

Most of it is shown end to end through Winpay's and the sandbox's routes; here are the
cases those cannot stage: a channel whose inquiry fails and then answers, a recurring
VA paid twice, and the poller's schedule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.application.channel_port import (
    ChannelStatus,
    Notification,
    NotificationMismatchError,
)
from paylink_es.application.details import PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.channels.snap_client import SnapClient
from paylink_es.channels.snap_signing import RsaSigner, RsaVerifier
from paylink_es.channels.winpay import WinpayChannel
from paylink_es.channels.winpay_api import WinpayApi
from paylink_es.domain.money import Money
from tests.support.snap_counterpart import WinpayCounterpart, private_pem, public_pem
from workers.channel_poller import BACKOFF, asks, next_ask

IDR_50K = Money(50_000, "IDR")


@dataclass
class FlakyChannel(SandboxChannel):
    """A remote channel whose status inquiry fails until told to answer (a provider's
    outage); for the rest, the sandbox's instructions and refunds."""

    secret: str = "flaky"
    base_url: str = ""
    name: str = "flaky"
    remote: bool = True
    up: bool = False
    asked: list[UUID] = field(default_factory=list)

    def bind(self, notification: Notification, payment: PaymentDetails) -> Notification:
        if payment.channel != self.name:
            raise NotificationMismatchError("not mine")
        return notification

    def inquire(self, payment: PaymentDetails) -> ChannelStatus:
        self.asked.append(payment.id)
        if not self.up:
            raise ConnectionError("status inquiry timed out")
        return ChannelStatus(
            paid=True, amount=payment.received, channel_ref=payment.channel_ref, detail="PAID"
        )


def _payment(app: Paylink, channel: str = "flaky") -> UUID:
    merchant = app.merchants.register("Toko")
    link = app.links.create(
        merchant, amount=50_000, description="x", methods=["va_bca"], usage_limit=None
    )
    return app.payments.start(link, "va_bca", channel=channel)


def test_a_duplicate_after_a_failed_inquiry_is_confirmed_whatever_the_channel(
    memory_app: Paylink,
) -> None:
    flaky = FlakyChannel()
    pipeline = memory_app.verification
    payment_id = _payment(memory_app)
    note = Notification(payment_id, "REF-1", IDR_50K, memory_app.now())

    first = pipeline.process(flaky, note)
    assert (first.kind, first.duplicate, first.final) == ("pending", False, False)
    assert "timed out" in first.reason
    assert memory_app.payments.get(payment_id).status == "paid"

    flaky.up = True
    again = pipeline.process(flaky, note)
    assert (again.kind, again.duplicate, again.final) == ("verified", True, True)
    assert memory_app.payments.get(payment_id).status == "verified"
    assert flaky.asked == [payment_id, payment_id]
    # Once verified, a further duplicate answers the decision without asking again.
    assert pipeline.process(flaky, note).kind == "verified"
    assert len(flaky.asked) == 2


def test_the_sandbox_goes_through_the_same_steps(memory_app: Paylink) -> None:
    sandbox = SandboxChannel(secret="s", base_url="")
    pipeline = memory_app.verification
    payment_id = _payment(memory_app, channel="sandbox")
    ref = sandbox.reference(payment_id, IDR_50K)
    verdict = pipeline.process(sandbox, Notification(payment_id, ref, IDR_50K, memory_app.now()))
    assert verdict.kind == "verified"
    forged_id = _payment(memory_app, channel="sandbox")
    forged = pipeline.process(
        sandbox, Notification(forged_id, "SBX-FORGED", IDR_50K, memory_app.now())
    )
    assert (forged.kind, forged.final) == ("rejected", True)
    assert memory_app.payments.get(forged_id).status == "rejected"
    # Another channel's payment, or no payment at all: nothing is recorded.
    other = pipeline.process(
        FlakyChannel(), Notification(payment_id, ref, IDR_50K, memory_app.now())
    )
    assert other.kind == "unknown"


@pytest.fixture
def winpay(
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
) -> Iterator[WinpayChannel]:
    client = SnapClient(
        base_url=counterpart.base_url,
        partner_id="PAYLINK",
        channel_id="PAYLINKWEB",
        clock=counterpart.clock,
        signer=RsaSigner.from_pem(private_pem(merchant_key)),
    )
    channel = WinpayChannel(
        WinpayApi(client), callback_key=RsaVerifier.from_pem(public_pem(winpay_key))
    )
    yield channel
    channel.close()


def test_a_recurring_va_paid_twice_is_credited_twice_and_a_repeat_once(
    memory_app: Paylink, winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    merchant = memory_app.merchants.register("Toko")
    link = memory_app.links.create(
        merchant, amount=50_000, description="x", methods=["va_bsi"], usage_limit=None
    )
    payment_id = uuid4()
    va = winpay.api.create_va(
        name="Toko Budi",
        trx_id=str(payment_id),
        amount=IDR_50K,
        method="va_bsi",
        expires_at=counterpart.clock() + timedelta(hours=1),
        trx_type="r",  # closed recurring: the same VA takes the amount again and again
        customer_no="000003212",
    )
    memory_app.payments.start(
        link,
        "va_bsi",
        channel="winpay",
        payment_id=payment_id,
        instructions={
            "family": "virtual_account",
            "virtual_account_no": va.virtual_account_no,
            "contract_id": va.contract_id,
            "trx_id": va.trx_id,
            "va_trx_type": va.trx_type,
            "winpay_channel": va.channel,
        },
    )
    pipeline = memory_app.verification

    def notified(reference: str) -> Notification:
        evidence = {"virtual_account_no": va.virtual_account_no, "reference_no": reference}
        return Notification(payment_id, va.trx_id, IDR_50K, memory_app.now(), evidence)

    first = counterpart.pay(va.trx_id)
    assert pipeline.process(winpay, notified(first)).kind == "verified"
    # The first payment notified again (another paymentRequestId, the same referenceNo):
    # the same money.
    repeat = pipeline.process(winpay, notified(first))
    assert (repeat.kind, repeat.duplicate) == ("verified", True)
    # A real second payment into the recurring VA: new money, credited too.
    second = counterpart.pay(va.trx_id)
    paid_again = pipeline.process(winpay, notified(second))
    assert (paid_again.kind, paid_again.duplicate) == ("verified", False)
    assert paid_again.payment is not None
    assert paid_again.payment.id != payment_id
    assert paid_again.payment.channel_ref == f"{va.trx_id}/{second}"
    assert memory_app.payments.get(payment_id).channel_ref == f"{va.trx_id}/{first}"


def test_the_poller_asks_on_a_backoff_schedule_that_any_process_can_compute() -> None:
    start = datetime(2026, 12, 4, 10, 0)  # noqa: DTZ001 (a pure schedule: any zone)
    assert asks(start, start) == [start]
    assert asks(start, start + timedelta(seconds=29)) == [start]
    assert asks(start, start + timedelta(seconds=90)) == [
        start,
        start + BACKOFF[0],
        start + BACKOFF[0] + BACKOFF[1],
    ]
    assert next_ask(start, start) == start + BACKOFF[0]
    later = start + timedelta(days=1)
    gap = next_ask(start, later) - max(asks(start, later))
    assert gap == BACKOFF[-1], "after the quick asks, every half hour"
