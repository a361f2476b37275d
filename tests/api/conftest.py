"""Fixtures for the merchant HTTP API tests: the app on SQLite and PostgreSQL, running.

``api`` is the app built by ``create_app`` on a fresh store of the test's backend
(``backend_settings``), on a ledger that reads the test's ``FakeClock``, served by a
``TestClient`` whose lifespan keeps the read models up to date. ``make_api`` builds
more of them, with settings overrides (rate limit, body size) or without projections.

The helpers live in ``tests/api/support.py`` and are imported as ``tests.api.support``
(the name mypy gives them), so the repository root must be importable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from paylink_es import bootstrap
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.api.support import Api, Server, live_server

MakeApi = Callable[..., Api]
MakeServer = Callable[..., Server]


@contextmanager
def _builder(base: Settings, clock: FakeClock) -> Iterator[MakeApi]:
    with ExitStack() as stack:

        def build(
            *,
            run_projections: bool = True,
            raise_server_exceptions: bool = True,
            **overrides: Any,
        ) -> Api:
            settings = base.model_copy(update=overrides)
            services = stack.enter_context(bootstrap.build(settings, clock=clock))
            ledger = services.application
            app = create_app(services, run_projections=run_projections)
            client = stack.enter_context(
                TestClient(app, raise_server_exceptions=raise_server_exceptions)
            )
            return Api(app=app, client=client, ledger=ledger, clock=clock)

        yield build


@pytest.fixture
def make_api(backend_settings: Settings, clock: FakeClock) -> Iterator[MakeApi]:
    """Build running apps on the test's store; every one is stopped and closed afterwards.

    ``make_api(rate_limit_per_s=…, run_projections=False, raise_server_exceptions=False)``:
    keyword arguments that are Settings fields override the settings.
    """
    with _builder(backend_settings, clock) as build:
        yield build


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """The app on a fresh store of the test's backend, running, with projections."""
    return make_api()


@pytest.fixture
def make_sqlite_api(tmp_path: Path, clock: FakeClock) -> Iterator[MakeApi]:
    """Like ``make_api`` on SQLite only: for HTTP behaviour that does not depend on storage."""
    with _builder(Settings(data_dir=tmp_path / "sqlite-var"), clock) as build:
        yield build


@pytest.fixture
def sqlite_api(make_sqlite_api: MakeApi) -> Api:
    """The app on a fresh SQLite store, running, with projections."""
    return make_sqlite_api()


@contextmanager
def _server_builder(base: Settings, clock: FakeClock) -> Iterator[MakeServer]:
    with ExitStack() as stack:

        def build(**overrides: Any) -> Server:
            settings = base.model_copy(update=overrides)
            services = stack.enter_context(bootstrap.build(settings, clock=clock))
            ledger = services.application
            app = create_app(services)
            url = stack.enter_context(live_server(app))
            return Server(app=app, ledger=ledger, clock=clock, url=url)

        yield build


@pytest.fixture
def make_server(backend_settings: Settings, clock: FakeClock) -> Iterator[MakeServer]:
    """Serve apps on the test's store with a real uvicorn on 127.0.0.1 (stopped afterwards)."""
    with _server_builder(backend_settings, clock) as build:
        yield build


@pytest.fixture
def make_sqlite_server(tmp_path: Path, clock: FakeClock) -> Iterator[MakeServer]:
    """Like ``make_server`` on SQLite only."""
    with _server_builder(Settings(data_dir=tmp_path / "sqlite-var"), clock) as build:
        yield build
