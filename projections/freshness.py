"""Read-your-writes on the read side: wait, within a bound, until read models reach a position.

A command's answer carries the log position it wrote (``Paylink-Position``); a query that
must show it waits until the read models it reads have processed that position, or until
its bound passes, and then answers anyway (saying the view is behind). Nothing here waits
without a bound, and nothing polls the database in a tight loop:

- When the live catch-up runs in this process (``serve``), it publishes where every read
  model stands after each round (:meth:`PositionWatch.publish`, called by
  ``ProjectionService``) and wakes the waiters: they read those positions, not the views.
  A waiter that hears nothing for :data:`LOOK_MAX_S` still asks the views themselves (a
  view can be advanced by someone else, e.g. the settlement scheduler's catch-up).
- When nothing in this process feeds the views (``serve --workers N``, where they are fed
  by a process of their own, or an app without projections), a waiter asks the views:
  first at once, then after 10 ms, at intervals doubling up to :data:`LOOK_MAX_S`. The
  read replica's views (``PAYLINK_DATABASE_READ_URL``) have a watch of their own that
  nothing publishes to: their waiters always ask them.

Waiters are asyncio tasks (the queries' FastAPI dependency): no thread is held while one
waits; each look at the views is one ``max_tracking_id`` query per read model, in a
worker thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Final

from projections.readmodel import ReadModel

FIRST_LOOK_S: Final = 0.01
LOOK_MAX_S: Final = 0.2


class PositionWatch:
    """Where the read models of this process stand, and a way to wait for them."""

    def __init__(self, application_name: str) -> None:
        self.application_name = application_name
        self._lock = threading.Lock()
        self._known: dict[str, int] = {}
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._fed = False

    @property
    def fed(self) -> bool:
        """Whether a live catch-up in this process publishes the positions."""
        return self._fed

    def publish(self, positions: Mapping[str, int]) -> None:
        """The catch-up's positions after a round (committed): wake waiters if one moved."""
        with self._lock:
            self._fed = True
            moved = False
            for name, position in positions.items():
                if position > self._known.get(name, 0):
                    self._known[name] = position
                    moved = True
            waiters = list(self._waiters) if moved else []
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: its waiter is gone
                continue

    def unfed(self) -> None:
        """The catch-up of this process stopped: waiters ask the views from now on."""
        with self._lock:
            self._fed = False

    def position(self, names: Iterable[str]) -> int:
        """The least position known of ``names`` (0 for one not seen yet)."""
        with self._lock:
            return min((self._known.get(name, 0) for name in names), default=0)

    def _learn(self, positions: Mapping[str, int]) -> None:
        with self._lock:
            for name, position in positions.items():
                if position > self._known.get(name, 0):
                    self._known[name] = position

    def _look(self, models: Mapping[str, ReadModel], names: Iterable[str]) -> dict[str, int]:
        return {
            name: models[name].view.max_tracking_id(self.application_name) or 0 for name in names
        }

    async def reach(
        self,
        models: Mapping[str, ReadModel],
        names: tuple[str, ...],
        position: int,
        timeout: float,
    ) -> bool:
        """Wait until every read model of ``names`` has processed ``position``, at most
        ``timeout`` seconds; whether they did (``False``: the bound passed first)."""
        if position <= 0 or self.position(names) >= position:
            return True
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        waiter = (loop, woken)
        with self._lock:
            self._waiters.add(waiter)
        try:
            look = LOOK_MAX_S if self._fed else FIRST_LOOK_S
            ask_views = not self._fed
            while True:
                woken.clear()  # before reading: a publish from now on wakes the wait below
                if ask_views:
                    self._learn(await asyncio.to_thread(self._look, models, names))
                if self.position(names) >= position:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(woken.wait(), min(look, remaining))
                except TimeoutError:
                    ask_views = True  # no word from a catch-up here: ask the views
                    look = min(look * 2, LOOK_MAX_S)
                else:
                    ask_views = not self._fed
        finally:
            with self._lock:
                self._waiters.discard(waiter)
