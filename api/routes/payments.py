"""``/v1/payments`` and ``/v1/balances``: money in, and where it sits (now or then)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Query

from api.auth import Owner
from api.deps import LedgerView, PaymentsView
from api.params import Instant
from api.problems import ProblemError
from api.schemas import (
    COMMON_PROBLEMS,
    BalanceOut,
    Balances,
    CustomerOut,
    PaymentList,
    PaymentOut,
    instant_of,
    problem_responses,
)
from projections.queries import ledger as ledger_queries
from projections.queries import payments as payment_queries
from projections.queries.payments import PaymentRow

router = APIRouter(tags=["payments"], responses=COMMON_PROBLEMS)
PAYMENT_STATUSES = ("initiated", "paid", "verified", "rejected", "settled")


def payer_of(row: PaymentRow) -> tuple[CustomerOut | None, dict[str, str]]:
    """What the payer entered on the page: customer details (None: none) and custom field
    values by key, from a row of the payments view."""
    parts = (
        row["customer_name"],
        row["customer_email"],
        row["customer_phone"],
        row["customer_address"],
    )
    customer = None
    if any(part is not None for part in parts):
        name, email, phone, address = parts
        customer = CustomerOut(name=name, email=email, phone=phone, address=address)
    custom: dict[str, str] = orjson.loads(row["custom_fields"]) if row["custom_fields"] else {}
    return customer, custom


def payment_out(row: PaymentRow) -> PaymentOut:
    """The API's view of a row of the payments view."""
    customer, custom = payer_of(row)
    return PaymentOut(
        id=row["payment_id"],
        link_id=row["link_id"],
        mode=row["mode"],
        method=row["method"],
        channel=row["channel"],
        status=row["status"],
        currency=row["currency"],
        amount=row["amount"],
        received=row["received"],
        fee=row["fee"],
        net=row["net"],
        refunded=row["refunded"],
        channel_ref=row["channel_ref"],
        anomaly=row["anomaly"],
        disposition=row["disposition"],
        rejection=row["rejection"],
        paid_at=instant_of(row["paid_at"]),
        created_at=instant_of(row["created_at"]),
        customer=customer,
        custom_fields=custom,
    )


@router.get("/v1/payments", response_model=PaymentList, summary="List payments")
def list_payments(
    owner: Owner,
    models: PaymentsView,
    link_id: UUID | None = None,
    status: Annotated[str | None, Query(description=", ".join(PAYMENT_STATUSES))] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PaymentList:
    """The merchant's payments, newest first; pass ``next_cursor`` back as ``cursor``."""
    if status is not None and status not in PAYMENT_STATUSES:
        raise ProblemError(
            422,
            "validation-error",
            f"status: must be one of {', '.join(PAYMENT_STATUSES)}",
            field="status",
        )
    page = payment_queries.list_payments(
        models,
        owner.merchant_id,
        owner.mode,
        link_id=link_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return PaymentList(data=[payment_out(row) for row in page.items], next_cursor=page.next_cursor)


@router.get(
    "/v1/payments/{payment_id}",
    response_model=PaymentOut,
    summary="Read a payment",
    responses=problem_responses(404),
)
def get_payment(payment_id: UUID, owner: Owner, models: PaymentsView) -> PaymentOut:
    """One payment; another merchant's payment is 404, like an unknown one."""
    row = payment_queries.payment_detail(models, owner.merchant_id, owner.mode, payment_id)
    if row is None:
        raise ProblemError(404, "not-found", "no such payment", field="payment_id")
    return payment_out(row)


@router.get("/v1/balances", response_model=Balances, summary="Balances, now or as of an instant")
def get_balances(
    owner: Owner,
    models: LedgerView,
    as_of: Annotated[Instant | None, Query(description="ISO-8601 instant with offset")] = None,
) -> Balances:
    """Pending, available, held, refund due, fees, refunded and paid out, per currency."""
    books = ledger_queries.balances(models, owner.merchant_id, owner.mode, as_of)
    return Balances(
        mode=owner.mode,
        as_of=as_of,
        data=[BalanceOut(currency=currency, **columns) for currency, columns in books.items()],
    )
