"""Fixtures for the read-model command-line tests: one-connection settings and the views."""

from __future__ import annotations

from tests.support.fixtures import backend_settings, views

__all__ = ["backend_settings", "views"]
