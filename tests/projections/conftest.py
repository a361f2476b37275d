"""Fixtures for the read-model tests: the backend settings, and views on the test's store.

The helpers live in ``tests/projections/support.py`` and ``histories.py`` and are
imported as ``tests.projections.…`` (the name mypy gives them), so the repository root
must be importable. It also makes ``import projections`` find the real package rather
than a namespace package that would include this folder.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paylink_es.bootstrap import ensure_postgres_schema
from paylink_es.settings import Settings
from projections.runner import ReadModels


@pytest.fixture
def backend_settings(backend_settings: Settings) -> Settings:
    """The shared backend settings, with a one-connection pool for the test's own app.

    The projection service alone holds a few dozen PostgreSQL connections; these tests
    should not add more than they need to a server other suites use at the same time.
    """
    return backend_settings.model_copy(update={"postgres_pool_size": 1})


@pytest.fixture
def views(backend_settings: Settings) -> Iterator[ReadModels]:
    """Every read model's view on the test's store (closed after the test)."""
    ensure_postgres_schema(backend_settings)  # open_app would, but it may come later
    models = ReadModels(backend_settings)
    try:
        yield models
    finally:
        models.close()
