"""Fixtures for the dashboard tests: a desk on SQLite only, and on both backends.

``desk`` runs on SQLite and PostgreSQL (``backend_settings``) with the read models
running: for everything that touches data. ``sqlite_desk`` is for HTTP behaviour
that does not depend on storage (CSRF, cookies, roles).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.support.desk import Desk, build_desk
from tests.support.shop import shop


@pytest.fixture
def desk(backend_settings: Settings, clock: FakeClock) -> Iterator[Desk]:
    """Merchants A and B with staff, on SQLite and PostgreSQL, projections running."""
    with shop(backend_settings, clock, run_projections=True) as built:
        yield build_desk(built)


@pytest.fixture
def sqlite_desk(tmp_path: Path, clock: FakeClock) -> Iterator[Desk]:
    """The same on SQLite only."""
    settings = Settings(data_dir=tmp_path / "dash-var")
    with shop(settings, clock, run_projections=True) as built:
        yield build_desk(built)
