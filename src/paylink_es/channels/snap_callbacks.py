"""SNAP notifications Winpay sends us: authenticated, then read into typed reports.

Three notifications, each under the base URL the merchant registers with Winpay (Winpay
appends the path itself): the VA payment ``/v1.0/transfer-va/payment`` (service 25),
the QRIS payment ``/v1.0/qr/qr-mpm-notify`` (52) and the e-wallet payment
``/v1.0/debit/notify`` (56).

:meth:`SnapCallbackVerifier.authenticate` checks, in order: the mandatory headers
(missing: ``400xx02``), X-TIMESTAMP's form (``400xx01``) and freshness (``401xx00``), the
signature (``401xx00``; generic SNAP without a bearer token: ``401xx01``) and the
X-EXTERNAL-ID's form. The string signed holds the relative path from ``/v1.0/`` on and
the SHA-256 of the body: the body as it arrived, or — as Winpay's own validation code
does — the body decoded and minified again. Either is accepted.

Whether an X-EXTERNAL-ID was used already is for the caller to ask (:class:`SeenExternalIds`),
and to remember only once the notification was processed: a notification refused for a
passing reason (the status inquiry said "not yet") must be answered again on Winpay's retry.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Protocol

from paylink_es.bearer import bearer_token
from paylink_es.channels import snap_codes as codes
from paylink_es.channels.snap_codes import SnapCallbackRejectedError
from paylink_es.channels.snap_messages import minify, money_from_snap, parse_snap_datetime
from paylink_es.channels.snap_signing import HmacVerifier, Verifier
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import Money
from paylink_es.locale import WIB

PATH_VA_PAYMENT: Final = "/v1.0/transfer-va/payment"
PATH_QRIS_NOTIFY: Final = "/v1.0/qr/qr-mpm-notify"
PATH_EWALLET_NOTIFY: Final = "/v1.0/debit/notify"
NOTIFY_SERVICES: Final = {
    PATH_VA_PAYMENT: codes.SERVICE_VA_PAYMENT,
    PATH_QRIS_NOTIFY: codes.SERVICE_QRIS_NOTIFY,
    PATH_EWALLET_NOTIFY: codes.SERVICE_EWALLET_NOTIFY,
}
TIMESTAMP_TOLERANCE: Final = timedelta(minutes=5)
_MANDATORY_HEADERS: Final = ("X-TIMESTAMP", "X-SIGNATURE", "X-EXTERNAL-ID")
_EXTERNAL_ID = re.compile(r"[0-9]{1,36}|[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


def code_for(service: str, http_status: int, case: str) -> str:
    """A response code of ``service``: e.g. ``code_for("25", 400, "02")`` is ``4002502``."""
    return codes.response_code(http_status, service, case)


def callback_answer(
    response_code: str = codes.PAYMENT_OK, response_message: str = "Successful"
) -> bytes:
    """The JSON body answering a callback: ``{"responseCode":...,"responseMessage":...}``."""
    return minify({"responseCode": response_code, "responseMessage": response_message})


def _missing(service: str, field: str) -> SnapCallbackRejectedError:
    return SnapCallbackRejectedError(
        code_for(service, 400, "02"), f"Invalid Mandatory Field {field}"
    )


def _invalid(service: str, field: str) -> SnapCallbackRejectedError:
    return SnapCallbackRejectedError(code_for(service, 400, "01"), f"Invalid Field Format {field}")


# --- X-EXTERNAL-ID -------------------------------------------------------------------------


class SeenExternalIds(Protocol):
    """Remembers the X-EXTERNAL-ID values of notifications processed each day."""

    def seen(self, day: date, external_id: str) -> bool:
        """Whether ``external_id`` was processed on ``day``."""
        ...

    def add(self, day: date, external_id: str) -> bool:
        """Record ``external_id`` for ``day``; False if it was already there."""
        ...


class InMemorySeenExternalIds:
    """Seen X-EXTERNAL-IDs of today and yesterday, in this process only."""

    def __init__(self) -> None:
        self._by_day: dict[date, set[str]] = {}
        self._lock = threading.Lock()

    def seen(self, day: date, external_id: str) -> bool:
        """Whether ``external_id`` was recorded for ``day``."""
        with self._lock:
            return external_id in self._by_day.get(day, ())

    def add(self, day: date, external_id: str) -> bool:
        """Record ``external_id`` for ``day``; False if it was already there."""
        with self._lock:
            for old in [d for d in self._by_day if d < day - timedelta(days=1)]:
                del self._by_day[old]
            seen = self._by_day.setdefault(day, set())
            if external_id in seen:
                return False
            seen.add(external_id)
            return True


# --- authentication ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedNotification:
    """A notification whose signature and time were checked; its body not yet read."""

    service: str
    body: dict[str, Any]
    external_id: str
    day: date  # the Jakarta day its X-EXTERNAL-ID belongs to


def relative_path(path: str) -> str:
    """The part of a callback URL's path that SNAP signs: from ``/v1.0/`` on."""
    at = path.find("/v1.0/")
    return path[at:] if at >= 0 else path


def _bodies(raw: bytes) -> tuple[list[bytes], dict[str, Any] | None]:
    """The raw body and its minified form (what Winpay hashes), and the decoded object."""
    try:
        decoded = json.loads(raw)
    except ValueError:
        return [raw], None
    if not isinstance(decoded, dict):
        return [raw], None
    minified = json.dumps(decoded, separators=(",", ":")).encode()
    return ([raw] if minified == raw else [raw, minified]), decoded


class SnapCallbackVerifier:
    """Authenticates Winpay's notifications with Winpay's key (or the shared HMAC secret)."""

    def __init__(self, verifier: Verifier, tolerance: timedelta = TIMESTAMP_TOLERANCE) -> None:
        self._verifier = verifier
        self._tolerance = tolerance

    @property
    def scheme(self) -> str:
        """How notifications are signed: ``SHA256withRSA`` or ``HMAC-SHA512``."""
        return "HMAC-SHA512" if isinstance(self._verifier, HmacVerifier) else "SHA256withRSA"

    def authenticate(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        raw_body: bytes,
        now: datetime,
    ) -> SignedNotification:
        """The notification, or SnapCallbackRejectedError carrying the code to answer."""
        signed_path = relative_path(path)
        service = NOTIFY_SERVICES.get(signed_path, codes.SERVICE_VA_PAYMENT)
        lower = {key.lower(): value for key, value in headers.items()}
        if method.upper() != "POST" or signed_path not in NOTIFY_SERVICES:
            raise SnapCallbackRejectedError(code_for(service, 404, "00"), "Not Found. endpoint")
        for name in _MANDATORY_HEADERS:
            if not lower.get(name.lower(), "").strip():
                raise _missing(service, name)
        stamp = lower["x-timestamp"].strip()
        try:
            stamped = parse_snap_datetime(stamp, "X-TIMESTAMP")
        except InvalidFieldError as error:
            raise _invalid(service, "X-TIMESTAMP") from error
        if abs(now - stamped) > self._tolerance:
            raise SnapCallbackRejectedError(
                code_for(service, 401, "00"), "Unauthorized. stale X-TIMESTAMP"
            )
        bodies, decoded = _bodies(raw_body)
        self._check_signature(service, method, (signed_path, path), bodies, stamp, lower)
        external_id = lower["x-external-id"].strip()
        if not _EXTERNAL_ID.fullmatch(external_id):
            raise _invalid(service, "X-EXTERNAL-ID")
        if decoded is None:
            raise _invalid(service, "body")
        return SignedNotification(
            service=service,
            body=decoded,
            external_id=external_id,
            day=now.astimezone(WIB).date(),
        )

    def _check_signature(
        self,
        service: str,
        method: str,
        paths: tuple[str, str],
        bodies: list[bytes],
        stamp: str,
        headers: Mapping[str, str],
    ) -> None:
        signature = headers["x-signature"].strip()
        verifier = self._verifier
        token = None
        if isinstance(verifier, HmacVerifier):
            # Generic SNAP: the string signed holds the caller's bearer token.
            token = bearer_token(headers.get("authorization"))
            if token is None or not verifier.token_valid(token):
                raise SnapCallbackRejectedError(code_for(service, 401, "01"), "Invalid Token (B2B)")
        for path in dict.fromkeys(paths):
            for body in bodies:
                if token is not None and isinstance(verifier, HmacVerifier):
                    good = verifier.verify_with_token(method, path, body, stamp, signature, token)
                else:
                    good = verifier.verify(method, path, body, stamp, signature)
                if good:
                    return
        raise SnapCallbackRejectedError(code_for(service, 401, "00"), "Unauthorized. Signature")


# --- the notifications ---------------------------------------------------------------------


@dataclass(frozen=True)
class VaPaid:
    """A VA payment Winpay reported (service 25), fields checked."""

    partner_service_id: str
    customer_no: str
    virtual_account_no: str
    trx_id: str
    payment_request_id: str
    reference_no: str
    paid: Money
    fee: Money | None
    trx_date_time: datetime
    channel: str
    contract_id: str | None


@dataclass(frozen=True)
class TransactionNotice:
    """A QRIS (52) or e-wallet (56) notification: which transaction, its status, how much."""

    reference_no: str
    partner_reference_no: str
    status: str
    description: str
    amount: Money
    paid_at: datetime | None


def _required_text(
    data: Mapping[str, Any], service: str, field: str, pattern: str = r"[^\x00-\x1f\x7f]{1,128}"
) -> str:
    value = data.get(field)
    if value in (None, ""):
        raise _missing(service, field)
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise _invalid(service, field)
    return value


def _amount(data: Mapping[str, Any], service: str, field: str) -> Money:
    wire = data.get(field)
    if wire in (None, ""):
        raise _missing(service, field)
    if not isinstance(wire, dict):
        raise _invalid(service, field)
    for child in ("value", "currency"):
        if wire.get(child) in (None, ""):
            raise _missing(service, f"{field}.{child}")
    try:
        return money_from_snap(wire, field)
    except InvalidFieldError as error:
        raise _invalid(service, error.field or field) from error


def _instant(value: object, service: str, field: str) -> datetime:
    try:
        return parse_snap_datetime(value, field)
    except InvalidFieldError as error:
        raise _invalid(service, field) from error


def parse_va_payment(data: Mapping[str, Any]) -> VaPaid:
    """The VA payment notification's fields (amounts as ``"10000"`` or ``"10000.00"``)."""
    service = codes.SERVICE_VA_PAYMENT
    service_id = _required_text(data, service, "partnerServiceId", r" {0,7}[0-9]{1,8}")
    customer_no = _required_text(data, service, "customerNo", r"[0-9]{1,20}")
    number = _required_text(data, service, "virtualAccountNo", r"[ 0-9]{1,28}")
    trx_id = _required_text(data, service, "trxId", r"[^\x00-\x1f\x7f]{1,64}")
    request_id = _required_text(data, service, "paymentRequestId")
    paid = _amount(data, service, "paidAmount")
    when = data.get("trxDateTime")
    if when in (None, ""):
        raise _missing(service, "trxDateTime")
    paid_at = _instant(when, service, "trxDateTime")
    info = data.get("additionalInfo")
    if info in (None, ""):
        raise _missing(service, "additionalInfo")
    if not isinstance(info, dict):
        raise _invalid(service, "additionalInfo")
    channel = _required_text(info, service, "channel", r"[A-Z]{2,16}")
    if "".join(number.split()) != service_id.strip() + customer_no:
        raise _invalid(service, "virtualAccountNo")
    fee = _amount(data, service, "feeAmount") if data.get("feeAmount") else None
    if data.get("nettAmount"):
        _amount(data, service, "nettAmount")  # checked; the books compute their own
    reference = data.get("referenceNo")
    contract = info.get("contractId")
    return VaPaid(
        partner_service_id=service_id,
        customer_no=customer_no,
        virtual_account_no=number,
        trx_id=trx_id,
        payment_request_id=request_id,
        reference_no=reference if isinstance(reference, str) and reference else request_id,
        paid=paid,
        fee=fee,
        trx_date_time=paid_at,
        channel=channel,
        contract_id=contract if isinstance(contract, str) and contract else None,
    )


def parse_transaction_notice(data: Mapping[str, Any], service: str) -> TransactionNotice:
    """A QRIS (52) or e-wallet (56) notification's fields."""
    reference = _required_text(data, service, "originalReferenceNo")
    partner_reference = _required_text(data, service, "originalPartnerReferenceNo")
    status = _required_text(data, service, "latestTransactionStatus", r"[0-9]{2}")
    amount = _amount(data, service, "amount")
    info = data.get("additionalInfo")
    info = info if isinstance(info, dict) else {}
    when = data.get("paidTime") or info.get("paidTime")
    return TransactionNotice(
        reference_no=reference,
        partner_reference_no=partner_reference,
        status=status,
        description=str(data.get("transactionStatusDesc", "")),
        amount=amount,
        paid_at=_instant(when, service, "paidTime") if when else None,
    )
