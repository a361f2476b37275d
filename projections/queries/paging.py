"""Paging for every read model's queries: keyset pages, cursors, limits, and the checks
of what a query binds.

A list is read in keyset order (:class:`Keyset`: its key columns, the last breaking
ties), newest first for what merchants browse and oldest first for exports. A
:class:`Page` carries at most ``limit`` rows and, when more follow, an opaque cursor:
the keys of its last row. Exports and scans walk every page with :func:`pages` or
:func:`every_page`. Nothing else in the read side counts rows or builds a cursor.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from uuid import UUID

from projections.readmodel import ReadModel
from projections.sqlview import marks

if TYPE_CHECKING:
    from projections.runner import ReadModels

MAX_PAGE = 100
EXPORT_PAGE = MAX_PAGE  # exports walk the list queries in their largest pages
# The largest integer SQLite can bind (and PostgreSQL's bigint hold): every position fits.
MAX_POSITION = 2**63 - 1
_POSITION = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²"
NOT_OURS = "is not a cursor this server gave out"

T = TypeVar("T")
R = TypeVar("R", bound=Mapping[str, object])


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


def check_limit(limit: int) -> int:
    """A page size a caller may ask for: 1 to :data:`MAX_PAGE`."""
    if not 1 <= limit <= MAX_PAGE:
        raise QueryError("limit", f"must be between 1 and {MAX_PAGE}")
    return limit


def like_pattern(text: str) -> str:
    """A LIKE pattern that finds ``text`` anywhere, with % and _ taken literally."""
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def where_given(
    where: list[str],
    params: list[Any],
    condition: str,
    value: T | None,
    convert: Callable[[T], object] | None = None,
) -> None:
    """Add ``condition`` (one ``?``) and its parameter, ``value`` or ``convert(value)``, to a
    query's WHERE clause; nothing when the filter was not given (None)."""
    if value is not None:
        where.append(condition)
        params.append(value if convert is None else convert(value))


def encode_cursor(*parts: Any) -> str:
    """The opaque cursor of a page's last row: its keys, as URL-safe base64 of JSON."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type) -> list[Any]:
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


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the cursor of the next (None at the end)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Keyset(Generic[R]):
    """A table of a read model read in pages of ``row``, ordered by ``keys``.

    The last key breaks ties, so the keys of a row say exactly where a page ends;
    ``kinds`` are their types in a cursor. ``columns`` is what each row holds.
    """

    table: str
    keys: tuple[str, ...]
    kinds: tuple[type, ...]
    row: type[R]
    descending: bool = True
    columns: str = "*"

    def past(self, last: Sequence[Any]) -> tuple[str, list[Any]]:
        """The condition for rows after ``last`` (the keys of a row) in this order.

        A row-value comparison, ``(created_at, link_id) < (?, ?)``: both databases seek
        to it on an index whose columns are the keys (after the equalities), so a page
        deep in a list costs what the first one does. Its expansion into ``a < ? OR
        (a = ? AND b < ?)`` made them walk the index from the start of the list.
        """
        op = "<" if self.descending else ">"
        values = list(last)
        if len(self.keys) != len(values):
            msg = f"a cursor of {self.table} has {len(self.keys)} keys, not {len(values)}"
            raise ValueError(msg)
        if len(self.keys) == 1:
            return f"{self.keys[0]} {op} ?", values
        return f"({', '.join(self.keys)}) {op} ({marks(values)})", values

    def order(self) -> str:
        """The ORDER BY clause's terms."""
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{key}{direction}" for key in self.keys)


def keyset_query(
    keyset: Keyset[Any],
    where: Sequence[str],
    params: Sequence[Any],
    limit: int,
    last: Sequence[Any] | None = None,
) -> tuple[str, list[Any]]:
    """The query of up to ``limit`` rows after ``last`` that match ``where``, and its
    parameters: a seek on the index of ``where``'s columns and then the keys."""
    terms, bound = list(where), list(params)
    if last is not None:
        condition, extra = keyset.past(last)
        terms.append(condition)
        bound.extend(extra)
    sql = f"SELECT {keyset.columns} FROM {{s}}{keyset.table}"
    if terms:
        sql += " WHERE " + " AND ".join(terms)
    return f"{sql} ORDER BY {keyset.order()} LIMIT ?", [*bound, limit]


def keyset_rows(
    model: ReadModel,
    keyset: Keyset[R],
    where: Sequence[str],
    params: Sequence[Any],
    size: int,
    last: Sequence[Any] | None = None,
) -> tuple[list[R], tuple[Any, ...] | None]:
    """Up to ``size`` rows after ``last`` (from the start if None) that match ``where``,
    and the keys of the last of them when more follow (None at the end): one row more
    than ``size`` is asked for, so the end is known without another query."""
    rows = model.view.query(*keyset_query(keyset, where, params, size + 1, last))
    following = None
    if len(rows) > size:
        following = tuple(rows[size - 1][key] for key in keyset.keys)
        rows = rows[:size]
    return cast(list[R], rows), following


def page(
    model: ReadModel,
    keyset: Keyset[R],
    where: Sequence[str],
    params: Sequence[Any],
    limit: int,
    cursor: str | None,
) -> Page[R]:
    """One page a caller asked for: ``limit`` checked, ``cursor`` decoded and checked."""
    size = check_limit(limit)
    last = None if cursor is None else decode_cursor(cursor, *keyset.kinds)
    rows, following = keyset_rows(model, keyset, where, params, size, last)
    return Page(rows, None if following is None else encode_cursor(*following))


def merchant_where(merchant_id: UUID, mode: str, **equal: Any) -> tuple[list[str], list[Any]]:
    """The WHERE terms and their parameters for a merchant's rows in ``mode`` whose
    columns equal what ``equal`` gives (None: a filter not asked for; a UUID is bound as
    its text)."""
    where, params = ["merchant_id = ?", "mode = ?"], [str(merchant_id), mode]
    for column, value in equal.items():
        where_given(where, params, f"{column} = ?", value, str if isinstance(value, UUID) else None)
    return where, params


def merchant_page(
    model: ReadModel,
    keyset: Keyset[R],
    merchant_id: UUID,
    mode: str,
    limit: int,
    cursor: str | None,
    **equal: Any,
) -> Page[R]:
    """One page of a merchant's rows in ``mode`` (see :func:`merchant_where`)."""
    return page(model, keyset, *merchant_where(merchant_id, mode, **equal), limit, cursor)


@dataclass(frozen=True)
class MerchantList(Generic[R]):
    """The list query of a read model's table ``keyset``: a merchant's rows in a mode, a
    cursor page at a time, in the keyset's order."""

    model: str
    keyset: Keyset[R]

    def __call__(
        self,
        models: ReadModels,
        merchant_id: UUID,
        mode: str,
        *,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[R]:
        return merchant_page(models[self.model], self.keyset, merchant_id, mode, limit, cursor)


def pages(
    model: ReadModel,
    keyset: Keyset[R],
    where: Sequence[str],
    params: Sequence[Any],
    size: int,
) -> Iterator[list[R]]:
    """Every row that matches ``where``, ``size`` at a time (what an export streams)."""
    last: tuple[Any, ...] | None = None
    while True:
        rows, last = keyset_rows(model, keyset, where, params, size, last)
        if rows:
            yield rows
        if last is None:
            return


def every_page(fetch: Callable[[str | None], Page[T]]) -> Iterator[list[T]]:
    """The items of every page ``fetch(cursor)`` gives, from the first to the last."""
    cursor: str | None = None
    while True:
        current = fetch(cursor)
        if current.items:
            yield current.items
        if current.next_cursor is None:
            return
        cursor = current.next_cursor


def one(rows: list[R]) -> R | None:
    """The row of a query by key, or None."""
    return rows[0] if rows else None


def owned_row(
    model: ReadModel, row: type[R], table: str, key: str, value: str, merchant_id: UUID, mode: str
) -> R | None:
    """The row of ``table`` whose ``key`` column is ``value`` if the merchant has it in
    ``mode``; None for an unknown one or another merchant's (they look the same)."""
    return one(
        typed_rows(
            model,
            row,
            f"SELECT * FROM {{s}}{table} WHERE {key} = ? AND merchant_id = ? AND mode = ?",
            (value, str(merchant_id), mode),
        )
    )


def typed_rows(model: ReadModel, row: type[R], sql: str, params: Sequence[Any] = ()) -> list[R]:
    """The rows of a read-only query, as ``row`` (a TypedDict naming its columns).

    ``row`` is for the type checker: the shape is the query's, which the tests of the
    typed rows compare with ``row`` on both databases.
    """
    return cast(list[R], model.view.query(sql, params))
