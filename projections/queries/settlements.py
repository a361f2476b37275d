"""Queries of the settlements read model (:mod:`projections.settlements`): settlement
batches and payouts."""

from __future__ import annotations

from typing import Literal, TypedDict
from uuid import UUID

from projections.queries.paging import Keyset, MerchantList, owned_row
from projections.runner import ReadModels


class SettlementBatchRow(TypedDict):
    """The payments of one settlement day and currency that a batch settled."""

    batch_id: str
    merchant_id: str
    mode: str
    settlement_date: str
    currency: str
    payments: int
    gross: int
    fee: int
    net: int
    created_at: str
    updated_at: str


class PayoutRow(TypedDict):
    """A payout to the merchant's bank account (the account number masked)."""

    payout_id: str
    merchant_id: str
    mode: str
    currency: str
    amount: int
    status: Literal["requested", "paid_out", "failed"]
    bank: str
    account_number: str
    account_name: str
    description: str | None
    channel_ref: str | None
    failure: str | None
    created_at: str
    updated_at: str


BATCHES = Keyset(
    "settlement_batches", ("settlement_date", "batch_id"), (str, str), SettlementBatchRow
)
PAYOUTS = Keyset("payouts", ("created_at", "payout_id"), (str, str), PayoutRow)


# The merchant's settlement batches (one row per day and currency), newest first.
settlement_batches = MerchantList("settlements", BATCHES)
# The merchant's payouts, newest first.
payouts = MerchantList("settlements", PAYOUTS)


def payout_detail(
    models: ReadModels, merchant_id: UUID, mode: str, payout_id: UUID
) -> PayoutRow | None:
    """One payout; None for an unknown payout or another merchant's."""
    return owned_row(
        models["settlements"], PayoutRow, "payouts", "payout_id", str(payout_id), merchant_id, mode
    )
