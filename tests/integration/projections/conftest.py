"""Fixtures for the read-model tests: the backend settings, and views on the test's store.

``backend_settings`` (a one-connection pool for the test's own app) and ``views`` come
from ``tests.support.fixtures``; the helpers are ``tests.support.read_models`` and
``tests.support.histories``.
"""

from __future__ import annotations

from tests.support.fixtures import backend_settings, views

__all__ = ["backend_settings", "views"]
