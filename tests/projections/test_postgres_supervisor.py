"""PostgreSQL: a read model whose LISTEN connection dies is restarted and catches up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from paylink_es.bootstrap import open_app
from paylink_es.clock import FakeClock
from paylink_es.money import Money
from paylink_es.settings import Settings
from projections.runner import ProjectionService
from tests.projections.support import (
    MODEL_NAMES,
    another_store,
    head,
    own_tcp_ports,
    positions,
    snapshot,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    """An empty schema of its own on the test server."""
    with another_store(Settings(database_url=pg_url, data_dir=tmp_path / "var"), tmp_path) as s:
        yield s


def kill_our_listeners(url: str) -> set[int]:
    """Terminate the LISTEN connections this process holds (and no one else's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%%'"
            " AND client_port = ANY(%s) AND pid <> pg_backend_pid()",
            (sorted(own_tcp_ports()),),
        ).fetchall()
        pids = {int(pid) for (pid,) in rows}
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pids


def test_a_read_model_whose_listen_connection_is_killed_is_restarted_and_catches_up(
    pg_settings: Settings, clock: FakeClock
) -> None:
    assert pg_settings.database_url is not None
    with open_app(pg_settings, clock=clock) as app:
        service = ProjectionService(pg_settings, app)
        service.start()
        try:
            merchant = app.register_merchant("Toko Tahan")
            link = app.create_link(merchant, amount=8_000, description="Tahan", usage_limit=None)
            service.wait_until(head(app), timeout=10)
            assert all(s.started_once.wait(10) for s in service.supervisors)
            assert {s.cls.name for s in service.supervisors} == set(MODEL_NAMES) - {"audit"}

            for round_number in (1, 2):
                killed = kill_our_listeners(pg_settings.database_url)
                assert len(killed) == len(service.supervisors)
                # Recorded while the runners are down or coming back.
                payment = app.start_payment(link, "qris")
                ref = f"after-kill-{round_number}"
                app.record_payment(payment, ref, Money(8_000, "IDR"), clock())
                app.verify_payment(payment, fee=Money(80, "IDR"))
                service.wait_until(head(app), timeout=30)
                assert positions(service.models) == dict.fromkeys(MODEL_NAMES, head(app))
                assert all(s.restarts >= round_number for s in service.supervisors)
                assert all(s.error is None and s.is_alive() for s in service.supervisors)
            tables = snapshot(service.models)
        finally:
            service.stop()
    assert [row["payment_count"] for row in tables["links"]] == [2]
    assert [row["verified"] for row in tables["balances"]] == [16_000]
    assert not any(s.is_alive() for s in service.supervisors)
