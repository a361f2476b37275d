"""Money that arrives is recorded once, counted when it is clean, and flagged when it is not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import (
    AmountInvalidError,
    InvalidFieldError,
    ReferenceReusedError,
    TextInvalidError,
)
from paylink_es.domain.money import Money
from tests.unit.conftest import Refused

IDR_150K = Money(150_000, "IDR")


def topics(app: Paylink) -> list[str]:
    """The topic of every stored event, in order."""
    return [n.topic for n in app.app.recorder.select_notifications(start=1, limit=10_000)]


def link_state(app: Paylink, link_id: UUID) -> tuple[str, int, int]:
    """The link's status, uses and money collected."""
    link = app.links.get(link_id)
    return (link.status, link.uses, link.collected)


def two_received(app: Paylink, link_id: UUID) -> tuple[UUID, UUID]:
    """A QRIS payment and a VA payment on the link, both received in full, neither confirmed."""
    first = app.payments.start(link_id, "qris")
    second = app.payments.start(link_id, "va_bca")
    app.payments.record(first, "QR-1", IDR_150K, app.now())
    app.payments.record(second, "VA-1", IDR_150K, app.now())
    return first, second


def started_then_expired(
    app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> tuple[UUID, UUID, datetime]:
    """A link that expires in an hour, a payment started on it, and the clock two hours on."""
    expires_at = clock() + timedelta(hours=1)
    link_id = new_link(expires_at=expires_at)
    payment_id = app.payments.start(link_id, "qris")
    clock.advance(timedelta(hours=2))
    return link_id, payment_id, expires_at


# -- usage limits -------------------------------------------------------------------------


def test_one_clean_payment_completes_a_single_use_link(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=1)
    payment_id = memory_app.payments.start(link_id, "va_bca", channel="bca")
    outcome = memory_app.payments.record(payment_id, "BCA-0001", IDR_150K, memory_app.now())
    assert (outcome.payment_id, outcome.duplicate, outcome.anomaly) == (payment_id, False, None)
    payment = memory_app.payments.get(payment_id)
    assert (payment.status, payment.received, payment.channel_ref) == ("paid", IDR_150K, "BCA-0001")
    assert (payment.anomaly, payment.disposition) == (None, None)
    assert link_state(memory_app, link_id) == ("active", 0, 0), "not confirmed yet"
    memory_app.payments.verify(payment_id)
    assert link_state(memory_app, link_id) == ("completed", 1, 150_000)


def test_money_the_channel_denies_never_completes_a_link(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=1)
    forged = memory_app.payments.start(link_id, "qris")
    memory_app.payments.record(forged, "QR-NEVER-ISSUED", IDR_150K, memory_app.now())
    memory_app.payments.reject(forged, "the channel never issued that reference")
    assert link_state(memory_app, link_id) == ("active", 0, 0)
    real = memory_app.payments.start(link_id, "qris")  # a new customer can still pay
    memory_app.payments.record(real, "QR-REAL", IDR_150K, memory_app.now())
    memory_app.payments.verify(real)
    assert memory_app.links.get(link_id).status == "completed"


def test_of_two_payments_received_at_once_the_one_confirmed_second_is_due_back(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=1)
    first, second = two_received(memory_app, link_id)
    memory_app.payments.verify(second)
    memory_app.payments.verify(first)
    late = memory_app.payments.get(first)
    assert (late.status, late.anomaly, late.disposition) == (
        "verified",
        "link_already_completed",
        "refund_due",
    )
    assert link_state(memory_app, link_id) == ("completed", 1, 150_000)


def test_a_link_for_three_uses_takes_three_payments_then_completes(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=3)
    for use in range(1, 4):
        payment_id = memory_app.payments.start(link_id, "qris")
        memory_app.payments.record(payment_id, f"QR-{use}", IDR_150K, memory_app.now())
        memory_app.payments.verify(payment_id)
        link = memory_app.links.get(link_id)
        assert link.uses == use
        assert link.status == ("completed" if use == 3 else "active")
    assert memory_app.links.get(link_id).collected == 450_000


def test_an_unlimited_link_stays_active_and_counts_every_payment(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=None, amount=None, amount_min=1_500)
    amounts = [1_500, 25_000, 7_500, 1_000_000, 1_500]
    for index, amount in enumerate(amounts):
        payment_id = memory_app.payments.start(link_id, "qris", amount=amount)
        memory_app.payments.record(
            payment_id, f"QR-{index}", Money(amount, "IDR"), memory_app.now()
        )
        memory_app.payments.verify(payment_id)
    assert link_state(memory_app, link_id) == ("active", 5, sum(amounts))


# -- idempotency --------------------------------------------------------------------------


def test_creating_a_link_twice_with_one_reference_gives_the_same_link_once(
    memory_app: Paylink, new_link: Callable[..., UUID], stored_count: Callable[[], int]
) -> None:
    first = new_link(reference_id="INV-2026-0042")
    after_first = stored_count()
    again = new_link(reference_id="INV-2026-0042")
    assert again == first
    assert stored_count() == after_first
    assert topics(memory_app).count("paylink_es.domain.link:PaymentLink.Created") == 1


def test_a_reference_reused_with_other_terms_is_refused_naming_the_link(
    memory_app: Paylink, new_link: Callable[..., UUID], stored_count: Callable[[], int]
) -> None:
    first = new_link(reference_id="INV-2026-0042")
    after_first = stored_count()
    with pytest.raises(ReferenceReusedError) as refused:
        new_link(reference_id="INV-2026-0042", description="Kaos polos putih")
    assert refused.value.field == "reference_id"
    assert str(first) in refused.value.message
    assert stored_count() == after_first
    assert memory_app.links.get(first).description == "Kaos polos hitam"


def test_a_different_reference_makes_a_different_link(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    first = new_link(reference_id="INV-2026-0042")
    second = new_link(reference_id="INV-2026-0043")
    unreferenced = [new_link(), new_link()]
    assert len({first, second, *unreferenced}) == 4
    assert topics(memory_app).count("paylink_es.domain.link:PaymentLink.Created") == 4


def test_one_reference_means_different_links_for_different_merchants_and_modes(
    memory_app: Paylink, new_link: Callable[..., UUID], link_request: dict[str, object]
) -> None:
    other_merchant = memory_app.merchants.register("Toko Siti")
    ids = {
        new_link(reference_id="INV-1"),
        new_link(reference_id="INV-1", mode="live"),
        memory_app.links.create(other_merchant, **{**link_request, "reference_id": "INV-1"}),
    }
    assert len(ids) == 3


def test_the_same_channel_report_twice_is_recorded_once(
    memory_app: Paylink, new_link: Callable[..., UUID], stored_count: Callable[[], int]
) -> None:
    link_id = new_link(usage_limit=None)
    payment_id = memory_app.payments.start(link_id, "qris")
    first = memory_app.payments.record(payment_id, "QR-777", IDR_150K, memory_app.now())
    after_first = stored_count()
    again = memory_app.payments.record(payment_id, "QR-777", IDR_150K, memory_app.now())
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.payment_id == first.payment_id == payment_id
    assert stored_count() == after_first
    memory_app.payments.verify(payment_id)
    assert link_state(memory_app, link_id) == ("active", 1, 150_000)


def test_a_repeated_channel_report_on_another_attempt_points_at_the_first_payment(
    memory_app: Paylink, new_link: Callable[..., UUID], stored_count: Callable[[], int]
) -> None:
    link_id = new_link(usage_limit=None)
    first = memory_app.payments.start(link_id, "qris")
    second = memory_app.payments.start(link_id, "qris")
    memory_app.payments.record(first, "QR-777", IDR_150K, memory_app.now())
    before = stored_count()
    outcome = memory_app.payments.record(second, "QR-777", IDR_150K, memory_app.now())
    assert (outcome.payment_id, outcome.duplicate) == (first, True)
    assert memory_app.payments.get(second).status == "initiated"
    assert stored_count() == before


def test_a_second_report_on_paid_instructions_is_a_payment_of_its_own(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=None)
    payment_id = memory_app.payments.start(link_id, "va_bca")
    memory_app.payments.record(payment_id, "VA-1", IDR_150K, memory_app.now())
    outcome = memory_app.payments.record(payment_id, "VA-2", IDR_150K, memory_app.now())
    assert not outcome.duplicate
    assert outcome.payment_id != payment_id
    extra = memory_app.payments.get(outcome.payment_id)
    assert (extra.link_id, extra.method, extra.channel_ref) == (link_id, "va_bca", "VA-2")
    assert memory_app.payments.get(payment_id).channel_ref == "VA-1"
    for confirmed in (payment_id, outcome.payment_id):
        memory_app.payments.verify(confirmed)
    assert memory_app.links.get(link_id).uses == 2


# -- anomalies are recorded and flagged, never dropped -------------------------------------


def test_money_paid_after_the_expiry_is_kept_and_needs_review(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id, payment_id, expires_at = started_then_expired(memory_app, new_link, clock)
    paid_at = expires_at + timedelta(minutes=30)
    outcome = memory_app.payments.record(payment_id, "QR-LATE", IDR_150K, paid_at)
    assert (outcome.duplicate, outcome.anomaly) == (False, "paid_after_expiry")
    payment = memory_app.payments.get(payment_id)
    assert (payment.status, payment.received, payment.paid_at) == ("paid", IDR_150K, paid_at)
    assert (payment.anomaly, payment.disposition) == ("paid_after_expiry", "needs_review")
    assert link_state(memory_app, link_id) == ("expired", 0, 0)


def test_money_paid_in_time_but_reported_late_counts(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id, payment_id, expires_at = started_then_expired(memory_app, new_link, clock)
    outcome = memory_app.payments.record(
        payment_id, "QR-SLOW", IDR_150K, expires_at - timedelta(seconds=1)
    )
    assert outcome.anomaly is None
    memory_app.payments.verify(payment_id)
    assert memory_app.links.get(link_id).uses == 1


@pytest.mark.parametrize(
    ("received", "anomaly"),
    [
        (Money(150_001, "IDR"), "overpaid"),
        (Money(300_000, "IDR"), "overpaid"),
        (Money(149_999, "IDR"), "underpaid"),
        (Money(1, "IDR"), "underpaid"),
        (Money(150_000, "USD"), "currency_mismatch"),
    ],
)
def test_a_wrong_amount_is_kept_and_needs_review(
    memory_app: Paylink, new_link: Callable[..., UUID], received: Money, anomaly: str
) -> None:
    link_id = new_link()
    payment_id = memory_app.payments.start(link_id, "qris")
    outcome = memory_app.payments.record(payment_id, "QR-1", received, memory_app.now())
    assert outcome.anomaly == anomaly
    payment = memory_app.payments.get(payment_id)
    assert (payment.received, payment.anomaly, payment.disposition) == (
        received,
        anomaly,
        "needs_review",
    )
    assert link_state(memory_app, link_id) == ("active", 0, 0)


def test_money_in_the_wrong_currency_can_be_sent_back_in_that_currency(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    payment_id = memory_app.payments.start(new_link(), "qris")
    wrong = Money(1_000, "USD")
    outcome = memory_app.payments.record(payment_id, "QR-USD-1", wrong, memory_app.now())
    assert outcome.anomaly == "currency_mismatch"
    memory_app.money.refund(payment_id, wrong, "paid in the wrong currency")
    assert memory_app.payments.get(payment_id).refunded == wrong


def test_a_link_cancelled_after_its_last_use_was_confirmed_counts_no_further_payment(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=1)
    first, second = two_received(memory_app, link_id)
    memory_app.links.cancel(link_id, "sold out")
    memory_app.payments.verify(first)  # confirmed after the cancel: still the one use
    memory_app.payments.verify(second)
    assert link_state(memory_app, link_id) == ("cancelled", 1, 150_000)
    late = memory_app.payments.get(second)
    assert (late.anomaly, late.disposition) == ("link_already_completed", "refund_due")


def test_a_second_payment_on_a_single_use_link_is_due_back(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link(usage_limit=1)
    first = memory_app.payments.start(link_id, "qris")
    second = memory_app.payments.start(link_id, "va_bca")
    memory_app.payments.record(first, "QR-1", IDR_150K, memory_app.now())
    memory_app.payments.verify(first)
    outcome = memory_app.payments.record(second, "VA-1", IDR_150K, memory_app.now())
    assert (outcome.payment_id, outcome.anomaly) == (second, "link_already_completed")
    payment = memory_app.payments.get(second)
    assert (payment.received, payment.disposition) == (IDR_150K, "refund_due")
    assert link_state(memory_app, link_id) == ("completed", 1, 150_000)
    memory_app.money.refund(second, IDR_150K, "link already paid")
    assert memory_app.payments.get(second).refunded == IDR_150K


def test_money_for_a_link_cancelled_after_the_payment_started_is_due_back(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link()
    payment_id = memory_app.payments.start(link_id, "qris")
    memory_app.links.cancel(link_id, "out of stock")
    outcome = memory_app.payments.record(payment_id, "QR-1", IDR_150K, memory_app.now())
    assert outcome.anomaly == "link_cancelled"
    payment = memory_app.payments.get(payment_id)
    assert (payment.received, payment.disposition) == (IDR_150K, "refund_due")
    assert link_state(memory_app, link_id) == ("cancelled", 0, 0)


def test_a_flagged_payment_is_noted_on_the_link_timeline(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link()
    payment_id = memory_app.payments.start(link_id, "qris")
    memory_app.payments.record(payment_id, "QR-1", Money(1, "IDR"), memory_app.now())
    assert topics(memory_app)[-4:] == [
        "paylink_es.domain.payment:Payment.Received",
        "paylink_es.domain.payment:Payment.Flagged",
        "paylink_es.domain.link:PaymentLink.PaymentFlagged",
        "paylink_es.domain.payment:ChannelPaymentIndex.Indexed",
    ]


# -- bad reports ------------------------------------------------------------------------

NAIVE = datetime(2026, 1, 5, 10, 0)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("ref", "amount", "paid_at", "error", "field"),
    [
        *(
            pytest.param(ref, 150_000, None, TextInvalidError, "channel_ref", id=f"ref={ref!r}")
            for ref in ["", "   ", "QR\x00-1", "x" * 129]
        ),
        pytest.param("QR-1", 150_000, NAIVE, InvalidFieldError, "paid_at", id="naive paid_at"),
        pytest.param("QR-1", 0, None, AmountInvalidError, "amount", id="no money"),
        pytest.param("QR-1", -150_000, None, AmountInvalidError, "amount", id="negative money"),
    ],
)
def test_refuses_a_report_without_a_usable_reference_time_zone_or_amount(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    ref: str,
    amount: int,
    paid_at: datetime | None,
    error: type[InvalidFieldError],
    field: str,
) -> None:
    payment_id = memory_app.payments.start(new_link(), "qris")
    raised = refused(
        error,
        lambda: memory_app.payments.record(
            payment_id, ref, Money(amount, "IDR"), paid_at or memory_app.now()
        ),
    )
    assert raised.field == field
