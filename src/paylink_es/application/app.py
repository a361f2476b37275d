"""The one event-sourced application every context's service shares.

:class:`PaylinkApp` is the library's ``Application``: the event store, the repository, the
notification log, and the one way commands run (under the application's clock, retried on
optimistic-concurrency conflicts, through the group committer when there is one). It holds
no business commands: those live in the services of each context (``merchants``,
``links``, ``payments``, ``money``, ``webhooks``, ``requests``), which
:class:`paylink_es.application.services.Paylink` puts side by side on one application.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypedDict, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    OperationalError,
    RecordConflictError,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType

from paylink_es.application.groupcommit import GroupCommitter
from paylink_es.application.written import note_written
from paylink_es.domain.aggregate import PaylinkAggregate
from paylink_es.domain.clock import Clock, system_clock, using_clock
from paylink_es.domain.errors import ConcurrencyConflictError, NotFoundError
from paylink_es.domain.idempotency import derived_id
from paylink_es.retry import conflict_waits, retry
from paylink_es.store.leases import current_fence
from paylink_es.store.topics import register_moved_modules
from paylink_es.store.transcodings import (
    FastJSONTranscoder,
    FastMapper,
    register_domain_transcodings,
)

BulkLoader = Callable[[Any, Sequence[UUID]], dict[UUID, Any]]


class AppOptions(TypedDict, total=False):
    """How a :class:`PaylinkApp` runs commands; its constructor's keywords and defaults."""

    clock: Clock
    new_id: Callable[[], UUID]
    retries: int
    group_commit: bool
    bulk_loader: BulkLoader | None


"""Loads the aggregates of many ids at once (``paylink_es.store.bulkload.load_many``)."""

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A", bound=PaylinkAggregate)


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply stored events in order: the library's projector, minus a per-event
    ``isinstance`` check against a runtime protocol that cost a quarter of a load."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def written_position(recordings: Sequence[Any]) -> int | None:
    """The highest log position (notification id) of a save's recordings; ``None``: none."""
    ids = [r.notification.id for r in recordings if r.notification.id is not None]
    return max(ids) if ids else None


class PaylinkApp(Application[UUID]):
    """The event store and the way commands run on it, shared by every service."""

    name = "Paylink"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = system_clock,
        new_id: Callable[[], UUID] = uuid4,
        retries: int = 20,
        group_commit: bool = False,
        bulk_loader: BulkLoader | None = None,
    ) -> None:
        self.clock = clock
        self.bulk_loader = bulk_loader
        self.draw_id = new_id
        self.retries = retries
        self._collecting = threading.local()
        super().__init__(env)
        self.committer: GroupCommitter | None = None
        if group_commit:
            self.committer = GroupCommitter(
                self.run_alone, self._run_collecting, self._write_collected
            )

    def close(self) -> None:
        """Let queued commands finish, then close the store."""
        if getattr(self, "committer", None) is not None and self.committer is not None:
            self.committer.close()
            self.committer = None
        super().close()

    def new_id(self) -> UUID:
        """A new aggregate id: derived from the Idempotency-Key while an idempotent
        request runs (so running it again draws the same ids), else a fresh one."""
        return derived_id() or self.draw_id()

    @property
    def collecting(self) -> bool:
        """Whether this thread runs a command of a group-commit batch: its saves are
        collected for the batch's one write, where a conflict shows (the batch's commands
        then run again one by one, alone)."""
        return getattr(self._collecting, "objs", None) is not None

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        """Save aggregates; inside a group-commit batch, collect them for one write."""
        collected: list[Any] | None = getattr(self._collecting, "objs", None)
        if collected is not None:
            collected.extend(obj for obj in objs if obj is not None)
            return []
        return self._store(objs, kwargs)

    def _store(self, objs: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        """The library's ``save``, with our own aggregates' events collected directly.

        ``ProcessingEvent.collect_events`` asks two runtime-checkable protocols about each
        object (``isinstance`` on a Protocol walks its attributes): about 30 µs per
        aggregate, a sixth of settling a payment. Our aggregates are known to be
        aggregates; anything else still goes through the library's own collection.
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        others = []
        for obj in objs:
            if isinstance(obj, PaylinkAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                others.append(obj)
        processing_event.collect_events(*others, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        note_written(written_position(recordings))
        return recordings

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the environment given (built from Settings), never the process's.

        The library would merge ``os.environ`` and look up ``PAYLINK_<KEY>`` before
        ``<KEY>`` (the app is named Paylink): a stray variable must not steer the store.
        """
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, each topic's class looked up once (``FastMapper``)."""
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=FastMapper)

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoding, read with orjson (``FastJSONTranscoder``); events
        stored under the domain's old module names still decode."""
        register_moved_modules()
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Add the domain's value types to the library's defaults."""
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # -- plumbing ------------------------------------------------------------------

    def run(self, command: Callable[[], T]) -> T:
        """Run a command: through the group committer when there is one, else alone.

        A background worker's command runs alone in the worker's thread: its save checks
        the worker's term in its own transaction (``store.leases``), which a batch of
        other callers' commands must not share.
        """
        committer = self.committer
        if committer is None or committer.in_writer or current_fence() is not None:
            return self.run_alone(command)
        return committer.submit(command)

    async def run_async(self, command: Callable[[], T]) -> T:
        """Like :meth:`run`, awaitable: the caller's event loop is not blocked."""
        committer = self.committer
        if committer is None:
            return await asyncio.to_thread(self.run_alone, command)
        return await committer.submit_async(command)

    def _run_collecting(self, command: Callable[[], T]) -> tuple[T, list[Any]]:
        """Run a command once with ``save`` collecting; return its result and aggregates."""
        collected: list[Any] = []
        self._collecting.objs = collected
        try:
            with using_clock(self.clock):
                return command(), collected
        finally:
            self._collecting.objs = None

    def _write_collected(self, objs: list[Any]) -> int | None:
        with using_clock(self.clock):
            return written_position(self._store(objs, {}))

    def run_alone(self, command: Callable[[], T]) -> T:
        """Run a command under the app's clock, retrying optimistic-concurrency conflicts
        (``retries`` tries in all, jittered waits between them)."""

        def attempt() -> T:
            with using_clock(self.clock):
                return command()

        def noted(attempt: int, error: BaseException, _delay: float) -> None:
            log.debug("retrying after %s (attempt %d)", type(error).__name__, attempt)

        try:
            return retry(
                attempt,
                delays=conflict_waits(self.retries - 1),
                retry_on=(RecordConflictError, OperationalError),
                on_retry=noted,
            )
        except RecordConflictError as error:
            msg = f"gave up after {self.retries} conflicting attempts"
            raise ConcurrencyConflictError(msg) from error

    def get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        """The aggregate of ``cls`` with this id; :class:`NotFoundError` names ``what``
        when there is none (or the id belongs to another kind of aggregate)."""
        try:
            aggregate: object = self.repository.get(aggregate_id, projector_func=_project)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {what} {aggregate_id}", field=f"{what}_id") from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"no {what} {aggregate_id}", field=f"{what}_id")
        return aggregate

    def now(self) -> datetime:
        """The application's current instant."""
        return self.clock()

    def update(
        self, cls: type[A], aggregate_id: UUID, what: str, change: Callable[[A], None]
    ) -> None:
        """Load one aggregate, change it and save it: one command, retried on conflicts."""

        def command() -> None:
            aggregate = self.get(cls, aggregate_id, what)
            change(aggregate)
            self.save(aggregate)

        self.run(command)

    def load_many(self, ids: Sequence[UUID]) -> dict[UUID, Any]:
        """The aggregates of ``ids`` that exist: through the bulk loader the composition
        root gives (a whole chunk in one query), else one by one."""
        if self.bulk_loader is not None:
            return self.bulk_loader(self, ids)
        found: dict[UUID, Any] = {}
        for aggregate_id in ids:
            try:
                found[aggregate_id] = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                continue
        return found
