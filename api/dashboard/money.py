"""Money pages: payments, settlements and payouts, the audit view of any instant, and the
what-if of another fee plan."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, TypedDict
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from api.dashboard.dates import shown_day, typed_day
from api.dashboard.forms import whole_number
from api.dashboard.paging import CursorQuery, StatusQuery, next_page_query
from api.dashboard.refunds import REFUND_NOTICES
from api.dashboard.render import fragment, render, said_error, said_notice, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import OwnerFormDep, PageNotFoundError, Staff, StaffDep
from api.deps import get_models, get_paylink
from api.params import instant
from api.problems import status_for
from api.routes.payments import PAYMENT_STATUSES
from paylink_es.domain.errors import AmountInvalidError, DomainError
from paylink_es.domain.merchant import Merchant
from paylink_es.domain.money import Money
from paylink_es.domain.settlement import BankAccountMissingError, InsufficientFundsError
from paylink_es.locale import WIB
from projections.queries import ledger as ledger_queries
from projections.queries import links as link_queries
from projections.queries import payments as payment_queries
from projections.queries import settlements as settlement_queries
from projections.queries.ledger import Balances
from projections.queries.links import LinkAsOf
from projections.queries.paging import QueryError
from projections.queries.payments import PaymentRow
from projections.whatif import MAX_PLAN_BYTES, WhatIfResult, plan_from_json, what_if

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
PAYOUT_FEE = 0  # a payout is not charged: the whole amount reaches the bank account
PAYOUT_NOTICES = ("payout_ok", "payout_cancelled")
BALANCE_ROWS = ("available", "pending", "held", "refund_due", "paid_out", "fees", "refunded")


class LinkName(TypedDict):
    """How a payment's row names its link: the description and the path of its page."""

    description: str
    path: str


def payment_links(
    request: Request, staff: Staff, rows: Sequence[PaymentRow]
) -> dict[str, LinkName]:
    """The links of ``rows`` by id, as the payments table names them (slug, else code)."""
    found = link_queries.links_by_id(
        get_models(request), staff.merchant_id, staff.mode, (row["link_id"] for row in rows)
    )
    return {
        link_id: {
            "description": row["description"],
            "path": json.loads(row["terms"]).get("slug") or row["code"],
        }
        for link_id, row in found.items()
    }


def payment_rows(request: Request, staff: Staff, params: dict[str, str]) -> dict[str, Any]:
    """One page of the merchant's payments (of one status if asked) with their links."""
    status = params.get("status", "")
    if status and status not in PAYMENT_STATUSES:
        raise QueryError("status", f"must be one of {', '.join(PAYMENT_STATUSES)}")
    page = payment_queries.list_payments(
        get_models(request),
        staff.merchant_id,
        staff.mode,
        status=status or None,
        limit=20,
        cursor=params.get("cursor") or None,
    )
    return {
        "payments": page.items,
        "link_names": payment_links(request, staff, page.items),
        "next_cursor": page.next_cursor,
    }


def payments_regions(request: Request, staff: Staff, params: dict[str, str]) -> dict[str, str]:
    """The list's live region: the first page's rows under the same status."""
    data = payment_rows(request, staff, {**params, "cursor": ""})
    del data["next_cursor"]
    return {"payments": fragment(request, "_payment_table.html", staff, **data)}


@router.get("/dashboard/payments")
def payments(
    request: Request,
    staff: StaffDep,
    status: StatusQuery = "",
    cursor: CursorQuery = "",
) -> Response:
    """Every payment attempt, newest first, by status; the first page follows new ones live."""
    data = payment_rows(request, staff, {"status": status, "cursor": cursor})
    kept = {"status": status} if status else {}
    stream = None if cursor else "/dashboard/stream?" + urlencode({"page": "payments", **kept})
    return render(
        request,
        "payments.html",
        staff,
        title=words(request)["payments_title"],
        payments=data["payments"],
        link_names=data["link_names"],
        statuses=PAYMENT_STATUSES,
        chosen=status,
        next_query=next_page_query(kept, data["next_cursor"]),
        export_query=urlencode(kept),
        stream=stream,
        notice=said_notice(request, REFUND_NOTICES),
    )


def _settlement_page(
    request: Request,
    staff: Staff,
    *,
    status: int = 200,
    error: str | None = None,
    amount: str = "",
) -> Response:
    models = get_models(request)
    t = words(request)
    batches = settlement_queries.settlement_batches(models, staff.merchant_id, staff.mode, limit=20)
    payouts = settlement_queries.payouts(models, staff.merchant_id, staff.mode, limit=20)
    return render(
        request,
        "settlements.html",
        staff,
        status=status,
        title=t["settlements_title"],
        books=ledger_queries.balances(models, staff.merchant_id, staff.mode),
        rows=BALANCE_ROWS,
        batches=batches.items,
        payouts=payouts.items,
        error=error,
        amount=amount,
        notice=said_notice(request, PAYOUT_NOTICES),
    )


@router.get("/dashboard/settlements")
def settlements(request: Request, staff: StaffDep) -> Response:
    """Balances by bucket, settlement batches and payouts; owners may request a payout."""
    return _settlement_page(request, staff)


@router.post("/dashboard/payouts")
def request_payout(
    request: Request,
    staff: OwnerFormDep,
    amount: Annotated[str, Form(max_length=30)] = "",
    currency: Annotated[str, Form(max_length=3)] = "IDR",
    description: Annotated[str, Form(max_length=200)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Pay available money out to the merchant's bank account (never more than available).

    The form's answer is a confirmation page (amount, bank account, fee); only its "yes"
    (``confirmed=yes``) requests the payout, and its cancel pays nothing out."""
    t = words(request)
    number = whole_number(amount, currency)
    if number is None:
        message = f"{t['payout_amount']}: {t['must_be_number']}"
        return _settlement_page(request, staff, status=422, error=message, amount=amount)
    paylink = get_paylink(request)
    asked = Money(number, currency)
    try:
        if confirmed != "yes":
            return _confirm_page(request, staff, asked, description)
        paylink.money.request_payout(staff.merchant_id, staff.mode, asked, description or None)
    except DomainError as error:
        code = status_for(error)
        message = said_error(request, error)
        return _settlement_page(request, staff, status=code, error=message, amount=amount)
    return RedirectResponse("/dashboard/settlements?notice=payout_ok", 303)


def _confirm_page(request: Request, staff: Staff, asked: Money, description: str) -> Response:
    """What a payout of ``asked`` would do, to confirm or cancel; nothing is paid out here.
    What the payout itself would refuse (no bank account, too little available) is said
    now, the same way."""
    paylink = get_paylink(request)
    merchant: object = paylink.app.repository.get(staff.merchant_id)
    if not isinstance(merchant, Merchant):
        raise PageNotFoundError
    if asked.amount <= 0:
        raise AmountInvalidError("amount", "a payout must be a positive amount")
    if merchant.bank_account is None:
        raise BankAccountMissingError(
            "set the merchant's settlement bank account before paying out", field="bank_account"
        )
    available = paylink.money.available_funds(staff.merchant_id, staff.mode, asked.currency)
    if asked.amount > available.amount:
        raise InsufficientFundsError(f"the available balance is {available}")
    return render(
        request,
        "payout_confirm.html",
        staff,
        title=words(request)["payout_confirm_title"],
        amount=asked.amount,
        currency=asked.currency,
        fee=PAYOUT_FEE,
        description=description,
        account=merchant.bank_account,
    )


def _as_of(value: str) -> datetime | None:
    """The audit's instant: a date and time (a datetime-local input) in Jakarta if no zone."""
    return instant(value, "as_of", zone=WIB) if value else None


def _current_plan(request: Request, staff: Staff) -> str:
    """The merchant's fee plan as JSON: where a what-if starts from."""
    plan = get_paylink(request).merchants.get(staff.merchant_id).fee_plan
    return json.dumps(plan.to_dict(), indent=2)


def _audit_page(
    request: Request,
    staff: Staff,
    *,
    status: int = 200,
    as_of: str = "",
    instant: datetime | None = None,
    books: Balances | None = None,
    links: list[LinkAsOf] | None = None,
    next_query: str | None = None,
    plan_text: str | None = None,
    first_day: str = "",
    last_day: str = "",
    whatif: WhatIfResult | None = None,
    whatif_error: str | None = None,
) -> Response:
    if plan_text is None and staff.is_owner:
        plan_text = _current_plan(request, staff)
    return render(
        request,
        "audit.html",
        staff,
        status=status,
        title=words(request)["audit_title"],
        as_of=as_of,
        instant=instant,
        books=books or {},
        rows=BALANCE_ROWS,
        links=links or [],
        next_query=next_query,
        plan_text=plan_text or "",
        first_day=first_day,
        last_day=last_day,
        whatif=whatif,
        whatif_totals=whatif.totals() if whatif is not None else [],
        whatif_error=whatif_error,
    )


@router.get("/dashboard/audit")
def audit(
    request: Request,
    staff: StaffDep,
    as_of: Annotated[str, Query(max_length=40)] = "",
    cursor: CursorQuery = "",
) -> Response:
    """Balances and links exactly as they were at an instant (from the journal and timelines);
    for owners, the form of a what-if of another fee plan."""
    instant = _as_of(as_of)
    books: Balances = {}
    links: list[LinkAsOf] = []
    next_query = None
    if instant is not None:
        models = get_models(request)
        books = ledger_queries.balances(models, staff.merchant_id, staff.mode, instant)
        page = link_queries.links_as_of(
            models, staff.merchant_id, staff.mode, instant, cursor=cursor or None
        )
        links = page.items
        next_query = next_page_query({"as_of": as_of}, page.next_cursor)
    return _audit_page(
        request,
        staff,
        as_of=as_of,
        instant=instant,
        books=books,
        links=links,
        next_query=next_query,
    )


def _upload(plan_file: UploadFile | None) -> bytes | None:
    """An uploaded plan's bytes (one more than the most a plan may hold), if one was chosen."""
    if plan_file is None or not plan_file.filename:
        return None
    return plan_file.file.read(MAX_PLAN_BYTES + 1)


@router.post("/dashboard/audit/what-if")
def audit_what_if(
    request: Request,
    staff: OwnerFormDep,
    plan: Annotated[str, Form(max_length=MAX_PLAN_BYTES)] = "",
    plan_file: Annotated[UploadFile | None, File()] = None,
    first_day: Annotated[str, Form(alias="from", max_length=10)] = "",
    last_day: Annotated[str, Form(alias="to", max_length=10)] = "",
) -> Response:
    """The merchant's verified payments of the period (this mode) re-priced under a pasted or
    uploaded fee plan, beside the fees they were charged. Reads the store; writes nothing."""
    uploaded = _upload(plan_file)
    shown = plan if uploaded is None else uploaded.decode("utf-8", "replace")
    t = words(request)
    try:
        first = typed_day(first_day, "from", t)
        last = typed_day(last_day, "to", t)
        if first is not None and last is not None and last < first:
            raise QueryError("to", t["date_order"])
        fee_plan = plan_from_json(plan if uploaded is None else uploaded)
        result = what_if(
            get_paylink(request).app,
            fee_plan,
            merchant=staff.merchant_id,
            mode=staff.mode,
            first_day=first,
            last_day=last,
        )
    except (QueryError, DomainError) as error:
        message = said_error(request, error) if isinstance(error, DomainError) else str(error)
        return _audit_page(
            request,
            staff,
            status=422,
            plan_text=shown[:MAX_PLAN_BYTES],
            first_day=shown_day(first_day, "from", t),
            last_day=shown_day(last_day, "to", t),
            whatif_error=message,
        )
    return _audit_page(
        request,
        staff,
        plan_text=shown,
        first_day=shown_day(first_day, "from", t),
        last_day=shown_day(last_day, "to", t),
        whatif=result,
    )
