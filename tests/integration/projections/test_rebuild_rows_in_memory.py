"""A rebuild keeps a batch's new link rows in memory and writes each once: the rows are
the ones the live path's insert and updates make, whatever the batch boundaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.links import ROW_SQL
from projections.readmodel import iso
from projections.runner import REBUILD_PAGE, CatchUp
from projections.sqlview import Statement
from tests.support.examples import scaled
from tests.support.histories import HISTORIES, History, Op
from tests.support.read_models import another_store, catch_up, head, opened_views, snapshot

# Links sent, opened, edited, paid whole and in parts, refunded, deactivated and back,
# expired and cancelled: every change the live path makes with an UPDATE of a link.
EVERY_CHANGE: list[Op] = [
    ("send", 0),
    ("open", 0),
    ("instalments", 2, "qris", 2, 20_000, True, 30),
    ("journey", 0, "qris", "exact", 3, "settled", None),
    ("link", 0, "open", 40_000, 1, 48, "test", "IDR"),
    ("edit", 3, "partial", 60_000, 6),
    ("edit", 1, "description", 10_000, 1),
    ("deactivate", 3, "Stok habis"),
    ("reactivate", 3),
    ("open", 3),
    ("journey", 1, "va_bca", "over", 0, "paid", None),
    ("expire", 3),
    ("cancel", 1),
    ("link", 0, "partial", 90_000, None, 48, "test", "IDR"),
    ("instalments", 1, "qris", 1, 20_000, False, None),
    ("edit", 4, "description", 10_000, 1),
]


# A rebuild feeds read models in SQLite views on either backend (on PostgreSQL the rows
# are copied after), so the rows kept in memory are always made beside SQLite.
@pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True)
def test_rows_kept_in_memory_across_any_batches_equal_the_live_paths_rows(
    backend_settings: Settings, tmp_path: Path
) -> None:
    examples = iter(range(1_000_000))

    @settings(
        max_examples=scaled(20),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(operations=HISTORIES, page=st.sampled_from([1, 3, 7, REBUILD_PAGE]))
    @example(operations=EVERY_CHANGE, page=REBUILD_PAGE)
    @example(operations=EVERY_CHANGE, page=2)
    def agree(operations: list[Op], page: int) -> None:
        clock = FakeClock()
        folder = tmp_path / f"example{next(examples)}"
        with (
            another_store(backend_settings, folder) as store,
            open_paylink(store, clock=clock) as app,
            opened_views(store) as models,
        ):
            History(app, clock).play_all(operations)
            for model in models.models.values():
                model.view.reset()
            catch_up(app, models)  # batches of statements, as the live catch-up writes
            live = snapshot(models)
            assert live["links"]
            for model in models.models.values():
                model.view.reset()
                model.rebuilding(True)
            try:
                assert CatchUp(app.app, list(models.models.values()), page).run_once() == head(app)
            finally:
                for model in models.models.values():
                    model.rebuilding(False)
            rebuilt = snapshot(models)
        for table, rows in live.items():
            assert rows == rebuilt[table], f"{table}: rows kept in memory differ"

    agree()


def test_a_link_created_and_changed_in_one_batch_is_written_by_one_insert(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with (
        open_paylink(backend_settings, clock=clock) as app,
        opened_views(backend_settings) as models,
    ):
        merchant = app.merchants.register("Toko Satu")
        link = app.links.create(merchant, amount=15_000, description="Sabun")
        app.links.deactivate(link, "Habis", "owner")
        clock.advance(timedelta(minutes=1))
        app.links.reactivate(link, "owner")
        reactivated = head(app)
        links = models["links"]
        written: list[str] = []
        apply = links.view.apply

        def noting(statements: Sequence[Statement], *args: Any) -> None:
            written.extend(sql for sql, _ in statements if "{s}links " in sql)
            apply(statements, *args)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(links.view, "apply", noting)
            links.rebuilding(True)
            try:
                CatchUp(app.app, [links]).run_once()
            finally:
                links.rebuilding(False)
        assert written == [ROW_SQL]
        rows = links.view.query("SELECT status, position, updated_at FROM {s}links")
        assert rows == [{"status": "active", "position": reactivated, "updated_at": iso(clock())}]


def test_an_event_applied_alone_while_rebuilding_writes_its_link_row_at_once(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with (
        open_paylink(backend_settings, clock=clock) as app,
        opened_views(backend_settings) as models,
    ):
        app.links.create(app.merchants.register("Toko Dua"), amount=9_000, description="Sikat")
        links = models["links"]
        links.rebuilding(True)
        try:
            for notification in app.app.recorder.select_notifications(1, head(app)):
                event = app.app.mapper.to_domain_event(notification)
                links.process_event(event, Tracking(app.app.name, notification.id))
        finally:
            links.rebuilding(False)
        rows = links.view.query("SELECT description, status FROM {s}links")
        assert rows == [{"description": "Sikat", "status": "active"}]
