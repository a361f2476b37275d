"""Fixtures for the hosted-page tests: shops on SQLite, and on both backends.

``shop`` is in-process (TestClient) on SQLite: for what the page shows. ``backend_shop``
is the same on SQLite and PostgreSQL (``backend_settings``): for what gets stored.
``served_shop`` runs uvicorn on 127.0.0.1 with ``base_url`` set to itself, so the
sandbox's signed callbacks travel over real HTTP; it is on both backends too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.support.shop import Shop, shop


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings for a fresh SQLite store."""
    return Settings(data_dir=tmp_path / "page-var")


@pytest.fixture
def page_shop(sqlite_settings: Settings, clock: FakeClock) -> Iterator[Shop]:
    """In-process shop on SQLite, without projections (the page reads the paylink)."""
    with shop(sqlite_settings, clock) as built:
        yield built


@pytest.fixture
def backend_shop(backend_settings: Settings, clock: FakeClock) -> Iterator[Shop]:
    """In-process shop on SQLite and PostgreSQL, with projections running."""
    with shop(backend_settings, clock, run_projections=True) as built:
        yield built


@pytest.fixture
def served_shop(backend_settings: Settings, clock: FakeClock) -> Iterator[Shop]:
    """A real uvicorn on 127.0.0.1 (SQLite and PostgreSQL), projections running."""
    with shop(backend_settings, clock, served=True, run_projections=True) as built:
        yield built
