"""Commands that make no sense in a link's or a payment's state are refused; nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import (
    AmountInvalidError,
    CurrencyMismatchError,
    InvalidFieldError,
    LinkClosedError,
    LinkNotPayableError,
    NotFoundError,
    PaymentMethodUnknownError,
    PaymentStateError,
    RefundExceedsPaymentError,
    TextInvalidError,
)
from paylink_es.domain.money import Money
from tests.unit.conftest import Refused

IDR_150K = Money(150_000, "IDR")


def paid(app: Paylink, link_id: UUID, ref: str = "ch-1", amount: Money = IDR_150K) -> UUID:
    """Start a QRIS payment on the link and record the channel's report of it."""
    payment_id = app.payments.start(link_id, "qris")
    app.payments.record(payment_id, ref, amount, app.now())
    return payment_id


# -- starting a payment ----------------------------------------------------------------


def test_refuses_to_start_a_payment_on_a_cancelled_link(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link()
    memory_app.links.cancel(link_id, "customer changed their mind")
    raised = refused(LinkNotPayableError, lambda: memory_app.payments.start(link_id, "qris"))
    assert raised.field == "link"
    assert "cancelled" in raised.message


def test_refuses_to_start_a_payment_once_the_expiry_has_passed(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    clock: FakeClock,
) -> None:
    link_id = new_link(expires_at=clock() + timedelta(hours=1))
    memory_app.payments.start(link_id, "qris")  # still fine a moment before
    clock.advance(timedelta(hours=1))
    raised = refused(LinkNotPayableError, lambda: memory_app.payments.start(link_id, "qris"))
    assert "expired" in raised.message
    assert memory_app.links.get(link_id).status == "expired"


def test_records_an_expiry_only_once_it_has_passed(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id = new_link(expires_at=clock() + timedelta(hours=1))
    assert memory_app.links.expire(link_id) is False
    assert memory_app.links.get(link_id).status == "active"
    clock.advance(timedelta(hours=2))
    assert memory_app.links.expire(link_id) is True
    assert memory_app.links.expire(link_id) is False
    with pytest.raises(LinkNotPayableError):
        memory_app.payments.start(link_id, "qris")


def test_refuses_to_start_a_payment_on_a_completed_single_use_link(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link(usage_limit=1)
    memory_app.payments.verify(paid(memory_app, link_id))
    assert memory_app.links.get(link_id).status == "completed"
    refused(LinkNotPayableError, lambda: memory_app.payments.start(link_id, "qris"))


def test_refuses_a_payment_method_the_link_does_not_accept(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link(methods=["va_bca", "qris"])
    raised = refused(
        PaymentMethodUnknownError, lambda: memory_app.payments.start(link_id, "ewallet_ovo")
    )
    assert raised.field == "method"


@pytest.mark.parametrize("method", ["bitcoin", "QRIS", ""])
def test_refuses_a_payment_method_nobody_offers(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    method: str,
) -> None:
    link_id = new_link()
    raised = refused(PaymentMethodUnknownError, lambda: memory_app.payments.start(link_id, method))
    assert raised.field == "method"


@pytest.mark.parametrize("offered", [9_999, 500_001, 0, -10_000, "1.5", 12_500.0, None, True])
def test_refuses_an_open_amount_outside_min_and_max(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    offered: object,
) -> None:
    link_id = new_link(amount=None, amount_min=10_000, amount_max=500_000)
    raised = refused(
        AmountInvalidError, lambda: memory_app.payments.start(link_id, "qris", amount=offered)
    )
    assert raised.field == "amount"


@pytest.mark.parametrize("offered", [10_000, 250_000, "500000"])
def test_takes_an_open_amount_the_payer_chose_within_bounds(
    memory_app: Paylink, new_link: Callable[..., UUID], offered: object
) -> None:
    link_id = new_link(amount=None, amount_min=10_000, amount_max=500_000)
    payment_id = memory_app.payments.start(link_id, "qris", amount=offered)
    assert memory_app.payments.get(payment_id).amount == Money(int(str(offered)), "IDR")


def test_refuses_a_different_amount_on_a_fixed_amount_link(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link(amount=150_000)
    raised = refused(
        AmountInvalidError, lambda: memory_app.payments.start(link_id, "qris", amount=100_000)
    )
    assert raised.field == "amount"
    assert memory_app.payments.get(memory_app.payments.start(link_id, "qris")).amount == IDR_150K


def test_says_which_link_or_payment_is_not_there(memory_app: Paylink, merchant_id: UUID) -> None:
    with pytest.raises(NotFoundError) as raised:
        memory_app.links.get(uuid4())
    assert raised.value.field == "link_id"
    with pytest.raises(NotFoundError) as raised:
        memory_app.payments.get(uuid4())
    assert raised.value.field == "payment_id"
    with pytest.raises(NotFoundError):
        memory_app.links.get(merchant_id)  # a merchant is not a link
    with pytest.raises(NotFoundError):
        memory_app.payments.start(uuid4(), "qris")
    with pytest.raises(NotFoundError):
        memory_app.links.create(uuid4(), amount=1_000, description="Kaos")


# -- cancelling and sending --------------------------------------------------------------


def test_refuses_to_cancel_a_link_twice(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link()
    memory_app.links.cancel(link_id)
    raised = refused(LinkClosedError, lambda: memory_app.links.cancel(link_id))
    assert raised.field == "link"
    assert memory_app.links.get(link_id).status == "cancelled"


def test_refuses_to_cancel_a_completed_link(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link()
    memory_app.payments.verify(paid(memory_app, link_id))
    refused(LinkClosedError, lambda: memory_app.links.cancel(link_id))
    assert memory_app.links.get(link_id).status == "completed"


def test_refuses_to_send_a_cancelled_link(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link()
    memory_app.links.cancel(link_id)
    refused(LinkClosedError, lambda: memory_app.links.send(link_id, "email", "budi@example.com"))
    assert memory_app.links.get(link_id).sent_count == 0


def test_refuses_to_send_a_link_whose_expiry_has_passed(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id = new_link(expires_at=clock() + timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    assert memory_app.links.get(link_id).status == "expired"
    with pytest.raises(LinkClosedError):
        memory_app.links.send(link_id, "email", "budi@example.com")


def test_sends_and_opens_an_active_link_and_masks_the_recipient(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link()
    memory_app.links.send(link_id, "email", "siti@example.com", language="en")
    memory_app.links.send(link_id, "whatsapp", "+6281234567890")
    memory_app.links.open(link_id, "visitor-1")
    link = memory_app.links.get(link_id)
    assert (link.sent_count, link.opened_count) == (2, 1)
    sent = [
        vars(event)
        for event in memory_app.app.events.get(link_id)
        if type(event).__name__ == "Sent"
    ]
    # What the timeline and the feed show is masked; the address itself is kept beside it
    # for the link's reminders and receipts, with the language it went in.
    assert [(e["recipient"], e["to"], e["language"]) for e in sent] == [
        ("s***@example.com", "siti@example.com", "en"),
        ("+628***890", "+6281234567890", None),
    ]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda app, link_id: app.links.send(link_id, "email", ""), "recipient"),
        (lambda app, link_id: app.links.send(link_id, "", "budi@example.com"), "channel"),
        (lambda app, link_id: app.links.open(link_id, " "), "visitor"),
        (lambda app, link_id: app.links.cancel(link_id, "oops\x1b[2J"), "reason"),
    ],
    ids=["empty-recipient", "empty-channel", "blank-visitor", "escape-in-reason"],
)
def test_refuses_bad_text_in_link_commands(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    command: Callable[[Paylink, UUID], object],
    field: str,
) -> None:
    link_id = new_link()
    raised = refused(TextInvalidError, lambda: command(memory_app, link_id))
    assert raised.field == field


# -- verifying, settling, refunding -----------------------------------------------------


def test_refuses_to_settle_a_payment_that_is_not_verified(
    memory_app: Paylink, new_link: Callable[..., UUID], stored_count: Callable[[], int]
) -> None:
    link_id = new_link(usage_limit=None)
    started = memory_app.payments.start(link_id, "qris")
    received = paid(memory_app, link_id)
    before = stored_count()
    for payment_id in (started, received):
        with pytest.raises(PaymentStateError) as raised:
            memory_app.money.settle_payment(payment_id, uuid4(), date(2026, 1, 6))
        assert raised.value.field == "payment"
    assert memory_app.payments.get(received).status == "paid"
    assert stored_count() == before


def test_refuses_to_verify_a_payment_no_money_arrived_for(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = memory_app.payments.start(new_link(), "qris")
    refused(PaymentStateError, lambda: memory_app.payments.verify(payment_id))
    assert memory_app.payments.get(payment_id).status == "initiated"


def test_refuses_to_verify_a_payment_twice(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = paid(memory_app, new_link())
    memory_app.payments.verify(payment_id, Money(1_500, "IDR"))
    refused(PaymentStateError, lambda: memory_app.payments.verify(payment_id, Money(0, "IDR")))
    payment = memory_app.payments.get(payment_id)
    assert (payment.status, payment.fee) == ("verified", Money(1_500, "IDR"))


def test_refuses_to_verify_a_rejected_payment(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = paid(memory_app, new_link())
    memory_app.payments.reject(payment_id, "status inquiry says unpaid")
    refused(PaymentStateError, lambda: memory_app.payments.verify(payment_id))
    refused(PaymentStateError, lambda: memory_app.payments.reject(payment_id, "again"))
    payment = memory_app.payments.get(payment_id)
    assert (payment.status, payment.rejection) == ("rejected", "status inquiry says unpaid")


def test_refuses_to_reject_a_verified_payment(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = paid(memory_app, new_link())
    memory_app.payments.verify(payment_id)
    refused(PaymentStateError, lambda: memory_app.payments.reject(payment_id, "too late"))
    assert memory_app.payments.get(payment_id).status == "verified"


@pytest.mark.parametrize("fee", [Money(150_001, "IDR"), Money(-1, "IDR")])
def test_refuses_a_fee_that_does_not_fit_the_payment(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    fee: Money,
) -> None:
    payment_id = paid(memory_app, new_link())
    raised = refused(PaymentStateError, lambda: memory_app.payments.verify(payment_id, fee))
    assert raised.field == "fee"


def test_refuses_a_fee_in_another_currency(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = paid(memory_app, new_link())
    refused(
        CurrencyMismatchError, lambda: memory_app.payments.verify(payment_id, Money(100, "USD"))
    )


def test_refuses_to_settle_a_flagged_payment(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = paid(memory_app, new_link(), amount=Money(200_000, "IDR"))
    memory_app.payments.verify(payment_id)
    raised = refused(
        PaymentStateError,
        lambda: memory_app.money.settle_payment(payment_id, uuid4(), date(2026, 1, 6)),
    )
    assert "needs_review" in raised.message


def test_verifies_and_settles_a_clean_payment(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    payment_id = paid(memory_app, new_link())
    memory_app.payments.verify(payment_id, Money(1_050, "IDR"), {"inquiry": "PAID"})
    verified = memory_app.payments.get(payment_id)
    assert (verified.status, verified.fee, verified.net) == (
        "verified",
        Money(1_050, "IDR"),
        Money(148_950, "IDR"),
    )
    memory_app.money.settle_payment(payment_id, uuid4(), date(2026, 1, 6))
    assert memory_app.payments.get(payment_id).status == "settled"


def test_refuses_a_refund_beyond_what_was_received(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = paid(memory_app, new_link())
    raised = refused(
        RefundExceedsPaymentError,
        lambda: memory_app.money.refund(payment_id, Money(150_001, "IDR"), "customer asked"),
    )
    assert raised.field == "amount"
    assert memory_app.payments.get(payment_id).refunded == Money(0, "IDR")


def test_refunds_in_parts_up_to_what_was_received_and_no_further(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    payment_id = paid(memory_app, new_link())
    memory_app.payments.verify(payment_id)
    memory_app.money.refund(payment_id, Money(100_000, "IDR"), "one shirt returned")
    memory_app.money.refund(payment_id, Money(50_000, "IDR"), "the other one too")
    assert memory_app.payments.get(payment_id).refunded == IDR_150K
    refused(
        RefundExceedsPaymentError,
        lambda: memory_app.money.refund(payment_id, Money(1, "IDR"), "one more rupiah"),
    )


@pytest.mark.parametrize("amount", [Money(0, "IDR"), Money(-1_000, "IDR")])
def test_refuses_a_refund_of_nothing_or_less(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    amount: Money,
) -> None:
    payment_id = paid(memory_app, new_link())
    refused(
        RefundExceedsPaymentError, lambda: memory_app.money.refund(payment_id, amount, "nothing")
    )


def test_refuses_to_refund_a_payment_that_holds_no_money(
    memory_app: Paylink, new_link: Callable[..., UUID], stored_count: Callable[[], int]
) -> None:
    link_id = new_link(usage_limit=None)
    started = memory_app.payments.start(link_id, "qris")
    rejected = paid(memory_app, link_id)
    memory_app.payments.reject(rejected, "not confirmed")
    before = stored_count()
    for payment_id in (started, rejected):
        with pytest.raises(PaymentStateError):
            memory_app.money.refund(payment_id, Money(1, "IDR"), "why not")
    assert stored_count() == before


def test_refuses_to_revoke_a_key_the_merchant_does_not_have(
    memory_app: Paylink, merchant_id: UUID, refused: Refused
) -> None:
    raised = refused(
        InvalidFieldError, lambda: memory_app.merchants.revoke_key(merchant_id, uuid4())
    )
    assert raised.field == "key_id"
