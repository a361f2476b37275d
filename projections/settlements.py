"""Settlement batches and payouts, as merchants and finance list them."""

from __future__ import annotations

from paylink_es.application.money import mask_account
from paylink_es.domain.settlement import Payout
from projections.events import (
    BATCH_PAYMENTS_ADDED,
    PAYOUT_FAILED,
    PAYOUT_PAID_OUT,
    PAYOUT_REQUESTED,
)
from projections.readmodel import Event, ReadModel, fields_at, originator
from projections.sqlview import Statement

BATCH_SQL = (
    "INSERT INTO {s}settlement_batches AS b (batch_id, merchant_id, mode, settlement_date,"
    " currency, payments, gross, fee, net, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (batch_id, currency) DO UPDATE SET payments = b.payments + ?,"
    " gross = b.gross + ?, fee = b.fee + ?, net = b.net + ?, updated_at = ?"
)


class SettlementsView(ReadModel):
    """One row per settlement batch and currency; one row per payout."""

    name = "settlements"
    reads = frozenset({BATCH_PAYMENTS_ADDED, Payout})
    tables = ("settlement_batches", "payouts")
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}settlement_batches ("
        " batch_id TEXT NOT NULL, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " settlement_date TEXT NOT NULL, currency TEXT NOT NULL,"
        " payments BIGINT NOT NULL, gross BIGINT NOT NULL, fee BIGINT NOT NULL,"
        " net BIGINT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
        " PRIMARY KEY (batch_id, currency))",
        "CREATE INDEX IF NOT EXISTS settlement_batches_by_merchant"
        " ON {s}settlement_batches (merchant_id, mode, settlement_date)",
        "CREATE TABLE IF NOT EXISTS {s}payouts ("
        " payout_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " currency TEXT NOT NULL, amount BIGINT NOT NULL, status TEXT NOT NULL,"
        " bank TEXT NOT NULL, account_number TEXT NOT NULL, account_name TEXT NOT NULL,"
        " description TEXT, channel_ref TEXT, failure TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS payouts_by_merchant"
        " ON {s}payouts (merchant_id, mode, created_at, payout_id)",
    )

    def statements(self, event: Event, position: int) -> list[Statement]:
        kind = type(event)
        if kind is BATCH_PAYMENTS_ADDED:
            e, at = fields_at(event)
            gross, fee, net = e["gross"], e["fee"], e["net"]
            count = e["count"]
            return [
                (
                    BATCH_SQL,
                    (
                        originator(event),
                        str(e["merchant_id"]),
                        e["mode"],
                        e["settlement_date"],
                        gross.currency,
                        count,
                        gross.amount,
                        fee.amount,
                        net.amount,
                        at,
                        at,
                        count,
                        gross.amount,
                        fee.amount,
                        net.amount,
                        at,
                    ),
                )
            ]
        if not issubclass(kind, Payout.Event):
            return []
        e, at = fields_at(event)
        payout_id = originator(event)
        if kind is PAYOUT_REQUESTED:
            amount, account = e["amount"], e["bank_account"]
            return [
                (
                    "INSERT INTO {s}payouts (payout_id, merchant_id, mode, currency, amount,"
                    " status, bank, account_number, account_name, description, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, 'requested', ?, ?, ?, ?, ?, ?)",
                    (
                        payout_id,
                        str(e["merchant_id"]),
                        e["mode"],
                        amount.currency,
                        amount.amount,
                        account["bank"],
                        mask_account(account["account_number"]),
                        account["account_name"],
                        e["description"],
                        at,
                        at,
                    ),
                )
            ]
        if kind is PAYOUT_PAID_OUT:
            change, params = "status = 'paid_out', channel_ref = ?", (e["channel_ref"],)
        elif kind is PAYOUT_FAILED:
            change, params = "status = 'failed', failure = ?", (e["reason"],)
        else:
            return []
        sql = f"UPDATE {{s}}payouts SET {change}, updated_at = ? WHERE payout_id = ?"
        return [(sql, (*params, at, payout_id))]
