"""Winpay's notifications, under the base URL a merchant registers: ``/channels/winpay``.

Winpay appends the path itself: ``/v1.0/transfer-va/payment`` (VA and retail payments,
service 25), ``/v1.0/qr/qr-mpm-notify`` (QRIS, 52), ``/v1.0/debit/notify`` (e-wallet,
56). Anything else under the base answers a SNAP body (``404xx00``), never problem+json.

Each route only reads Winpay's wire format and maps the verdict of the one verification
pipeline (:class:`~paylink_es.application.verification.PaymentVerification`) to Winpay's answer:

1. authenticate (:class:`~paylink_es.channels.snap_callbacks.SnapCallbackVerifier`):
   missing header ``400xx02``, malformed ``400xx01``, stale or badly signed ``401xx00``;
2. an X-EXTERNAL-ID already processed today answers ``409xx00``;
3. parse the body (``400xx01``/``400xx02`` naming the field);
4. the pipeline: record, status inquiry, verify or reject.

Answers (VA codes; QRIS and e-wallet use their own service codes likewise): ``2002500``
verified (now or before); ``4042513`` invalid amount and ``4042512`` not paid (the status
inquiry denied it for good); ``4042501`` unknown transaction; ``4042512`` a notification
that does not fit the payment it names; ``5002500`` not confirmed yet — the status
inquiry said ``01``/``02`` or could not be asked — so Winpay sends it again, and the
poller keeps asking. Only a notification processed to a decision (verified or rejected)
uses up its X-EXTERNAL-ID: a retry after "not yet" is asked again, not refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import OperationalError
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.channel_registry import winpay_channel
from paylink_es.application.channel_port import Notification
from paylink_es.application.services import Paylink
from paylink_es.application.verification import Verdict
from paylink_es.channels.snap_callbacks import (
    NOTIFY_SERVICES,
    PATH_EWALLET_NOTIFY,
    PATH_QRIS_NOTIFY,
    PATH_VA_PAYMENT,
    SignedNotification,
    callback_answer,
    code_for,
    parse_transaction_notice,
    parse_va_payment,
)
from paylink_es.channels.snap_codes import SnapCallbackRejectedError
from paylink_es.channels.winpay import CALLBACK_BASE, EventSourcedSeenExternalIds, WinpayChannel
from paylink_es.domain.errors import DomainError
from paylink_es.store.postgres import DatabaseUnavailableError

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def _answer(code: str, message: str) -> Response:
    return Response(
        callback_answer(code, message),
        status_code=int(code[:3]),
        media_type="application/json",
    )


@router.api_route(
    CALLBACK_BASE + "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
)
async def notification(request: Request, rest: str) -> Response:
    """Every Winpay notification, and a SNAP answer for any other path under the base."""
    del rest
    body = await request.body()
    headers = dict(request.headers.items())
    return await run_in_threadpool(
        _handle, request.app.state, request.method, request.url.path, headers, body
    )


Reader = Callable[[WinpayChannel, SignedNotification, datetime], Notification | None]


def _va(winpay: WinpayChannel, signed: SignedNotification, now: datetime) -> Notification | None:
    del now
    return winpay.va_notification(parse_va_payment(signed.body), signed.external_id)


def _transaction(
    winpay: WinpayChannel, signed: SignedNotification, now: datetime
) -> Notification | None:
    notice = parse_transaction_notice(signed.body, signed.service)
    if notice.status != "00":
        return None  # not a payment: acknowledged, nothing to record (the poller asks)
    return winpay.transaction_notification(notice, signed.external_id, now)


READERS: dict[str, Reader] = {
    PATH_VA_PAYMENT: _va,
    PATH_QRIS_NOTIFY: _transaction,
    PATH_EWALLET_NOTIFY: _transaction,
}


def _handle(state: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
    winpay = winpay_channel(state)
    relative = path[len(CALLBACK_BASE) :]
    service = code_for_path(relative)
    if winpay is None:
        return _answer(code_for(service, 404, "08"), "Invalid Merchant. Winpay is not configured")
    paylink: Paylink = state.paylink
    now = datetime.now(tz=UTC)
    seen = EventSourcedSeenExternalIds(paylink.app.save, lambda i: i in paylink.app.repository)
    try:
        signed = winpay.callbacks.authenticate(method, path, headers, body, now)
        if seen.seen(signed.day, signed.external_id):
            return _answer(
                code_for(service, 409, "00"), "Conflict. X-EXTERNAL-ID already used today"
            )
        note = READERS[relative](winpay, signed, now)
    except SnapCallbackRejectedError as rejected:
        return _answer(rejected.response_code, rejected.reason)
    if note is None:
        if relative == PATH_VA_PAYMENT:
            return _answer(code_for(service, 404, "01"), "Transaction Not Found. trxId")
        return _answer(code_for(service, 200, "00"), "Successful")
    try:
        verdict = paylink.verification.process(winpay, note)
        if verdict.final:
            seen.add(signed.day, signed.external_id)
    except (OperationalError, DatabaseUnavailableError) as error:
        log.warning("Winpay notification not stored: %s", error)
        return _answer(code_for(service, 500, "00"), "General Error. try again")
    except DomainError as error:
        return _answer(code_for(service, 400, "01"), f"Invalid Field Format {error.field or ''}")
    return _verdict_answer(service, verdict)


def code_for_path(relative: str) -> str:
    """The SNAP service code of a notification path (the VA payment's for any other)."""
    return NOTIFY_SERVICES.get(relative, NOTIFY_SERVICES[PATH_VA_PAYMENT])


def _verdict_answer(service: str, verdict: Verdict) -> Response:
    if verdict.kind == "verified":
        return _answer(code_for(service, 200, "00"), "Successful")
    if verdict.kind == "unknown":
        return _answer(code_for(service, 404, "01"), "Transaction Not Found")
    if verdict.kind == "mismatch":
        return _answer(code_for(service, 404, "12"), f"Invalid Bill. {verdict.reason}")
    if verdict.kind == "rejected":
        log.warning("Winpay payment rejected: %s", verdict.reason)
        if verdict.amount_differs:
            return _answer(code_for(service, 404, "13"), "Invalid Amount. the status disagrees")
        return _answer(code_for(service, 404, "12"), "Invalid Bill. not paid at Winpay")
    return _answer(
        code_for(service, 500, "00"), f"General Error. not confirmed yet: {verdict.reason}"
    )
