"""The channel port: what the platform needs from a payment rail, whatever its wire format.

A channel (the sandbox, Winpay SNAP, …) writes payment instructions, turns a callback
into a :class:`Notification` (or refuses it with its own response code), says whether a
notification is about a given payment (:meth:`ChannelPort.bind`), answers a status
inquiry before anything is credited, withdraws instructions that must no longer be
paid, and refunds. Adapters live beside this module; the verification pipeline
(:mod:`paylink_es.application.verification`) only ever sees these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from paylink_es.application.details import PaymentDetails
from paylink_es.domain.money import Money


@dataclass(frozen=True)
class Notification:
    """A channel says this money arrived for this payment (parsed, authenticated).

    ``channel_ref`` is the money's identity at the channel: one reference is credited
    once, whatever number of notifications report it. ``evidence`` is kept with the
    verification (signature scheme, the channel's own ids).
    """

    payment_id: UUID
    channel_ref: str
    amount: Money
    paid_at: datetime
    evidence: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelStatus:
    """The channel's answer to a status inquiry about one payment.

    ``final`` is False when asking again may change the answer (Winpay's ``01`` unpaid
    and ``02`` check): nothing is rejected on such an answer. ``channel_ref`` is the
    reference of the money the answer is about, ``paid_at`` when it was paid.
    """

    paid: bool
    amount: Money | None
    channel_ref: str | None
    detail: str  # the channel's status words, kept as evidence
    final: bool = True
    paid_at: datetime | None = None


@dataclass(frozen=True)
class RefundResult:
    """What the channel said to a refund request."""

    accepted: bool
    channel_ref: str
    detail: str


class NotificationMismatchError(Exception):
    """A notification names a payment it does not fit (another VA, another channel)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChannelPort(Protocol):
    """One payment rail, as the platform uses it."""

    name: str
    # Whether customers pay it outside this server (a poller asks it about payments).
    remote: bool

    def supports(self, method: str) -> bool:
        """Whether payments by ``method`` can be made and confirmed through it."""
        ...

    def instructions(
        self,
        payment_id: UUID,
        method: str,
        amount: Money,
        merchant_name: str,
        *,
        expires_at: datetime | None = None,
    ) -> dict[str, str]:
        """What the customer needs to pay ``amount`` by ``method`` (VA number, QR, …)."""
        ...

    def bind(self, notification: Notification, payment: PaymentDetails) -> Notification:
        """``notification`` as it applies to ``payment`` (its money's reference settled);
        NotificationMismatchError if it is not about that payment."""
        ...

    def inquire(self, payment: PaymentDetails) -> ChannelStatus:
        """Ask the channel whether this payment is really paid, and how much."""
        ...

    def withdraw(self, payment: PaymentDetails) -> None:
        """Close the payment's instructions at the channel (delete its VA): nobody may pay them."""
        ...

    def refund(
        self, channel_ref: str, payment_id: UUID, refund_id: UUID, amount: Money
    ) -> RefundResult:
        """Return ``amount`` of a paid payment to the payer."""
        ...
