"""PostgreSQL: a view's writes commit without waiting for the disk; the event store's do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from projections.runner import ReadModels
from projections.sqlview import PostgresRowsView
from tests.support.read_models import another_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    base = Settings(database_url=pg_url, data_dir=tmp_path / "var", postgres_pool_size=2)
    with another_store(base, tmp_path) as settings:
        yield settings


def test_views_commit_without_waiting_for_the_disk_and_the_event_store_waits(
    pg_settings: Settings,
) -> None:
    with open_paylink(pg_settings) as app:
        models = ReadModels(pg_settings)
        try:
            for name, model in models.models.items():
                view = model.view
                assert isinstance(view, PostgresRowsView), name
                with view._transaction(commit=True) as curs:
                    curs.execute("SHOW synchronous_commit")
                    assert curs.fetchone() == {"synchronous_commit": "off"}, name
                with view._transaction(commit=False) as curs:  # reads: the server's default
                    curs.execute("SHOW synchronous_commit")
                    assert curs.fetchone() == {"synchronous_commit": "on"}, name
            store = app.app.recorder.datastore  # type: ignore[attr-defined]
            with store.transaction(commit=False) as curs:
                curs.execute("SHOW synchronous_commit")
                assert curs.fetchone() == {"synchronous_commit": "on"}
        finally:
            models.close()
