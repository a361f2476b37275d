"""The thread of a worker that does one thing again and again: the settlement and expiry
schedulers and the channel poller.

``Periodic.tick`` runs every ``every_s`` seconds in a daemon thread until ``stop``; a tick
that fails is logged (by the worker's module, naming its ``what``) and the next one comes
on time.
"""

from __future__ import annotations

import logging
import threading

from paylink_es.application.services import Paylink
from projections.runner import ReadModels


class Periodic(threading.Thread):
    """Runs ``tick`` every ``every_s`` seconds, in a thread of its own, until stopped; a
    tick commands ``paylink`` from what the read models show."""

    thread_name = "periodic"
    what = "tick"  # what a tick does, for the log: "settlement run", "channel poll"…

    def __init__(self, paylink: Paylink, models: ReadModels, every_s: float) -> None:
        super().__init__(name=self.thread_name, daemon=True)
        self.paylink = paylink
        self.models = models
        self.every_s = every_s
        self.stopping = threading.Event()

    def tick(self) -> None:
        """One run of the worker's job."""
        raise NotImplementedError

    def run(self) -> None:
        """Wait, tick, repeat, until stopped; a failed tick is logged and tried again."""
        while not self.stopping.wait(self.every_s):
            try:
                self.tick()
            except Exception:
                logging.getLogger(type(self).__module__).exception(
                    "%s failed; trying again in %.1f s", self.what, self.every_s
                )

    def stop(self) -> None:
        """Stop after the current tick (a worker never started just stays stopped)."""
        self.stopping.set()
        if self.ident is not None:
            self.join(timeout=30)
