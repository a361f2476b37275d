"""The SQLite store's notifications, read as plain rows, are the library's notifications."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.sqlite import SQLiteApplicationRecorder
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_es.application import PaylinkApp
from paylink_es.bootstrap import open_app
from paylink_es.settings import Settings
from paylink_es.sqlite_store import RowReadingRecorder, stored_rows


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaylinkApp]:
    path: Path = tmp_path_factory.mktemp("rows")
    with open_app(Settings(data_dir=path)) as opened:
        merchant = opened.register_merchant("Toko Baris", "baris@example.com")
        for number in range(12):
            opened.create_link(merchant, amount=10_000 + number, description=f"Baris {number}")
        yield opened


def test_the_store_reads_plain_rows(app: PaylinkApp) -> None:
    assert type(app.recorder) is RowReadingRecorder


@settings(max_examples=60, deadline=None)
@given(
    start=st.none() | st.integers(-2, 30),
    limit=st.integers(1, 30),
    stop=st.none() | st.integers(-2, 30),
    inclusive=st.booleans(),
    topics=st.sampled_from([(), ("paylink_es.link:PaymentLink.Created",)]),
)
def test_every_page_is_the_librarys_page(
    app: PaylinkApp,
    start: int | None,
    limit: int,
    stop: int | None,
    inclusive: bool,
    topics: tuple[str, ...],
) -> None:
    recorder = app.recorder
    assert isinstance(recorder, RowReadingRecorder)
    library = SQLiteApplicationRecorder.select_notifications
    expected = library(recorder, start, limit, stop, topics, inclusive_of_start=inclusive)
    found = recorder.select_notifications(start, limit, stop, topics, inclusive_of_start=inclusive)
    assert list(found) == list(expected)
    assert [vars(n) for n in found] == [vars(n) for n in expected]


def test_raw_rows_hold_what_was_stored(app: PaylinkApp) -> None:
    recorder = app.recorder
    assert isinstance(recorder, RowReadingRecorder)
    rows = stored_rows(recorder, 2, 3)
    assert [row[0] for row in rows] == [3, 4, 5]
    notifications = recorder.select_notifications(3, 3)
    read = [
        (n.id, str(n.originator_id).replace("-", ""), n.originator_version, n.topic, n.state)
        for n in notifications
    ]
    assert read == rows
    assert stored_rows(recorder, 2, 10, stop=4) == rows[:2]
