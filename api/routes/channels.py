"""Channel callbacks (``/channels/…``), and the sandbox's own pages and API."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import IdempotencyKey, Owner
from api.deps import PaylinkDep
from api.idempotency import run_idempotent
from api.pages import language, render, render_message
from api.problems import ProblemError
from api.sandbox import sandbox, simulate
from api.schemas import COMMON_PROBLEMS, problem_responses
from paylink_es.application.channel_port import Notification
from paylink_es.application.details import LinkDetails, PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.channels.sandbox import SIGNATURE_HEADER
from paylink_es.domain.errors import DomainError, NotFoundError
from paylink_es.domain.money import MAX_MINOR_UNITS, Money

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["sandbox"], responses=COMMON_PROBLEMS)


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"status": "rejected", "reason": reason}, status_code=status)


@router.post("/channels/sandbox/callback")
async def sandbox_callback(request: Request) -> Response:
    """A payment report from the sandbox: signed, then through the verification pipeline."""
    body = await request.body()
    channel = sandbox(request)
    if not channel.verify(request.headers.get(SIGNATURE_HEADER), body, int(time.time())):
        return _refuse(401, "bad or stale signature: nothing credited")
    try:
        report = orjson.loads(body)
        notification = Notification(
            payment_id=UUID(report["payment_id"]),
            channel_ref=str(report["channel_ref"]),
            amount=Money.of(report["amount"], report["currency"]),
            paid_at=datetime.fromisoformat(report["paid_at"]),
            evidence={
                "channel": "sandbox",
                "channel_ref": str(report["channel_ref"]),
                "signature": "hmac-sha256",
            },
        )
        status = str(report["status"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, DomainError) as error:
        return _refuse(422, f"malformed report: {error}")
    if status != "PAID":  # PENDING and the like: nothing to record, even out of order
        return JSONResponse({"status": "ok", "recorded": False})
    paylink: Paylink = request.app.state.paylink
    try:
        verdict = await run_in_threadpool(paylink.verification.process, channel, notification)
    except NotFoundError:
        return _refuse(404, "unknown payment")
    except DomainError as error:
        return _refuse(422, error.message)
    if verdict.kind in ("unknown", "mismatch"):
        return _refuse(404, "unknown payment")
    decided = verdict.payment
    return JSONResponse(
        {
            "status": "ok",
            "recorded": not verdict.duplicate,
            "duplicate": verdict.duplicate,
            "anomaly": verdict.anomaly,
            "payment_id": str(decided.id) if decided is not None else None,
            "payment_status": decided.status if decided is not None else None,
            "rejection": decided.rejection if decided is not None else None,
        }
    )


def _sandbox_payment(
    request: Request, payment_id: UUID
) -> tuple[PaymentDetails, LinkDetails] | None:
    """A test-mode payment of the sandbox channel and its link; None for any other."""
    paylink: Paylink = request.app.state.paylink
    try:
        payment = paylink.payments.get(payment_id)
        link = paylink.links.get(payment.link_id)
    except NotFoundError:
        return None
    if link.mode != "test" or payment.channel != "sandbox":
        return None
    return payment, link


@router.get("/sandbox/ewallet/{payment_id}")
def ewallet_page(payment_id: UUID, request: Request) -> Response:
    """The sandbox e-wallet: the payment, in the customer's language, and one button."""
    found = _sandbox_payment(request, payment_id)
    if found is None:
        return render_message(request, 404, "not_found")
    payment, link = found
    return render(
        request,
        "ewallet.html",
        payment=payment,
        link=link,
        wallet=payment.instructions.get("wallet", ""),
        merchant=request.app.state.paylink.merchants.name(link.merchant_id),
        currency=payment.amount.currency,
        title=link.description,
        test_mode=True,
    )


@router.post("/sandbox/ewallet/{payment_id}/approve")
def ewallet_approve(
    payment_id: UUID, request: Request, confirm: Annotated[str, Form()] = ""
) -> Response:
    """Approve in the sandbox wallet, then go back to the merchant's page."""
    del confirm
    found = _sandbox_payment(request, payment_id)
    if found is None:
        return render_message(request, 404, "not_found")
    payment, link = found
    if payment.status == "initiated":  # approving twice pays once
        simulate(request, payment)
    return RedirectResponse(f"/l/{link.code}/p/{payment_id}?lang={language(request)}", 303)


class SandboxPayment(BaseModel):
    """Pay a payment in the sandbox, the way a scenario says."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"payment_id": "0b8f8f5e-3c4e-4a59-9a7e-2f6f0e6d2a11", "scenario": "duplicate"},
            ]
        },
    )
    payment_id: UUID
    scenario: Literal["normal", "duplicate", "late", "overpay", "underpay", "out_of_order"] = (
        "normal"
    )
    amount: int | None = Field(
        default=None,
        gt=0,
        le=MAX_MINOR_UNITS,
        description="pay exactly this much instead (minor units)",
    )


class SandboxResult(BaseModel):
    """The callbacks sent and what the platform answered to each."""

    object: Literal["sandbox_payment"] = "sandbox_payment"
    scenario: str
    callbacks: list[dict[str, Any]]


@api_router.post(
    "/v1/sandbox/payments",
    response_model=SandboxResult,
    summary="Simulate a payment in test mode (signed callbacks over HTTP)",
    responses=problem_responses(404, 409),
)
def sandbox_payment(
    body: SandboxPayment,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Options: normal, duplicate, late (after expiry), overpay, underpay, out_of_order."""

    def execute() -> tuple[int, SandboxResult]:
        if owner.mode != "test":
            raise ProblemError(404, "not-found", "the sandbox is for test mode only")
        try:
            payment = paylink.payments.get(body.payment_id)
        except NotFoundError:
            raise ProblemError(404, "not-found", "no such payment", field="payment_id") from None
        if (
            payment.merchant_id != owner.merchant_id
            or payment.mode != "test"
            or payment.channel != "sandbox"
        ):
            raise ProblemError(404, "not-found", "no such payment", field="payment_id")
        if payment.status != "initiated" and body.scenario != "duplicate":
            raise ProblemError(
                409,
                "payment-already-paid",
                f"this payment is already {payment.status}: the sandbox pays an attempt once "
                "(the duplicate scenario sends its callback again); start a new payment",
                field="payment_id",
            )
        sent = simulate(request, payment, body.scenario, body.amount)
        return 200, SandboxResult(
            scenario=body.scenario,
            callbacks=[
                {"status": d.status, "status_code": d.status_code, "response": d.body} for d in sent
            ],
        )

    return run_idempotent(request, owner, body, execute)
