"""Group commit from an event loop (the HTTP hot path), on SQLite and PostgreSQL.

Commands awaited in one turn of a loop run as one batch on the loop's thread and are
written by the write thread with one save. A batch whose write conflicts, and a command
that fails inside a batch, run again alone: nothing is lost, nothing counted twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest

from paylink_es.application.details import LinkDetails
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import NotFoundError
from paylink_es.settings import Settings


@pytest.fixture
def app(backend_settings: Settings, clock: FakeClock) -> Iterator[Paylink]:
    app = open_paylink(backend_settings.model_copy(update={"group_commit": True}), clock=clock)
    assert app.app.committer is not None
    try:
        yield app
    finally:
        app.close()


def gather(app: Paylink, requests: list[tuple[UUID, dict[str, Any]]]) -> list[Any]:
    """Await every request together from one event loop (errors returned, not raised)."""

    async def run() -> list[Any]:
        return await asyncio.gather(
            *(app.links.create_or_find_async(m, **fields) for m, fields in requests),
            return_exceptions=True,
        )

    # A loop of its own in a thread of its own: the test's thread may have one running
    # (Playwright's sync API leaves one for the rest of the session).
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result(timeout=60)


def test_creates_awaited_together_are_written_in_one_batch(app: Paylink) -> None:
    merchant = app.merchants.register("Toko Budi")
    committer = app.app.committer
    assert committer is not None
    batches = committer.batches

    results = gather(
        app,
        [(merchant, {"amount": 10_000 + i, "description": f"Kaos {i}"}) for i in range(20)],
    )

    assert all(isinstance(r, tuple) and r[1] is True for r in results)
    links: list[LinkDetails] = [r[0] for r in results]
    assert sorted(link.amount or 0 for link in links) == [10_000 + i for i in range(20)]
    assert committer.batches == batches + 1  # one write for the twenty
    assert not committer._loops  # nothing kept for a loop that has finished
    for link in links:  # and each is really stored
        assert app.links.get(link.id).amount == link.amount


def test_one_reference_in_one_batch_makes_one_link(app: Paylink) -> None:
    merchant = app.merchants.register("Toko Budi")
    fields = {"amount": 150_000, "description": "Kaos", "reference_id": "INV-7"}

    results = gather(app, [(merchant, fields)] * 6)

    ids = {r[0].id for r in results}
    assert len(ids) == 1  # the batch's write conflicted; each ran again alone
    assert sorted(r[1] for r in results) == [False] * 5 + [True]
    created = [
        n
        for n in app.app.recorder.select_notifications(start=1, limit=1000)
        if n.topic == "paylink_es.domain.link:PaymentLink.Created"
    ]
    assert len(created) == 1


def test_a_failing_command_fails_alone(app: Paylink) -> None:
    merchant = app.merchants.register("Toko Budi")
    stranger = uuid4()

    results = gather(
        app,
        [
            (merchant, {"amount": 1_000, "description": "a"}),
            (stranger, {"amount": 2_000, "description": "b"}),
            (merchant, {"amount": 3_000, "description": "c"}),
        ],
    )

    assert isinstance(results[1], NotFoundError)
    assert [r[0].amount for r in (results[0], results[2])] == [1_000, 3_000]
    assert app.links.get(results[2][0].id).merchant_id == merchant
