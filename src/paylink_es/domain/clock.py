"""The clock the domain reads, so tests can move time without sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

Clock = Callable[[], datetime]

# Asia/Jakarta: Western Indonesia Time, UTC+7 all year (no daylight saving since 1964).
# Calendar days, settlement dates, SNAP timestamps and every instant shown to people.
WIB: Final = timezone(timedelta(hours=7), "WIB")


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(tz=UTC)


_current: ContextVar[Clock] = ContextVar("paylink_clock", default=system_clock)


def now() -> datetime:
    """The current instant as the active clock sees it (timezone-aware)."""
    return _current.get()()


@contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Make ``clock`` the one that event timestamps and guards read, for this block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)


class FakeClock:
    """A clock that stands still until told to move; for tests and the benchmark."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 5, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new instant."""
        self.current += delta
        return self.current
