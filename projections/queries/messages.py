"""Queries of the messages read model (:mod:`projections.messages`): the reminders whose
time has come, and the receipts and alerts owed."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from projections.messages import seconds
from projections.readmodel import iso
from projections.runner import ReadModels


class DueRow(TypedDict):
    """A receipt or an alert owed: its cause and kind, whose, what it is about."""

    cause: str
    kind: str
    merchant_id: str
    mode: str
    subject: str
    link_id: str | None
    count: int | None
    detail: str | None
    at: str
    position: int


def due_reminders(models: ReadModels, now: datetime, limit: int = 500) -> list[str]:
    """Links with a reminder whose time has come by ``now``: active, unpaid, sent to
    someone, not expired yet, the reminder's time after the link was made."""
    rows = models["messages"].view.query(
        # From the reminders (few: those of links that may still be reminded) to their links.
        "SELECT DISTINCT l.link_id FROM {s}message_reminders r"
        " CROSS JOIN {s}message_links l"
        " WHERE l.link_id = r.link_id AND l.status = 'active' AND l.paid = 0 AND l.remind = 1"
        " AND l.expires_s > ?"
        " AND l.expires_s - r.before_s <= ? AND l.expires_s - r.before_s > l.created_s"
        " ORDER BY l.link_id LIMIT ?",
        (seconds(now), seconds(now), limit),
    )
    return [row["link_id"] for row in rows]


def due_messages(models: ReadModels, since: datetime, limit: int = 500) -> list[DueRow]:
    """Receipts and alerts owed whose cause happened at or after ``since``, oldest first."""
    rows = models["messages"].view.query(
        "SELECT cause, kind, merchant_id, mode, subject, link_id, count, detail, at, position"
        " FROM {s}messages_due WHERE at >= ? ORDER BY position LIMIT ?",
        (iso(since), limit),
    )
    return cast(list[DueRow], rows)


def forget_stale(models: ReadModels, before: datetime) -> None:
    """Drop what is owed for causes older than ``before``: too late to send."""
    models["messages"].view.run([("DELETE FROM {s}messages_due WHERE at < ?", (iso(before),))])
