"""Fixtures for the money tests: the app on a real store and its read models."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from paylink_es.bootstrap import ensure_postgres_schema  # noqa: E402
from paylink_es.settings import Settings  # noqa: E402
from projections.runner import ReadModels  # noqa: E402


@pytest.fixture
def backend_settings(backend_settings: Settings) -> Settings:
    """One connection for the test's own app: other suites share the PostgreSQL server."""
    return backend_settings.model_copy(update={"postgres_pool_size": 1})


@pytest.fixture
def views(backend_settings: Settings) -> Iterator[ReadModels]:
    """Every read model's view on the test's store."""
    ensure_postgres_schema(backend_settings)
    models = ReadModels(backend_settings)
    try:
        yield models
    finally:
        models.close()
