"""The channel poller: asks remote channels about payments that stay unconfirmed.

A notification can be lost, and a status inquiry can answer "not yet" (Winpay's ``01``,
``02``). The poller finds, in the payments view, every payment of a remote channel that
is still waiting — initiated with instructions the customer may pay, or received and not
verified — and asks the channel on a backoff schedule:

- a **received** payment is confirmed through the verification pipeline (verified, or
  rejected when the channel denies it for good); still unconfirmed a day after it was
  received, it is rejected;
- an **initiated** payment the channel says was paid (its callback never came) is
  recorded and verified;
- an initiated payment whose link can no longer be paid (cancelled, completed, expired)
  or whose own instructions expired has its instructions **withdrawn** at the channel
  (the VA deleted), once, as a ``Payment.Withdrawn`` event.

The schedule is a pure function of when the payment started waiting
(:func:`next_ask`), so ``paylink channels status`` shows the same "next ask" the poller
uses, from any process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from paylink_es.application.channel_port import ChannelPort
from paylink_es.application.details import PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.errors import NotFoundError
from paylink_es.store.leases import (
    CHANNELS,
    Lease,
    LeaseLostError,
)
from projections.queries.payments import waiting_on_channels
from projections.runner import ReadModels
from workers.periodic import Periodic

log = logging.getLogger(__name__)

# Gaps between asks: quick at first (a payment just made), then every half hour.
BACKOFF: Final = (
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=10),
    timedelta(minutes=30),
)
# A received payment the channel will not confirm within this is rejected.
CONFIRM_WITHIN: Final = timedelta(hours=24)
# How far back the poller looks for initiated payments (the longest VA lifetime it gives).
HORIZON: Final = timedelta(days=7)
# After its instructions expired, a payment is still asked about for this long
# (late settlement at the bank), then left alone.
LATE_GRACE: Final = timedelta(hours=1)


def asks(start: datetime, until: datetime) -> list[datetime]:
    """Every scheduled ask from ``start`` up to ``until`` (inclusive)."""
    moments, at, step = [], start, 0
    while at <= until:
        moments.append(at)
        at += BACKOFF[min(step, len(BACKOFF) - 1)]
        step += 1
    return moments


def next_ask(start: datetime, now: datetime) -> datetime:
    """The first scheduled ask after ``now`` for a payment waiting since ``start``."""
    at, step = start, 0
    while at <= now:
        at += BACKOFF[min(step, len(BACKOFF) - 1)]
        step += 1
    return at


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Waiting:
    """A payment the poller is waiting on."""

    payment_id: UUID
    link_id: UUID
    channel: str
    method: str
    status: str  # initiated | paid (received, unverified)
    since: datetime  # when it started waiting: created, or received
    amount: int
    currency: str

    def as_row(self, now: datetime) -> dict[str, Any]:
        """What ``paylink channels status`` prints."""
        return {
            "payment_id": str(self.payment_id),
            "channel": self.channel,
            "method": self.method,
            "status": "received, unverified" if self.status == "paid" else "awaiting payment",
            "waiting_s": int((now - self.since).total_seconds()),
            "next_ask": next_ask(self.since, now).isoformat(timespec="seconds"),
            "amount": self.amount,
            "currency": self.currency,
        }


def waiting_payments(
    models: ReadModels, channels: Mapping[str, ChannelPort], now: datetime
) -> list[Waiting]:
    """Payments of remote channels that are initiated or received-unverified."""
    remote = sorted(name for name, channel in channels.items() if channel.remote)
    rows = waiting_on_channels(models, remote, now - HORIZON)
    found = []
    for row in rows:
        created = _instant(row["created_at"])
        since = _instant(row["updated_at"]) if row["status"] == "paid" else created
        if since is None:
            continue
        found.append(
            Waiting(
                payment_id=UUID(row["payment_id"]),
                link_id=UUID(row["link_id"]),
                channel=row["channel"],
                method=row["method"],
                status=row["status"],
                since=since,
                amount=row["amount"],
                currency=row["currency"],
            )
        )
    return found


class ChannelPoller(Periodic):
    """One sweep at a time over the waiting payments (``run_once``), or, started, a sweep
    every ``every_s`` seconds in a thread of its own (with a ``lease``, while this node
    leads the poller)."""

    thread_name, worker, what = "channel-poller", CHANNELS, "channel poll"

    def __init__(
        self,
        paylink: Paylink,
        models: ReadModels,
        channels: Mapping[str, ChannelPort],
        every_s: float = 5.0,
        lease: Lease | None = None,
    ) -> None:
        super().__init__(paylink, models, every_s, lease)
        self.channels = channels
        self.verification = paylink.verification
        self._asked: dict[UUID, datetime] = {}
        self.sweeps = 0

    def new_term(self) -> None:
        """What another node asked meanwhile is not known: ask as if anew."""
        self._asked.clear()

    def tick(self) -> None:
        """One sweep."""
        self.run_once()

    def run_once(self, *, force: bool = False) -> dict[str, int]:
        """Ask about every waiting payment that is due (``force``: all of them)."""
        now = self.paylink.now().astimezone(UTC)
        counts = {"asked": 0, "verified": 0, "rejected": 0, "withdrawn": 0}
        waiting = waiting_payments(self.models, self.channels, now)
        for item in waiting:
            channel = self.channels.get(item.channel)
            if channel is None:
                continue
            try:
                self._one(item, channel, now, force, counts)
            except LeaseLostError:
                raise  # another node polls now
            except Exception as error:
                log.warning("polling payment %s failed: %s", item.payment_id, error)
        alive = {item.payment_id for item in waiting}
        for gone in [pid for pid in self._asked if pid not in alive]:
            del self._asked[gone]
        self.sweeps += 1
        return counts

    def _due(self, item: Waiting, now: datetime) -> bool:
        last = self._asked.get(item.payment_id)
        scheduled = asks(item.since, now)
        return bool(scheduled) and (last is None or scheduled[-1] > last)

    def _one(
        self,
        item: Waiting,
        channel: ChannelPort,
        now: datetime,
        force: bool,
        counts: dict[str, int],
    ) -> None:
        try:
            payment = self.paylink.payments.get(item.payment_id)
        except NotFoundError:
            return
        if payment.status == "initiated" and self._withdraw_if_closed(payment, channel, now):
            counts["withdrawn"] += 1
        expires = _instant(payment.instructions.get("expires_at")) or payment.created_at
        if payment.status == "initiated" and expires is not None and now > expires + LATE_GRACE:
            return  # nothing can be paid any more; the view keeps it as it was
        if not force and not self._due(item, now):
            return
        self._asked[item.payment_id] = now
        counts["asked"] += 1
        verdict = self.verification.discover(payment.id, channel)
        if (
            verdict.kind == "pending"
            and payment.status == "paid"
            and now - item.since > (CONFIRM_WITHIN)
        ):
            self.paylink.payments.reject(
                payment.id, f"not confirmed by {channel.name} within 24 h: {verdict.reason}"
            )
            counts["rejected"] += 1
            return
        if verdict.kind in ("verified", "rejected"):
            counts[verdict.kind] += 1

    def _withdraw_if_closed(
        self, payment: PaymentDetails, channel: ChannelPort, now: datetime
    ) -> bool:
        """Delete the instructions of a payment its link can no longer take."""
        if payment.withdrawn is not None:
            return False
        link = self.paylink.links.get(payment.link_id)
        expires = _instant(payment.instructions.get("expires_at"))
        closed = link.status in ("cancelled", "completed", "expired") or (
            expires is not None and now >= expires
        )
        if not closed:
            return False
        channel.withdraw(payment)
        return self.paylink.payments.withdraw(payment.id, f"link {link.status}")
