"""The event store's recorder: a batch stored as sent, its ids in order, a conflict
storing nothing, concurrent batches each a run of consecutive ids (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
import pytest
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.pq import TransactionStatus

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from paylink_es.store.postgres import PaylinkPostgresRecorder

TOPIC = "tests.recorder:Thing.Happened"


def events(count: int, *, state: bytes = b'{"n":1}') -> list[StoredEvent]:
    """``count`` first events of as many new aggregates."""
    return [
        StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic=TOPIC, state=state)
        for _ in range(count)
    ]


def stored(recorder: ApplicationRecorder, start: int, limit: int) -> list[tuple[object, ...]]:
    return [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in recorder.select_notifications(start, limit)
    ]


@pytest.fixture
def store(backend_settings: Settings) -> Iterator[Paylink]:
    with open_paylink(backend_settings) as paylink:
        yield paylink


def test_a_batch_is_stored_byte_for_byte_with_consecutive_ids_in_the_order_sent(
    store: Paylink,
) -> None:
    recorder = store.app.recorder
    odd = bytes(range(256)) + '{"name":"Ünïcode \\"quoted\\" \\\\ back"}'.encode()
    batch = [
        *events(2),
        StoredEvent(uuid.uuid4(), 1, "tests.recorder:Thing.Ñamed", odd),
        StoredEvent(uuid.uuid4(), 7, TOPIC, b""),
        *events(1, state=b"x" * 20_000),
    ]

    ids = recorder.insert_events(batch)

    assert ids is not None
    assert list(ids) == list(range(ids[0], ids[0] + len(batch)))
    assert stored(recorder, ids[0], 100) == [
        (i, e.originator_id, e.originator_version, e.topic, e.state)
        for i, e in zip(ids, batch, strict=True)
    ]


def test_a_batch_that_conflicts_stores_none_of_its_events_and_the_next_one_is_stored(
    store: Paylink,
) -> None:
    recorder = store.app.recorder
    first = events(2)
    ids = recorder.insert_events(first)
    assert ids is not None
    clashing = [*events(3), first[1]]

    with pytest.raises(IntegrityError):
        recorder.insert_events(clashing)

    later = events(2)
    later_ids = recorder.insert_events(later)
    assert later_ids is not None
    assert later_ids[0] > ids[-1]
    rows = stored(recorder, ids[0], 100)
    assert [row[1] for row in rows] == [e.originator_id for e in [*first, *later]]
    assert [row[0] for row in rows] == [*ids, *later_ids]


def test_concurrent_batches_each_get_a_run_of_consecutive_ids_stored_once(
    store: Paylink,
) -> None:
    recorder = store.app.recorder
    answers: list[tuple[Sequence[int], list[StoredEvent]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write() -> None:
        try:
            for _ in range(15):
                batch = events(4)
                ids = recorder.insert_events(batch)
                assert ids is not None
                with lock:
                    answers.append((ids, batch))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for ids, _ in answers:
        assert list(ids) == list(range(ids[0], ids[0] + 4))
    first = min(ids[0] for ids, _ in answers)
    rows = stored(recorder, first, 1_000)
    expected = sorted(
        (i, e.originator_id) for ids, batch in answers for i, e in zip(ids, batch, strict=True)
    )
    assert [(row[0], row[1]) for row in rows] == expected


@contextmanager
def recorder_on_a_pool(pg_url: str, folder: Path, **pool: Any) -> Iterator[PaylinkPostgresRecorder]:
    """The event recorder of a store in a schema of its own, on a pool set by ``pool``."""
    schema = "t_" + uuid.uuid4().hex[:12]
    settings = Settings(
        database_url=pg_url, database_schema=schema, data_dir=folder / "var", **pool
    )
    try:
        with open_paylink(settings) as paylink:
            recorder = paylink.app.recorder
            assert isinstance(recorder, PaylinkPostgresRecorder)
            yield recorder
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_a_postgres_batch_that_fails_is_rolled_back_before_its_connection_is_returned(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with recorder_on_a_pool(pg_url, tmp_path, postgres_pool_size=1) as recorder:
        first = events(1)
        recorder.insert_events(first)

        with (
            caplog.at_level(logging.WARNING, logger="psycopg.pool"),
            pytest.raises(IntegrityError),
        ):
            recorder.insert_events([*events(1), first[0]])

        # The pool would roll back a connection returned mid-transaction, and say so.
        assert [r.message for r in caplog.records if r.name == "psycopg.pool"] == []
        with recorder.datastore.get_connection() as conn:
            assert conn.info.transaction_status == TransactionStatus.IDLE
            row = conn.execute("SELECT 1 AS one").fetchone()
        assert row == {"one": 1}
        assert recorder.insert_events(events(1)) is not None


@pytest.mark.postgres
def test_postgres_writes_waiting_for_the_table_lock_leave_pooled_connections_to_reads(
    pg_url: str, tmp_path: Path
) -> None:
    pool = {"postgres_pool_size": 2, "postgres_pool_timeout_s": 1.0}
    with recorder_on_a_pool(pg_url, tmp_path, **pool) as recorder:
        first = events(1)
        recorder.insert_events(first)
        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        writers: list[threading.Thread] = []
        stored_ids: list[Sequence[int] | None] = []
        # Another process holds the event table's lock: this one's writes must wait.
        with psycopg.connect(pg_url) as other:
            other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            for _ in range(4):
                writer = threading.Thread(
                    target=lambda: stored_ids.append(recorder.insert_events(events(1)))
                )
                writer.start()
                writers.append(writer)
            waiting = "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass"
            waiting += " AND NOT granted"
            for _ in range(100):  # until one of the writes waits in the server
                if other.execute(waiting, [table]).fetchone() == (1,):
                    break
                threading.Event().wait(0.02)
            assert other.execute(waiting, [table]).fetchone() == (1,)
            # Reads still get a connection while the writes wait (before: all four
            # writes held both of the pool's connections, and this read timed out).
            for _ in range(3):
                assert len(stored(recorder, 1, 10)) == 1
            other.rollback()
        for writer in writers:
            writer.join(timeout=30)
        assert len(stored_ids) == 4
        assert len(stored(recorder, 1, 10)) == 5


def test_an_empty_save_stores_nothing(store: Paylink) -> None:
    recorder = store.app.recorder
    before = recorder.max_notification_id()

    recorder.insert_events([])

    assert recorder.max_notification_id() == before


@pytest.mark.postgres
def test_the_postgres_log_reads_as_the_library_reads_it_for_every_shape_of_query(
    pg_url: str, tmp_path: Path
) -> None:
    schema = "t_" + uuid.uuid4().hex[:12]
    settings = Settings(database_url=pg_url, database_schema=schema, data_dir=tmp_path / "var")
    try:
        with open_paylink(settings) as paylink:
            recorder = paylink.app.recorder
            assert isinstance(recorder, PaylinkPostgresRecorder)
            other = "tests.recorder:Other.Thing"
            odd = bytes(range(256))
            recorder.insert_events(events(3))
            recorder.insert_events([StoredEvent(uuid.uuid4(), 2, other, odd), *events(2)])
            recorder.insert_events([StoredEvent(uuid.uuid4(), 1, other, b""), *events(1)])
            shapes = [
                (start, limit, stop, topics, inclusive)
                for start in (None, 1, 3)
                for limit in (2, 100)
                for stop in (None, 6)
                for topics in ((), (other,), (TOPIC, other))
                for inclusive in (True, False)
            ]
            library = PostgresApplicationRecorder.select_notifications

            for start, limit, stop, topics, inclusive in shapes:
                ours = recorder.select_notifications(
                    start, limit, stop, topics, inclusive_of_start=inclusive
                )
                theirs = library(recorder, start, limit, stop, topics, inclusive_of_start=inclusive)
                assert ours == theirs, (start, limit, stop, topics, inclusive)
            assert len(recorder.select_notifications(None, 100)) == 8
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_with_the_library_s_database_functions_a_batch_goes_through_its_function(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    address = psycopg.conninfo.conninfo_to_dict(pg_url)
    datastore = PostgresDatastore(
        dbname=str(address.get("dbname", "postgres")),
        host=str(address.get("host", "127.0.0.1")),
        port=str(address.get("port", 5432)),
        user=str(address.get("user", "postgres")),
        password=str(address.get("password", "")),
        schema=schema,
        enable_db_functions=True,
        pool_size=1,
    )
    try:
        recorder = PaylinkPostgresRecorder(datastore, events_table_name="events")
        recorder.create_table()
        batch = events(3)

        def pipelined(*args: object, **kwargs: object) -> None:
            raise AssertionError("the pipeline was used")

        monkeypatch.setattr(recorder, "_write", pipelined)

        ids = recorder.insert_events(batch)

        assert ids is not None
        assert list(ids) == list(range(ids[0], ids[0] + 3))
        assert [n.originator_id for n in recorder.select_notifications(None, 10)] == [
            e.originator_id for e in batch
        ]
    finally:
        datastore.close()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
