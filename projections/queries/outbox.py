"""Queries of the webhook outbox read model (:class:`projections.feed.WebhookOutbox`):
endpoints, deliveries and their attempts, and what the delivery worker owes now."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict
from uuid import UUID

from projections.feed import WebhookOutbox
from projections.queries.paging import (
    Keyset,
    Page,
    QueryError,
    merchant_page,
    owned_row,
    typed_rows,
)
from projections.readmodel import iso
from projections.runner import ReadModels

DeliveryStatus = Literal["pending", "delivered", "failed"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = ("pending", "delivered", "failed")


class EndpointRow(TypedDict):
    """A webhook endpoint of a merchant and mode."""

    endpoint_id: str
    merchant_id: str
    mode: str
    url: str
    event_types: str  # JSON: the event types it is sent
    deleted: int  # 0 or 1
    created_at: str


class DeliveryRow(TypedDict):
    """What is owed to an endpoint for one event, and how sending it went so far."""

    delivery_id: str
    endpoint_id: str
    merchant_id: str
    mode: str
    position: int
    event_type: str
    payload: str  # JSON: the public event, as the feed lists it
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    updated_at: str


class AttemptRow(TypedDict):
    """One try at a delivery: the endpoint's status code, or the error."""

    attempt: int
    at: str
    status_code: int | None
    error: str | None


DELIVERIES = Keyset("webhook_deliveries", ("position", "delivery_id"), (int, str), DeliveryRow)
DUE = (
    "SELECT d.* FROM {s}webhook_deliveries d JOIN {s}webhook_endpoints e"
    " ON e.endpoint_id = d.endpoint_id WHERE d.status = 'pending' AND e.deleted = 0"
    " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?) ORDER BY d.position LIMIT ?"
)


def webhook_endpoints(models: ReadModels, merchant_id: UUID, mode: str) -> list[EndpointRow]:
    """The merchant's live webhook endpoints."""
    return typed_rows(
        models["outbox"],
        EndpointRow,
        "SELECT * FROM {s}webhook_endpoints WHERE merchant_id = ? AND mode = ? AND deleted = 0"
        " ORDER BY created_at",
        (str(merchant_id), mode),
    )


def webhook_deliveries(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    endpoint_id: UUID | None = None,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[DeliveryRow]:
    """Deliveries, newest event first, one cursor page at a time."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise QueryError("status", f"must be one of {', '.join(DELIVERY_STATUSES)}")
    view = models["outbox"]
    return merchant_page(
        view, DELIVERIES, merchant_id, mode, limit, cursor, endpoint_id=endpoint_id, status=status
    )


def webhook_delivery(
    models: ReadModels, merchant_id: UUID, mode: str, delivery_id: str
) -> DeliveryRow | None:
    """One delivery; None if unknown or another merchant's."""
    return owned_row(
        models["outbox"],
        DeliveryRow,
        "webhook_deliveries",
        "delivery_id",
        delivery_id,
        merchant_id,
        mode,
    )


def webhook_attempts(models: ReadModels, delivery_id: str) -> list[AttemptRow]:
    """Every attempt at a delivery, oldest first."""
    return typed_rows(
        models["outbox"],
        AttemptRow,
        "SELECT attempt, at, status_code, error FROM {s}webhook_attempts WHERE delivery_id = ?"
        " ORDER BY attempt",
        (delivery_id,),
    )


def due_deliveries(outbox: WebhookOutbox, now: datetime, limit: int) -> list[DeliveryRow]:
    """Pending deliveries to live endpoints whose next attempt is due at ``now``, in
    store order (at most ``limit``): what the delivery worker sends."""
    return typed_rows(outbox, DeliveryRow, DUE, (iso(now), limit))


class OutboxBacklog(TypedDict):
    """How far behind webhook delivery is: what is owed to live endpoints."""

    pending: int  # deliveries neither delivered nor given up
    due: int  # of those, the ones due now
    oldest_due_at: str | None  # since when the longest-waiting due one has been due


BACKLOG = (
    "SELECT count(*) AS pending,"
    " coalesce(sum(CASE WHEN d.next_attempt_at IS NULL OR d.next_attempt_at <= ? THEN 1"
    " ELSE 0 END), 0) AS due,"
    " min(coalesce(d.next_attempt_at, d.created_at)) AS oldest_due_at"
    " FROM {s}webhook_deliveries d JOIN {s}webhook_endpoints e"
    " ON e.endpoint_id = d.endpoint_id WHERE d.status = 'pending' AND e.deleted = 0"
)


def outbox_backlog(outbox: WebhookOutbox, now: datetime) -> OutboxBacklog:
    """What the delivery worker still owes, and how long the oldest due delivery waits."""
    row = typed_rows(outbox, OutboxBacklog, BACKLOG, (iso(now),))[0]
    due_since = row["oldest_due_at"]
    if due_since is not None and due_since > iso(now):
        due_since = None  # every pending one is a retry scheduled later: none is due
    return {"pending": int(row["pending"]), "due": int(row["due"]), "oldest_due_at": due_since}
