"""The thread of a worker that does one thing again and again: the settlement and expiry
schedulers and the channel poller.

``Periodic.tick`` runs every ``every_s`` seconds for each term this node leads the worker
(its ``lease``; on one machine a local one that is always held), until ``stop``. A tick
that fails is logged (naming its ``what``) and the next one comes on time; a write the
lease's fence refuses ends the term.
"""

from __future__ import annotations

import threading

from paylink_es.application.services import Paylink
from paylink_es.store.leases import ElectedThread, Lease, LocalLease, every
from projections.runner import ReadModels


class Periodic(ElectedThread):
    """Runs ``tick`` every ``every_s`` seconds while this node leads ``worker``; a tick
    commands ``paylink`` from what the read models show."""

    thread_name = "periodic"
    worker = ""  # the lease's name: EXPIRY, SETTLEMENT, CHANNELS
    what = "tick"  # what a tick does, for the log: "settlement run", "channel poll"…

    def __init__(
        self, paylink: Paylink, models: ReadModels, every_s: float, lease: Lease | None = None
    ) -> None:
        super().__init__(self.thread_name, lease or LocalLease(self.worker), self._term)
        self.paylink = paylink
        self.models = models
        self.every_s = every_s

    def new_term(self) -> None:
        """What a worker forgets when a term begins (what it knew may be stale)."""

    def tick(self) -> None:
        """One run of the worker's job."""
        raise NotImplementedError

    def _term(self, ended: threading.Event) -> None:
        self.new_term()
        every(ended, self.every_s, self.tick, self.what)
