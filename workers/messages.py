"""Messages the worker sends on its own: reminders before a link expires, receipts of
payments, and alerts to merchants.

Every ``every_s`` seconds the scheduler asks the messages view for reminders whose time
has come and for receipts and alerts owed, and has the :class:`Messenger` send each: the
write side decides it on the current version of its aggregate first, so each message goes
at most once even when several processes run the scheduler at once (on SQLite each
process runs it; on PostgreSQL one node leads it at a time, and a takeover meets the
decisions the last leader made). What is owed for a cause older than ``max_age_s`` is
dropped unsent (a process that was down for a day does not send yesterday's alerts).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from paylink_es.notify.messaging import Messenger
from paylink_es.store.leases import MESSAGES, Lease
from projections.queries.messages import DueRow, due_messages, due_reminders, forget_stale
from projections.runner import ReadModels
from workers.periodic import Periodic

log = logging.getLogger(__name__)
BATCH = 500


def send_due(messenger: Messenger, models: ReadModels, max_age_s: float, batch: int = BATCH) -> int:
    """Send the reminders, receipts and alerts due now; returns how many messages went."""
    now = messenger.paylink.now()
    sent = 0
    for link_id in due_reminders(models, now, batch):
        try:
            sent += messenger.remind(UUID(link_id))
        except Exception:
            log.exception("could not send the reminder of link %s", link_id)
    oldest = now - timedelta(seconds=max_age_s)
    forget_stale(models, oldest)
    for row in due_messages(models, oldest, batch):
        try:
            sent += _send(messenger, row)
        except Exception:
            log.exception("could not send %s", row["cause"])
    return sent


def _send(messenger: Messenger, row: DueRow) -> int:
    if row["kind"] == "receipt" and row["link_id"] is not None:
        return messenger.receipt(UUID(row["link_id"]), UUID(row["subject"]))
    detail: dict[str, Any] = json.loads(row["detail"]) if row["detail"] else {}
    if row["count"] is not None:
        detail["failures"] = row["count"]
    alerted = messenger.alert(
        UUID(row["merchant_id"]), row["mode"], row["kind"], row["cause"], row["subject"], detail
    )
    return int(alerted)


class MessageScheduler(Periodic):
    """Inside ``paylink serve`` (and the projections process): send messages on time,
    while this node leads the ``messages`` worker."""

    thread_name, worker, what = "message-scheduler", MESSAGES, "message tick"
    sent = 0  # messages this scheduler sent

    def __init__(
        self,
        messenger: Messenger,
        models: ReadModels,
        every_s: float,
        max_age_s: float,
        lease: Lease | None = None,
    ) -> None:
        super().__init__(messenger.paylink, models, every_s, lease)
        self.messenger = messenger
        self.max_age_s = max_age_s

    def tick(self) -> None:
        """Send what is due."""
        self.sent += send_due(self.messenger, self.models, self.max_age_s)
