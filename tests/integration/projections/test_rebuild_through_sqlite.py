"""On PostgreSQL a rebuild feeds the read models in SQLite files of their own, then copies
every view's rows and its position in one transaction: the same rows as the live path,
no statement of the feed sent to PostgreSQL, and nothing half-made left by a failure."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.links import LinkTracking
from projections.rebuild import rebuild_models
from projections.runner import CatchUp
from projections.sqlview import PostgresRowsView, SQLiteRowsView
from tests.support.read_models import (
    MODEL_NAMES,
    catch_up,
    head,
    opened_views,
    positions,
    snapshot,
)


def noting(made: list[Path], folder: Path) -> Any:
    """CatchUp.run_once, noting what ``folder`` holds while the views are fed."""
    runs = CatchUp.run_once

    def run_once(catch_up: CatchUp, *args: Any, **kwargs: Any) -> int:
        made.extend(folder.rglob("*.sqlite3"))
        return runs(catch_up, *args, **kwargs)

    return run_once


POSTGRES_ONLY = pytest.mark.parametrize(
    "backend_settings",
    [pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)],
    indirect=True,
)


def _history(app: Paylink, clock: FakeClock, links: int = 12) -> None:
    merchant = app.merchants.register("Toko Salin", "salin@example.com")
    today = clock().date()
    batch = app.app.new_id()
    for i in range(links):
        link = app.links.create(merchant, amount=20_000 + i, description=f"Sepatu {i}")
        app.links.send(link, "email", f"pembeli{i}@example.com")
        if i % 2 == 0:
            payment = app.payments.start(link, "qris" if i % 4 else "va_bri")
            app.payments.record(payment, f"RF-{i}", Money(20_000 + i, "IDR"), clock())
            app.payments.verify(payment, fee=Money(350, "IDR"))
            if i % 4 == 0:
                app.money.settle_payment(payment, batch, today)
        clock.advance(timedelta(minutes=11))


@pytest.fixture
def scratch_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's temporary directories go (other tests' rebuilds make their own)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@POSTGRES_ONLY
def test_a_postgres_rebuild_copies_the_rows_the_live_path_made(
    backend_settings: Settings, clock: FakeClock, scratch_dirs: Path
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        _history(app, clock)
        with opened_views(backend_settings) as models:
            catch_up(app, models)
            live = snapshot(models)
            sent: list[str] = []
            copied: list[str] = []
            applies = PostgresRowsView.apply
            copies = PostgresRowsView.copy_from

            def applying(view: PostgresRowsView, *args: Any, **kwargs: Any) -> None:
                sent.append(view.name)
                applies(view, *args, **kwargs)

            def copying(view: PostgresRowsView, source: SQLiteRowsView, name: str) -> None:
                assert isinstance(source, SQLiteRowsView)
                copied.append(view.name)
                copies(view, source, name)

            made: list[Path] = []
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(PostgresRowsView, "apply", applying)
                patch.setattr(PostgresRowsView, "copy_from", copying)
                patch.setattr(CatchUp, "run_once", noting(made, scratch_dirs))
                assert rebuild_models(backend_settings, app.app, models, processes=1) == head(app)
            assert made  # the views were fed in the scratch directory
            assert sent == []  # the feed ran on SQLite
            assert sorted(copied) == sorted(MODEL_NAMES)
            assert positions(models) == dict.fromkeys(MODEL_NAMES, head(app))
            assert snapshot(models) == live
            assert len(live["links"]) == 12
            assert len(live["audit_chain"]) == head(app)
            # The live path goes on from the copied position: one more event, one more row.
            app.links.create(app.merchants.register("Toko Baru"), amount=5_000, description="Tali")
            catch_up(app, models)
            assert len(snapshot(models)["links"]) == 13
        assert list(scratch_dirs.iterdir()) == []  # the scratch files are gone


@POSTGRES_ONLY
def test_a_rebuild_that_fails_names_the_error_and_leaves_no_half_made_view(
    backend_settings: Settings, clock: FakeClock, scratch_dirs: Path
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        _history(app, clock, links=6)
        with opened_views(backend_settings) as models:
            catch_up(app, models)
            made = LinkTracking.statements
            seen = [0]

            def failing(model: LinkTracking, event: Any, position: int) -> Any:
                seen[0] += 1
                if seen[0] == 20:
                    msg = "the links view could not read event 20"
                    raise RuntimeError(msg)
                return made(model, event, position)

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(LinkTracking, "statements", failing)
                with pytest.raises(RuntimeError, match="could not read event 20"):
                    rebuild_models(backend_settings, app.app, models, processes=1)
            tables = snapshot(models)
            assert tables["links"] == []
            assert tables["link_timeline"] == []
            assert tables["payments"] == []  # no view was copied: the feed failed first
            assert set(positions(models).values()) == {0}
            # A rebuild after the fault makes every view again.
            assert rebuild_models(backend_settings, app.app, models, processes=1) == head(app)
            assert len(snapshot(models)["links"]) == 6
        assert list(scratch_dirs.iterdir()) == []
