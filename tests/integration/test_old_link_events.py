"""Link events stored before links said who changed them (no ``by``, no ``duplicate_of``),
and before links could be paid in parts, still replay, project and can be managed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.queries import feed as feed_queries
from projections.queries.links import link_detail
from tests.support.read_models import catch_up, opened_views


def strip_link_fields(settings: Settings, *names: str) -> int:
    """Remove ``names`` from the stored link events, as events stored before those fields
    existed lack them; returns how many events lost one."""
    stripped = 0
    with sqlite3.connect(settings.sqlite_path("paylink")) as db:
        rows = db.execute(
            "SELECT rowid, state FROM stored_events WHERE topic LIKE '%PaymentLink.%'"
        ).fetchall()
        for rowid, state in rows:
            decoded = json.loads(state)
            if [decoded.pop(name) for name in names if name in decoded]:
                stripped += 1
                db.execute(
                    "UPDATE stored_events SET state = ? WHERE rowid = ?",
                    (json.dumps(decoded).encode(), rowid),
                )
    return stripped


def test_links_stored_without_who_made_them_replay_and_project(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    clock = FakeClock()
    with open_paylink(settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Lama", "lama@example.com")
        kept = app.links.create(merchant, amount=50_000, description="Lama", by="key-1")
        closed = app.links.create(merchant, amount=50_000, description="Batal", by="key-1")
        app.links.cancel(closed, "salah", by="key-1")
    assert strip_link_fields(settings, "by") > 0
    with sqlite3.connect(settings.sqlite_path("paylink")) as db:
        assert not db.execute(
            "SELECT count(*) FROM stored_events WHERE state LIKE '%\"by\"%'"
        ).fetchone()[0]

    with open_paylink(settings, clock=clock) as app:
        assert app.links.get(closed).status == "cancelled"
        _, changed = app.links.edit(kept, "key-2", description="Lama, diubah")
        assert changed == ["description"]
        app.links.deactivate(kept, None, "key-2")
        with opened_views(settings) as models:
            catch_up(app, models)
            old = link_detail(models, merchant, "test", closed, clock())
            assert old is not None
            assert [(e["event"], e["detail"]) for e in old["timeline"]] == [
                ("Created", {}),
                ("Cancelled", {"reason": "salah"}),
            ]
            new = link_detail(models, merchant, "test", kept, clock())
            assert new is not None
            assert (new["status"], new["description"]) == ("inactive", "Lama, diubah")
            assert [e["event"] for e in new["timeline"]] == ["Created", "Edited", "Deactivated"]


PARTIAL_FIELDS = ("allow_partial", "partial_min", "partial_expiry", "status", "part")


def test_links_stored_before_links_could_be_paid_in_parts_replay_and_project(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    clock = FakeClock()
    with open_paylink(settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Lama", "lama@example.com")
        link = app.links.create(merchant, amount=50_000, description="Lama", by="key-1")
        app.links.edit(link, "key-1", description="Lama, diubah")
        app.links.deactivate(link, None, "key-1")
        app.links.reactivate(link, "key-1")
        payment = app.payments.start(link, "qris")
        app.payments.record(payment, "old-1", Money(50_000, "IDR"), clock())
        app.payments.verify(payment)
    assert strip_link_fields(settings, *PARTIAL_FIELDS) > 0

    with open_paylink(settings, clock=clock) as app:
        details = app.links.get(link)
        assert (details.status, details.allow_partial, details.amount_paid) == (
            "completed",
            False,
            0,
        )
        assert details.amount_due is None
        with opened_views(settings) as models:
            catch_up(app, models)
            row = link_detail(models, merchant, "test", link, clock())
            assert row is not None
            assert (row["status"], row["amount_paid"], row["partial_expiry"]) == (
                "completed",
                None,
                None,
            )
            assert json.loads(row["terms"])["allow_partial"] is False
            assert [e["detail"] for e in row["timeline"] if e["event"] == "Reactivated"] == [
                {"by": "key-1"}
            ]
            page = feed_queries.events(models, merchant, "test", after=None, limit=50)
            payloads = {
                payload["type"]: payload["data"]
                for payload in (json.loads(item["payload"]) for item in page.items)
            }
            assert payloads["link.updated"]["allow_partial"] is False
            assert payloads["link.created"]["partial_expiry"] is None
