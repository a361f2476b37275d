"""A scheduler's thread: one round every ``every_s`` seconds until stopped.

The settlement, expiry and message schedulers run this way inside ``paylink serve`` (and
the projections process): a round that fails is logged, and the next comes on time.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Periodic(threading.Thread):
    """A daemon thread that runs :meth:`round` every ``every_s`` seconds until stopped."""

    def __init__(self, name: str, every_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.every_s = every_s
        self.stopping = threading.Event()

    def round(self) -> None:
        """One round of the scheduler's work."""
        raise NotImplementedError

    def run(self) -> None:
        """Wait, run a round, repeat, until stopped; a failed round is logged."""
        while not self.stopping.wait(self.every_s):
            try:
                self.round()
            except Exception:
                log.exception("%s: a round failed; trying again in %.1f s", self.name, self.every_s)

    def stop(self) -> None:
        """Stop after the current round."""
        self.stopping.set()
        self.join(timeout=30)
