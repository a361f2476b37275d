"""Winpay SNAP behind the channel port: VA/QRIS instructions, status inquiry, callbacks.

``WinpayChannel`` speaks to Winpay through :class:`~paylink_es.channels.snap.SnapClient`
in either SNAP scheme, chosen by ``winpay_signature_scheme``: ``rsa`` (Winpay's
"asymmetric without access token", the default) or ``hmac`` (generic SNAP: a B2B access
token, then HMAC-SHA512 with the client secret; callbacks checked with the same secret).
The VA/QRIS calls, the callback route and the port are the same for both. Our payment id
is Winpay's ``trxId``, so a callback finds its payment without a lookup table, and the
customer number of the VA is derived from it.

Refunds: CHANNELS.md documents no refund endpoint for Winpay SNAP virtual accounts or
QRIS (only create, status and delete VA). :meth:`WinpayChannel.refund` therefore makes
no call and answers ``accepted=False``: the money goes back to the payer by a manual
bank transfer arranged with Winpay.

X-EXTERNAL-ID replay protection is durable and shared by every worker process: each id
seen is a :class:`SnapExternalId` aggregate whose id is derived from the day and the id,
so a second save of the same pair conflicts in the event store.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.persistence import RecordConflictError

from paylink_es.aggregate import PaylinkAggregate, stable_id
from paylink_es.channels.port import CallbackReport, ChannelStatus, RefundResult
from paylink_es.channels.snap import (
    SNAP_CHANNELS,
    B2BCredentials,
    HmacVerifier,
    RsaSigner,
    RsaVerifier,
    SeenExternalIds,
    SnapCallbackVerifier,
    SnapClient,
    SnapPayment,
    Verifier,
    pad_partner_service_id,
)
from paylink_es.channels.snap_codes import SnapKeyInvalidError
from paylink_es.clock import Clock, system_clock
from paylink_es.errors import InvalidFieldError
from paylink_es.methods import PAYMENT_METHODS, method_family
from paylink_es.money import Money
from paylink_es.settings import Settings

NAME: Final = "winpay"
# Where Winpay posts VA payment callbacks (CHANNELS.md: the path ends in this suffix).
CALLBACK_PATH: Final = "/channels/winpay/v1.0/transfer-va/payment"
CUSTOMER_NO_DIGITS: Final = 12
REFUND_MANUAL: Final = (
    "Winpay SNAP documents no refund API for virtual accounts or QRIS (CHANNELS.md): "
    "refund the payer by a manual bank transfer arranged with Winpay"
)
_MEMO_SIZE: Final = 1024


def customer_no_for(payment_id: UUID) -> str:
    """The VA customer number of a payment: 12 digits derived from its id."""
    return str(payment_id.int % 10**CUSTOMER_NO_DIGITS).zfill(CUSTOMER_NO_DIGITS)


def channel_ref_for(payment: SnapPayment) -> str:
    """Our channel reference of a reported payment: ``<trxId>/<paymentRequestId>``.

    It carries the trxId so that a status inquiry can be made from the reference alone.
    """
    return f"{payment.trx_id}/{payment.payment_request_id}"


def _trx_id_of(channel_ref: str, payment_id: UUID) -> str:
    trx, _, _ = channel_ref.partition("/")
    try:
        return str(UUID(trx))
    except ValueError:
        return str(payment_id)


def _va_name(merchant_name: str) -> str:
    """virtualAccountName: 5-24 printable characters, from the merchant's name."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", " ".join(merchant_name.split()))[:24].strip()
    if len(name) < 5:
        name = f"{name} Paylink".strip()[:24]
    return name


class WinpayChannel:
    """The Winpay SNAP rail, as the ledger uses it (see :class:`ChannelPort`)."""

    name: str = NAME

    def __init__(
        self,
        client: SnapClient,
        *,
        partner_service_id: str,
        callback_key: Verifier,
        va_ttl: timedelta = timedelta(days=1),
        clock: Clock = system_clock,
    ) -> None:
        self.client = client
        self.partner_service_id = pad_partner_service_id(partner_service_id)
        self.callback_key = callback_key
        self.va_ttl = va_ttl
        self._clock = clock
        self._memo: OrderedDict[tuple[UUID, str, Money], dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def __repr__(self) -> str:
        return f"WinpayChannel(client={self.client!r})"

    # -- the port ----------------------------------------------------------------------

    def supports(self, method: str) -> bool:
        """Whether Winpay can take a payment by ``method`` (VA, retail outlet, QRIS)."""
        return method in SNAP_CHANNELS or method == "qris"

    def instructions(
        self,
        payment_id: UUID,
        method: str,
        amount: Money,
        merchant_name: str,
        *,
        expires_at: datetime | None = None,
    ) -> dict[str, str]:
        """Create the VA (or QRIS) at Winpay; what the customer needs to pay.

        Asked twice for the same attempt (a command retried after a write conflict),
        it answers what Winpay gave the first time instead of creating a duplicate.
        """
        if not self.supports(method):
            raise InvalidFieldError(
                "method", f"{method!r} is not offered through Winpay (VA, retail, QRIS only)"
            )
        key = (payment_id, method, amount)
        with self._lock:
            known = self._memo.get(key)
        if known is not None:
            return dict(known)
        expiry = self._expiry(expires_at)
        if method == "qris":
            code = self.client.generate_qris(
                partner_reference_no=str(payment_id), amount=amount, validity_period=expiry
            )
            made = {
                "family": "qris",
                "qr_content": code.qr_content,
                "partner_reference_no": code.partner_reference_no,
                "expires_at": expiry.isoformat(),
            }
            if code.reference_no:
                made["reference_no"] = code.reference_no
        else:
            va = self.client.create_va(
                partner_service_id=self.partner_service_id,
                customer_no=customer_no_for(payment_id),
                name=_va_name(merchant_name),
                trx_id=str(payment_id),
                amount=amount,
                method=method,
                expires_at=expiry,
            )
            number = va.virtual_account_no.replace(" ", "")
            family = method_family(method)
            label = PAYMENT_METHODS[method][1]
            made = {
                "family": family,
                "virtual_account_no": va.virtual_account_no,
                "trx_id": va.trx_id,
                "winpay_channel": va.channel,
                "expires_at": va.expires_at.isoformat(),
            }
            if family == "retail":
                made |= {"outlet": label, "payment_code": number}
            else:
                made |= {"bank": label.replace(" Virtual Account", ""), "va_number": number}
            if va.contract_id:
                made["contract_id"] = va.contract_id
        with self._lock:
            self._memo[key] = made
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        return dict(made)

    def _expiry(self, wanted: datetime | None) -> datetime:
        """``now + va_ttl``, or the earlier ``wanted`` when Winpay would accept it."""
        now = self._clock()
        latest = now + self.va_ttl
        if wanted is not None and now + timedelta(minutes=2) <= wanted < latest:
            return wanted.replace(microsecond=0)
        return latest.replace(microsecond=0)

    def inquire(self, channel_ref: str, payment_id: UUID, amount: Money) -> ChannelStatus:
        """VA status inquiry: paid (``00``) and for how much, or unpaid (``01``)."""
        del amount  # Winpay says how much was paid; the ledger compares
        trx_id = _trx_id_of(channel_ref, payment_id)
        status = self.client.inquire_status(
            partner_service_id=self.partner_service_id,
            customer_no=customer_no_for(UUID(trx_id)),
            trx_id=trx_id,
        )
        flag = "00 paid" if status.paid else "01 unpaid"
        return ChannelStatus(
            paid=status.paid,
            amount=status.paid_amount,
            channel_ref=channel_ref,
            detail=f"Winpay paymentFlagStatus {flag}",
        )

    def refund(
        self, channel_ref: str, payment_id: UUID, refund_id: UUID, amount: Money
    ) -> RefundResult:
        """Not through the API: Winpay documents none (see the module's docstring)."""
        del payment_id, refund_id, amount
        return RefundResult(accepted=False, channel_ref=channel_ref, detail=REFUND_MANUAL)

    # -- callbacks ---------------------------------------------------------------------

    @property
    def callback_scheme(self) -> str:
        """How callbacks are signed: ``SHA256withRSA`` or ``HMAC-SHA512``."""
        return "HMAC-SHA512" if isinstance(self.callback_key, HmacVerifier) else "SHA256withRSA"

    def callback_verifier(self, seen: SeenExternalIds) -> SnapCallbackVerifier:
        """Checks Winpay's VA payment callbacks with Winpay's key and ``seen`` ids."""
        return SnapCallbackVerifier(self.callback_key, seen)

    def report(self, payment: SnapPayment) -> CallbackReport:
        """A verified callback as the ledger reads it (``payment_id`` from the trxId)."""
        try:
            payment_id: UUID | None = UUID(payment.trx_id)
        except ValueError:
            payment_id = None
        evidence = {
            "channel": NAME,
            "signature": self.callback_scheme,
            "trx_id": payment.trx_id,
            "payment_request_id": payment.payment_request_id,
            "virtual_account_no": payment.virtual_account_no,
            "bank": payment.channel,
        }
        if payment.contract_id:
            evidence["contract_id"] = payment.contract_id
        return CallbackReport(
            channel_ref=channel_ref_for(payment),
            amount=payment.paid,
            paid_at=payment.trx_date_time,
            status="PAID",
            payment_id=payment_id,
            lookup=payment.virtual_account_no,
            evidence=evidence,
        )


# --- X-EXTERNAL-ID, durable ----------------------------------------------------------------


class SnapExternalId(PaylinkAggregate):
    """One X-EXTERNAL-ID accepted on one Jakarta day; a second one conflicts."""

    id: UUID  # given: stable_id of the day and the external id

    @staticmethod
    def id_for(day: date, external_id: str) -> UUID:
        """The aggregate id for ``external_id`` on ``day``."""
        return stable_id(f"/snap-external-ids/{day.isoformat()}/{external_id}")

    @event("Seen")
    def __init__(self, day: str, external_id: str) -> None:
        self.day = day
        self.external_id = external_id


class EventSourcedSeenExternalIds:
    """``SeenExternalIds`` in the event store: shared by every process on the same store."""

    def __init__(self, save: Callable[..., Any]) -> None:
        self._save = save

    def add(self, day: date, external_id: str) -> bool:
        """Record ``external_id`` for ``day``; False if it was already there."""
        seen = SnapExternalId(
            id=SnapExternalId.id_for(day, external_id),  # type: ignore[call-arg]
            day=day.isoformat(),
            external_id=external_id,
        )
        try:
            self._save(seen)
        except RecordConflictError:
            return False
        return True


# --- configuration ---------------------------------------------------------------------------


def _pem(value: str | None, path: Path | None, field: str) -> str:
    if value:
        return value
    if path is not None:
        try:
            return path.read_text()
        except OSError as error:
            raise InvalidFieldError(f"{field}_path", f"cannot read {path}: {error}") from None
    raise InvalidFieldError(field, "is required when winpay_base_url is set")


def winpay_from_settings(settings: Settings, clock: Clock = system_clock) -> WinpayChannel | None:
    """The Winpay channel the settings describe, or None when ``winpay_base_url`` is unset.

    ``winpay_signature_scheme`` ``rsa``: requests signed with our RSA key, callbacks
    checked with Winpay's public key. ``hmac`` (generic SNAP): our RSA key signs the B2B
    token request, ``winpay_client_key``/``winpay_client_secret`` the rest; callbacks are
    checked with the client secret (Winpay's public key is not needed). Every missing or
    unreadable setting is an InvalidFieldError naming it; no key or secret appears in any
    message.
    """
    if not settings.winpay_base_url:
        return None
    for name in ("winpay_partner_id", "winpay_channel_id", "winpay_partner_service_id"):
        if not getattr(settings, name):
            raise InvalidFieldError(name, "is required when winpay_base_url is set")
    scheme = settings.winpay_signature_scheme
    if scheme not in ("rsa", "hmac"):
        raise InvalidFieldError("winpay_signature_scheme", "must be rsa or hmac")
    secret = settings.winpay_private_key
    private = _pem(
        secret.get_secret_value() if secret is not None else None,
        settings.winpay_private_key_path,
        "winpay_private_key",
    )
    try:
        service_id = pad_partner_service_id(settings.winpay_partner_service_id)
    except InvalidFieldError as error:
        raise InvalidFieldError("winpay_partner_service_id", "must be 1-8 digits") from error
    try:
        signer = RsaSigner.from_pem(private)
    except SnapKeyInvalidError as error:
        raise InvalidFieldError("winpay_private_key", str(error)) from None
    common: dict[str, Any] = {
        "base_url": settings.winpay_base_url,
        "partner_id": settings.winpay_partner_id,
        "channel_id": settings.winpay_channel_id,
        "clock": clock,
        "timeout_s": settings.winpay_timeout_s,
    }
    callback_key: Verifier
    if scheme == "hmac":
        b2b = _b2b_credentials(settings, signer)
        client = SnapClient(b2b=b2b, **common)
        callback_key = b2b.verifier()
    else:
        public = _pem(
            settings.winpay_public_key, settings.winpay_public_key_path, "winpay_public_key"
        )
        try:
            callback_key = RsaVerifier.from_pem(public)
        except SnapKeyInvalidError as error:
            raise InvalidFieldError("winpay_public_key", str(error)) from None
        client = SnapClient(signer=signer, **common)
    return WinpayChannel(
        client,
        partner_service_id=service_id,
        callback_key=callback_key,
        va_ttl=timedelta(minutes=settings.winpay_va_ttl_minutes),
        clock=clock,
    )


def _b2b_credentials(settings: Settings, signer: RsaSigner) -> B2BCredentials:
    """The generic SNAP credentials, each missing one named."""
    needed = "is required when winpay_signature_scheme is hmac"
    client_key = settings.winpay_client_key.strip()
    if not client_key:
        raise InvalidFieldError("winpay_client_key", needed)
    if not client_key.isprintable() or not client_key.isascii():
        raise InvalidFieldError("winpay_client_key", "must be printable ASCII")
    secret = settings.winpay_client_secret
    client_secret = secret.get_secret_value() if secret is not None else ""
    if not client_secret:
        raise InvalidFieldError("winpay_client_secret", needed)
    return B2BCredentials(client_key, client_secret, signer)
