"""Days as the dashboard's people read and type them: ``31/01/2026`` (day/month/year), in
both languages; day-month-year with dashes or dots as the tables write it (``31-01-2026``)
and ``2026-01-31`` (ISO, for links written before) are read too."""

from __future__ import annotations

import re
from datetime import date

from projections.queries.paging import QueryError

_TYPED = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def typed_day(value: str, field: str, words: dict[str, str]) -> date | None:
    """The day typed in ``field`` (None when empty); a wrong one is a QueryError naming
    ``field`` whose message is in the page's language."""
    text = value.strip()
    if not text:
        return None
    said = text if text.isprintable() else ascii(text)
    typed, iso = _TYPED.fullmatch(text), _ISO.fullmatch(text)
    if typed is not None:
        day, month, year = int(typed[1]), int(typed[3]), int(typed[4])
    elif iso is not None:
        year, month, day = (int(part) for part in iso.groups())
    else:
        raise QueryError(field, words["date_invalid"].format(value=said))
    try:
        return date(year, month, day)
    except ValueError:
        raise QueryError(field, words["date_not_in_calendar"].format(value=said)) from None


def shown_day(value: str, field: str, words: dict[str, str]) -> str:
    """A typed day as the input shows it again (``31/01/2026``); what is not a day, as typed."""
    try:
        day = typed_day(value, field, words)
    except QueryError:
        return value
    return "" if day is None else day.strftime("%d/%m/%Y")
