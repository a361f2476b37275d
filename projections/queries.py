"""Queries the API and dashboard use: always scoped to one merchant and one mode."""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from paylink_es.domain.postings import Posting, balance_effects
from projections.ledger import BALANCE_COLUMNS
from projections.readmodel import ReadModel, iso
from projections.runner import ReadModels
from projections.sqlview import Row

MAX_PAGE = 100
LINK_STATUSES = ("active", "completed", "expired", "cancelled")
# The largest integer SQLite can bind (and PostgreSQL's bigint hold): every position fits.
MAX_POSITION = 2**63 - 1
_POSITION = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²"
NOT_OURS = "is not a cursor this server gave out"


class QueryError(ValueError):
    """A query parameter is malformed (bad cursor, unknown status, limit out of range)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_position(value: int, field: str) -> int:
    """A position in the store (what a cursor counts in): 0 to the largest 64-bit integer.

    A larger integer would reach the database: SQLite cannot bind it at all.
    """
    if not 0 <= value <= MAX_POSITION:
        raise QueryError(field, f"must be a whole number from 0 to {MAX_POSITION}")
    return value


def position_from_text(text: str, field: str) -> int:
    """A position written in ASCII digits (``/v1/events?after=``), checked like any other."""
    if not _POSITION.fullmatch(text):
        raise QueryError(field, f"must be a whole number from 0 to {MAX_POSITION}")
    return check_position(int(text), field)


def check_text(value: str, field: str) -> str:
    """Free text that will be bound in a query: no NUL and no lone surrogate.

    PostgreSQL's ``text`` cannot hold a NUL, and neither database can store a string
    that is not valid Unicode; either would fail in the driver, not here.
    """
    if "\x00" in value:
        raise QueryError(field, "must not contain a NUL character (U+0000)")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise QueryError(field, "must be valid Unicode text (no lone surrogates)") from None
    return value


@dataclass(frozen=True)
class Page:
    """One page of rows and the cursor of the next (None at the end)."""

    items: list[Row]
    next_cursor: str | None


def _encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, *kinds: type) -> list[Any]:
    """The parts of a cursor this server gave out, each of the expected type."""
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise QueryError("cursor", NOT_OURS) from None
    if (
        not isinstance(parts, list)
        or len(parts) != len(kinds)
        or not all(
            type(part) is kind  # exact: a bool is not an int here
            for part, kind in zip(parts, kinds, strict=True)
        )
    ):
        raise QueryError("cursor", NOT_OURS)
    # A forged cursor's parts are bound in the query: the same checks as any parameter.
    try:
        for part in parts:
            if isinstance(part, int):
                check_position(part, "cursor")
            else:
                check_text(part, "cursor")
    except QueryError:
        raise QueryError("cursor", NOT_OURS) from None
    return parts


def like_pattern(text: str) -> str:
    """A LIKE pattern that finds ``text`` anywhere, with % and _ taken literally."""
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise QueryError("limit", f"must be between 1 and {MAX_PAGE}")
    return limit


def _effective_status(row: Row, now: datetime) -> str:
    if row["status"] == "active" and row["expires_at"] and row["expires_at"] <= iso(now):
        return "expired"
    return str(row["status"])


def list_links(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    now: datetime,
    *,
    status: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    reference: str | None = None,
    text: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """The merchant's links, newest first, filtered, one cursor page at a time."""
    where = ["merchant_id = ?", "mode = ?"]
    params: list[Any] = [str(merchant_id), mode]
    if status is not None:
        if status not in LINK_STATUSES:
            raise QueryError("status", f"must be one of {', '.join(LINK_STATUSES)}")
        expired = "(expires_at IS NOT NULL AND expires_at <= ?)"
        if status == "active":
            where.append(f"status = 'active' AND NOT {expired}")
            params.append(iso(now))
        elif status == "expired":
            where.append(f"(status = 'expired' OR (status = 'active' AND {expired}))")
            params.append(iso(now))
        else:
            where.append("status = ?")
            params.append(status)
    if created_from is not None:
        where.append("created_at >= ?")
        params.append(iso(created_from))
    if created_to is not None:
        where.append("created_at < ?")
        params.append(iso(created_to))
    if reference is not None:
        where.append("reference_id = ?")
        params.append(reference)
    if text:
        # ``search`` is folded in Python (SQLite's LOWER() only folds ASCII).
        where.append("search LIKE ? ESCAPE '\\'")
        params.append(like_pattern(text))
    page = _newest_first(
        models["links"],
        "links",
        ("created_at", "link_id"),
        (str, str),
        where,
        params,
        limit,
        cursor,
    )
    items = [{**row, "status": _effective_status(row, now)} for row in page.items]
    return Page(items, page.next_cursor)


def _newest_first(
    model: ReadModel,
    table: str,
    keys: tuple[str, str],
    kinds: tuple[type, type],
    where: list[str],
    params: list[Any],
    limit: int,
    cursor: str | None,
) -> Page:
    """A keyset page of ``table``, newest first by ``keys``; the cursor is the last row's keys."""
    first, second = keys
    if cursor is not None:
        after_first, after_second = _decode_cursor(cursor, *kinds)
        where = [*where, f"({first} < ? OR ({first} = ? AND {second} < ?))"]
        params = [*params, after_first, after_first, after_second]
    size = _limit(limit)
    rows = model.view.query(
        f"SELECT * FROM {{s}}{table} WHERE "
        + " AND ".join(where)
        + f" ORDER BY {first} DESC, {second} DESC LIMIT ?",
        [*params, size + 1],
    )
    following = None
    if len(rows) > size:
        following = _encode_cursor(rows[size - 1][first], rows[size - 1][second])
    return Page(rows[:size], following)


def link_detail(
    models: ReadModels, merchant_id: UUID, mode: str, link_id: UUID, now: datetime
) -> Row | None:
    """One link with its full timeline; None for an unknown link or another merchant's."""
    rows = models["links"].view.query(
        "SELECT * FROM {s}links WHERE link_id = ? AND merchant_id = ? AND mode = ?",
        (str(link_id), str(merchant_id), mode),
    )
    if not rows:
        return None
    link = {**rows[0], "status": _effective_status(rows[0], now)}
    link["timeline"] = [
        {**row, "detail": json.loads(row["detail"])}
        for row in models["links"].view.query(
            "SELECT position, at, event, detail FROM {s}link_timeline WHERE link_id = ?"
            " ORDER BY position",
            (str(link_id),),
        )
    ]
    return link


STATUS_AFTER = {
    "Created": "active",
    "Expired": "expired",
    "Cancelled": "cancelled",
    "Completed": "completed",
}


def link_as_of(
    models: ReadModels, merchant_id: UUID, mode: str, link_id: UUID, as_of: datetime
) -> Row | None:
    """The link as the views showed it at ``as_of``, rebuilt from its timeline."""
    link = link_detail(models, merchant_id, mode, link_id, as_of)
    if link is None or link["created_at"] > iso(as_of):
        return None
    timeline = [entry for entry in link["timeline"] if entry["at"] <= iso(as_of)]
    status, collected = "active", 0
    counts: defaultdict[str, int] = defaultdict(int)
    for entry in timeline:
        status = STATUS_AFTER.get(entry["event"], status)
        counts[entry["event"]] += 1
        if entry["event"] == "PaymentAccepted":
            collected += int(entry["detail"]["amount"])
    expires = link["expires_at"]
    if status == "active" and expires and expires <= iso(as_of):
        status = "expired"
    return {
        **link,
        "status": status,
        "sent_count": counts["Sent"],
        "opened_count": counts["Opened"],
        "payment_count": counts["PaymentAccepted"],
        "flagged_count": counts["PaymentFlagged"],
        "collected": collected,
        "timeline": timeline,
        "as_of": iso(as_of),
    }


def list_payments(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    link_id: UUID | None = None,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """The merchant's payments, newest first, one cursor page at a time."""
    where = ["merchant_id = ?", "mode = ?"]
    params: list[Any] = [str(merchant_id), mode]
    if link_id is not None:
        where.append("link_id = ?")
        params.append(str(link_id))
    if status is not None:
        where.append("status = ?")
        params.append(status)
    return _newest_first(
        models["payments"],
        "payments",
        ("created_at", "payment_id"),
        (str, str),
        where,
        params,
        limit,
        cursor,
    )


def payment_detail(
    models: ReadModels, merchant_id: UUID, mode: str, payment_id: UUID
) -> Row | None:
    """One payment; None for an unknown payment or another merchant's."""
    rows = models["payments"].view.query(
        "SELECT * FROM {s}payments WHERE payment_id = ? AND merchant_id = ? AND mode = ?",
        (str(payment_id), str(merchant_id), mode),
    )
    return rows[0] if rows else None


def balances(
    models: ReadModels, merchant_id: UUID, mode: str, as_of: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Balances by currency: now from the balances table, or ``as_of`` from the journal."""
    if as_of is None:
        rows = models["ledger"].view.query(
            "SELECT * FROM {s}balances WHERE merchant_id = ? AND mode = ? ORDER BY currency",
            (str(merchant_id), mode),
        )
        return {row["currency"]: {c: int(row[c]) for c in BALANCE_COLUMNS} for row in rows}
    journal = models["ledger"].view.query(
        "SELECT account, merchant_id, mode, currency, debit, credit FROM {s}journal"
        " WHERE merchant_id = ? AND mode = ? AND at <= ? ORDER BY position, seq",
        (str(merchant_id), mode, iso(as_of)),
    )
    return balances_from_postings([posting_of(row) for row in journal])


def posting_of(row: Row) -> Posting:
    """A journal row back as a posting."""
    merchant = row["merchant_id"]
    return Posting(
        row["account"],
        UUID(merchant) if merchant else None,
        row["mode"],
        row["currency"],
        int(row["debit"]),
        int(row["credit"]),
    )


def balances_from_postings(postings: list[Posting]) -> dict[str, dict[str, int]]:
    """Sum postings into balance columns by currency (one merchant and mode)."""
    result: dict[str, dict[str, int]] = {}
    for (_, _, currency, column), delta in balance_effects(postings).items():
        columns = result.setdefault(currency, dict.fromkeys(BALANCE_COLUMNS, 0))
        columns[column] += delta
    return dict(sorted(result.items()))


def stats(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    day_from: str | None = None,
    day_to: str | None = None,
) -> Row:
    """The funnel created → sent → opened → paid and volume by day and method (WIB days)."""
    where, params = ["merchant_id = ?", "mode = ?"], [str(merchant_id), mode]
    if day_from:
        where.append("created_day >= ?")
        params.append(day_from)
    if day_to:
        where.append("created_day <= ?")
        params.append(day_to)
    funnel = models["stats"].view.query(
        "SELECT COUNT(*) AS created, COALESCE(SUM(sent), 0) AS sent,"
        " COALESCE(SUM(opened), 0) AS opened, COALESCE(SUM(paid), 0) AS paid"
        " FROM {s}stats_links WHERE " + " AND ".join(where),
        params,
    )[0]
    day_where = [w.replace("created_day", "day") for w in where]
    daily = models["stats"].view.query(
        "SELECT day, method, currency, count, volume FROM {s}stats_daily WHERE "
        + " AND ".join(day_where)
        + " ORDER BY day, method, currency",
        params,
    )
    return {"funnel": {k: int(v) for k, v in funnel.items()}, "daily": daily}


def events(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    after: str | None = None,
    limit: int = 50,
    event_type: str | None = None,
) -> Page:
    """The merchant's public events after a cursor, in store order."""
    position = 0 if after is None else position_from_text(after, "after")
    size = _limit(limit)
    where, params = (
        ["merchant_id = ?", "mode = ?", "position > ?"],
        [str(merchant_id), mode, position],
    )
    if event_type is not None:
        where.append("type = ?")
        params.append(event_type)
    rows = models["feed"].view.query(
        "SELECT position, payload FROM {s}feed WHERE "
        + " AND ".join(where)
        + " ORDER BY position LIMIT ?",
        [*params, size],
    )
    # The cursor moves past what was read; an empty page keeps the caller's cursor.
    following = str(rows[-1]["position"]) if rows else (after or "0")
    return Page(rows, following)


def webhook_endpoints(models: ReadModels, merchant_id: UUID, mode: str) -> list[Row]:
    """The merchant's live webhook endpoints."""
    return models["outbox"].view.query(
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
) -> Page:
    """Deliveries, newest event first, one cursor page at a time."""
    where, params = ["merchant_id = ?", "mode = ?"], [str(merchant_id), mode]
    if endpoint_id is not None:
        where.append("endpoint_id = ?")
        params.append(str(endpoint_id))
    if status is not None:
        if status not in ("pending", "delivered", "failed"):
            raise QueryError("status", "must be one of pending, delivered, failed")
        where.append("status = ?")
        params.append(status)
    return _newest_first(
        models["outbox"],
        "webhook_deliveries",
        ("position", "delivery_id"),
        (int, str),
        where,
        params,
        limit,
        cursor,
    )


def webhook_delivery(
    models: ReadModels, merchant_id: UUID, mode: str, delivery_id: str
) -> Row | None:
    """One delivery; None if unknown or another merchant's."""
    rows = models["outbox"].view.query(
        "SELECT * FROM {s}webhook_deliveries WHERE delivery_id = ? AND merchant_id = ?"
        " AND mode = ?",
        (delivery_id, str(merchant_id), mode),
    )
    return rows[0] if rows else None


def webhook_attempts(models: ReadModels, delivery_id: str) -> list[Row]:
    """Every attempt at a delivery, oldest first."""
    return models["outbox"].view.query(
        "SELECT attempt, at, status_code, error FROM {s}webhook_attempts WHERE delivery_id = ?"
        " ORDER BY attempt",
        (delivery_id,),
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


def settlement_batches(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """The merchant's settlement batches (one row per day and currency), newest first."""
    return _newest_first(
        models["settlements"],
        "settlement_batches",
        ("settlement_date", "batch_id"),
        (str, str),
        ["merchant_id = ?", "mode = ?"],
        [str(merchant_id), mode],
        limit,
        cursor,
    )


def settlement_report(
    models: ReadModels, merchant_id: UUID, mode: str, day: str | None = None
) -> list[Row]:
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
    return models["payments"].view.query(sql + " ORDER BY settlement_date, paid_at", params)


def payouts(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """The merchant's payouts, newest first."""
    return _newest_first(
        models["settlements"],
        "payouts",
        ("created_at", "payout_id"),
        (str, str),
        ["merchant_id = ?", "mode = ?"],
        [str(merchant_id), mode],
        limit,
        cursor,
    )


def payout_detail(models: ReadModels, merchant_id: UUID, mode: str, payout_id: UUID) -> Row | None:
    """One payout; None for an unknown payout or another merchant's."""
    rows = models["settlements"].view.query(
        "SELECT * FROM {s}payouts WHERE payout_id = ? AND merchant_id = ? AND mode = ?",
        (str(payout_id), str(merchant_id), mode),
    )
    return rows[0] if rows else None
