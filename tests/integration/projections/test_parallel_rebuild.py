"""A rebuild split over processes makes exactly the views a one-process rebuild makes."""

from __future__ import annotations

import gc
from datetime import timedelta
from typing import Any

import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.rebuild import (
    PARALLEL_MIN_EVENTS,
    PROCESS_COST,
    REBUILD_COST,
    costs_for,
    groups_for,
    rebuild_models,
)
from projections.runner import CatchUp, ReadModels
from projections.sqlview import view_class
from tests.support.read_models import MODEL_NAMES, head, opened_views, positions, snapshot


def test_two_processes_rebuild_the_views_one_process_rebuilds(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Budi", "budi@example.com")
        for i in range(30):
            link = app.links.create(merchant, amount=10_000 + i, description=f"Kaos {i}")
            if i % 3 == 0:
                payment = app.payments.start(link, "qris")
                app.payments.record(payment, f"QR-{i}", Money(10_000 + i, "IDR"), clock())
                app.payments.verify(payment)
            clock.advance(timedelta(minutes=7))
        with opened_views(backend_settings) as models:
            seen: list[tuple[int, int]] = []
            assert rebuild_models(backend_settings, app.app, models, processes=1) == head(app)
            alone = snapshot(models)
            rebuild_models(
                backend_settings,
                app.app,
                models,
                processes=2,
                progress=lambda done, total: seen.append((done, total)),
            )
            assert positions(models) == dict.fromkeys(MODEL_NAMES, head(app))
            assert snapshot(models) == alone
            assert len(alone["links"]) == 30
            assert len(alone["audit_chain"]) == head(app)
            assert seen[-1] == (head(app), head(app))  # the bar ends at the head
            assert gc.isenabled()  # paused for the rebuild only


@pytest.mark.parametrize("backend", sorted(REBUILD_COST))
def test_groups_cover_every_read_model_once_and_balance_the_cost(backend: str) -> None:
    cost = costs_for(backend)
    names = list(cost)
    groups = groups_for(names, 2, backend)
    assert sorted(n for group in groups for n in group) == sorted(names)
    # The second group's process starts first: it finishes its share at about the time
    # this process finishes the first group's.
    costs = [
        sum(cost[n] for n in group) + PROCESS_COST * index for index, group in enumerate(groups)
    ]
    assert len(groups) == 2
    assert max(costs) - min(costs) <= max(costs) / 10
    assert groups_for(names, 1, backend) == [sorted(names, key=lambda n: -cost[n])]
    assert groups_for(["ledger"], 8, backend) == [["ledger"]]


def test_the_heaviest_models_are_rebuilt_apart_on_either_backend() -> None:
    for backend in REBUILD_COST:
        cost = costs_for(backend)
        first, second = sorted(cost, key=lambda n: -cost[n])[:2]
        groups = groups_for(list(cost), 2, backend)
        assert first in groups[0]  # this process takes the heaviest
        assert second in groups[1]


def test_a_log_too_short_to_pay_for_a_second_process_is_rebuilt_in_one(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        app.links.create(app.merchants.register("Toko Kecil"), amount=10_000, description="Tas")
        assert head(app) < PARALLEL_MIN_EVENTS
        started: list[object] = []
        with opened_views(backend_settings) as models, pytest.MonkeyPatch.context() as patch:
            patch.setattr("multiprocessing.context.SpawnProcess.start", started.append)
            assert rebuild_models(backend_settings, app.app, models) == head(app)
            assert len(snapshot(models)["links"]) == 1
        assert started == []


@pytest.mark.parametrize("backend", sorted(REBUILD_COST))
def test_a_longer_log_spreads_the_start_of_a_process_thinner(backend: str) -> None:
    names = list(costs_for(backend))
    short, long = groups_for(names, 2, backend, 60_000), groups_for(names, 2, backend, 1_000_000)
    assert len(short) == len(long) == 2
    assert len(short[1]) <= len(long[1])
    assert sum(costs_for(backend)[n] for n in short[1]) < sum(
        costs_for(backend)[n] for n in long[1]
    )
    assert groups_for(names, 2, backend, 2_000) == [names_by_cost(backend)]  # not worth it


def names_by_cost(backend: str) -> list[str]:
    cost = costs_for(backend)
    return sorted(cost, key=lambda n: -cost[n])


@pytest.mark.parametrize("pair", [["settlements", "audit"], ["ledger", "settlements"]])
def test_cheap_models_are_not_worth_a_process_of_their_own(pair: list[str]) -> None:
    assert len(groups_for(pair, 2)) == 1  # a second reader would cost more than it saves


def _indexes(models: ReadModels, name: str, backend: str) -> set[str]:
    view = models[name].view
    if backend == "sqlite":
        rows = view.query("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {str(row["name"]) for row in rows}
    schema = view.datastore.schema  # type: ignore[attr-defined]
    rows = view.query("SELECT indexname FROM pg_indexes WHERE schemaname = ?", [schema])
    return {str(row["indexname"]) for row in rows}


@pytest.mark.parametrize("processes", [1, 2])
def test_indexes_only_queries_use_are_dropped_for_a_rebuild_and_built_after(
    backend_settings: Settings, clock: FakeClock, processes: int
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Indeks")
        for i in range(5):
            link = app.links.create(merchant, amount=10_000 + i, description=f"Topi {i}")
            app.payments.start(link, "qris")
        with opened_views(backend_settings) as models:
            later = {name: models[name].view.later_indexes for name in models.models}
            assert set(later["links"]) >= {"links_by_merchant"}
            assert set(later["payments"]) >= {"payments_by_merchant"}
            assert set(later["feed"]) >= {"feed_by_merchant"}
            dropped: dict[str, set[str]] = {}
            feeds = CatchUp.run_once

            def noting(catch_up: CatchUp, *args: Any, **kwargs: Any) -> int:
                for model in catch_up.models:  # while the rows go in (this process's group)
                    dropped[model.name] = _indexes(models, model.name, backend_settings.backend)
                return feeds(catch_up, *args, **kwargs)

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(CatchUp, "run_once", noting)
                rebuild_models(backend_settings, app.app, models, processes=processes)
            assert dropped
            for name, present in dropped.items():
                assert not present & set(later[name]), name
            for name in models.models:
                built = _indexes(models, name, backend_settings.backend)
                assert set(later[name]) <= built, name
            assert len(snapshot(models)["links"]) == 5


def test_a_later_index_must_be_one_the_view_makes() -> None:
    with pytest.raises(ValueError, match="no index nope"):
        view_class(
            "sqlite",
            "later_check",
            ("CREATE TABLE IF NOT EXISTS {s}t (a TEXT)",),
            ("t",),
            ("nope",),
        )
