"""Queries of the event feed read model (:mod:`projections.feed`): ``/v1/events``."""

from __future__ import annotations

from typing import TypedDict
from uuid import UUID

from projections.queries.paging import (
    Keyset,
    Page,
    check_limit,
    keyset_rows,
    merchant_where,
    position_from_text,
)
from projections.runner import ReadModels


class FeedRow(TypedDict):
    """A public event: its position in the store and its payload (JSON text)."""

    position: int
    payload: str


FEED = Keyset("feed", ("position",), (int,), FeedRow, descending=False, columns="position, payload")


def events(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    *,
    after: str | None = None,
    limit: int = 50,
    event_type: str | None = None,
) -> Page[FeedRow]:
    """The merchant's public events after a cursor (a position), in store order."""
    position = 0 if after is None else position_from_text(after, "after")
    size = check_limit(limit)
    where, params = merchant_where(merchant_id, mode, type=event_type)
    rows, _ = keyset_rows(models["feed"], FEED, where, params, size, (position,))
    # The cursor moves past what was read; an empty page keeps the caller's cursor.
    following = str(rows[-1]["position"]) if rows else (after or "0")
    return Page(rows, following)
