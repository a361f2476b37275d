"""The SQLite store's doorbell: every commit rings it, the live projections sleep on it.

The live catch-up's fallback look at the log is set to a minute here, so a view that
catches up (or a service that stops) within the test's waits was woken by the bell.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from paylink_es.store import doorbell
from paylink_es.store.doorbell import Doorbell, address_for, ring
from projections import runner
from projections.runner import ProjectionService
from tests.support.read_models import head

pytestmark = pytest.mark.skipif(not doorbell.SUPPORTED, reason="the doorbell is Linux-only")

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from paylink_es.bootstrap import open_paylink
    from paylink_es.settings import Settings

    with open_paylink(Settings(data_dir=Path(sys.argv[1]))) as app:
        merchant = app.merchants.register("Toko Bel", "bel@example.com")
        app.links.create(merchant, amount=12_000, description="dari proses lain")
    """
)


@pytest.fixture
def store(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


@pytest.fixture
def bell(store: Settings) -> Iterator[Doorbell]:
    listening = Doorbell(store.sqlite_path("paylink"))
    yield listening
    listening.close()


def write_from_another_process(store: Settings) -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", WRITER, str(store.data_dir)], check=True, timeout=60
    )


def test_a_ring_wakes_the_listener_once(bell: Doorbell, store: Settings) -> None:
    assert bell.listening
    assert not bell.wait(0.01)
    ring(address_for(store.sqlite_path("paylink")))
    ring(bell.address)
    assert bell.wait(10)
    assert not bell.wait(0.01)  # both rings were cleared by the one wake


def test_a_commit_in_another_process_rings_the_stores_bell(bell: Doorbell, store: Settings) -> None:
    write_from_another_process(store)
    assert bell.wait(10)


def test_a_second_listener_for_one_store_is_not_heard_and_says_so(
    bell: Doorbell, store: Settings, tmp_path: Path
) -> None:
    second = Doorbell(store.sqlite_path("paylink"))
    assert not second.listening
    assert not second.wait(0.5)  # returns at once: its owner polls instead
    other_store = Doorbell(tmp_path / "other" / "paylink.sqlite3")
    assert other_store.listening  # every store has its own bell
    other_store.close()
    second.close()


def test_a_ring_with_nobody_listening_is_dropped(tmp_path: Path) -> None:
    ring(address_for(tmp_path / "nobody.sqlite3"))  # no error, no wait


def test_live_projections_follow_another_processs_commits_by_the_bell(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "FALLBACK_S", 60.0)
    with open_paylink(store) as app:
        service = ProjectionService(store, app.app)
        service.start()
        try:
            assert service.doorbell is not None
            assert service.doorbell.listening
            write_from_another_process(store)
            service.wait_until(head(app), timeout=20)
            rows = service.models["links"].view.query("SELECT description FROM {s}links")
            assert [row["description"] for row in rows] == ["dari proses lain"]
            app.merchants.register("Toko Sendiri", "sendiri@example.com")  # this process too
            service.wait_until(head(app), timeout=20)
        finally:
            service.stop()
        follower = next(t for t in service.threads if t.name == "projection-catch-up")
        assert not follower.is_alive()  # stop() woke it: it did not sleep out the minute
        assert not any(t.name == "projection-catch-up" for t in threading.enumerate())
