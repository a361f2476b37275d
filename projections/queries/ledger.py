"""Queries of the ledger read model (:mod:`projections.ledger`): balances now or at an
instant, and the journal's lines in store order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID

from paylink_es.domain.postings import Posting, balance_effects
from projections.ledger import BALANCE_COLUMNS
from projections.queries.paging import Keyset, pages, typed_rows, where_given
from projections.readmodel import iso
from projections.runner import ReadModels

JOURNAL_PAGE = 2000
# Every column of a journal line, in the table's order.
JOURNAL_LINE = (
    "position",
    "seq",
    "at",
    "event",
    "originator_id",
    "account",
    "merchant_id",
    "mode",
    "currency",
    "debit",
    "credit",
)
# The columns of a merchant's own journal export (the dashboard's CSV): whose and which
# mode go without saying.
JOURNAL_COLUMNS = tuple(column for column in JOURNAL_LINE if column not in ("merchant_id", "mode"))


class Balance(TypedDict):
    """A merchant's balance columns in one currency (see :data:`BALANCE_COLUMNS`)."""

    pending: int
    available: int
    held: int
    refund_due: int
    fees: int
    refunded: int
    paid_out: int
    verified: int


Balances = dict[str, Balance]  # by currency, in currency order


class PostingRow(TypedDict):
    """What a journal line says of its posting."""

    account: str
    merchant_id: str | None
    mode: str
    currency: str
    debit: int
    credit: int


class JournalRow(PostingRow):
    """A line of the journal: one posting of the event at ``position``."""

    position: int
    seq: int
    at: str
    event: str
    originator_id: str


class BalanceRow(Balance):
    """A row of the balances table."""

    merchant_id: str
    mode: str
    currency: str
    position: int


JOURNAL = Keyset(
    "journal",
    ("position", "seq"),
    (int, int),
    JournalRow,
    descending=False,
    columns=", ".join(JOURNAL_LINE),
)


def balance(columns: Mapping[str, Any]) -> Balance:
    """The balance columns of ``columns`` (a row of the balances table, or sums)."""
    return {
        "pending": int(columns["pending"]),
        "available": int(columns["available"]),
        "held": int(columns["held"]),
        "refund_due": int(columns["refund_due"]),
        "fees": int(columns["fees"]),
        "refunded": int(columns["refunded"]),
        "paid_out": int(columns["paid_out"]),
        "verified": int(columns["verified"]),
    }


def balances(
    models: ReadModels, merchant_id: UUID, mode: str, as_of: datetime | None = None
) -> Balances:
    """Balances by currency: now from the balances table, or ``as_of`` from the journal."""
    view = models["ledger"]
    if as_of is None:
        rows = typed_rows(
            view,
            BalanceRow,
            "SELECT * FROM {s}balances WHERE merchant_id = ? AND mode = ? ORDER BY currency",
            (str(merchant_id), mode),
        )
        return {row["currency"]: balance(row) for row in rows}
    journal = typed_rows(
        view,
        PostingRow,
        "SELECT account, merchant_id, mode, currency, debit, credit FROM {s}journal"
        " WHERE merchant_id = ? AND mode = ? AND at <= ? ORDER BY position, seq",
        (str(merchant_id), mode, iso(as_of)),
    )
    return balances_from_postings([posting_of(row) for row in journal])


def posting_of(row: Mapping[str, Any]) -> Posting:
    """A journal line back as a posting."""
    merchant = row["merchant_id"]
    return Posting(
        row["account"],
        UUID(merchant) if merchant else None,
        row["mode"],
        row["currency"],
        int(row["debit"]),
        int(row["credit"]),
    )


def balances_from_postings(postings: list[Posting]) -> Balances:
    """Sum postings into balance columns by currency (one merchant and mode)."""
    sums: dict[str, dict[str, int]] = {}
    for (_, _, currency, column), delta in balance_effects(postings).items():
        columns = sums.setdefault(currency, dict.fromkeys(BALANCE_COLUMNS, 0))
        columns[column] += delta
    return {currency: balance(columns) for currency, columns in sorted(sums.items())}


def journal(
    models: ReadModels,
    *,
    merchant_id: UUID | None = None,
    mode: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    size: int = JOURNAL_PAGE,
) -> Iterator[list[JournalRow]]:
    """Journal lines in store order (one merchant's and mode's, from ``start`` until
    before ``end``, if given), ``size`` at a time."""
    where: list[str] = []
    params: list[Any] = []
    where_given(where, params, "merchant_id = ?", merchant_id, str)
    where_given(where, params, "mode = ?", mode)
    where_given(where, params, "at >= ?", start, iso)
    where_given(where, params, "at < ?", end, iso)
    return pages(models["ledger"], JOURNAL, where, params, size)
