"""PostgreSQL: a read model whose LISTEN connection dies is restarted and catches up."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from eventsourcing.postgres import PostgresSubscription
from psycopg import sql

from paylink_es.bootstrap import open_app
from paylink_es.clock import FakeClock
from paylink_es.money import Money
from paylink_es.settings import Settings
from projections.runner import ProjectionService
from tests.projections.support import (
    MODEL_NAMES,
    RUNNERS,
    another_store,
    head,
    listeners,
    positions,
    snapshot,
    wait_for_listeners,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    """An empty schema of its own on the test server."""
    base = Settings(database_url=pg_url, data_dir=tmp_path / "var", postgres_pool_size=1)
    with another_store(base, tmp_path) as settings:
        yield settings


def kill_our_listeners(admin: psycopg.Connection[Any]) -> set[int]:
    """Terminate the LISTEN connections this process holds (and no one else's)."""
    pids = listeners(admin)
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pids


def test_a_read_model_whose_listen_connection_is_killed_is_restarted_and_catches_up(
    pg_settings: Settings, clock: FakeClock
) -> None:
    assert pg_settings.database_url is not None
    # Connected before the service takes its few dozen connections.
    with (
        psycopg.connect(pg_settings.database_url, autocommit=True) as admin,
        open_app(pg_settings, clock=clock) as app,
    ):
        service = ProjectionService(pg_settings, app)
        service.start()
        try:
            assert all(s.started_once.wait(10) for s in service.supervisors)
            assert {s.cls.name for s in service.supervisors} == set(MODEL_NAMES) - {"audit"}
            wait_for_listeners(pg_settings, RUNNERS)
            merchant = app.register_merchant("Toko Tahan")
            link = app.create_link(merchant, amount=8_000, description="Tahan", usage_limit=None)
            service.wait_until(head(app), timeout=10)

            for round_number in (1, 2):
                killed = kill_our_listeners(admin)
                assert len(killed) == len(service.supervisors) == RUNNERS
                # Recorded while the runners are down (they notice within 0.1 s, and come
                # back after a backoff): the restarted runners must look for it.
                payment = app.start_payment(link, "qris")
                ref = f"after-kill-{round_number}"
                app.record_payment(payment, ref, Money(8_000, "IDR"), clock())
                wait_for_listeners(pg_settings, RUNNERS)
                assert listeners(admin).isdisjoint(killed)
                app.verify_payment(payment, fee=Money(80, "IDR"))  # once they listen again
                service.wait_until(head(app), timeout=30)
                assert positions(service.models) == dict.fromkeys(MODEL_NAMES, head(app))
                assert all(s.restarts >= round_number for s in service.supervisors)
                assert all(s.error is None and s.is_alive() for s in service.supervisors)
            tables = snapshot(service.models)
        finally:
            service.stop()
    assert [row["payment_count"] for row in tables["links"]] == [2]
    assert [row["verified"] for row in tables["balances"]] == [16_000]
    assert not any(s.is_alive() for s in service.supervisors)


@pytest.fixture
def own_database(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    """A database of its own: no other test's NOTIFY on the shared channel can wake ours."""
    name = "paylink_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = urlunsplit(urlsplit(pg_url)._replace(path="/" + name))
        yield Settings(
            database_url=url,
            database_schema="paylink",
            data_dir=tmp_path / "var",
            postgres_pool_size=1,
        )
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_an_event_recorded_while_a_runner_is_still_connecting_its_listener_is_not_lost(
    own_database: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold every listener back until the event is in; the window is real but usually short.
    pulled: list[object] = []
    listening = threading.Event()
    first_pull, listen = PostgresSubscription._pull, PostgresSubscription._listen

    def pull(self: PostgresSubscription) -> None:
        first_pull(self)
        pulled.append(self)

    def slow_listen(self: PostgresSubscription) -> None:
        listening.wait(10)
        listen(self)

    monkeypatch.setattr(PostgresSubscription, "_pull", pull)
    monkeypatch.setattr(PostgresSubscription, "_listen", slow_listen)
    with open_app(own_database, clock=clock) as app:
        merchant = app.register_merchant("Toko Sunyi")
        service = ProjectionService(own_database, app)
        service.start()
        try:
            deadline = time.monotonic() + 10
            while len(pulled) < len(service.supervisors) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(pulled) == len(service.supervisors)  # each has looked once
            app.create_link(merchant, amount=1_000, description="Sepi")
            listening.set()
            service.wait_until(head(app), timeout=2)
        finally:
            listening.set()
            service.stop()
