"""Instants a command is given: a date and time, or ``now`` by the application's clock."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from paylink_es.application.services import Paylink

NOW: Final = "now"
When = datetime | Literal["now"]


def resolved(when: When, paylink: Paylink) -> datetime:
    """``when`` itself, or for ``now`` the instant the application's clock reads now."""
    return when if isinstance(when, datetime) else paylink.now()
