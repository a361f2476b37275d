"""The base of every aggregate here: event timestamps come from the domain clock."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from paylink_es.domain import clock


def stable_id(path: str) -> UUID:
    """A name-based id: the same path always gives the same id (idempotency by construction)."""
    return uuid5(NAMESPACE_URL, path)


class PaylinkAggregate(Aggregate):
    """An eventsourcing aggregate whose events are stamped by :mod:`paylink_es.domain.clock`."""

    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return clock.now()

    class Created(Event, Aggregate.Created):
        pass
