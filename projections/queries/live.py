"""How far the read models behind a live dashboard page have come."""

from __future__ import annotations

from collections.abc import Sequence

from projections.runner import ReadModels

# The read models whose movement can change what a dashboard page shows.
LIVE_MODELS = ("links", "payments", "ledger", "stats")


def positions(models: ReadModels, application: str, names: Sequence[str] = LIVE_MODELS) -> int:
    """The sum of the tracking positions of ``names``: it grows whenever any of them moves."""
    return sum(models[name].view.max_tracking_id(application) or 0 for name in names)
