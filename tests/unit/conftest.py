"""Fixtures for the unit tests: a merchant on the in-memory store and a valid link request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock

LINK_AMOUNT = 150_000
E = TypeVar("E", bound=Exception)


class Refused(Protocol):
    """``refused(Error, command)``: the ``Error`` that ``command()`` raised, once it is
    checked that nothing was stored."""

    def __call__(self, error: type[E], command: Callable[[], object]) -> E: ...


@pytest.fixture
def merchant_id(memory_app: Paylink) -> UUID:
    """A registered merchant."""
    return memory_app.merchants.register("Toko Budi", "budi@example.com")


@pytest.fixture
def link_request(clock: FakeClock) -> dict[str, Any]:
    """The fields of a valid single-use link for IDR 150,000 that expires in a day."""
    return {
        "amount": LINK_AMOUNT,
        "currency": "IDR",
        "description": "Kaos polos hitam",
        "methods": ["va_bca", "qris"],
        "expires_at": clock() + timedelta(days=1),
        "usage_limit": 1,
    }


@pytest.fixture
def new_link(
    memory_app: Paylink, merchant_id: UUID, link_request: dict[str, Any]
) -> Callable[..., UUID]:
    """Create a link from the valid request with some fields replaced."""

    def create(**overrides: Any) -> UUID:
        return memory_app.links.create(merchant_id, **{**link_request, **overrides})

    return create


@pytest.fixture
def stored_count(memory_app: Paylink) -> Callable[[], int]:
    """How many events the store holds right now."""

    def count() -> int:
        return memory_app.app.recorder.max_notification_id() or 0

    return count


@pytest.fixture
def refused(stored_count: Callable[[], int]) -> Refused:
    """Run a command that must be refused: its error, and nothing stored."""

    def refuse(error: type[E], command: Callable[[], object]) -> E:
        before = stored_count()
        with pytest.raises(error) as raised:
            command()
        assert stored_count() == before, "a refused command stored events"
        return raised.value

    return refuse
