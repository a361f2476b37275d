"""The query of the dashboard's lists: a status filter, a cursor, the next page's query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query

StatusQuery = Annotated[str, Query(max_length=20)]
CursorQuery = Annotated[str, Query(max_length=500)]


def next_page_query(kept: Mapping[str, str], next_cursor: str | None) -> str | None:
    """The query of the next page: the filters ``kept`` and its cursor; None on the last."""
    return urlencode({**kept, "cursor": next_cursor}) if next_cursor else None
