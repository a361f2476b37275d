"""Query and path parameters: one strict validator per kind, shared by every route.

What a client puts in a URL is bound in a query on SQLite or PostgreSQL, and each
refuses values a client can send (PostgreSQL's ``text`` holds no NUL; SQLite binds no
integer beyond 64 bits), while a lenient parser turns nonsense into a value (``0.5``
into an instant of 1970, ``20260131`` into a day). So each kind is checked once, here
or where it is decoded, and a bad value is a 4xx naming the parameter:

- free text (search, references, event types, ids in a path): :func:`text`, ``Text``;
- an instant: :func:`instant`, ``Instant`` — ISO-8601 ``YYYY-MM-DDTHH:MM[:SS[.fff]]``
  with ``Z`` or ``±HH:MM`` (no Unix time, no basic format, no week dates);
- a day: :func:`day`, ``Day`` — ``YYYY-MM-DD``;
- positions and cursors (``after``, ``cursor``) are decoded by the queries, which check
  them with :func:`projections.queries.paging.position_from_text` and ``check_text``.

The functions raise :class:`~projections.queries.paging.QueryError` (the dashboard reads some
parameters from a dict: a 400 page); the ``Annotated`` types make FastAPI check the
same (the API's 422 ``/problems/validation-error`` naming the parameter).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from projections.queries.paging import QueryError, check_text

T = TypeVar("T")
_INSTANT = re.compile(
    r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)"
    r"(?P<zone>[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INSTANT_EXAMPLE = "2026-01-31T17:00:00+07:00"


def text(value: str, field: str) -> str:
    """Free text that may reach the database: no NUL, valid Unicode."""
    return check_text(value, field)


def instant(value: str, field: str, *, zone: tzinfo | None = None) -> datetime:
    """An ISO-8601 instant with a time zone; with ``zone``, one without is read in it."""
    match = _INSTANT.fullmatch(value)
    offset = match.group("zone") if match else None
    if match is None or (offset is None and zone is None):
        raise QueryError(
            field, f"must be an ISO-8601 instant with a time zone, like {INSTANT_EXAMPLE}"
        )
    moment = f"{match.group('day')}T{match.group('time')}"
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        raise QueryError(field, f"{moment} is not a date and time of the calendar") from None
    if offset is None:
        return parsed.replace(tzinfo=zone)
    return datetime.fromisoformat(moment + ("+00:00" if offset.upper() == "Z" else offset))


def day(value: str, field: str) -> date:
    """An ISO-8601 calendar day, ``YYYY-MM-DD``."""
    if not _DAY.fullmatch(value):
        raise QueryError(field, "must be a date like 2026-01-31 (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(field, f"{value} is not a day of the calendar") from None


def _for_fastapi(check: Callable[[str, str], T]) -> Callable[[Any], T | Any]:
    """``check`` as a pydantic validator: its message, without the field FastAPI names."""

    def validate(value: Any) -> T | Any:
        if not isinstance(value, str):
            return value  # left to the type's own validation
        try:
            return check(value, "value")
        except QueryError as error:
            raise PydanticCustomError("invalid_parameter", error.message) from None

    return validate


Text = Annotated[str, AfterValidator(_for_fastapi(text))]
Instant = Annotated[datetime, BeforeValidator(_for_fastapi(instant))]
Day = Annotated[date, BeforeValidator(_for_fastapi(day))]
