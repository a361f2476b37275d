"""A cursor page is a seek on an index, on both databases: the plan of a page deep in a
list starts at the cursor's keys instead of walking the list from its start, and needs
no sort. Checked on the plans the databases give (EXPLAIN), for the lists merchants
page through: links, payments, the event feed and payouts."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Tracking

from paylink_es.settings import Settings
from projections.queries.feed import FEED
from projections.queries.links import LINKS
from projections.queries.paging import Keyset, keyset_query, merchant_where
from projections.queries.payments import PAYMENTS
from projections.queries.settlements import PAYOUTS
from projections.runner import ReadModels

ROWS = 3_000  # per merchant: enough that PostgreSQL's planner weighs an index by its costs


def _row(table: str, merchant: str, i: int) -> dict[str, Any]:
    at = f"2026-01-01T00:00:{i // 1000:02d}.{i % 1000:06d}Z"
    common = {"merchant_id": merchant, "mode": "test", "created_at": at, "updated_at": at}
    if table == "links":
        return {
            **common,
            "link_id": str(uuid4()),
            "code": f"c{i}",
            "description": "Kaos",
            "currency": "IDR",
            "status": "active",
            "position": i,
            "terms": "{}",
            "search": "kaos",
        }
    if table == "payments":
        return {
            **common,
            "payment_id": str(uuid4()),
            "link_id": str(uuid4()),
            "method": "qris",
            "channel": "sandbox",
            "status": "initiated",
            "currency": "IDR",
            "amount": 10_000,
        }
    if table == "payouts":
        return {
            **common,
            "payout_id": str(uuid4()),
            "currency": "IDR",
            "amount": 10_000,
            "status": "requested",
            "bank": "bca",
            "account_number": "1234567890",
            "account_name": "Toko",
        }
    return {"merchant_id": merchant, "mode": "test", "type": "link.created", "payload": "{}"}


def _filled(views: ReadModels, model: str, keyset: Keyset[Any]) -> str:
    """The keyset's table with ROWS rows of a merchant among another's; the merchant's id."""
    ours, theirs = str(uuid4()), str(uuid4())
    rows = [_row(keyset.table, m, i) for i in range(ROWS) for m in (ours, theirs)]
    if keyset.table == "feed":
        rows = [{**row, "position": n + 1} for n, row in enumerate(rows)]
    columns = list(rows[0])
    names, marks = ", ".join(columns), ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {{s}}{keyset.table} ({names}) VALUES ({marks})"  # noqa: S608
    view = views[model].view
    view.apply([(sql, [row[c] for c in columns]) for row in rows], Tracking("KeysetSeek", 1))
    view.run([(f"ANALYZE {{s}}{keyset.table}", ())])
    return ours


def _plan(views: ReadModels, model: str, backend: str, sql: str, params: list[Any]) -> str:
    view = views[model].view
    if backend == "sqlite":
        rows = view.query("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row["detail"]) for row in rows)
    return "\n".join(str(row["QUERY PLAN"]) for row in view.query("EXPLAIN " + sql, params))


@pytest.mark.parametrize(
    ("model", "keyset"),
    [("links", LINKS), ("payments", PAYMENTS), ("feed", FEED), ("settlements", PAYOUTS)],
    ids=["links", "payments", "events", "payouts"],
)
def test_a_deep_page_seeks_to_its_cursor_on_the_index(
    backend_settings: Settings, views: ReadModels, model: str, keyset: Keyset[Any]
) -> None:
    merchant = _filled(views, model, keyset)
    where, params = merchant_where(merchant, "test")  # type: ignore[arg-type]
    # A cursor halfway down the merchant's list.
    deep, _ = keyset_query(keyset, where, params, 1)
    deep_rows = views[model].view.query(deep + " OFFSET ?", [*params, 1, ROWS // 2])
    last = [deep_rows[0][key] for key in keyset.keys]
    sql, bound = keyset_query(keyset, where, params, 21, last)

    plan = _plan(views, model, backend_settings.backend, sql, bound)

    keys = ", ".join(keyset.keys)
    op = "<" if keyset.descending else ">"
    if backend_settings.backend == "sqlite":
        # "SEARCH links USING INDEX links_by_merchant (merchant_id=? AND mode=? AND
        #  (created_at,link_id)<(?,?))": the cursor is part of the index's range.
        seek = f"({keys.replace(' ', '')}){op}(" if len(keyset.keys) > 1 else f"{keys}{op}?"
        assert "SEARCH" in plan, plan
        assert " USING INDEX " in plan, plan
        assert seek in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # read in index order: no sort
    else:
        # "Index Cond: ((merchant_id = …) AND (mode = …) AND (ROW(created_at, link_id) <
        #  ROW(…)))": PostgreSQL starts the index scan at the cursor.
        # (The feed's one key may be sought on its primary key: a seek all the same.)
        seek = f"ROW({keys}) {op} ROW(" if len(keyset.keys) > 1 else f"({keys} {op} "
        conditions = [line.replace('"', "") for line in plan.splitlines() if "Index Cond:" in line]
        assert any(seek in line for line in conditions), plan
        assert "Sort" not in plan, plan
    # The seek returns the rows after the cursor, in order, as the page query does.
    page = [tuple(row[k] for k in keyset.keys) for row in views[model].view.query(sql, bound)]
    assert len(page) == 21
    assert page == sorted(page, reverse=keyset.descending)
    assert (page[0] < tuple(last)) if keyset.descending else (page[0] > tuple(last))
