"""The SQLite store makes its directory when it is opened (settings only name the file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from paylink_es.settings import Settings
from paylink_es.store.sqlite import PaylinkSQLiteFactory, SQLiteStoreFactory, make_store_directory


def test_opening_the_event_store_makes_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "deep" / "var")
    env = settings.eventsourcing_env()
    assert not (tmp_path / "deep").exists()

    factory = PaylinkSQLiteFactory(env)
    try:
        recorder = factory.application_recorder()  # tables created
        assert recorder.max_notification_id() is None
    finally:
        factory.close()

    assert settings.sqlite_path("paylink").exists()
    assert (tmp_path / "deep" / "var" / "paylink.sqlite3.write-gate").exists()


def test_a_plain_store_of_the_library_gets_its_directory_too(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "views")
    env = {**settings.eventsourcing_env(), "SQLITE_DBNAME": str(settings.sqlite_path("v"))}
    factory = SQLiteStoreFactory(env)
    try:
        assert type(factory.datastore) is SQLiteDatastore
        factory.tracking_recorder()  # table created
    finally:
        factory.close()
    assert settings.sqlite_path("v").exists()


@pytest.mark.parametrize(
    ("db_name", "made"),
    [
        ("{d}/a/store.sqlite3", "{d}/a"),
        ("file:{d}/b/store.sqlite3?mode=rwc", "{d}/b"),
        (":memory:", None),
        ("file:shared?mode=memory&cache=shared", None),
        ("", None),
    ],
)
def test_the_directory_of_a_store_file_is_made_once_and_never_for_memory(
    tmp_path: Path, db_name: str, made: str | None
) -> None:
    make_store_directory(db_name.format(d=tmp_path))
    make_store_directory(db_name.format(d=tmp_path))  # already there: no error
    if made is None:
        assert list(tmp_path.iterdir()) == []
    else:
        assert Path(made.format(d=tmp_path)).is_dir()
