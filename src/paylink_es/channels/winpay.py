"""Winpay SNAP behind the channel port: VA, retail, QRIS and e-wallet; status and delete.

``WinpayChannel`` speaks to Winpay through :class:`~paylink_es.channels.winpay_api.WinpayApi`
in either SNAP scheme, chosen by ``winpay_signature_scheme``: ``rsa`` (Winpay's
"asymmetric without access token", the default) or ``hmac`` (generic SNAP: a B2B access
token, then HMAC-SHA512 with the client secret; notifications checked with the same
secret).

Our payment id is Winpay's ``trxId`` (VA, retail) or ``partnerReferenceNo`` (QRIS,
e-wallet), so a notification finds its payment without a lookup table. What Winpay
answers when the payment is created — the bank's BIN, the ``customerNo`` Winpay chose,
the ``virtualAccountNo``, the ``contractId``, QRIS and e-wallet ``referenceNo`` — is kept
verbatim in the payment's instructions and used for every later call (status, delete)
and to match notifications.

The money's reference (``channel_ref``): a one-off VA is paid once, so its reference is
its ``trxId`` and a second notification for it, whatever its ``paymentRequestId``, is the
same money. A recurring VA's reference is ``<trxId>/<referenceNo>``: the status answer's
``referenceNo`` must be the notification's before it is credited. QRIS and e-wallet
payments are referenced by Winpay's ``referenceNo``.

Refunds: Winpay SNAP documents no refund endpoint for virtual accounts or QRIS.
:meth:`WinpayChannel.refund` therefore makes no call and answers ``accepted=False``: the
money goes back to the payer by a manual bank transfer arranged with Winpay.

X-EXTERNAL-ID replay protection is durable and shared by every worker process: each id
processed is a :class:`SnapExternalId` aggregate whose id is derived from the day and the
id, so a second save of the same pair conflicts in the event store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.persistence import RecordConflictError

from paylink_es.application.channel_port import (
    ChannelStatus,
    Notification,
    NotificationMismatchError,
    RefundResult,
)
from paylink_es.application.details import PaymentDetails
from paylink_es.channels.snap_callbacks import (
    SnapCallbackVerifier,
    TransactionNotice,
    VaPaid,
)
from paylink_es.channels.snap_signing import Verifier
from paylink_es.channels.winpay_api import (
    EWALLET_CHANNELS,
    SNAP_CHANNELS,
    STATUS_QUERIES,
    VaRef,
    WinpayApi,
    clean_trx_id,
    clean_va_name,
    va_digits,
)
from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.clock import Clock, system_clock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.methods import PAYMENT_METHODS, method_family
from paylink_es.domain.money import Money

NAME: Final = "winpay"
# The base URL a merchant registers with Winpay; Winpay appends /v1.0/transfer-va/payment,
# /v1.0/qr/qr-mpm-notify and /v1.0/debit/notify itself.
CALLBACK_BASE: Final = "/channels/winpay"
CALLBACK_PATH: Final = CALLBACK_BASE + "/v1.0/transfer-va/payment"
QRIS_NOTIFY_PATH: Final = CALLBACK_BASE + "/v1.0/qr/qr-mpm-notify"
EWALLET_NOTIFY_PATH: Final = CALLBACK_BASE + "/v1.0/debit/notify"
REFUND_MANUAL: Final = (
    "Winpay SNAP documents no refund API for virtual accounts or QRIS: "
    "refund the payer by a manual bank transfer arranged with Winpay"
)
_MEMO_SIZE: Final = 1024
_VA_FAMILIES: Final = ("virtual_account", "retail")


def _payment_id(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


class WinpayChannel:
    """The Winpay SNAP rail, as the platform uses it (see :class:`ChannelPort`)."""

    name: str = NAME
    remote: bool = True

    def __init__(
        self,
        api: WinpayApi,
        *,
        callback_key: Verifier,
        va_ttl: timedelta = timedelta(days=1),
        clock: Clock = system_clock,
    ) -> None:
        self.api = api
        self.callbacks = SnapCallbackVerifier(callback_key)
        self.va_ttl = va_ttl
        self._clock = clock
        self._memo: OrderedDict[tuple[UUID, str, Money], dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()

    def __repr__(self) -> str:
        return f"WinpayChannel({self.api!r})"

    # -- the port ----------------------------------------------------------------------

    def supports(self, method: str) -> bool:
        """Whether Winpay can take and confirm a payment by ``method``."""
        return method in SNAP_CHANNELS or method in EWALLET_CHANNELS or method == "qris"

    def instructions(
        self,
        payment_id: UUID,
        method: str,
        amount: Money,
        merchant_name: str,
        *,
        expires_at: datetime | None = None,
        return_url: str | None = None,
    ) -> dict[str, str]:
        """Create the VA, retail code, QRIS or e-wallet payment at Winpay; what the
        customer needs to pay, and what every later call needs, verbatim.

        Asked twice for the same attempt (a command retried after a write conflict),
        it answers what Winpay gave the first time instead of creating a duplicate.
        """
        if not self.supports(method):
            raise InvalidFieldError("method", f"{method!r} is not offered through Winpay")
        key = (payment_id, method, amount)
        with self._lock:
            known = self._memo.get(key)
        if known is not None:
            return dict(known)
        expiry = self._expiry(expires_at)
        if method == "qris":
            made = self._qris(payment_id, amount, expiry)
        elif method in EWALLET_CHANNELS:
            made = self._ewallet(payment_id, method, amount, expiry, return_url)
        else:
            made = self._va(payment_id, method, amount, merchant_name, expiry)
        with self._lock:
            self._memo[key] = made
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        return dict(made)

    def _va(
        self, payment_id: UUID, method: str, amount: Money, merchant_name: str, expiry: datetime
    ) -> dict[str, str]:
        va = self.api.create_va(
            name=clean_va_name(merchant_name),
            trx_id=clean_trx_id(str(payment_id)),
            amount=amount,
            method=method,
            expires_at=expiry,
        )
        family = method_family(method)
        label = PAYMENT_METHODS[method][1]
        made = {
            "family": family,
            "partner_service_id": va.partner_service_id,
            "customer_no": va.customer_no,
            "virtual_account_no": va.virtual_account_no,
            "contract_id": va.contract_id,
            "trx_id": va.trx_id,
            "va_trx_type": va.trx_type,
            "winpay_channel": va.channel,
            "expires_at": va.expires_at.isoformat(),
        }
        number = va_digits(va.virtual_account_no)
        if family == "retail":
            return made | {"outlet": label, "payment_code": number}
        return made | {"bank": label.replace(" Virtual Account", ""), "va_number": number}

    def _qris(self, payment_id: UUID, amount: Money, expiry: datetime) -> dict[str, str]:
        code = self.api.generate_qris(
            partner_reference_no=str(payment_id), amount=amount, validity_period=expiry
        )
        return {
            "family": "qris",
            "qr_content": code.qr_content,
            "partner_reference_no": code.partner_reference_no,
            "reference_no": code.reference_no,
            "expires_at": expiry.isoformat(),
        }

    def _ewallet(
        self,
        payment_id: UUID,
        method: str,
        amount: Money,
        expiry: datetime,
        return_url: str | None,
    ) -> dict[str, str]:
        if not return_url:
            raise InvalidFieldError("return_url", "an e-wallet payment needs a page to return to")
        made = self.api.pay_by_ewallet(
            partner_reference_no=str(payment_id),
            amount=amount,
            method=method,
            return_url=return_url,
            valid_until=expiry,
        )
        return {
            "family": "ewallet",
            "wallet": PAYMENT_METHODS[method][1],
            "redirect_url": made.redirect_url,
            "partner_reference_no": made.partner_reference_no,
            "reference_no": made.reference_no,
            "winpay_channel": made.channel,
            "expires_at": expiry.isoformat(),
        }

    def _expiry(self, wanted: datetime | None) -> datetime:
        """``now + va_ttl``, or the earlier ``wanted`` when Winpay would accept it."""
        now = self._clock()
        latest = now + self.va_ttl
        if wanted is not None and now + timedelta(minutes=2) <= wanted < latest:
            return wanted.replace(microsecond=0)
        return latest.replace(microsecond=0)

    def bind(self, notification: Notification, payment: PaymentDetails) -> Notification:
        """The notification as it applies to ``payment``: the same VA (spaces ignored) or
        the same Winpay reference; a one-off VA's money referenced by its trxId."""
        known = payment.instructions
        if payment.channel != NAME:
            raise NotificationMismatchError("not a Winpay payment")
        evidence = notification.evidence
        if known.get("family") in _VA_FAMILIES:
            number = evidence.get("virtual_account_no", "")
            if va_digits(number) != va_digits(known.get("virtual_account_no", "")):
                raise NotificationMismatchError(f"VA {number!r} is not this payment's")
            contract = evidence.get("contract_id")
            if contract and known.get("contract_id") and contract != known["contract_id"]:
                raise NotificationMismatchError("contractId is not this payment's")
            trx_id = known.get("trx_id", str(payment.id))
            ref = _va_ref(trx_id, known.get("va_trx_type", "c"), evidence.get("reference_no"))
            return Notification(
                payment_id=payment.id,
                channel_ref=ref,
                amount=notification.amount,
                paid_at=notification.paid_at,
                evidence=evidence,
            )
        if known.get("reference_no") != notification.channel_ref:
            raise NotificationMismatchError(
                f"reference {notification.channel_ref!r} is not this payment's"
            )
        return notification

    def inquire(self, payment: PaymentDetails) -> ChannelStatus:
        """Ask Winpay: the VA status (service 26), or the QRIS / e-wallet status."""
        known = payment.instructions
        family = known.get("family")
        if family in _VA_FAMILIES:
            status = self.api.va_status(_va_of(payment))
            words = {"00": "00 paid", "01": "01 unpaid", "02": "02 check"}[status.flag]
            ref = _va_ref(
                known.get("trx_id", str(payment.id)),
                known.get("va_trx_type", "c"),
                status.reference_no,
            )
            return ChannelStatus(
                paid=status.paid,
                amount=status.amount if status.paid else None,
                channel_ref=ref if status.paid else None,
                detail=f"Winpay paymentFlagStatus {words}, referenceNo {status.reference_no!r}",
                final=status.paid,  # 01 and 02 are not final: ask again
                paid_at=status.transaction_date,
            )
        refs = {
            "reference_no": known.get("reference_no", ""),
            "partner_reference_no": known.get("partner_reference_no", str(payment.id)),
        }
        if family is None or family not in STATUS_QUERIES:
            raise InvalidFieldError("method", f"{payment.method!r} is not a Winpay method")
        state = self.api.transaction_status(family, **refs)
        return ChannelStatus(
            paid=state.paid,
            amount=state.amount if state.paid else None,
            channel_ref=refs["reference_no"] if state.paid else None,
            detail=f"Winpay latestTransactionStatus {state.code} {state.description}".strip(),
            final=state.final,
            paid_at=state.paid_at,
        )

    def withdraw(self, payment: PaymentDetails) -> None:
        """Delete the VA (service 31, HTTP DELETE); QRIS and e-wallet payments lapse alone."""
        if payment.instructions.get("family") in _VA_FAMILIES:
            self.api.delete_va(_va_of(payment))

    def refund(
        self, channel_ref: str, payment_id: UUID, refund_id: UUID, amount: Money
    ) -> RefundResult:
        """Not through the API: Winpay documents none (see the module's docstring)."""
        del payment_id, refund_id, amount
        return RefundResult(accepted=False, channel_ref=channel_ref, detail=REFUND_MANUAL)

    # -- notifications -----------------------------------------------------------------

    def va_notification(self, paid: VaPaid, external_id: str) -> Notification | None:
        """A VA payment notification as the ledger reads it; None if its trxId is not ours."""
        payment_id = _payment_id(paid.trx_id)
        if payment_id is None:
            return None
        evidence = {
            "channel": NAME,
            "signature": self.callbacks.scheme,
            "trx_id": paid.trx_id,
            "payment_request_id": paid.payment_request_id,
            "reference_no": paid.reference_no,
            "virtual_account_no": paid.virtual_account_no,
            "bank": paid.channel,
            "external_id": external_id,
        }
        if paid.contract_id:
            evidence["contract_id"] = paid.contract_id
        return Notification(
            payment_id=payment_id,
            channel_ref=paid.trx_id,
            amount=paid.paid,
            paid_at=paid.trx_date_time,
            evidence=evidence,
        )

    def transaction_notification(
        self, notice: TransactionNotice, external_id: str, received_at: datetime
    ) -> Notification | None:
        """A QRIS or e-wallet notification as the ledger reads it; None if not ours."""
        payment_id = _payment_id(notice.partner_reference_no)
        if payment_id is None:
            return None
        return Notification(
            payment_id=payment_id,
            channel_ref=notice.reference_no,
            amount=notice.amount,
            paid_at=notice.paid_at or received_at,
            evidence={
                "channel": NAME,
                "signature": self.callbacks.scheme,
                "reference_no": notice.reference_no,
                "partner_reference_no": notice.partner_reference_no,
                "status": f"{notice.status} {notice.description}".strip(),
                "external_id": external_id,
            },
        )


def _va_ref(trx_id: str, trx_type: str, reference_no: str | None) -> str:
    """The money's reference: a one-off VA's trxId; a recurring VA's trxId/referenceNo."""
    if trx_type == "c" or not reference_no:
        return trx_id
    return f"{trx_id}/{reference_no}"


def _va_of(payment: PaymentDetails) -> VaRef:
    known = payment.instructions
    missing = [k for k in ("virtual_account_no", "contract_id") if not known.get(k)]
    if missing:
        raise InvalidFieldError(
            "instructions", f"payment {payment.id} has no Winpay {', '.join(missing)}"
        )
    return VaRef(
        virtual_account_no=known["virtual_account_no"],
        trx_id=known.get("trx_id", str(payment.id)),
        contract_id=known["contract_id"],
        channel=known.get("winpay_channel", SNAP_CHANNELS.get(payment.method, "")),
    )


# --- X-EXTERNAL-ID, durable ----------------------------------------------------------------


class SnapExternalId(PaylinkAggregate):
    """One X-EXTERNAL-ID accepted on one Jakarta day; a second one conflicts."""

    @staticmethod
    def create_id(day: str, external_id: str) -> UUID:
        """The aggregate id for ``external_id`` on ``day`` (ISO date; the library calls it)."""
        return stable_id(f"/snap-external-ids/{day}/{external_id}")

    @event("Seen")
    def __init__(self, day: str, external_id: str) -> None:
        self.day = day
        self.external_id = external_id


class EventSourcedSeenExternalIds:
    """``SeenExternalIds`` in the event store: shared by every process on the same store."""

    def __init__(self, save: Callable[..., Any], exists: Callable[[UUID], bool]) -> None:
        self._save = save
        self._exists = exists

    def seen(self, day: date, external_id: str) -> bool:
        """Whether ``external_id`` was processed on ``day`` (by any process)."""
        return self._exists(SnapExternalId.create_id(day.isoformat(), external_id))

    def add(self, day: date, external_id: str) -> bool:
        """Record ``external_id`` for ``day``; False if it was already there."""
        seen = SnapExternalId(day=day.isoformat(), external_id=external_id)
        try:
            self._save(seen)
        except RecordConflictError:
            return False
        return True


# --- configuration ---------------------------------------------------------------------------
