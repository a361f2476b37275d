"""Fixtures for the money tests: the app on a real store and its read models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paylink_es.bootstrap import ensure_postgres_schema
from paylink_es.settings import Settings
from projections.runner import ReadModels


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
