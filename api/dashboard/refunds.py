"""Refunds and review decisions from the dashboard: what a payment's owner does after it.

``/dashboard/payments/{id}/refund`` shows what was paid and what can still go back, with
a form for all of it or a part and the reason (owners only). The refund is asked of the
payment's channel first, as the API's refund is: refused, it is recorded as failed and
nothing moves. A payment held for review (an over- or underpayment) is accepted or
marked refund due on the same page.

Each form carries an attempt id; the refund's id is derived from it, so the same form
sent twice (a double click, a resent POST) refunds once and answers as the first did.
"""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.channel_registry import channel_for
from api.dashboard.forms import whole_number
from api.dashboard.render import render, said_error, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import ForbiddenError, OwnerFormDep, PageNotFoundError, Staff, StaffDep
from api.deps import get_paylink
from api.problems import status_for
from paylink_es.application.details import PaymentDetails
from paylink_es.domain.aggregate import stable_id
from paylink_es.domain.errors import DomainError, NotFoundError
from paylink_es.domain.idempotency import ids_from
from paylink_es.domain.link import NEEDS_REVIEW
from paylink_es.domain.money import Money

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
REFUND_NOTICES = ("refund_ok", "review_accepted", "review_refund_due")
DECISIONS = {"accept": "review_accepted", "refund": "review_refund_due"}
ATTEMPT = re.compile(r"[0-9a-f]{32}")


def owned_payment(request: Request, staff: Staff, payment_id: UUID) -> PaymentDetails:
    """The payment, if it is this session's merchant's in this mode; else no page."""
    try:
        payment = get_paylink(request).payments.get(payment_id)
    except NotFoundError:
        raise PageNotFoundError from None
    if payment.merchant_id != staff.merchant_id or payment.mode != staff.mode:
        raise PageNotFoundError
    return payment


def _page(
    request: Request,
    staff: Staff,
    payment: PaymentDetails,
    *,
    status: int = 200,
    error: str | None = None,
    amount: str = "",
    reason: str = "",
    attempt: str = "",
) -> Response:
    refundable = payment.refundable or Money.zero(payment.amount.currency)
    return render(
        request,
        "refund.html",
        staff,
        status=status,
        title=words(request)["refund_title"],
        payment=payment,
        refundable=refundable,
        held=payment.disposition == NEEDS_REVIEW,
        error=error,
        amount=amount or str(refundable.amount),
        reason=reason,
        attempt=attempt or uuid4().hex,
    )


@router.get("/dashboard/payments/{payment_id}/refund")
def refund_form(request: Request, staff: StaffDep, payment_id: UUID) -> Response:
    """What was paid and what can still be refunded, with the refund form (owners)."""
    if not staff.is_owner:
        raise ForbiddenError("owner_only")
    return _page(request, staff, owned_payment(request, staff, payment_id))


@router.post("/dashboard/payments/{payment_id}/refund")
def refund(
    request: Request,
    staff: OwnerFormDep,
    payment_id: UUID,
    amount: Annotated[str, Form(max_length=30)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    attempt: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Refund the amount typed (all that is left, or a part) for the reason given."""
    payment = owned_payment(request, staff, payment_id)
    attempt = attempt if ATTEMPT.fullmatch(attempt) else uuid4().hex
    t = words(request)
    currency = payment.amount.currency
    number = whole_number(amount, currency)
    error = None
    if number is None:
        error = f"{t['refund_amount']}: {t['must_be_number']}"
    elif not reason.strip():
        error = f"{t['refund_reason']}: {t['required']}"
    if error is not None:
        typed = {"amount": amount, "reason": reason, "attempt": attempt}
        return _page(request, staff, payment, status=422, error=error, **typed)
    assert number is not None  # noqa: S101 - checked above
    try:
        channel = channel_for(request.app.state, payment.channel)
        with ids_from(stable_id(f"/dashboard/refunds/{payment_id}/{attempt}")):
            get_paylink(request).money.refund(payment_id, Money(number, currency), reason, channel)
    except DomainError as refused:
        said = said_error(request, refused)
        again = owned_payment(request, staff, payment_id)  # a refused refund is on record
        code = status_for(refused)
        # A new attempt: correcting the form is another refund, not this one again.
        typed = {"amount": amount, "reason": reason}
        return _page(request, staff, again, status=code, error=said, **typed)
    return RedirectResponse("/dashboard/payments?notice=refund_ok", 303)


@router.post("/dashboard/payments/{payment_id}/review")
def review(
    request: Request,
    staff: OwnerFormDep,
    payment_id: UUID,
    decision: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Accept a payment held for review, or mark it refund due."""
    payment = owned_payment(request, staff, payment_id)
    if decision not in DECISIONS:
        error = f"{words(request)['review_decision']}: {words(request)['must_choose']}"
        return _page(request, staff, payment, status=422, error=error)
    try:
        get_paylink(request).payments.review(payment_id, decision, note)
    except DomainError as refused:
        return _page(
            request, staff, payment, status=status_for(refused), error=said_error(request, refused)
        )
    return RedirectResponse(f"/dashboard/payments?notice={DECISIONS[decision]}", 303)
