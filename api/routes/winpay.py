"""Winpay SNAP callbacks: ``POST /channels/winpay/v1.0/transfer-va/payment``.

Order of checks (nothing is recorded before the callback is believed):

1. ``SnapCallbackVerifier``: X-TIMESTAMP within 5 minutes of our clock, X-SIGNATURE
   over the exact bytes received — SHA256withRSA with Winpay's public key, or, with
   ``PAYLINK_WINPAY_SIGNATURE_SCHEME=hmac`` (generic SNAP), HMAC-SHA512 with the shared
   client secret over the ``Authorization: Bearer`` token presented (none: ``4012501``) —
   the body's fields, then X-EXTERNAL-ID unique per Jakarta day — remembered in the event
   store, so every worker process sees every id.
2. The payment: ``trxId`` is our payment id; it must be a Winpay payment whose VA number
   is the one paid.
3. ``record_payment`` (a duplicate ``paymentRequestId`` changes nothing), then
   ``confirm_payment``: Winpay's status inquiry must say paid, for the amount received,
   before the merchant's pending balance is credited; otherwise the payment is rejected.

Answers are SNAP JSON ``{"responseCode", "responseMessage"}`` with the HTTP status of the
code's first three digits: ``2002500`` success; ``4002501``/``4002502`` invalid/missing
field; ``4012500`` unauthorized (stale timestamp, bad signature); ``4012501`` invalid
token (HMAC scheme: no bearer token); ``4092500`` X-EXTERNAL-ID already used today (these
are CHANNELS.md's). From the SNAP standard's general cases:
``4042501`` transaction not found, ``4042512`` invalid bill/virtual account, ``4042513``
invalid amount (the status inquiry disagrees), ``5002500`` general error (the inquiry
failed: the payment stays received-unverified; Winpay's retry finds it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import OperationalError
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.channel_registry import winpay_channel
from paylink_es.application import PaylinkApp
from paylink_es.channels import snap_codes as codes
from paylink_es.channels.snap import callback_answer
from paylink_es.channels.snap_codes import SnapCallbackRejectedError
from paylink_es.channels.winpay import CALLBACK_PATH, EventSourcedSeenExternalIds
from paylink_es.errors import DomainError, NotFoundError

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

SERVICE = codes.SERVICE_VA_PAYMENT
NOT_FOUND = codes.response_code(404, SERVICE, "01")
INVALID_VA = codes.response_code(404, SERVICE, "12")
INVALID_AMOUNT = codes.response_code(404, SERVICE, "13")
GENERAL_ERROR = codes.response_code(500, SERVICE, "00")
NOT_CONFIGURED = codes.response_code(404, SERVICE, "08")


def _answer(code: str, message: str) -> Response:
    return Response(
        callback_answer(code, message),
        status_code=int(code[:3]),
        media_type="application/json",
    )


@router.post(CALLBACK_PATH)
async def va_payment(request: Request) -> Response:
    """Winpay reports a VA payment: verified, recorded, confirmed by inquiry, answered."""
    body = await request.body()
    headers = dict(request.headers.items())
    return await run_in_threadpool(
        _handle, request.app.state, request.method, request.url.path, headers, body
    )


def _handle(state: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
    winpay = winpay_channel(state)
    if winpay is None:
        return _answer(NOT_CONFIGURED, "Invalid Merchant. Winpay is not configured here")
    ledger: PaylinkApp = state.ledger
    verifier = winpay.callback_verifier(EventSourcedSeenExternalIds(ledger.save))
    try:
        reported = verifier.verify_callback(method, path, headers, body, datetime.now(tz=UTC))
    except SnapCallbackRejectedError as rejected:
        return _answer(rejected.response_code, rejected.reason)
    except OperationalError as error:
        log.warning("could not remember a Winpay X-EXTERNAL-ID: %s", error)
        return _answer(GENERAL_ERROR, "General Error. try again")
    report = winpay.report(reported)
    if report.payment_id is None:
        return _answer(NOT_FOUND, "Transaction Not Found. trxId")
    try:
        payment = ledger.payment(report.payment_id)
    except NotFoundError:
        return _answer(NOT_FOUND, "Transaction Not Found. trxId")
    if payment.channel != winpay.name:
        return _answer(NOT_FOUND, "Transaction Not Found. trxId")
    if payment.instructions.get("virtual_account_no") != reported.virtual_account_no:
        return _answer(INVALID_VA, "Invalid Bill/Virtual Account. virtualAccountNo")
    evidence = {**report.evidence, "external_id": headers.get("x-external-id", "")}
    try:
        outcome = ledger.record_payment(
            report.payment_id, report.channel_ref, report.amount, report.paid_at
        )
        # Also for a duplicate: one whose earlier inquiry failed is confirmed now.
        confirmed = ledger.confirm_payment(outcome.payment_id, winpay, evidence=evidence)
    except DomainError as error:
        return _answer(codes.PAYMENT_FIELD_INVALID, f"Invalid Field Format {error.field or 'body'}")
    if confirmed.status in ("verified", "settled"):
        return _answer(codes.PAYMENT_OK, "Successful")
    if confirmed.status == "rejected":
        log.warning("Winpay payment %s rejected: %s", confirmed.id, confirmed.rejection)
        if confirmed.received != confirmed.amount:
            return _answer(INVALID_AMOUNT, "Invalid Amount. the status inquiry disagrees")
        return _answer(INVALID_VA, "Invalid Bill/Virtual Account. not paid at Winpay")
    return _answer(GENERAL_ERROR, "General Error. status inquiry unavailable, try again")
