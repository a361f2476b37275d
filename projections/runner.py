"""Feeding the read models: batched catch-up, woken by the store, supervised.

- One catch-up loop follows the notification log (``select_notifications`` after the
  views' tracking positions) and feeds every read model in pages. It sleeps on the
  store's doorbell: on SQLite a datagram socket every commit rings, on PostgreSQL one
  LISTEN connection (``pgstore.ListenBell``); either way it also looks at the log every
  ``FALLBACK_S`` in case a ring was missed.
- On PostgreSQL the views and the log share the process's one connection pool.
- The audit chain hashes stored bytes, so it is fed raw notifications.
- Events a read model ignores still advance its tracking: a whole page is tracked.
- A read model that cannot apply an event (one that does not decode, a value its tables
  cannot hold) stops at it alone: the live catch-up records the failure (position, error)
  in the view, where ``projections status`` shows it, keeps the others going, and tries
  the failed one again after a pause — after a fix it resumes from where it stopped.
- A database that is unavailable is nobody's fault: the loop waits (a short backoff)
  and goes on where the views stand once the database answers again, with no restart.
- Many nodes on one PostgreSQL: only the node that leads the projections feeds the read
  models (``paylink_es.store.leases``), from where the views stand when its term begins;
  every view write checks the term, so a node that lost it writes nothing more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Notification,
    Tracking,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment

from paylink_es.application.app import PaylinkApp
from paylink_es.settings import Settings
from paylink_es.store.doorbell import FALLBACK_S, Doorbell
from paylink_es.store.leases import (
    PROJECTIONS,
    ElectedThread,
    Lease,
    LeaseLostError,
    LocalLease,
    fenced,
    leases_for,
)
from paylink_es.store.postgres import ListenBell, connection_settings, is_outage
from projections.audit import AuditChain
from projections.feed import EventFeed, WebhookOutbox
from projections.freshness import PositionWatch
from projections.ledger import LedgerView
from projections.links import LinkTracking
from projections.messages import MessagesView
from projections.payments import PaymentsView
from projections.readmodel import (
    UNREAD,
    ReadModel,
    reader_for,
    undecodable,
)
from projections.settlements import SettlementsView
from projections.sqlview import InvariantViolationError, view_class
from projections.stats import MerchantStats

log = logging.getLogger(__name__)
READ_MODELS: tuple[type[ReadModel], ...] = (
    LinkTracking,
    PaymentsView,
    LedgerView,
    MerchantStats,
    EventFeed,
    WebhookOutbox,
    AuditChain,
    SettlementsView,
    MessagesView,
)
PAGE = 1000
# A read model that failed on an event is tried again after this long, doubling up to
# RETRY_MAX_S: a fix (a restart with new code) is picked up without spinning meanwhile.
RETRY_FIRST_S = 2.0
RETRY_MAX_S = 60.0
# While the database is unavailable the live catch-up tries again after this long,
# doubling up to RETRY_OUTAGE_MAX_S: back within a couple of seconds of its return.
RETRY_OUTAGE_FIRST_S = 0.1
RETRY_OUTAGE_MAX_S = 2.0
REBUILD_PAGE = 5000  # rebuilds and long catch-ups: fewer, larger transactions
GATHER_AFTER = 32  # events in a round that make the live catch-up gather before the next
Progress = Callable[[int, int], None]


def view_env(settings: Settings, name: str, *, create_tables: bool = True) -> dict[str, str]:
    """The eventsourcing environment of one read model's view (``create_tables=False``: the
    tables are there already, e.g. on a read replica, which refuses DDL)."""
    if not create_tables:
        return {**view_env(settings, name), "CREATE_TABLE": "no"}
    if settings.database_url is None:
        env = settings.eventsourcing_env()
        env["SQLITE_DBNAME"] = str(settings.sqlite_path(f"view_{name}"))
        env["PERSISTENCE_MODULE"] = "projections.sqlview:ViewSQLiteFactory"
        return env
    # PostgreSQL: the same settings as the application's store, so the same shared pool.
    return settings.eventsourcing_env()


def open_model(
    settings: Settings, cls: type[ReadModel], *, create_tables: bool = True
) -> tuple[ReadModel, InfrastructureFactory[Any]]:
    """Construct one read model on its view (tables created if missing, if asked)."""
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(
        Environment(cls.name, view_env(settings, cls.name, create_tables=create_tables))
    )
    view = factory.tracking_recorder(view_class(settings.backend, cls.name, cls.ddl, cls.tables))
    return cls(view=view), factory


class ReadModels:
    """Every read model of one store, opened together and closed together."""

    def __init__(
        self,
        settings: Settings,
        names: Sequence[str] | None = None,
        *,
        create_tables: bool = True,
    ) -> None:
        wanted = [cls for cls in READ_MODELS if names is None or cls.name in names]
        unknown = set(names or ()) - {cls.name for cls in READ_MODELS}
        if unknown:
            known = ", ".join(cls.name for cls in READ_MODELS)
            msg = f"unknown projection {sorted(unknown)[0]!r} (known: {known})"
            raise ValueError(msg)
        self.settings = settings
        self._factories: list[InfrastructureFactory[Any]] = []
        self.models: dict[str, ReadModel] = {}
        for cls in wanted:
            model, factory = open_model(settings, cls, create_tables=create_tables)
            self.models[cls.name] = model
            self._factories.append(factory)

    def __getitem__(self, name: str) -> ReadModel:
        return self.models[name]

    def outbox(self) -> WebhookOutbox:
        """The webhook outbox read model."""
        outbox = self.models["outbox"]
        if not isinstance(outbox, WebhookOutbox):
            msg = "the outbox read model is not open"
            raise TypeError(msg)
        return outbox

    def chain(self) -> AuditChain:
        """The audit chain read model."""
        chain = self.models["audit"]
        if not isinstance(chain, AuditChain):
            msg = "the audit read model is not open"
            raise TypeError(msg)
        return chain

    def close(self) -> None:
        """Close every view's connections."""
        for factory in self._factories:
            factory.close()


class CatchUp:
    """Follow the notification log in pages and feed every read model that is behind."""

    def __init__(
        self,
        app: PaylinkApp,
        models: Sequence[ReadModel],
        page: int = REBUILD_PAGE,
        *,
        isolate: bool = False,
    ) -> None:
        self.app = app
        self.models = list(models)
        self.page = page
        # isolate: a model that fails on an event stops there alone (the live path); else
        # the failure is raised (a rebuild or a replay must not pass over an event).
        self.isolate = isolate
        self._held: dict[str, tuple[float, float]] = {}  # model -> (retry at, pause)
        self._wanted: dict[str, bool] = {}  # topic -> whether any model here reads it

    def positions(self) -> dict[str, int]:
        """Each read model's tracking position (0 before its first event)."""
        return {m.name: m.view.max_tracking_id(self.app.name) or 0 for m in self.models}

    def run_once(
        self,
        progress: Progress | None = None,
        stop: int | None = None,
        positions: dict[str, int] | None = None,
    ) -> int:
        """Process everything recorded so far (up to ``stop``); returns events processed.

        ``positions``: the models' positions as the caller keeps them (updated here);
        read from the views when not given.
        """
        if positions is None:
            positions = self.positions()
        moving = [p for name, p in positions.items() if not self._holding(name)]
        if not moving:
            return 0
        last = min(moving)
        head = (self.app.recorder.max_notification_id() or 0) if progress is not None else 0
        processed = 0
        while True:
            page = self.app.recorder.select_notifications(
                last, self.page, stop=stop, inclusive_of_start=False
            )
            if not page:
                break
            self._feed(page, positions)
            processed += len(page)
            last = page[-1].id
            if progress is not None:
                progress(last, max(head, last))
            if len(page) < self.page:
                break
        return processed

    def _feed(self, page: Sequence[Notification], positions: dict[str, int]) -> None:
        decoded: list[tuple[Any, Tracking]] | None = None
        for model in self.models:
            position = positions[model.name]
            if position >= page[-1].id or self._holding(model.name):
                continue
            # The page is in position order: a model is behind from its first event on.
            first = 0
            if position >= page[0].id:
                first = next(i for i, n in enumerate(page) if n.id > position)
            if not isinstance(model, AuditChain) and decoded is None:
                decoded = self._decode(page)
            try:
                self._apply(model, page, decoded, first, len(page))
            except (IntegrityError, LeaseLostError):
                # Another process advanced this view: the caller reads positions again; or
                # another node leads the projections now: this one stops.
                raise
            except Exception as error:
                if not self.isolate or is_outage(error):
                    raise  # an unavailable database is not the event's fault: try again later
                positions[model.name] = self._stop_at_failure(model, page, decoded, first, error)
                continue
            positions[model.name] = page[-1].id
            if model.name in self._held:
                self._recovered(model)

    def _apply(
        self,
        model: ReadModel,
        page: Sequence[Notification],
        decoded: list[tuple[Any, Tracking]] | None,
        start: int,
        stop: int,
    ) -> None:
        if isinstance(model, AuditChain):
            model.process_notifications(self.app.name, page[start:stop])
        else:
            model.process_batch((decoded or [])[start:stop])

    def _stop_at_failure(
        self,
        model: ReadModel,
        page: Sequence[Notification],
        decoded: list[tuple[Any, Tracking]] | None,
        first: int,
        error: Exception,
    ) -> int:
        """Apply the page event by event up to the one that fails; keep that failure.

        Returns the model's position: the last event it could apply.
        """
        reached = page[first - 1].id if first else page[0].id - 1
        for index in range(first, len(page)):
            try:
                self._apply(model, page, decoded, index, index + 1)
            except (IntegrityError, LeaseLostError):
                raise
            except Exception as failed:
                if is_outage(failed):
                    raise
                error = failed
                self._failed(model, page[index].id, error)
                return max(reached, model.view.max_tracking_id(self.app.name) or 0)
            reached = page[index].id
        self._failed(model, page[-1].id, error)  # failed as a batch only: a passing fault
        return reached

    def _holding(self, name: str) -> bool:
        held = self._held.get(name)
        return held is not None and time.monotonic() < held[0]

    def _failed(self, model: ReadModel, position: int, error: Exception) -> None:
        pause = min(self._held.get(model.name, (0.0, RETRY_FIRST_S / 2))[1] * 2, RETRY_MAX_S)
        self._held[model.name] = (time.monotonic() + pause, pause)
        text = f"{type(error).__name__}: {error}"
        log.error("read model %s cannot apply event %d: %s", model.name, position, text)
        try:
            model.view.record_failure(position, text, self.app.now().isoformat())
        except Exception:
            log.warning("could not record the failure of %s", model.name, exc_info=True)

    def _recovered(self, model: ReadModel) -> None:
        del self._held[model.name]
        log.info("read model %s moves again", model.name)
        try:
            model.view.clear_failure()
        except Exception:
            log.warning("could not clear the failure of %s", model.name, exc_info=True)

    def _decode(self, page: Sequence[Notification]) -> list[tuple[Any, Tracking]]:
        """The page's events, decoded only where some read model reads them.

        Write-side index events (a link's code, a channel reference) are a good part of
        the log and no read model reads them: they go in as :data:`UNREAD`, which only
        advances tracking. Only when every model here names what it reads.
        """
        to_event, name = self.app.mapper.to_domain_event, self.app.name
        models = [m for m in self.models if not isinstance(m, AuditChain)]
        every = any(type(m).reads is None for m in models)
        readers = [reader_for(type(m)) for m in models]
        wanted = self._wanted
        decoded: list[tuple[Any, Tracking]] = []
        for n in page:
            read = every or wanted.get(n.topic)
            if read is None:
                qualname = n.topic.rpartition(":")[2]
                read = wanted[n.topic] = any(reader(qualname) for reader in readers)
            if not read:
                decoded.append((UNREAD, Tracking(name, n.id)))
                continue
            event: Any
            try:
                event = to_event(n)
            except Exception as error:  # only the models that read it meet it
                event = undecodable(n.topic, error)
            decoded.append((event, Tracking(name, n.id)))
        return decoded

    def run_forever(
        self,
        stopping: threading.Event,
        interval: float = 0.005,
        gather: float = 0.0,
        doorbell: Doorbell | ListenBell | None = None,
        on_round: Callable[[Mapping[str, int]], None] | None = None,
    ) -> None:
        """Keep following the log until ``stopping`` is set.

        After a busy round (at least :data:`GATHER_AFTER` events), wait ``gather``
        seconds before the next: under load the next page then holds what arrived
        meanwhile, and each view's transaction (and commit) serves many events instead
        of a few. Otherwise wait for the store's ``doorbell`` (rung after every commit;
        looked at every :data:`~paylink_es.store.doorbell.FALLBACK_S` even so), or, with no
        bell to hear, poll every ``interval``: either way a payment now and then is in
        the balances a few milliseconds after it is stored. ``on_round`` is called after
        every round that reached the database, with every read model's position then.
        """
        # The positions are kept here, so a poll of a quiet log is one query, not one per
        # view. Someone else may advance a view meanwhile (the settlement scheduler
        # catches up the payments view before it settles): feeding that view what it
        # already has fails on its tracking row and rolls back; the positions are then
        # read again from the views.
        positions = self.positions()
        while not stopping.is_set():
            started = time.monotonic()
            try:
                processed = self.run_once(positions=positions)
            except IntegrityError:
                positions = self.positions()
                continue
            if on_round is not None:
                on_round(positions)
            if processed >= GATHER_AFTER:
                stopping.wait(gather)
            elif doorbell is not None and doorbell.listening:
                doorbell.wait(FALLBACK_S)
                # At most one round per ``interval``, as when polling: under a steady
                # trickle of commits each round (eight view transactions) then serves
                # what arrived meanwhile, not one commit's events.
                rest = interval - (time.monotonic() - started)
                if rest > 0:
                    stopping.wait(rest)
            else:
                stopping.wait(interval)


def _doorbell(settings: Settings, app: PaylinkApp) -> Doorbell | ListenBell:
    """What wakes the live catch-up when the store commits."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        connection = connection_settings(recorder.datastore)
        if connection is not None:
            return ListenBell(connection, recorder.channel_name)
    return Doorbell(settings.sqlite_path("paylink"))


class ProjectionService:
    """All read models kept up to date in background threads (``serve``, ``projections run``).

    With a ``lease`` (many nodes on one PostgreSQL) the read models are fed only while
    this node leads the projections, and every write checks that it still does; without
    one this process always feeds them.
    """

    def __init__(
        self,
        settings: Settings,
        app: PaylinkApp,
        models: ReadModels | None = None,
        watch: PositionWatch | None = None,
        lease: Lease | None = None,
    ) -> None:
        self.settings = settings
        self.app = app
        # Told where the read models stand after every round (queries wait on it).
        self.watch = watch
        self._owns_models = models is None
        self.models = models if models is not None else ReadModels(settings)
        self.catch_up = CatchUp(app, list(self.models.models.values()), isolate=True)
        self.doorbell: Doorbell | ListenBell | None = None
        self.outage = False  # the database was unavailable at the last try
        self.thread = ElectedThread(
            "projection-catch-up", lease or LocalLease(PROJECTIONS), self._lead
        )
        self.stopping = self.thread.stopping
        self.threads: list[threading.Thread] = [self.thread]

    def start(self) -> None:
        """Catch up in pages (when this node leads the projections), then follow new events."""
        term = self.thread.lease.current()
        if term is not None:
            with fenced(term.fence):
                self._first_catch_up()
        self.thread.start()

    def _first_catch_up(self) -> None:
        if self.doorbell is None:
            self.doorbell = _doorbell(self.settings, self.app)
        try:
            self.catch_up.run_once()
        except Exception as error:
            if not is_outage(error):
                raise
            log.warning("projections start while the database is unavailable: %s", error)

    def _lead(self, ended: threading.Event) -> None:
        """One term of leading the projections: catch up, then follow until it ends."""
        try:
            self._first_catch_up()
            self._follow(self.catch_up, ended)
        finally:
            if self.watch is not None:
                self.watch.unfed()  # another node feeds the views now: waiters ask them
            doorbell, self.doorbell = self.doorbell, None
            if doorbell is not None:
                doorbell.close()

    def _follow(self, follower: CatchUp, ended: threading.Event) -> None:
        backoff = RETRY_OUTAGE_FIRST_S
        while not ended.is_set():
            try:
                follower.run_forever(
                    ended,
                    gather=self.settings.projection_gather_ms / 1000,
                    doorbell=self.doorbell,
                    on_round=self._round,
                )
            except InvariantViolationError:
                log.exception("projections stopped")
                return
            except Exception as error:
                if isinstance(error, LeaseLostError):
                    raise
                if is_outage(error):
                    if not self.outage:
                        log.warning("projections wait for the database: %s", error)
                    self.outage = True
                    if isinstance(self.doorbell, ListenBell):
                        self.doorbell.reset()  # its connection may be dead without a word
                else:
                    log.warning("catch-up failed; retrying", exc_info=True)
                ended.wait(backoff)
                backoff = min(backoff * 2, RETRY_OUTAGE_MAX_S)
                continue
            backoff = RETRY_OUTAGE_FIRST_S

    def _round(self, positions: Mapping[str, int]) -> None:
        if self.watch is not None:
            self.watch.publish(positions)
        if self.outage:
            log.warning("projections follow the log again")
            self.outage = False

    def wait_until(self, position: int, timeout: float = 10.0) -> None:
        """Block until every read model has processed ``position``."""
        deadline = time.monotonic() + timeout
        for model in self.models.models.values():
            remaining = max(deadline - time.monotonic(), 0.001)
            model.view.wait(self.app.name, position, timeout=remaining)

    def stop(self) -> None:
        """Stop following (and leading) and close the views."""
        self.stopping.set()
        self.thread.lease.resign()  # the term ends before the wake, which it then hears
        doorbell = self.doorbell
        if doorbell is not None:
            doorbell.wake()
        self.thread.stop(timeout=10)
        if self.watch is not None:
            self.watch.unfed()
        if self.doorbell is not None:
            self.doorbell.close()
        if self._owns_models:
            self.models.close()


ONE_OFF_WAIT_S = 60.0  # how long a one-off command waits for the leader of the projections


def up_to_date(
    settings: Settings,
    app: PaylinkApp,
    models: Sequence[ReadModel],
    *,
    wait_s: float = ONE_OFF_WAIT_S,
) -> None:
    """Bring ``models`` to the log's head before a one-off command reads them.

    On PostgreSQL another node may be feeding them: the command takes the projections'
    lease for the moment it catches up, as a term of its own (fenced like any leader's
    writes), or, when a node leads the projections, waits for it to reach the head. On
    SQLite it catches up here, as every process does.
    """
    leases = leases_for(settings)
    lease = leases.lease(PROJECTIONS)
    leases.start()
    try:
        term = lease.current()
        if term is not None:
            with fenced(term.fence):
                CatchUp(app, models).run_once()
            return
        head = app.recorder.max_notification_id() or 0
        deadline = time.monotonic() + wait_s
        for model in models:
            remaining = max(deadline - time.monotonic(), 0.001)
            model.view.wait(app.name, head, timeout=remaining)
    finally:
        leases.close()


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one read model stands."""

    name: str
    position: int
    head: int
    events_behind: int
    seconds_behind: float
    failure: str | None = None  # "at <position>: <error>" while it cannot apply an event


def status(app: PaylinkApp, models: ReadModels) -> list[ProjectionStatus]:
    """Position, events behind and seconds behind (age of the oldest unprocessed event)."""
    head = app.recorder.max_notification_id() or 0
    now = app.now()
    result = []
    for name, model in models.models.items():
        position = model.view.max_tracking_id(app.name) or 0
        seconds = 0.0
        if position < head:
            nxt = app.recorder.select_notifications(position, 1, inclusive_of_start=False)
            try:
                stamp = vars(app.mapper.to_domain_event(nxt[0]))["timestamp"] if nxt else None
            except Exception:  # the event a read model is stopped at may not decode
                stamp = None
            if stamp is not None:
                seconds = max((now - stamp).total_seconds(), 0.0)
        # Positions behind: on PostgreSQL a rolled-back insert leaves a gap in the
        # sequence, so this can overstate by the number of such gaps.
        failed = model.view.failure()
        failure = f"at {failed['position']}: {failed['error']}" if failed else None
        result.append(
            ProjectionStatus(name, position, head, head - position, round(seconds, 3), failure)
        )
    return result
