"""The one retry loop: run an action again after the waits it is given.

Callers say which errors are worth another try and how long to wait before each one;
the waits are explicit (a list, or a generator such as :func:`doubling` or
:func:`conflict_waits`), so a test passes its own ``sleep`` and reads what was waited.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
OnRetry = Callable[[int, BaseException, float], None]


def retry(
    action: Callable[[], T],
    *,
    delays: Iterable[float],
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    sleep: Callable[[float], None] = time.sleep,
    on_retry: OnRetry | None = None,
) -> T:
    """``action()``; when it raises one of ``retry_on``, wait the next delay and run it again.

    ``delays`` holds one wait (seconds) per retry, so ``action`` runs at most
    ``len(delays) + 1`` times; when they are used up the last error is raised. Any other
    error is raised at once. ``on_retry(attempt, error, delay)`` is called before each wait
    (``attempt`` counts from 1: the attempt that just failed).
    """
    waits = iter(delays)
    attempt = 1
    while True:
        try:
            return action()
        except retry_on as error:
            delay = next(waits, None)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(attempt, error, delay)
            sleep(delay)
        attempt += 1


def doubling(first: float, count: int) -> list[float]:
    """``count`` waits, each twice the one before: ``doubling(0.5, 3) == [0.5, 1.0, 2.0]``."""
    return [first * 2**n for n in range(count)]


def conflict_waits(
    count: int,
    first: float = 0.002,
    cap: float = 0.05,
    rng: Callable[[float, float], float] = random.uniform,
) -> Iterator[float]:
    """``count`` jittered waits for write conflicts: each uniform in [0, min(first·2ⁿ, cap)].

    Full jitter keeps racing writers from retrying in step; the cap keeps a busy
    aggregate from making anyone wait long.
    """
    for n in range(count):
        yield rng(0, min(first * 2**n, cap))
