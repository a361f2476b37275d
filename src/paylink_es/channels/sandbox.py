"""The sandbox channel: the default in test mode, and the one a new user pays with.

It issues virtual-account numbers, QRIS content, e-wallet redirects, card forms and
retail codes, and reports payments back with callbacks signed like the real rails:
``X-Sandbox-Signature: t=<unix>,v1=<hex hmac-sha256(secret, "{t}.{body}")>`` — the
scheme of our own webhooks, made and checked by the same functions.

Its status inquiry is a real check: the references it issues when it pays
(``SBX-<payment id>-<nonce>-<mac>``) carry an HMAC of the payment id, the amount paid and the nonce
made with the sandbox secret, and :meth:`SandboxChannel.inquire` says "paid" only for a
reference it made for exactly that payment and amount.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from paylink_es.application.channel_port import (
    ChannelStatus,
    Notification,
    NotificationMismatchError,
    RefundResult,
)
from paylink_es.application.details import PaymentDetails
from paylink_es.channels.qris import qris_payload
from paylink_es.domain.aggregate import stable_id
from paylink_es.domain.methods import PAYMENT_METHODS, method_family
from paylink_es.domain.money import Money
from paylink_es.domain.webhooks import signature_header, verify_signature

NAME: Final = "sandbox"
SIGNATURE_HEADER: Final = "X-Sandbox-Signature"
TOLERANCE_S: Final = 300
# Four-digit prefixes the sandbox gives each bank's virtual accounts.
BANK_PREFIX: Final = {
    "va_bca": "3901",
    "va_bri": "2620",
    "va_bni": "8808",
    "va_mandiri": "8902",
    "va_permata": "8856",
    "va_bsi": "9347",
    "va_cimb": "5919",
    "va_muamalat": "8012",
    "va_sinarmas": "4566",
    "va_bnc": "9001",
}
SCENARIOS: Final = ("normal", "duplicate", "late", "overpay", "underpay", "out_of_order")


def _digits(payment_id: UUID, count: int) -> str:
    return str(payment_id.int % 10**count).zfill(count)


@dataclass
class SandboxChannel:
    """Instructions, signed callbacks, status inquiry and refunds; no money involved.

    Not frozen: the channel port's ``name`` is a plain attribute."""

    secret: str
    base_url: str
    name: str = NAME
    remote: bool = False

    def supports(self, method: str) -> bool:
        """Every method of the catalogue (test mode only)."""
        return method in PAYMENT_METHODS

    def instructions(
        self,
        payment_id: UUID,
        method: str,
        amount: Money,
        merchant_name: str,
        *,
        expires_at: datetime | None = None,
    ) -> dict[str, str]:
        """What the customer needs to pay ``amount`` by ``method``."""
        del expires_at  # sandbox instructions never lapse on their own
        family = method_family(method)
        label = PAYMENT_METHODS[method][1]
        if family == "virtual_account":
            return {
                "family": family,
                "bank": label.replace(" Virtual Account", ""),
                "va_number": BANK_PREFIX[method] + _digits(payment_id, 12),
            }
        if family == "qris":
            return {
                "family": family,
                "qr_content": qris_payload(
                    acquirer="ID.CO.PAYLINK.SANDBOX",
                    merchant_pan=_digits(payment_id, 15),
                    merchant_name=merchant_name,
                    city="JAKARTA",
                    amount=amount.amount,
                    reference=payment_id.hex[:20],
                ),
            }
        if family == "ewallet":
            return {
                "family": family,
                "wallet": label,
                "redirect_url": f"{self.base_url}/sandbox/ewallet/{payment_id}",
            }
        if family == "card":
            return {"family": family, "note": "sandbox card form; card numbers are never stored"}
        return {"family": family, "outlet": label, "payment_code": "PLK" + _digits(payment_id, 10)}

    def _mac(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()[:20].upper()

    def simulated_reference(self, payment_id: UUID, amount: Money) -> str:
        """The one reference the sandbox pays ``amount`` to ``payment_id`` with: however
        often (or however concurrently) a payment is simulated, it is one payment."""
        nonce = self._mac("nonce", str(payment_id), str(amount.amount), amount.currency)[:8]
        return self.reference(payment_id, amount, nonce)

    def reference(self, payment_id: UUID, amount: Money, nonce: str | None = None) -> str:
        """A reference for paying ``amount`` to ``payment_id``: ``SBX-<id>-<nonce>-<mac>``."""
        nonce = nonce or secrets.token_hex(4).upper()
        mac = self._mac("ref", str(payment_id), str(amount.amount), amount.currency, nonce)
        return f"SBX-{payment_id.hex.upper()}-{nonce}-{mac}"

    def bind(self, notification: Notification, payment: PaymentDetails) -> Notification:
        """The sandbox pays only its own test payments: its secret is not a real rail's."""
        if payment.channel != NAME or payment.mode != "test":
            raise NotificationMismatchError("not a sandbox test payment")
        return notification

    def inquire(self, payment: PaymentDetails) -> ChannelStatus:
        """Paid only for a reference the sandbox made for this payment and exactly the
        amount received (the sandbox's word is final)."""
        if payment.channel_ref is None or payment.received is None:
            return ChannelStatus(
                paid=False,
                amount=None,
                channel_ref=None,
                detail="no sandbox payment yet",
                final=False,
            )
        return self.inquire_reference(payment.channel_ref, payment.id, payment.received)

    def withdraw(self, payment: PaymentDetails) -> None:
        """Nothing to close: sandbox instructions are only paid by simulation."""
        del payment

    def inquire_reference(self, channel_ref: str, payment_id: UUID, amount: Money) -> ChannelStatus:
        """Paid only for a reference the sandbox made for this payment and exactly this amount.

        Money paid again to instructions already paid becomes a payment of its own whose
        id the payments service derives from the reference: that payment is the reference's too.
        """
        parts = channel_ref.split("-")
        paid_to: UUID | None = None
        if len(parts) == 4 and parts[0] == "SBX":
            try:
                paid_to = UUID(hex=parts[1])
            except ValueError:
                paid_to = None
        genuine = paid_to is not None and hmac.compare_digest(
            self.reference(paid_to, amount, parts[2]), channel_ref
        )
        ours = payment_id in (paid_to, stable_id(f"/payments/{NAME}/{channel_ref}"))
        if genuine and ours:
            return ChannelStatus(
                paid=True, amount=amount, channel_ref=channel_ref, detail="PAID (sandbox)"
            )
        return ChannelStatus(
            paid=False,
            amount=None,
            channel_ref=channel_ref,
            detail="UNKNOWN (no sandbox payment of that amount with that reference)",
        )

    def refund(
        self, channel_ref: str, payment_id: UUID, refund_id: UUID, amount: Money
    ) -> RefundResult:
        """The sandbox accepts every refund and answers with a reference of its own."""
        mac = self._mac("refund", channel_ref, str(payment_id), str(refund_id), str(amount))
        return RefundResult(
            accepted=True, channel_ref=f"SBXR-{mac}", detail=f"sandbox refunded {amount}"
        )

    def callback_body(
        self,
        payment_id: UUID,
        channel_ref: str,
        amount: Money,
        paid_at: datetime,
        status: str = "PAID",
    ) -> bytes:
        """The JSON a sandbox callback carries (amounts as integers of minor units)."""
        import json

        return json.dumps(
            {
                "payment_id": str(payment_id),
                "channel_ref": channel_ref,
                "status": status,
                "amount": amount.amount,
                "currency": amount.currency,
                "paid_at": paid_at.isoformat(),
            },
            separators=(",", ":"),
        ).encode()

    def sign(self, body: bytes, timestamp: int) -> str:
        """The signature header value for a callback body."""
        return signature_header([self.secret], timestamp, body)

    def verify(self, header: str | None, body: bytes, now: int) -> bool:
        """True if the signature is ours and recent."""
        return bool(header) and verify_signature(self.secret, header or "", body, now, TOLERANCE_S)
