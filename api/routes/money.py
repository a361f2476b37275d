"""Money going on: refunds and reviews of payments, settlements, payouts, the bank account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.auth import IdempotencyKey, Owner
from api.channel_registry import channel_for
from api.deps import PaylinkDep, PaymentsView, SettlementsView
from api.idempotency import run_idempotent
from api.params import Day
from api.problems import ProblemError
from api.schemas import (
    COMMON_PROBLEMS,
    AccountOut,
    AnomalyPolicyIn,
    BankAccountIn,
    BankAccountOut,
    PartialExpiryIn,
    PaymentOut,
    PayoutCreate,
    PayoutList,
    PayoutOut,
    RedirectSecretOut,
    RefundCreate,
    RefundOut,
    ReviewCreate,
    SettlementList,
    SettlementOut,
    instant_of,
    problem_responses,
)
from paylink_es.application.details import PaymentDetails
from paylink_es.application.merchants import MerchantDetails
from paylink_es.application.money import PayoutDetails, masked
from paylink_es.domain.errors import NotFoundError
from paylink_es.domain.link import DEFAULT_DECISIONS
from paylink_es.domain.money import Money
from projections.queries import payments as payment_queries
from projections.queries import settlements as settlement_queries
from projections.queries.settlements import PayoutRow
from workers.settlement import report_csv

router = APIRouter(tags=["money"], responses=COMMON_PROBLEMS)


def _owned_payment(paylink: PaylinkDep, owner: Owner, payment_id: UUID) -> PaymentDetails:
    try:
        payment = paylink.payments.get(payment_id)
    except NotFoundError:
        payment = None
    if payment is None or payment.merchant_id != owner.merchant_id or payment.mode != owner.mode:
        raise ProblemError(404, "not-found", "no such payment", field="payment_id")
    return payment


@router.post(
    "/v1/payments/{payment_id}/refund",
    response_model=RefundOut,
    status_code=201,
    summary="Refund a payment, fully or partly",
    responses=problem_responses(404, 409, 502),
)
def refund_payment(
    payment_id: UUID,
    body: RefundCreate,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """The channel is asked first, and its answer recorded with the request: accepted, the
    money goes back (settled money, all of the gross if asked, out of the available
    balance, which may go below zero; the fee as the fee plan's ``refund_fee`` says);
    refused, a failed refund is recorded (``refund.failed``), nothing moves, and the
    answer is a ``channel-refused`` problem."""

    def execute() -> tuple[int, RefundOut]:
        payment = _owned_payment(paylink, owner, payment_id)
        currency = payment.received.currency if payment.received else payment.amount.currency
        if body.amount is None:
            refundable = payment.refundable
            if refundable is None or refundable.amount <= 0:
                raise ProblemError(
                    409, "refund-exceeds-payment", "nothing left to refund", field="amount"
                )
            amount = refundable
        else:
            amount = Money(body.amount, currency)
        channel = channel_for(request.app.state, payment.channel)
        refund_id = paylink.money.refund(payment_id, amount, body.reason, channel)
        after = paylink.payments.get(payment_id)
        done = paylink.money.refund_details(payment_id, refund_id)
        return 201, RefundOut(
            id=refund_id,
            payment_id=payment_id,
            amount=amount.amount,
            currency=amount.currency,
            reason=body.reason,
            channel_ref=done.channel_ref,
            fee_returned=done.fee_returned.amount,
            payment_refunded=after.refunded.amount,
        )

    return run_idempotent(request, owner, body, execute)


@router.post(
    "/v1/payments/{payment_id}/review",
    summary="Accept or refund a payment held for review",
    responses=problem_responses(404, 409),
)
def review_payment(
    payment_id: UUID,
    body: ReviewCreate,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """``accept`` credits it like any payment; ``refund`` marks it refund due."""

    def execute() -> tuple[int, PaymentOut]:
        _owned_payment(paylink, owner, payment_id)
        paylink.payments.review(payment_id, body.decision, body.note)
        after = paylink.payments.get(payment_id)
        return 200, payment_details_out(after)

    return run_idempotent(request, owner, body, execute)


def payment_details_out(details: PaymentDetails) -> PaymentOut:
    """A payment read from the paylink, in the API's shape."""
    received = details.received
    return PaymentOut(
        id=str(details.id),
        link_id=str(details.link_id),
        mode=details.mode,
        method=details.method,
        channel=details.channel,
        status=details.status,
        currency=details.amount.currency,
        amount=details.amount.amount,
        received=received.amount if received else None,
        fee=details.fee.amount if details.fee else None,
        net=details.net.amount if details.net else None,
        refunded=details.refunded.amount,
        channel_ref=details.channel_ref,
        anomaly=details.anomaly,
        disposition=details.disposition,
        rejection=details.rejection,
        paid_at=details.paid_at,
        created_at=details.created_at or details.paid_at or datetime.now(UTC),
    )


def payout_out(details: PayoutDetails) -> PayoutOut:
    """A payout read from the paylink, in the API's shape."""
    return PayoutOut(
        id=details.id,
        mode=details.mode,
        amount=details.amount.amount,
        currency=details.amount.currency,
        status=details.status,  # type: ignore[arg-type]
        bank_account=BankAccountOut(**masked(details.bank_account)),
        description=details.description,
        channel_ref=details.channel_ref,
        failure=details.failure,
        created_at=details.created_at,
    )


def payout_row_out(row: PayoutRow) -> PayoutOut:
    """A row of the payouts view, in the API's shape."""
    return PayoutOut(
        id=UUID(row["payout_id"]),
        mode=row["mode"],
        amount=row["amount"],
        currency=row["currency"],
        status=row["status"],
        bank_account=BankAccountOut(
            bank=row["bank"], account_number=row["account_number"], account_name=row["account_name"]
        ),
        description=row["description"],
        channel_ref=row["channel_ref"],
        failure=row["failure"],
        created_at=instant_of(row["created_at"]),
    )


@router.post(
    "/v1/payouts",
    response_model=PayoutOut,
    status_code=201,
    summary="Pay out available balance to the bank account",
    responses=problem_responses(409),
)
def create_payout(
    body: PayoutCreate,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Never more than is available, however many requests race, and nothing while the
    available balance is negative after refunds (409 insufficient-funds)."""

    def execute() -> tuple[int, PayoutOut]:
        amount = Money(body.amount, body.currency.upper())
        details = paylink.money.request_payout(
            owner.merchant_id, owner.mode, amount, body.description
        )
        return 201, payout_out(details)

    return run_idempotent(request, owner, body, execute)


@router.get("/v1/payouts", response_model=PayoutList, summary="List payouts")
def list_payouts(
    owner: Owner,
    models: SettlementsView,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PayoutList:
    """The merchant's payouts, newest first."""
    page = settlement_queries.payouts(
        models, owner.merchant_id, owner.mode, limit=limit, cursor=cursor
    )
    return PayoutList(data=[payout_row_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/v1/payouts/{payout_id}",
    response_model=PayoutOut,
    summary="Read a payout",
    responses=problem_responses(404),
)
def get_payout(payout_id: UUID, owner: Owner, paylink: PaylinkDep) -> PayoutOut:
    """One payout, as the event store has it now; another merchant's is 404."""
    try:
        details = paylink.money.payout(payout_id)
    except NotFoundError:
        details = None
    if details is None or details.merchant_id != owner.merchant_id or details.mode != owner.mode:
        raise ProblemError(404, "not-found", "no such payout", field="payout_id")
    return payout_out(details)


@router.get("/v1/settlements", response_model=SettlementList, summary="List settlement batches")
def list_settlements(
    owner: Owner,
    models: SettlementsView,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> SettlementList:
    """Settlement batches (per day and currency), newest first."""
    page = settlement_queries.settlement_batches(
        models, owner.merchant_id, owner.mode, limit=limit, cursor=cursor
    )
    return SettlementList(
        data=[
            SettlementOut(
                id=UUID(row["batch_id"]),
                mode=row["mode"],
                settlement_date=row["settlement_date"],
                currency=row["currency"],
                payments=row["payments"],
                gross=row["gross"],
                fee=row["fee"],
                net=row["net"],
            )
            for row in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/v1/settlements/report.csv",
    summary="Settlement report (CSV): every settled payment with gross, fee and net",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(422)},
)
def settlement_report(
    owner: Owner,
    models: PaymentsView,
    settlement_date: Annotated[Day | None, Query(alias="date", description="YYYY-MM-DD")] = None,
) -> StreamingResponse:
    """One row per settled payment; ``date`` limits it to one settlement day."""
    day = settlement_date.isoformat() if settlement_date else None
    rows = payment_queries.settlement_report(models, owner.merchant_id, owner.mode, day)
    name = f"settlement-{day or 'all'}.csv"
    return StreamingResponse(
        report_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def account_out(merchant: MerchantDetails) -> AccountOut:
    """The merchant's money settings, the bank account masked."""
    account = merchant.bank_account
    return AccountOut(
        bank_account=BankAccountOut(**masked(account)) if account else None,
        anomaly_policy={**_default_policy(), **merchant.anomaly_policy},
        partial_expiry=merchant.partial_expiry,
        fee_plan=merchant.fee_plan.to_dict(),
    )


def _default_policy() -> dict[str, str]:
    return dict(DEFAULT_DECISIONS)


@router.get("/v1/account", response_model=AccountOut, summary="Bank account, policy, fee plan")
def get_account(owner: Owner, paylink: PaylinkDep) -> AccountOut:
    """Where payouts go, what happens to anomalies, and the fees charged."""
    return account_out(paylink.merchants.get(owner.merchant_id))


@router.put(
    "/v1/account/bank-account",
    response_model=AccountOut,
    summary="Set the settlement bank account",
)
def set_bank_account(body: BankAccountIn, owner: Owner, paylink: PaylinkDep) -> AccountOut:
    """Payouts go to this account from now on (setting the same account again is a no-op)."""
    paylink.merchants.set_bank_account(
        owner.merchant_id, body.bank, body.account_number, body.account_name
    )
    return account_out(paylink.merchants.get(owner.merchant_id))


@router.put(
    "/v1/account/anomaly-policy",
    response_model=AccountOut,
    summary="Set the anomaly policy",
)
def set_anomaly_policy(body: AnomalyPolicyIn, owner: Owner, paylink: PaylinkDep) -> AccountOut:
    """Per anomaly (overpaid, underpaid, paid_after_expiry, …): accept, hold or refund."""
    paylink.merchants.set_anomaly_policy(owner.merchant_id, dict(body.policy))
    return account_out(paylink.merchants.get(owner.merchant_id))


@router.put(
    "/v1/account/partial-expiry",
    response_model=AccountOut,
    summary="Set what links paid in part do at their expiry",
)
def set_partial_expiry(body: PartialExpiryIn, owner: Owner, paylink: PaylinkDep) -> AccountOut:
    """``expire`` (the default: a link paid in part expires, what was paid stays credited)
    or ``keep_open`` (it stays open until paid in full or cancelled), for links made from
    now on that do not say (``partial_expiry`` on the link); links made before keep theirs."""
    paylink.merchants.set_partial_expiry(owner.merchant_id, body.partial_expiry)
    return account_out(paylink.merchants.get(owner.merchant_id))


@router.get(
    "/v1/account/redirect-secret",
    response_model=RedirectSecretOut,
    summary="The secret that signs redirects",
)
def get_redirect_secret(owner: Owner, paylink: PaylinkDep) -> RedirectSecretOut:
    """The key's mode's secret (``rdsec_test_…``, ``rdsec_live_…``; made the first time it
    is asked for) that signs the outcome the hosted page adds to a link's ``success_url``
    and ``failure_url``. Check ``paylink_signature`` with it (see the README)."""
    secret = paylink.merchants.redirect_secret(owner.merchant_id, owner.mode)
    return RedirectSecretOut(mode=owner.mode, secret=secret)


@router.post(
    "/v1/account/redirect-secret/rotate",
    response_model=RedirectSecretOut,
    summary="Rotate the secret that signs redirects",
)
def rotate_redirect_secret(
    request: Request, owner: Owner, paylink: PaylinkDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """A new secret signs redirects from now on; accept the old one too for a few minutes
    (a redirect signed just before is still on its way)."""

    def execute() -> tuple[int, RedirectSecretOut]:
        secret = paylink.merchants.rotate_redirect_secret(owner.merchant_id, owner.mode)
        return 200, RedirectSecretOut(mode=owner.mode, secret=secret)

    return run_idempotent(request, owner, None, execute)
