"""Events no read model cares about still move every view's tracking to the head (a new
merchant is one row, in the messages view: whether its alerts have an address)."""

from __future__ import annotations

from pathlib import Path

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.runner import ProjectionService
from tests.support.read_models import (
    LISTENING,
    MODEL_NAMES,
    head,
    positions,
    rebuilt_elsewhere,
    snapshot,
    wait_for_listeners,
)


def test_events_no_view_cares_about_still_move_every_view_to_the_head(
    backend_settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        service = ProjectionService(backend_settings, app.app)
        service.start()
        try:
            wait_for_listeners(backend_settings, LISTENING)
            merchant = app.merchants.register("Toko Sepi", "sepi@example.com")
            app.merchants.issue_key(merchant)
            live_key = app.merchants.issue_key(merchant, "live")
            app.merchants.revoke_key(merchant, live_key.key_id)
            service.wait_until(head(app), timeout=10)
            assert positions(service.models) == dict.fromkeys(MODEL_NAMES, head(app))
            tables = snapshot(service.models)
            assert len(tables.pop("audit_chain")) == head(app)  # the chain covers every event
            # The one row: whom the merchant's alerts can reach (it registered an address).
            merchants = tables.pop("message_merchants")
            assert [(row["merchant_id"], row["registered"]) for row in merchants] == [
                (str(merchant), 1)
            ]
            assert {name: rows for name, rows in tables.items() if rows} == {}

            link = app.links.create(merchant, amount=5_000, description="Satu")
            app.merchants.issue_key(merchant)  # the head is an ignored event again
            service.wait_until(head(app), timeout=10)
            assert positions(service.models) == dict.fromkeys(MODEL_NAMES, head(app))
            tables = snapshot(service.models)
            assert [row["link_id"] for row in tables["links"]] == [str(link)]
            assert tables["payments"] == tables["journal"] == []
            assert len(tables["audit_chain"]) == head(app)
        finally:
            service.stop()
        # A catch-up from zero over the same events ends at the head as well.
        assert rebuilt_elsewhere(app, backend_settings, tmp_path / "rebuild") == tables
