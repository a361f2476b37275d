"""Link expiry as an event: the scheduler that records ``Expired`` when a link's time is up.

A link past its expiry already reads as expired (its status is computed from the clock),
but only an ``Expired`` event puts ``link.expired`` in the feed, fires the webhook and lets
the channel poller delete the link's unpaid virtual accounts. The scheduler asks the links
view for active and inactive (deactivated) links whose expiry has passed, every ``every_s``
seconds, and records each one's expiry through the links service. Several processes may
run it at once: the command is decided on the link's current version, so a link expires
exactly once whoever is first. Among nodes on one PostgreSQL one of them leads it.
"""

from __future__ import annotations

import logging
from uuid import UUID

from paylink_es.application.services import Paylink
from paylink_es.store.leases import (
    EXPIRY,
    LeaseLostError,
)
from projections.queries.links import expiring
from projections.runner import ReadModels
from workers.periodic import Periodic

log = logging.getLogger(__name__)
BATCH = 500


def expire_due(paylink: Paylink, models: ReadModels, batch: int = BATCH) -> int:
    """Record the expiry of every link the view shows past due; returns how many expired
    now (a link another process expired first counts there, not here)."""
    expired = 0
    # One batch per tick: the view shows the links just expired as active until it
    # catches up, so the next tick (not a loop here) finds whatever is left.
    for link_id in expiring(models, paylink.now(), batch):
        try:
            if paylink.links.expire(UUID(link_id)):
                expired += 1
        except LeaseLostError:
            raise  # another node expires links now
        except Exception:
            log.exception("could not record the expiry of link %s", link_id)
    return expired


class ExpiryScheduler(Periodic):
    """Inside ``paylink serve`` (and the projections process): expire links on time; with
    a ``lease``, only while this node leads the expiry scheduler."""

    thread_name, worker, what = "expiry-scheduler", EXPIRY, "expiry tick"
    expired = 0  # links this scheduler expired

    def tick(self) -> None:
        """Expire what is due."""
        self.expired += expire_due(self.paylink, self.models)
