"""The page a dashboard form leads to shows what the form did, even when a read model lags.

The links' read model is slowed here (a pause before each batch it applies), so a page
that did not wait for its session's own write would list the links as they were before.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from projections.links import LinkTracking
from projections.readmodel import Event
from tests.support.desk import Desk, post

PAUSE_S = 0.4  # what the slowed links' read model waits before applying each batch


@pytest.fixture
def slow_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """The links' read model takes its time over every batch."""
    original = LinkTracking.process_batch

    def slow(self: Any, batch: Sequence[tuple[Event, Tracking]]) -> None:
        time.sleep(PAUSE_S)
        original(self, batch)

    monkeypatch.setattr(LinkTracking, "process_batch", slow)


def test_a_link_made_with_the_form_is_on_the_list_the_next_page_shows(
    desk: Desk, slow_links: None
) -> None:
    owner = desk.signed_in()
    for number in range(2):
        form = {"description": f"Kaos lengan {number}", "amount": "75.000", "methods": ["qris"]}
        made = post(owner, "/dashboard/links", form)
        assert made.status_code == 303, made.text

        listed = owner.get("/dashboard/links")

        assert listed.status_code == 200
        for earlier in range(number + 1):
            assert f"Kaos lengan {earlier}" in listed.text
