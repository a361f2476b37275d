"""Fixtures for the money tests: the app on a real store (one connection) and its read models."""

from __future__ import annotations

from tests.support.fixtures import backend_settings, views

__all__ = ["backend_settings", "views"]
