"""Reminders before a link expires: a schedule (``["24h", "1h"]``) and when each is due.

A schedule is a list of lengths of time before the link's expiry, written as a number and
a unit (``m`` minutes, ``h`` hours, ``d`` days). A reminder is due once its time before
the expiry has come; the one sent is the nearest to the expiry of those due, and those
whose time passed before it are passed over (a link sent an hour before it expires gets
its one-hour reminder, not its one-day reminder as well). A reminder whose time came
before the link was created is never due.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Final

from paylink_es.domain.errors import InvalidFieldError

MAX_REMINDERS: Final = 5
SHORTEST_S: Final = 5 * 60
LONGEST_S: Final = 30 * 24 * 3600
UNITS: Final = {"d": 24 * 3600, "h": 3600, "m": 60}
_WRITTEN = re.compile(r"\s*([0-9]{1,5})\s*([dhm])\s*", re.IGNORECASE)


def parse_reminder(value: object, field: str) -> int:
    """``"24h"``, ``"90m"``, ``"2d"`` (or a whole number of seconds) as seconds; raises
    naming ``field``."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        found = _WRITTEN.fullmatch(value)
        if found is None:
            raise InvalidFieldError(
                field, f"{value!r} is not a time before the expiry, like 24h, 30m or 2d"
            )
        seconds = int(found[1]) * UNITS[found[2].lower()]
    else:
        raise InvalidFieldError(field, 'must be a time before the expiry, like "24h" or "30m"')
    if not SHORTEST_S <= seconds <= LONGEST_S:
        raise InvalidFieldError(field, f"{value!r} must be between 5m and 30d before the expiry")
    return seconds


def check_reminders(values: object, field: str = "reminders") -> list[int]:
    """A schedule: at most five distinct times before the expiry, as seconds, the earliest
    reminder (the longest time before the expiry) first."""
    if not isinstance(values, list | tuple):
        raise InvalidFieldError(field, 'must be a list of times before the expiry, like ["24h"]')
    if len(values) > MAX_REMINDERS:
        raise InvalidFieldError(field, f"has {len(values)} reminders; the limit is {MAX_REMINDERS}")
    seconds: list[int] = []
    for index, value in enumerate(values):
        parsed = parse_reminder(value, f"{field}[{index}]")
        if parsed in seconds:
            raise InvalidFieldError(f"{field}[{index}]", f"{value!r} is in the list twice")
        seconds.append(parsed)
    return sorted(seconds, reverse=True)


def written(seconds: int) -> str:
    """A time before the expiry as the API writes it: whole days from two days up
    (``"2d"``), else whole hours (``"24h"``), else minutes (``"90m"``)."""
    if seconds >= 2 * UNITS["d"] and seconds % UNITS["d"] == 0:
        return f"{seconds // UNITS['d']}d"
    if seconds % UNITS["h"] == 0:
        return f"{seconds // UNITS['h']}h"
    return f"{seconds // UNITS['m']}m"


def due_reminder(
    schedule: Sequence[int],
    done: Collection[int],
    expires_at: datetime | None,
    created_at: datetime,
    now: datetime,
) -> tuple[int, list[int]] | None:
    """The reminder to send at ``now`` and the earlier ones passed over, or None.

    ``done``: the reminders sent or passed over already. Nothing is due without an expiry,
    at or after it, or for a reminder whose time came before the link was created.
    """
    if expires_at is None or now >= expires_at:
        return None
    come = [
        before
        for before in schedule
        if before not in done
        and expires_at - timedelta(seconds=before) > created_at
        and expires_at - timedelta(seconds=before) <= now
    ]
    if not come:
        return None
    chosen = min(come)
    return chosen, sorted((before for before in come if before != chosen), reverse=True)
