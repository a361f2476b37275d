"""The SQLite stores, built through the library's factory hook: the event store and the views."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from paylink_es.store.sqlite import (
    PaylinkSQLiteFactory,
    PaylinkSQLiteRecorder,
    WriteGatePool,
    stored_rows,
)
from projections.runner import ReadModels
from projections.sqlview import StatementCachingPool, ViewDatastore


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paylink]:
    path: Path = tmp_path_factory.mktemp("rows")
    with open_paylink(Settings(data_dir=path)) as opened:
        merchant = opened.merchants.register("Toko Baris", "baris@example.com")
        for number in range(12):
            opened.links.create(merchant, amount=10_000 + number, description=f"Baris {number}")
        yield opened


def test_the_store_is_built_by_the_librarys_factory_with_ours_named_in_its_settings(
    app: Paylink,
) -> None:
    assert type(app.app.factory) is PaylinkSQLiteFactory
    assert type(app.app.recorder) is PaylinkSQLiteRecorder
    assert type(app.app.recorder.datastore.pool) is WriteGatePool


def test_ids_read_cheaply_are_the_ids_stored(app: Paylink) -> None:
    for notification in app.app.recorder.select_notifications(1, 20):
        assert isinstance(notification.originator_id, UUID)
        assert app.app.repository.get(notification.originator_id).id == notification.originator_id


def test_views_get_connections_that_keep_their_statements(tmp_path: Path) -> None:
    models = ReadModels(Settings(data_dir=tmp_path))
    try:
        for model in models.models.values():
            datastore = model.view.datastore  # type: ignore[attr-defined]
            assert type(datastore) is ViewDatastore
            assert type(datastore.pool) is StatementCachingPool
    finally:
        models.close()


def test_raw_rows_hold_what_was_stored(app: Paylink) -> None:
    recorder = app.app.recorder
    assert isinstance(recorder, PaylinkSQLiteRecorder)
    rows = stored_rows(recorder, 2, 3)
    assert [row[0] for row in rows] == [3, 4, 5]
    notifications = recorder.select_notifications(3, 3)
    read = [
        (n.id, str(n.originator_id).replace("-", ""), n.originator_version, n.topic, n.state)
        for n in notifications
    ]
    assert read == rows
    assert stored_rows(recorder, 2, 10, stop=4) == rows[:2]
