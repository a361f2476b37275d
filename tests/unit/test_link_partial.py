"""A link paid in parts (a down payment first): its terms, its parts, refunds and expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import (
    AmountInvalidError,
    InvalidFieldError,
    LinkHasPaymentsError,
    LinkNotPayableError,
)
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan, FeeRule
from paylink_es.domain.link import OVERPAID, PaymentLink
from paylink_es.domain.money import Money
from paylink_es.domain.payment import Payment
from tests.unit.conftest import Refused

TOTAL, FIRST = 1_000_000, 300_000
DP = {"amount": TOTAL, "allow_partial": True, "partial_min": FIRST}


def idr(amount: int) -> Money:
    return Money(amount, "IDR")


@pytest.fixture
def dp_link(new_link: Callable[..., UUID]) -> Callable[..., UUID]:
    """A link of Rp 1,000,000 paid in parts, the first at least Rp 300,000."""

    def create(**overrides: Any) -> UUID:
        return new_link(**{**DP, **overrides})

    return create


def pay_part(app: Paylink, link_id: UUID, amount: int | None, ref: str) -> UUID:
    """Start a part by VA (``None``: all that is left), and have it paid and verified."""
    payment_id = app.payments.start(link_id, "va_bca", amount=amount)
    app.payments.record(payment_id, ref, app.payments.get(payment_id).amount, app.now())
    app.payments.verify(payment_id)
    return payment_id


def events_of(app: Paylink, link_id: UUID) -> list[str]:
    return [
        type(event).__qualname__.partition(".")[2]
        for event in app.app.repository.event_store.get(link_id)
    ]


# -- terms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"amount": None, "amount_min": 10_000}, "allow_partial", "fixed amount"),
        (
            {
                "amount": None,
                "line_items": [{"name": "Kursi", "quantity": 2, "unit_amount": 500_000}],
            },
            "allow_partial",
            "line_items",
        ),
        ({"usage_limit": 2}, "usage_limit", "must be 1"),
        ({"usage_limit": None}, "usage_limit", "must be 1"),
        ({"partial_min": None}, "partial_min", "is required"),
        ({"partial_min": TOTAL + 1}, "partial_min", "more than the amount"),
        ({"partial_min": 0}, "partial_min", ""),
        ({"partial_expiry": "never"}, "partial_expiry", "'expire' or 'keep_open'"),
        ({"allow_partial": "yes"}, "allow_partial", "true or false"),
        ({"allow_partial": False}, "partial_min", "allow_partial to true"),
        (
            {"allow_partial": False, "partial_min": None, "partial_expiry": "keep_open"},
            "partial_expiry",
            "allow_partial to true",
        ),
    ],
)
def test_terms_that_cannot_be_paid_in_parts_are_refused_naming_the_field(
    dp_link: Callable[..., UUID],
    refused: Refused,
    overrides: dict[str, Any],
    field: str,
    words: str,
) -> None:
    error = refused(InvalidFieldError, lambda: dp_link(**overrides))
    assert error.field == field
    assert words in error.message


def test_a_link_paid_whole_has_nothing_left_to_pay_in_parts(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    details = memory_app.links.get(new_link())
    assert (details.allow_partial, details.amount_paid, details.amount_due) == (False, 0, None)


# -- parts ---------------------------------------------------------------------------------


def test_a_down_payment_then_the_rest_completes_the_link(
    memory_app: Paylink, dp_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = dp_link()

    def start(amount: int) -> Callable[[], object]:
        return lambda: memory_app.payments.start(link_id, "va_bca", amount=amount)

    below = refused(AmountInvalidError, start(FIRST - 1))
    assert "first payment must be at least 300000" in below.message
    assert "more than the 1000000 left" in refused(AmountInvalidError, start(TOTAL + 1)).message

    pay_part(memory_app, link_id, FIRST, "dp-1")
    link = memory_app.links.get(link_id)
    assert (link.status, link.amount_paid, link.amount_due) == ("partially_paid", FIRST, 700_000)
    assert (link.uses, link.collected) == (1, FIRST)

    # After the first part, a smaller one is fine (the method's minimum still holds).
    pay_part(memory_app, link_id, 100_000, "dp-2")
    assert "more than the 600000 left" in refused(AmountInvalidError, start(600_001)).message
    rest = pay_part(memory_app, link_id, None, "dp-3")  # no amount: all that is left
    assert memory_app.payments.get(rest).amount == idr(600_000)
    link = memory_app.links.get(link_id)
    assert (link.status, link.amount_paid, link.amount_due, link.uses) == ("completed", TOTAL, 0, 3)
    assert events_of(memory_app, link_id)[1:] == [
        "PaymentAccepted",
        "PartiallyPaid",
        "PaymentAccepted",
        "PartiallyPaid",
        "PaymentAccepted",
        "Completed",
    ]
    refused(
        LinkNotPayableError, lambda: memory_app.payments.start(link_id, "va_bca", amount=10_000)
    )


def test_a_part_confirmed_after_others_took_what_was_left_is_flagged_not_counted(
    memory_app: Paylink, dp_link: Callable[..., UUID]
) -> None:
    link_id = dp_link()
    # Two parts started while the whole amount was due; both are paid.
    first = memory_app.payments.start(link_id, "va_bca", amount=600_000)
    second = memory_app.payments.start(link_id, "va_bca", amount=600_000)
    for payment_id, ref in ((first, "race-1"), (second, "race-2")):
        memory_app.payments.record(payment_id, ref, idr(600_000), memory_app.now())
    memory_app.payments.verify(first)
    memory_app.payments.verify(second)
    flagged = memory_app.payments.get(second)
    assert (flagged.anomaly, flagged.disposition) == (OVERPAID, "needs_review")
    link = memory_app.links.get(link_id)
    assert (link.status, link.amount_paid, link.amount_due) == ("partially_paid", 600_000, 400_000)
    assert link.flagged_count == 1


def test_the_fee_a_payer_pays_on_top_does_not_count_toward_the_link(
    memory_app: Paylink, merchant_id: UUID, dp_link: Callable[..., UUID]
) -> None:
    plan = FeePlan(
        name="payer-pays-va",
        families={**DEFAULT_PLAN.families, "virtual_account": FeeRule(flat=4_000, payer_pays=True)},
    )
    memory_app.merchants.set_fee_plan(merchant_id, plan)
    link_id = dp_link()
    part = pay_part(memory_app, link_id, FIRST, "fee-1")
    assert memory_app.payments.get(part).amount == idr(FIRST + 4_000)
    link = memory_app.links.get(link_id)
    assert (link.amount_paid, link.amount_due, link.collected) == (FIRST, 700_000, FIRST + 4_000)
    # A refund of the fee alone leaves the part whole; one into the part lowers it.
    memory_app.money.refund(part, idr(4_000), "fee back")
    assert memory_app.links.get(link_id).amount_paid == FIRST
    memory_app.money.refund(part, idr(50_000), "a chair less")
    assert memory_app.links.get(link_id).amount_paid == FIRST - 50_000


# -- refunds -------------------------------------------------------------------------------


def test_refunding_a_part_lowers_what_was_paid_and_reopens_a_completed_link(
    memory_app: Paylink, dp_link: Callable[..., UUID]
) -> None:
    link_id = dp_link()
    down = pay_part(memory_app, link_id, FIRST, "rf-1")
    rest = pay_part(memory_app, link_id, None, "rf-2")
    assert memory_app.links.get(link_id).status == "completed"

    memory_app.money.refund(rest, idr(200_000), "one chair returned")
    link = memory_app.links.get(link_id)
    assert (link.status, link.amount_paid, link.amount_due) == ("partially_paid", 800_000, 200_000)
    assert events_of(memory_app, link_id)[-1] == "PartRefunded"

    pay_part(memory_app, link_id, 200_000, "rf-3")  # paid in full again
    assert memory_app.links.get(link_id).status == "completed"

    memory_app.money.refund(down, idr(FIRST), "order changed")
    memory_app.money.refund(rest, idr(500_000), "order changed")
    link = memory_app.links.get(link_id)
    assert (link.status, link.amount_paid, link.amount_due) == ("partially_paid", 200_000, 800_000)


def test_a_link_refunded_to_nothing_is_active_and_asks_the_first_minimum_again(
    memory_app: Paylink, dp_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = dp_link()
    down = pay_part(memory_app, link_id, FIRST, "zero-1")
    memory_app.money.refund(down, idr(FIRST), "cancelled order")
    link = memory_app.links.get(link_id)
    assert (link.status, link.amount_paid, link.amount_due) == ("active", 0, TOTAL)
    error = refused(
        AmountInvalidError, lambda: memory_app.payments.start(link_id, "va_bca", amount=FIRST - 1)
    )
    assert "first payment" in error.message


def test_a_refund_on_a_link_paid_whole_does_not_touch_the_link(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link()
    payment_id = memory_app.payments.start(link_id, "qris")
    memory_app.payments.record(payment_id, "whole-1", idr(150_000), memory_app.now())
    memory_app.payments.verify(payment_id)
    version = len(events_of(memory_app, link_id))
    memory_app.money.refund(payment_id, idr(50_000), "one shirt less")
    assert len(events_of(memory_app, link_id)) == version
    assert memory_app.links.get(link_id).status == "completed"


# -- expiry --------------------------------------------------------------------------------


def test_by_default_a_link_paid_in_part_expires_and_keeps_what_was_paid(
    memory_app: Paylink, dp_link: Callable[..., UUID], clock: FakeClock, refused: Refused
) -> None:
    link_id = dp_link(expires_at=clock() + timedelta(hours=1))
    assert memory_app.links.get(link_id).partial_expiry == "expire"
    pay_part(memory_app, link_id, FIRST, "exp-1")
    clock.advance(timedelta(hours=2))
    link = memory_app.links.get(link_id)
    assert (link.status, link.amount_paid, link.amount_due) == ("expired", FIRST, 700_000)
    assert memory_app.links.expire(link_id) is True
    refused(
        LinkNotPayableError, lambda: memory_app.payments.start(link_id, "va_bca", amount=100_000)
    )


def test_keep_open_holds_a_part_paid_link_open_until_paid_in_full(
    memory_app: Paylink, dp_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id = dp_link(expires_at=clock() + timedelta(hours=1), partial_expiry="keep_open")
    unpaid = dp_link(expires_at=clock() + timedelta(hours=1), partial_expiry="keep_open")
    down = pay_part(memory_app, link_id, FIRST, "keep-1")
    clock.advance(timedelta(hours=2))
    assert memory_app.links.get(unpaid).status == "expired"  # nothing paid: nothing held
    assert memory_app.links.get(link_id).status == "partially_paid"
    assert memory_app.links.expire(link_id) is False
    # Money of a part paid after the expiry counts: the link is held open, and a part
    # started now does not expire with it.
    later = pay_part(memory_app, link_id, 100_000, "keep-2")
    assert memory_app.payments.get(later).anomaly is None
    started: object = memory_app.app.repository.get(later)
    assert isinstance(started, Payment)
    assert started.expires_at is None
    assert memory_app.links.get(link_id).amount_paid == FIRST + 100_000
    # Refunded to nothing, nothing holds it any more: it expires.
    memory_app.money.refund(down, idr(FIRST), "changed")
    memory_app.money.refund(later, idr(100_000), "changed")
    assert memory_app.links.get(link_id).status == "expired"
    assert memory_app.links.expire(link_id) is True


def test_the_merchant_policy_applies_to_links_made_after_it_and_a_link_may_override_it(
    memory_app: Paylink, merchant_id: UUID, dp_link: Callable[..., UUID], refused: Refused
) -> None:
    before = dp_link()
    memory_app.merchants.set_partial_expiry(merchant_id, "keep_open")
    assert memory_app.merchants.get(merchant_id).partial_expiry == "keep_open"
    after = dp_link()
    overridden = dp_link(partial_expiry="expire")
    assert [memory_app.links.get(link).partial_expiry for link in (before, after, overridden)] == [
        "expire",
        "keep_open",
        "expire",
    ]
    error = refused(
        InvalidFieldError, lambda: memory_app.merchants.set_partial_expiry(merchant_id, "sometimes")
    )
    assert error.field == "partial_expiry"


def test_a_reference_sent_again_finds_the_link_made_under_the_merchant_policy(
    memory_app: Paylink, merchant_id: UUID, dp_link: Callable[..., UUID]
) -> None:
    memory_app.merchants.set_partial_expiry(merchant_id, "keep_open")
    first = dp_link(reference_id="DP-7")
    assert dp_link(reference_id="DP-7") == first


# -- deactivation and edits ----------------------------------------------------------------


def test_a_part_paid_link_deactivated_and_reactivated_is_partially_paid_again(
    memory_app: Paylink, dp_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = dp_link()
    pay_part(memory_app, link_id, FIRST, "react-1")
    memory_app.links.deactivate(link_id, "Stok habis", "owner@toko.example")
    assert memory_app.links.get(link_id).status == "inactive"
    refused(
        LinkNotPayableError, lambda: memory_app.payments.start(link_id, "va_bca", amount=100_000)
    )
    memory_app.links.reactivate(link_id, "owner@toko.example")
    assert memory_app.links.get(link_id).status == "partially_paid"


def test_edits_turn_partial_payments_on_and_off_until_money_came(
    memory_app: Paylink, new_link: Callable[..., UUID], merchant_id: UUID, refused: Refused
) -> None:
    memory_app.merchants.set_partial_expiry(merchant_id, "keep_open")
    link_id = new_link()
    details, changed = memory_app.links.edit(
        link_id, "key-1", allow_partial=True, partial_min=50_000
    )
    assert changed == ["allow_partial", "partial_min", "partial_expiry"]
    assert (details.allow_partial, details.partial_expiry, details.amount_due) == (
        True,
        "keep_open",
        150_000,
    )
    details, changed = memory_app.links.edit(link_id, "key-1", allow_partial=False)
    assert (details.allow_partial, details.partial_min, details.partial_expiry) == (
        False,
        None,
        None,
    )
    memory_app.links.edit(link_id, "key-1", allow_partial=True, partial_min=50_000)
    pay_part(memory_app, link_id, 50_000, "edit-1")
    error = refused(
        LinkHasPaymentsError, lambda: memory_app.links.edit(link_id, "key-1", allow_partial=False)
    )
    assert error.field == "allow_partial"
    _, changed = memory_app.links.edit(link_id, "key-1", partial_expiry="expire")
    assert changed == ["partial_expiry"]
    too_high = refused(
        InvalidFieldError, lambda: memory_app.links.edit(link_id, "key-1", partial_min=200_000)
    )
    assert too_high.field == "partial_min"


def test_a_link_paid_in_parts_replays_to_the_same_state(
    memory_app: Paylink, dp_link: Callable[..., UUID]
) -> None:
    link_id = dp_link()
    down = pay_part(memory_app, link_id, FIRST, "replay-1")
    pay_part(memory_app, link_id, None, "replay-2")
    memory_app.money.refund(down, idr(100_000), "partly back")
    replayed: object = memory_app.app.repository.get(link_id)
    assert isinstance(replayed, PaymentLink)
    assert (replayed.status, replayed.amount_paid) == ("partially_paid", 900_000)
    assert replayed.parts == {
        down: 200_000,
        **{k: v for k, v in replayed.parts.items() if k != down},
    }
