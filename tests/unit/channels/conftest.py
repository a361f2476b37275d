"""The merchant's SNAP key pair for the signing tests (no counterpart runs here)."""

from __future__ import annotations

from tests.support.fixtures import merchant_key

__all__ = ["merchant_key"]
