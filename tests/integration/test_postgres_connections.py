"""Every PostgreSQL connection a process opens: its limits, its name, one shared pool.

And the errors of an unavailable database: what counts as an outage, and the 503
problem it becomes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError
from psycopg import errors

from api.problems import error_document, unavailable_problem
from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from paylink_es.store import postgres as pgstore
from paylink_es.store.postgres import (
    DatabaseUnavailableError,
    ListenBell,
    NoReplyError,
    is_outage,
    settings_for,
)
from projections.runner import ReadModels
from tests.support.tcp_proxy import TcpProxy

SHOW = (
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "application_name",
)


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    """A schema of its own, with limits and a name no other test uses."""
    name = "paylink-t-" + uuid.uuid4().hex[:8]
    schema = "t_" + uuid.uuid4().hex[:12]
    settings = Settings(
        database_url=pg_url,
        database_schema=schema,
        data_dir=tmp_path / "var",
        postgres_statement_timeout_s=7,
        postgres_lock_timeout_s=3,
        postgres_pool_size=3,
        postgres_application_name=name,
    )
    try:
        yield settings
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def connections_named(url: str, name: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def shown(cursor: Any) -> dict[str, str]:
    values = {}
    for setting in SHOW:
        cursor.execute(f"SHOW {setting}")
        values[setting] = next(iter(cursor.fetchone().values()))
    return values


@pytest.mark.postgres
def test_every_connection_has_the_limits_and_the_name_of_the_settings(
    pg_settings: Settings,
) -> None:
    expected = {
        "statement_timeout": "7s",
        "lock_timeout": "3s",
        "idle_in_transaction_session_timeout": "5s",
        "application_name": pg_settings.postgres_application_name,
    }
    with open_paylink(pg_settings) as app:
        models = ReadModels(pg_settings)
        try:
            with app.app.recorder.datastore.transaction() as cursor:  # type: ignore[attr-defined]
                assert shown(cursor) == expected
            for model in models.models.values():
                rows = model.view.query("SHOW statement_timeout")
                assert rows == [{"statement_timeout": "7s"}], model.name
            connection = settings_for(pg_settings)
            bell = ListenBell(connection, "paylink_events")
            try:
                assert bell.wait(0.01)  # connects, and says so
                assert bell._conn is not None
                with bell._conn.cursor() as cursor:
                    assert shown(cursor) == expected
            finally:
                bell.close()
        finally:
            models.close()


@pytest.mark.postgres
def test_the_ledger_and_every_read_model_share_one_pool_closed_with_the_last(
    pg_settings: Settings,
) -> None:
    assert pg_settings.database_url is not None
    url, name = pg_settings.database_url, pg_settings.postgres_application_name
    before = pgstore.open_pools()
    app = open_paylink(pg_settings)
    models = ReadModels(pg_settings)
    stores = {id(getattr(model.view, "datastore", None)) for model in models.models.values()}
    assert stores == {id(app.app.recorder.datastore)}  # type: ignore[attr-defined]
    assert pgstore.open_pools() == before + 1

    # Many threads query at once: they queue for the pool, which never grows past its size.
    stop = threading.Event()
    most = 0

    def query() -> None:
        while not stop.is_set():
            models["links"].view.query("SELECT pg_sleep(0.01)")

    threads = [threading.Thread(target=query) for _ in range(12)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(20):
            most = max(most, connections_named(url, name))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert 1 <= most <= pg_settings.postgres_pool_size

    models.close()
    assert pgstore.open_pools() == before + 1  # the ledger still uses it
    app.close()
    assert pgstore.open_pools() == before
    deadline = time.monotonic() + 10
    while connections_named(url, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connections_named(url, name) == 0


@pytest.mark.postgres
def test_a_query_that_never_gets_an_answer_gives_up_and_closes_its_connection(
    pg_url: str,
) -> None:
    target = urlsplit(pg_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        userinfo = target.netloc.rpartition("@")[0]
        through = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
        settings = Settings(
            database_url=urlunsplit(target._replace(netloc=through)),
            postgres_statement_timeout_s=1,
            postgres_connect_timeout_s=1,
        )
        conn = pgstore.connect(settings_for(settings), autocommit=True)
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
        proxy.blackhole()  # the server never sees the query, so it cannot cancel it
        outcome: list[BaseException] = []

        def ask() -> None:
            try:
                conn.execute("SELECT 1")
            except BaseException as error:
                outcome.append(error)

        asking = threading.Thread(target=ask, daemon=True)
        asking.start()
        asking.join(30)  # far beyond the limits: a thread still asking has hung
        assert not asking.is_alive(), "the query waited for an answer forever"
        assert len(outcome) == 1
        assert isinstance(outcome[0], NoReplyError)
        assert conn.closed
        assert is_outage(outcome[0])
        # A new connection into the black hole ends at the connect timeout.
        with pytest.raises(psycopg.OperationalError) as refused:
            pgstore.connect(settings_for(settings))
        assert is_outage(refused.value)


def test_what_counts_as_the_database_being_unavailable() -> None:
    library = OperationalError("server closed the connection unexpectedly")
    library.__cause__ = psycopg.OperationalError("server closed the connection unexpectedly")
    conflict = IntegrityError("duplicate key")
    conflict.__cause__ = errors.UniqueViolation("duplicate key value")
    outages: list[BaseException] = [
        DatabaseUnavailableError("gone"),
        psycopg.OperationalError("connection refused"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.QueryCanceled("canceling statement due to statement timeout"),
        errors.TooManyConnections("sorry, too many clients already"),
        library,
        sqlite3.OperationalError("database is locked"),
        OperationalError("database is locked"),
    ]
    others: list[BaseException] = [
        conflict,
        errors.UniqueViolation("duplicate key value"),
        errors.SyntaxError("syntax error at or near"),
        sqlite3.OperationalError("no such table: links"),
        ValueError("no"),
    ]
    assert [is_outage(error) for error in outages] == [True] * len(outages)
    assert [is_outage(error) for error in others] == [False] * len(others)


def test_an_outage_becomes_a_503_problem_with_retry_after() -> None:
    problem = unavailable_problem(DatabaseUnavailableError("gone"))
    assert problem is not None
    assert problem.status == 503
    assert problem.slug == "database-unavailable"
    assert int(problem.headers["Retry-After"]) >= 1
    status, body = error_document(problem, "req-1")
    assert status == 503
    assert b'"type":"/problems/database-unavailable"' in body
    assert b'"request_id":"req-1"' in body
    assert unavailable_problem(ValueError("not an outage")) is None
