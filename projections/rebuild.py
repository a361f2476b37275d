"""Rebuilding read models from zero, the work split over processes.

Each read model has its own view (its own SQLite file, its own tables on PostgreSQL), so
read models can be rebuilt side by side without touching each other's rows. One
Python process rebuilds at most one core's worth: the models are split into groups of
about equal cost, the first group is rebuilt in this process and each other group by a
process of its own (spawned: a fresh interpreter, its own connections), every group
reading the log for itself. Indexes only queries use (``ReadModel.later_indexes``) are
dropped before and built from the rows after. Meanwhile each model is told it is
rebuilding (``ReadModel.rebuilding``): the links view then writes a batch's new rows once.
A log too short to pay for starting a process (``PARALLEL_MIN_EVENTS``) is rebuilt in
one. The bar shows the slowest group's position; an error in any group fails the
rebuild with that group's message.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from paylink_es.application.app import PaylinkApp
from paylink_es.bootstrap import open_paylink
from paylink_es.heap import collection_paused
from paylink_es.settings import Settings
from projections.readmodel import ReadModel
from projections.runner import CatchUp, ReadModels
from projections.sqlview import PostgresRowsView, SQLiteRowsView

Progress = Callable[[int, int], None]
# What each read model adds to a rebuild, in microseconds per event of a typical log
# (on SQLite: the bench's history rebuilt in one process, CPU time; on PostgreSQL: each
# read model rebuilt alone by way of SQLite, its copy included, wall clock less that of
# the lightest, on an unloaded box).
REBUILD_COST: dict[str, dict[str, float]] = {
    "sqlite": {
        "links": 9.4,
        "feed": 7.2,
        "messages": 4.4,
        "audit": 3.6,
        "outbox": 3.1,
        "stats": 3.0,
        "ledger": 2.2,
        "payments": 1.7,
        "settlements": 0.2,
    },
    "postgres": {
        "feed": 11.8,
        "links": 11.5,
        "messages": 8.4,
        "outbox": 7.1,
        "ledger": 6.9,
        "payments": 6.3,
        "stats": 5.4,
        "audit": 3.4,
        "settlements": 0.5,
    },
}
# Every group reads and decodes the whole log for itself.
READ_COST = 9.0
# Starting a further process (a fresh interpreter importing the application, and its
# connections) takes about a second of one core before it reads its first event.
PROCESS_START_S = 1.0
# That second over the bench's history (146,664 events), when the log's size is not given.
PROCESS_COST = 7.0
# Below this many events, one process was measured faster than two on both backends:
# the second one's start costs more than it takes off.
PARALLEL_MIN_EVENTS = 50_000


def costs_for(backend: str) -> dict[str, float]:
    """Each read model's rebuild cost on ``backend`` (``sqlite`` or ``postgres``)."""
    return REBUILD_COST.get(backend, REBUILD_COST["sqlite"])


def start_cost(events: int | None) -> float:
    """Starting a further process, in microseconds per event of a log of ``events``."""
    return PROCESS_COST if not events else PROCESS_START_S * 1e6 / events


def groups_for(
    names: Sequence[str], processes: int, backend: str = "sqlite", events: int | None = None
) -> list[list[str]]:
    """Split ``names`` into at most ``processes`` groups that finish at about the same
    time, heaviest first; the first group is this process's.

    Each group reads and decodes the log (:data:`READ_COST`), and a further group starts
    its process first (:func:`start_cost`): it is given that much less to do. A further
    group is only made when it ends the rebuild sooner.
    """
    cost = costs_for(backend)
    ordered = sorted(names, key=lambda name: -cost.get(name, 1.0))
    start = start_cost(events)
    best: list[list[str]] = [list(ordered)]
    best_time = READ_COST + sum(cost.get(n, 1.0) for n in ordered)
    for count in range(2, min(processes, len(ordered)) + 1):
        groups: list[list[str]] = [[] for _ in range(count)]
        loads = [READ_COST] + [READ_COST + start] * (count - 1)
        for name in ordered:  # longest processing time first
            least = loads.index(min(loads))
            groups[least].append(name)
            loads[least] += cost.get(name, 1.0)
        if all(groups) and max(loads) < best_time:
            best, best_time = groups, max(loads)
    return best


@collection_paused()
def rebuild_models(
    settings: Settings,
    app: PaylinkApp,
    models: ReadModels,
    *,
    processes: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Reset ``models`` and rebuild them from the whole log; returns the events read.

    ``processes``: at most this many (default: the setting, else one per CPU core for a
    log of at least :data:`PARALLEL_MIN_EVENTS` events).
    """
    for model in models.models.values():
        model.view.reset()
        model.view.drop_later_indexes()
    wanted = processes or settings.rebuild_processes or os.cpu_count() or 1
    head = app.recorder.max_notification_id() or 0
    if processes is None and head < PARALLEL_MIN_EVENTS:
        wanted = 1
    # Asked for a number of processes, the split is the one for a typical log.
    groups = groups_for(
        list(models.models), wanted, settings.backend, head if processes is None else None
    )
    if len(groups) == 1:
        return _fill(settings, app, list(models.models.values()), progress)
    context = multiprocessing.get_context("spawn")
    reports: Any = context.Queue()
    children = [
        context.Process(
            target=_rebuild_group,
            args=(settings, group, index, reports),
            name=f"rebuild-{'+'.join(group)}",
            daemon=True,
        )
        for index, group in enumerate(groups[1:], start=1)
    ]
    for child in children:
        child.start()
    tracker = _Tracker(len(groups), progress)
    try:

        def own_progress(position: int, head: int) -> None:
            tracker.report(0, position, head)
            tracker.drain(reports)

        events = _fill(settings, app, [models[name] for name in groups[0]], own_progress)
        tracker.done(0)
        while not tracker.finished():
            tracker.drain(reports, wait=0.2)
            dead = [c for c in children if not c.is_alive() and c.exitcode not in (0, None)]
            if dead and not tracker.finished():
                tracker.drain(reports)
                if not tracker.finished():
                    msg = f"rebuilding {dead[0].name} died (exit code {dead[0].exitcode})"
                    raise RuntimeError(msg)
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
    return events


def _fill(
    settings: Settings, app: PaylinkApp, models: list[ReadModel], progress: Progress | None
) -> int:
    """Feed ``models`` (emptied, their later indexes dropped) the whole log, then build
    those indexes; they are built even when feeding fails, so no view is left without.

    On PostgreSQL the models are fed in SQLite files of their own first (see
    :func:`_fill_through_sqlite`)."""
    try:
        if settings.backend == "postgres":
            return _fill_through_sqlite(settings, app, models, progress)
        return _feed(app, models, progress)
    finally:
        for model in models:
            model.view.create_later_indexes()


def _feed(app: PaylinkApp, models: list[ReadModel], progress: Progress | None) -> int:
    for model in models:
        model.rebuilding(True)
    try:
        return CatchUp(app, models).run_once(progress=progress)
    finally:
        for model in models:
            model.rebuilding(False)


def _fill_through_sqlite(
    settings: Settings, app: PaylinkApp, models: list[ReadModel], progress: Progress | None
) -> int:
    """Rebuild PostgreSQL views by way of SQLite: each model is fed the log in a scratch
    SQLite view of its own (the same statements its SQLite view runs), then each view's
    rows go to PostgreSQL by COPY, with its tracking position, in one transaction.

    A statement costs PostgreSQL a round of its executor and psycopg about 10 µs of
    Python to send; SQLite in the same process runs one in a few. Each view appears whole
    when its transaction commits; a rebuild that fails leaves the views it had not
    reached empty, as they were after the reset, and the runner rebuilds them.
    """
    with tempfile.TemporaryDirectory(prefix="paylink-rebuild-") as scratch_dir:
        scratch = settings.model_copy(update={"database_url": None, "data_dir": Path(scratch_dir)})
        shadows = ReadModels(scratch, [model.name for model in models])
        try:
            for shadow in shadows.models.values():
                shadow.view.drop_later_indexes()
            events = _feed(app, list(shadows.models.values()), progress)
            for model in models:
                view, fed = model.view, shadows[model.name].view
                if not isinstance(view, PostgresRowsView) or not isinstance(fed, SQLiteRowsView):
                    msg = f"{model.name}: expected a PostgreSQL view fed in SQLite"
                    raise TypeError(msg)
                view.copy_from(fed, app.name)
        finally:
            shadows.close()
    return events


class _Tracker:
    """Each group's position; progress is the slowest one's."""

    def __init__(self, count: int, progress: Progress | None) -> None:
        self.positions = [0] * count
        self.heads = [0] * count
        self.complete = [False] * count
        self.progress = progress

    def report(self, index: int, position: int, head: int) -> None:
        self.positions[index], self.heads[index] = position, head
        if self.progress is not None:
            self.progress(min(self.positions), max(self.heads))

    def done(self, index: int) -> None:
        self.complete[index] = True

    def finished(self) -> bool:
        return all(self.complete)

    def drain(self, reports: Any, wait: float = 0.0) -> None:
        while True:
            try:
                index, kind, first, second = (
                    reports.get(timeout=wait) if wait else reports.get_nowait()
                )
            except queue.Empty:
                return
            wait = 0.0
            if kind == "error":
                msg = f"rebuilding group {index} failed: {first}"
                raise RuntimeError(msg)
            self.report(index, first, second)
            if kind == "done":
                self.done(index)


@collection_paused()
def _rebuild_group(settings: Settings, names: list[str], index: int, reports: Any) -> None:
    """In a process of its own: rebuild ``names`` (already reset) from the log."""
    try:
        paylink = open_paylink(settings)
        app = paylink.app
        models = ReadModels(settings, names)
        try:
            last = [0, 0]

            def report(position: int, head: int) -> None:
                last[:] = [position, head]
                reports.put((index, "at", position, head))

            _fill(settings, app, list(models.models.values()), report)
            head = app.recorder.max_notification_id() or 0
            reports.put((index, "done", max(last[0], head), max(last[1], head)))
        finally:
            models.close()
            paylink.close()
    except Exception:  # reported to the parent, which fails the rebuild with it
        reports.put((index, "error", traceback.format_exc(limit=5), 0))
