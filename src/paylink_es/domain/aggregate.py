"""The base of every aggregate here: event timestamps come from the domain clock."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, DomainEvent

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


class UnknownEventError(LookupError):
    """An aggregate has no event of that name (renamed or removed)."""


def event_type(aggregate: type[Aggregate], name: str) -> type[DomainEvent]:
    """The event class ``name`` of ``aggregate``: ``event_type(Payment, "Verified")``.

    ``@event`` makes these classes where mypy cannot see them; looking them up when a
    module loads makes a renamed or removed event fail the import, naming it, instead of
    silently matching nothing.
    """
    found = vars(aggregate).get(name)
    if not (isinstance(found, type) and issubclass(found, DomainEvent)) or name == "Event":
        msg = f"{aggregate.__qualname__} has no event {name!r}"
        raise UnknownEventError(msg)
    return found
