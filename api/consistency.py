"""Read-your-writes over HTTP: a command's position out, a query's wait for it.

- Every ``/v1/`` request runs with a :class:`~paylink_es.application.written.Written`
  (set by :class:`api.middleware.RequestContext`); a request that stored events answers
  with ``Paylink-Position: <notification id>``, the log position of its last write, and
  that position is kept for its API key (:class:`KeyPositions`, in memory, bounded).
- A query backed by read models (:func:`fresh`) waits until the read models it reads have
  processed the caller's position: ``Paylink-Min-Position`` if the request sends it, else
  the last position written with the same key in this process. At most
  ``PAYLINK_READ_WAIT_S`` (2 s): past that it answers anyway, with ``Paylink-Stale: true``.
- With a read replica (``PAYLINK_DATABASE_READ_URL``) queries read the replica's copy of
  the read models (:func:`open_replica`); one that waits for a position waits for the
  replica to have replayed it, at most ``PAYLINK_REPLICA_WAIT_S``, then reads the primary's
  (and waits there as above). A replica that cannot be reached is passed over the same way.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import Request

from api.auth import Owner
from api.problems import ProblemError
from paylink_es.settings import Settings
from paylink_es.store.postgres import SharedDatastore, is_outage
from projections.freshness import PositionWatch
from projections.runner import ReadModels

POSITION_HEADER: Final = "Paylink-Position"
MIN_POSITION_HEADER: Final = "Paylink-Min-Position"
STALE_HEADER: Final = "Paylink-Stale"
KEYS_KEPT: Final = 10_000
MAX_POSITION: Final = 2**63 - 1
log = logging.getLogger(__name__)
MIN_POSITION_STATE: Final = "min_position"  # request.state: the position a query waits for
STALE_STATE: Final = "stale"  # request.state: a query answered before its read models caught up


class KeyPositions:
    """The last log position written with each API key in this process.

    Keyed by the key's hash (never the secret); the least recently used key is forgotten
    past ``kept`` keys, which only costs that key's next query its wait.
    """

    def __init__(self, kept: int = KEYS_KEPT) -> None:
        self.kept = kept
        self._positions: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, key: str, position: int) -> None:
        """A request with ``key`` wrote up to ``position``."""
        with self._lock:
            known = self._positions.pop(key, 0)
            self._positions[key] = max(known, position)
            while len(self._positions) > self.kept:
                self._positions.popitem(last=False)

    def get(self, key: str) -> int:
        """The last position written with ``key`` (0: none known)."""
        with self._lock:
            return self._positions.get(key, 0)


def min_position(given: bytes | None, key: str | None, positions: KeyPositions) -> int:
    """The position a query waits for: the header's, else the key's last write.

    Raises a 422 :class:`ProblemError` for a header that is not a non-negative integer.
    """
    if given is None:
        return positions.get(key) if key is not None else 0
    text = given.decode("latin-1").strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_POSITION:
        raise ProblemError(
            422,
            "validation-error",
            f"{MIN_POSITION_HEADER}: must be a non-negative integer (a Paylink-Position)",
            field=MIN_POSITION_HEADER,
        )
    return int(text)


def fresh(*names: str) -> Callable[[Request, Owner], Awaitable[ReadModels]]:
    """A dependency handing out the read models once ``names`` reached the caller's position.

    It waits on the event loop (no thread held) at most ``PAYLINK_READ_WAIT_S``; when the
    bound passes it marks the request stale and the answer says so (``Paylink-Stale``).
    """

    async def read_models(request: Request, owner: Owner) -> ReadModels:
        # ``owner``: only an authenticated caller waits.
        models: ReadModels = request.app.state.read_models
        wanted: int = getattr(request.state, MIN_POSITION_STATE, 0)
        replica = await _replica_at(request, names, wanted)
        if replica is not None:
            return replica
        if wanted > 0:
            watch: PositionWatch = request.app.state.position_watch
            settings: Settings = request.app.state.settings
            if not await watch.reach(models.models, names, wanted, settings.read_wait_s):
                setattr(request.state, STALE_STATE, True)
        return models

    read_models.__name__ = f"fresh_{'_'.join(names)}"
    return read_models


def open_replica(settings: Settings) -> ReadModels | None:
    """The read models on the read replica (its tables are the primary's, replicated;
    nothing is created there), or None without ``PAYLINK_DATABASE_READ_URL``."""
    replica = settings.read_replica()
    if replica is None:
        return None
    return ReadModels(replica, create_tables=False)


def query_models(state: Any) -> ReadModels:
    """The read models a query that waits for nothing reads: the replica's, unless it is
    known to be unreachable (then the primary's, while a probe looks for its return)."""
    replica: ReadModels | None = state.replica_models
    primary: ReadModels = state.read_models
    if replica is None:
        return primary
    views = (model.view for model in replica.models.values())
    datastore = getattr(next(views, None), "datastore", None)
    if isinstance(datastore, SharedDatastore) and not datastore.reachable():
        return primary
    return replica


async def _replica_at(request: Request, names: tuple[str, ...], wanted: int) -> ReadModels | None:
    """The replica's read models once they have replayed ``wanted`` (at most
    ``PAYLINK_REPLICA_WAIT_S``); None without a replica, when it stays behind, or when it
    cannot be reached: the query then reads the primary."""
    replica: ReadModels | None = request.app.state.replica_models
    if replica is None:
        return None
    if query_models(request.app.state) is not replica:
        return None  # known to be down
    if wanted <= 0:
        return replica
    watch: PositionWatch = request.app.state.replica_watch
    settings: Settings = request.app.state.settings
    try:
        if await watch.reach(replica.models, names, wanted, settings.replica_wait_s):
            return replica
    except Exception as error:
        if not is_outage(error):
            raise
        log.warning("the read replica is unavailable; reading the primary: %s", error)
    return None
