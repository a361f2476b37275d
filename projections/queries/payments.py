"""Queries of the payments read model (:mod:`projections.payments`): lists and one
payment, what a settlement run and the channel poller consider, the settlement report."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict
from uuid import UUID

from projections.queries.paging import (
    EXPORT_PAGE,
    Keyset,
    Page,
    every_page,
    merchant_page,
    owned_row,
    typed_rows,
)
from projections.readmodel import iso
from projections.runner import ReadModels
from projections.sqlview import marks

PaymentStatus = Literal["initiated", "paid", "verified", "rejected", "settled"]


class PaymentRow(TypedDict):
    """A row of the payments view: one payment attempt."""

    payment_id: str
    link_id: str
    merchant_id: str
    mode: str
    method: str
    channel: str
    status: PaymentStatus
    currency: str
    amount: int
    received: int | None
    fee: int | None
    net: int | None
    refunded: int
    channel_ref: str | None
    anomaly: str | None
    disposition: str | None
    rejection: str | None
    settlement_batch: str | None
    settlement_date: str | None
    paid_at: str | None
    created_at: str
    updated_at: str
    # What the payer entered on the page; custom_fields is JSON (key -> value) or None.
    customer_name: str | None
    customer_email: str | None
    customer_phone: str | None
    customer_address: str | None
    custom_fields: str | None


class SettledPaymentRow(TypedDict):
    """A line of the settlement report: a settled payment and what it came to."""

    settlement_date: str
    settlement_batch: str
    payment_id: str
    link_id: str
    method: str
    channel: str
    channel_ref: str | None
    currency: str
    received: int | None
    refunded: int
    fee: int | None
    net: int | None
    paid_at: str | None


class WaitingPaymentRow(TypedDict):
    """A payment of a remote channel still initiated or received-unverified."""

    payment_id: str
    link_id: str
    channel: str
    method: str
    status: Literal["initiated", "paid"]
    currency: str
    amount: int
    created_at: str
    updated_at: str


PAYMENTS = Keyset("payments", ("created_at", "payment_id"), (str, str), PaymentRow)


def list_payments(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    link_id: UUID | None = None,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[PaymentRow]:
    """The merchant's payments, newest first, one cursor page at a time."""
    view = models["payments"]
    return merchant_page(
        view, PAYMENTS, merchant_id, mode, limit, cursor, link_id=link_id, status=status
    )


def all_payments(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    status: str | None = None,
    link_id: UUID | None = None,
) -> Iterator[list[PaymentRow]]:
    """Every payment (of one link if given), newest first, a keyset page at a time."""
    return every_page(
        lambda cursor: list_payments(
            models,
            merchant_id,
            mode,
            link_id=link_id,
            status=status,
            limit=EXPORT_PAGE,
            cursor=cursor,
        )
    )


def payment_detail(
    models: ReadModels, merchant_id: UUID, mode: str, payment_id: UUID
) -> PaymentRow | None:
    """One payment; None for an unknown payment or another merchant's."""
    return owned_row(
        models["payments"], PaymentRow, "payments", "payment_id", str(payment_id), merchant_id, mode
    )


def settlement_candidates(models: ReadModels, merchant_id: UUID | None = None) -> list[UUID]:
    """Payments the view shows verified and unflagged: what a settlement run considers.

    The write side checks each again (still verified, unflagged, due), so a lagging
    view delays a payment to the next run and never settles one twice.
    """
    sql = "SELECT payment_id FROM {s}payments WHERE status = 'verified' AND disposition IS NULL"
    params: list[Any] = []
    if merchant_id is not None:
        sql += " AND merchant_id = ?"
        params.append(str(merchant_id))
    rows = models["payments"].view.query(sql + " ORDER BY created_at, payment_id", params)
    return [UUID(row["payment_id"]) for row in rows]


def settlement_report(
    models: ReadModels, merchant_id: UUID, mode: str, day: str | None = None
) -> list[SettledPaymentRow]:
    """Every settled payment of the merchant (of one settlement day if given), for CSV."""
    sql = (
        "SELECT settlement_date, settlement_batch, payment_id, link_id, method, channel,"
        " channel_ref, currency, received, refunded, fee, net, paid_at FROM {s}payments"
        " WHERE merchant_id = ? AND mode = ? AND settlement_batch IS NOT NULL"
    )
    params: list[Any] = [str(merchant_id), mode]
    if day is not None:
        sql += " AND settlement_date = ?"
        params.append(day)
    return typed_rows(
        models["payments"],
        SettledPaymentRow,
        sql + " ORDER BY settlement_date, paid_at",
        params,
    )


def waiting_on_channels(
    models: ReadModels, channels: Sequence[str], created_from: datetime
) -> list[WaitingPaymentRow]:
    """Payments of ``channels`` created from ``created_from`` on that are initiated or
    received-unverified, oldest first."""
    if not channels:
        return []
    return typed_rows(
        models["payments"],
        WaitingPaymentRow,
        "SELECT payment_id, link_id, channel, method, status, currency, amount, created_at,"
        " updated_at FROM {s}payments"
        f" WHERE channel IN ({marks(channels)}) AND status IN ('initiated', 'paid')"
        " AND created_at >= ?"
        " ORDER BY created_at, payment_id",
        [*channels, iso(created_from)],
    )
