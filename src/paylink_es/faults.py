"""Named crash points, for tests that kill the process exactly where it hurts.

``arm("idempotency.answer:3")`` makes the third :func:`reach` of that point kill the
process with SIGKILL: no cleanup, no flush, as a power cut or the OOM killer would. A
process that was never armed pays one attribute check per point. Armed from the
``crash_at`` setting (``PAYLINK_CRASH_AT``) when the HTTP app is built; production leaves
it unset.

Points:

``idempotency.answer``
    An idempotent request's command is stored, its answer not sent (a link create: after
    its one write of the link and the key's record; a claimed request: between its saves).
``idempotency.claim``
    An idempotent request is about to run (a link create: nothing written yet; a claimed
    request: the key is claimed, the command has not run).
"""

from __future__ import annotations

import os
import signal
import threading

POINTS = frozenset({"idempotency.answer", "idempotency.claim"})

_lock = threading.Lock()
_armed: dict[str, int] = {}


def arm(spec: str | None) -> None:
    """Arm ``point[:n]`` (n ≥ 1, default 1); None or "" disarms every point."""
    with _lock:
        _armed.clear()
        if not spec:
            return
        point, _, count = spec.partition(":")
        if point not in POINTS:
            raise ValueError(f"unknown crash point {point!r}; known: {', '.join(sorted(POINTS))}")
        n = int(count) if count else 1
        if n < 1:
            raise ValueError("a crash point's count starts at 1")
        _armed[point] = n


def reach(point: str) -> None:
    """Pass a named point: kill the process here if it is armed and its count is up."""
    if not _armed:
        return
    with _lock:
        left = _armed.get(point)
        if left is None:
            return
        if left > 1:
            _armed[point] = left - 1
            return
    os.kill(os.getpid(), signal.SIGKILL)
