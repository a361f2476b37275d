"""PostgreSQL: the projections' LISTEN connection dies, or is slow to come: nothing is lost."""

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
from psycopg import sql

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from paylink_es.store.postgres import ListenBell
from projections.runner import ProjectionService
from tests.support.read_models import (
    LISTENING,
    MODEL_NAMES,
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
    base = Settings(database_url=pg_url, data_dir=tmp_path / "var", postgres_pool_size=2)
    with another_store(base, tmp_path) as settings:
        yield settings


def kill_our_listeners(admin: psycopg.Connection[Any]) -> set[int]:
    """Terminate the LISTEN connections this process holds (and no one else's)."""
    pids = listeners(admin)
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pids


def test_projections_whose_listen_connection_is_killed_listen_again_and_catch_up(
    pg_settings: Settings, clock: FakeClock
) -> None:
    assert pg_settings.database_url is not None
    with (
        psycopg.connect(pg_settings.database_url, autocommit=True) as admin,
        open_paylink(pg_settings, clock=clock) as app,
    ):
        service = ProjectionService(pg_settings, app.app)
        service.start()
        try:
            wait_for_listeners(pg_settings, LISTENING)
            merchant = app.merchants.register("Toko Tahan")
            link = app.links.create(merchant, amount=8_000, description="Tahan", usage_limit=None)
            service.wait_until(head(app), timeout=10)

            for round_number in (1, 2):
                killed = kill_our_listeners(admin)
                assert len(killed) == LISTENING
                # Recorded while nobody listens: the listener that comes back looks for it.
                payment = app.payments.start(link, "qris")
                ref = f"after-kill-{round_number}"
                app.payments.record(payment, ref, Money(8_000, "IDR"), clock())
                wait_for_listeners(pg_settings, LISTENING)
                assert listeners(admin).isdisjoint(killed)
                app.payments.verify(payment, fee=Money(80, "IDR"))
                service.wait_until(head(app), timeout=30)
                assert positions(service.models) == dict.fromkeys(MODEL_NAMES, head(app))
            tables = snapshot(service.models)
        finally:
            service.stop()
    assert [row["payment_count"] for row in tables["links"]] == [2]
    assert [row["verified"] for row in tables["balances"]] == [16_000]
    assert not any(thread.is_alive() for thread in service.threads)


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
            postgres_pool_size=2,
        )
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_an_event_recorded_while_the_listener_is_still_connecting_is_not_lost(
    own_database: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold the listener back until the event is in; the window is real but usually short.
    connecting = threading.Event()
    listening = threading.Event()
    first_open = ListenBell._open

    def slow_open(self: ListenBell) -> bool:
        connecting.set()
        listening.wait(10)
        return first_open(self)

    monkeypatch.setattr(ListenBell, "_open", slow_open)
    with open_paylink(own_database, clock=clock) as app:
        merchant = app.merchants.register("Toko Sunyi")
        service = ProjectionService(own_database, app.app)
        service.start()
        try:
            assert connecting.wait(10)  # the catch-up has looked once and now connects
            app.links.create(merchant, amount=1_000, description="Sepi")
            time.sleep(0.05)
            listening.set()
            service.wait_until(head(app), timeout=2)
        finally:
            listening.set()
            service.stop()
