"""The channel port: what the ledger needs from a payment rail, whatever its wire format.

A channel (the sandbox, Winpay SNAP, …) writes payment instructions, turns a callback
into a :class:`CallbackReport` (or refuses it with its own response code), answers a
status inquiry before anything is credited, and refunds. Adapters live beside this
module; the ledger only ever sees these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from paylink_es.money import Money


@dataclass(frozen=True)
class CallbackReport:
    """A verified callback: the channel says this money arrived (or its status changed).

    ``payment_id`` is ours when the channel echoes it; otherwise ``lookup`` holds the
    channel's own key for the attempt (a VA number, a trxId) for the adapter to resolve.
    """

    channel_ref: str
    amount: Money
    paid_at: datetime
    status: str  # "PAID", "PENDING", "FAILED", … in the channel's words, upper case
    payment_id: UUID | None = None
    lookup: str | None = None
    evidence: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelStatus:
    """The channel's answer to a status inquiry about one payment."""

    paid: bool
    amount: Money | None
    channel_ref: str | None
    detail: str  # the channel's status words, kept as evidence


@dataclass(frozen=True)
class RefundResult:
    """What the channel said to a refund request."""

    accepted: bool
    channel_ref: str
    detail: str


class CallbackRejectedError(Exception):
    """A callback that must not be believed: bad signature, stale, replayed, malformed.

    ``code`` is the channel's response code for the refusal (SNAP: ``4012500``…),
    ``http_status`` the status to answer with.
    """

    def __init__(self, reason: str, *, code: str = "", http_status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.http_status = http_status


class ChannelPort(Protocol):
    """One payment rail, as the ledger uses it."""

    name: str

    def instructions(
        self, payment_id: UUID, method: str, amount: Money, merchant_name: str
    ) -> dict[str, str]:
        """What the customer needs to pay ``amount`` by ``method`` (VA number, QR, …)."""
        ...

    def inquire(self, channel_ref: str, payment_id: UUID, amount: Money) -> ChannelStatus:
        """Ask the channel whether this payment is really paid, and how much."""
        ...

    def refund(
        self, channel_ref: str, payment_id: UUID, refund_id: UUID, amount: Money
    ) -> RefundResult:
        """Return ``amount`` of a paid payment to the payer."""
        ...
