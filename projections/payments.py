"""Payments: every attempt with method, channel, status, amounts, fee and net, and what
the payer entered on the page (customer details, custom field values)."""

from __future__ import annotations

from typing import Any

import orjson

from paylink_es.domain.payment import Payment
from projections.events import (
    PAYMENT_FLAGGED,
    PAYMENT_INITIATED,
    PAYMENT_RECEIVED,
    PAYMENT_REFUNDED,
    PAYMENT_REJECTED,
    PAYMENT_REVIEWED,
    PAYMENT_SETTLED,
    PAYMENT_VERIFIED,
)
from projections.readmodel import Event, ReadModel, fields_at, iso, originator, uuid_text
from projections.sqlview import Statement


def _update(e: dict[str, Any], kind: type) -> tuple[str, tuple[Any, ...]] | None:
    if kind is PAYMENT_RECEIVED:
        return (
            "status = 'paid', received = ?, channel_ref = ?, paid_at = ?",
            (e["amount"].amount, e["channel_ref"], iso(e["paid_at"])),
        )
    if kind is PAYMENT_FLAGGED:
        return ("anomaly = ?, disposition = ?", (e["anomaly"], e["disposition"]))
    if kind is PAYMENT_REVIEWED:
        return ("disposition = ?", (e["disposition"],))
    if kind is PAYMENT_VERIFIED:
        return ("status = 'verified', fee = ?, net = ?", (e["fee"].amount, e["net"].amount))
    if kind is PAYMENT_REJECTED:
        return ("status = 'rejected', rejection = ?", (e["reason"],))
    if kind is PAYMENT_SETTLED:
        return (
            "status = 'settled', fee = ?, net = ?, settlement_batch = ?, settlement_date = ?",
            (e["fee"].amount, e["net"].amount, str(e["batch_id"]), e["settlement_date"]),
        )
    if kind is PAYMENT_REFUNDED:
        return ("refunded = refunded + ?", (e["amount"].amount,))
    return None


PAYER_COLUMNS = (
    "customer_name",
    "customer_email",
    "customer_phone",
    "customer_address",
    "custom_fields",
)


def payer_values(e: dict[str, Any]) -> tuple[str | None, ...]:
    """The payer columns of a ``Payment.Initiated`` (none in events stored before)."""
    customer = e.get("customer")
    parts = ("name", "email", "phone", "address")
    custom = e.get("custom_fields")
    return (
        *(getattr(customer, part) if customer is not None else None for part in parts),
        orjson.dumps(custom).decode() if custom else None,  # in the link's order
    )


class PaymentsView(ReadModel):
    """One row per payment attempt."""

    name = "payments"
    reads = frozenset({Payment})
    tables = ("payments",)
    later_indexes = ("payments_by_merchant", "payments_by_link")
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}payments ("
        " payment_id TEXT PRIMARY KEY, link_id TEXT NOT NULL, merchant_id TEXT NOT NULL,"
        " mode TEXT NOT NULL,"
        " method TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,"
        " currency TEXT NOT NULL, amount BIGINT NOT NULL, received BIGINT,"
        " fee BIGINT, net BIGINT, refunded BIGINT NOT NULL DEFAULT 0, channel_ref TEXT,"
        " anomaly TEXT, disposition TEXT, rejection TEXT, settlement_batch TEXT,"
        " settlement_date TEXT, paid_at TEXT, created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS payments_by_merchant"
        " ON {s}payments (merchant_id, mode, created_at, payment_id)",
        "CREATE INDEX IF NOT EXISTS payments_by_link ON {s}payments (link_id)",
        # What the payer entered (custom_fields: JSON, key -> value); added after the table.
        *(
            f"ALTER TABLE {{s}}payments ADD COLUMN IF NOT EXISTS {column} TEXT"
            for column in PAYER_COLUMNS
        ),
    )

    def statements(self, event: Event, position: int) -> list[Statement]:
        kind = type(event)
        if not issubclass(kind, Payment.Event):
            return []
        e, at = fields_at(event)
        payment_id = originator(event)
        if kind is PAYMENT_INITIATED:
            amount = e["amount"]
            return [
                (
                    "INSERT INTO {s}payments (payment_id, link_id, merchant_id, mode, method,"
                    " channel, status, currency, amount, created_at, updated_at,"
                    " customer_name, customer_email, customer_phone, customer_address,"
                    " custom_fields)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'initiated', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        payment_id,
                        uuid_text(e["link_id"]),
                        uuid_text(e["merchant_id"]),
                        e["mode"],
                        e["method"],
                        e["channel"],
                        amount.currency,
                        amount.amount,
                        at,
                        at,
                        *payer_values(e),
                    ),
                )
            ]
        update = _update(e, kind)
        if update is None:
            return []
        change, params = update
        sql = f"UPDATE {{s}}payments SET {change}, updated_at = ? WHERE payment_id = ?"
        return [(sql, (*params, at, payment_id))]
