"""Fixtures for the merchant HTTP API tests: the app on SQLite and PostgreSQL, running.

``api`` is the app built by ``create_app`` on a fresh store of the test's backend
(``backend_settings``), on a ledger that reads the test's ``FakeClock``, served by a
``TestClient`` whose lifespan keeps the read models up to date. ``make_api`` builds
more of them, with settings overrides (rate limit, body size) or without projections.
The builders are ``tests.support.app``'s; the API's own helpers are in ``support.py``
beside this file (imported as ``tests.integration.api.support``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.support.app import Api, MakeApi, MakeServer, app_builder, server_builder


@pytest.fixture
def make_api(backend_settings: Settings, clock: FakeClock) -> Iterator[MakeApi]:
    """Build running apps on the test's store; every one is stopped and closed afterwards.

    ``make_api(rate_limit_per_s=…, run_projections=False, raise_server_exceptions=False)``:
    keyword arguments that are Settings fields override the settings.
    """
    with app_builder(backend_settings, clock) as build:
        yield build


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """The app on a fresh store of the test's backend, running, with projections."""
    return make_api()


@pytest.fixture
def make_sqlite_api(tmp_path: Path, clock: FakeClock) -> Iterator[MakeApi]:
    """Like ``make_api`` on SQLite only: for HTTP behaviour that does not depend on storage."""
    with app_builder(Settings(data_dir=tmp_path / "sqlite-var"), clock) as build:
        yield build


@pytest.fixture
def sqlite_api(make_sqlite_api: MakeApi) -> Api:
    """The app on a fresh SQLite store, running, with projections."""
    return make_sqlite_api()


@pytest.fixture
def make_server(backend_settings: Settings, clock: FakeClock) -> Iterator[MakeServer]:
    """Serve apps on the test's store with a real uvicorn on 127.0.0.1 (stopped afterwards)."""
    with server_builder(backend_settings, clock) as build:
        yield build


@pytest.fixture
def make_sqlite_server(tmp_path: Path, clock: FakeClock) -> Iterator[MakeServer]:
    """Like ``make_server`` on SQLite only."""
    with server_builder(Settings(data_dir=tmp_path / "sqlite-var"), clock) as build:
        yield build
