"""``paylink projections run`` killed mid catch-up resumes exactly where each view stopped."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from tests.support.histories import check_positions
from tests.support.read_models import (
    LISTENING,
    MODEL_NAMES,
    bulk_backlog,
    child_env,
    head,
    opened_views,
    paylink_argv,
    positions,
    rebuilt_elsewhere,
    snapshot,
    tracking_from_outside,
    wait_for_listeners,
)

# Enough events that catching up takes a good second on each backend.
BACKLOG_LINKS = {"sqlite": 1_200, "postgres": 700}


@contextmanager
def projections_run(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``paylink projections run`` as a child process; killed if still running at the end."""
    with (
        log.open("wb") as stderr,
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            paylink_argv("projections", "run"),
            cwd=settings.data_dir.parent,
            env=child_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        ) as child,
    ):
        try:
            yield child
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)


def wait_for(
    settings: Settings,
    child: subprocess.Popen[bytes],
    log: Path,
    done: Callable[[dict[str, int]], bool],
    timeout: float = 90.0,
) -> dict[str, int]:
    """Poll the views' tracking until ``done`` says so; fail if the child dies first."""
    deadline = time.monotonic() + timeout
    while True:
        seen = tracking_from_outside(settings)
        if done(seen):
            return seen
        assert child.poll() is None, f"projections run died:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"timed out at {seen}:\n{log.read_text()}"
        time.sleep(0.005)


def at_head(app: Paylink, settings: Settings, child: subprocess.Popen[bytes], log: Path) -> int:
    """Wait until every view has read the store's newest event; its position."""
    target = head(app)
    wait_for(settings, child, log, lambda seen: set(seen.values()) == {target})
    return target


def test_a_projection_process_killed_mid_catch_up_resumes_without_duplicates_or_gaps(
    backend_settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    store = backend_settings
    with open_paylink(store, clock=clock) as app:
        merchant = app.merchants.register("Toko Backlog")
        bulk_backlog(app, clock, merchant, BACKLOG_LINKS[store.backend])
        backlog = head(app)

        with projections_run(store, tmp_path / "first.log") as first:
            wait_for(
                store,
                first,
                tmp_path / "first.log",
                lambda seen: any(0 < p < backlog for p in seen.values()),
            )
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=30) == -signal.SIGKILL
        killed_at = tracking_from_outside(store)
        assert min(killed_at.values()) < backlog, "the kill came after the catch-up"
        assert max(killed_at.values()) > 0

        # Commands go on while no projection process runs, and while the next one does.
        link = app.links.create(merchant, amount=5_000, description="After the crash")
        payment = app.payments.start(link, "qris")
        clock.advance(timedelta(minutes=1))
        app.payments.record(payment, "after-crash", Money(5_000, "IDR"), clock())
        with projections_run(store, tmp_path / "second.log") as second:
            target = at_head(app, store, second, tmp_path / "second.log")
            wait_for_listeners(store, LISTENING, pid=second.pid)
            app.payments.verify(payment, fee=Money(50, "IDR"))
            app.money.refund(payment, Money(1_000, "IDR"), "partial")
            target = at_head(app, store, second, tmp_path / "second.log")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, (tmp_path / "second.log").read_text()

        with opened_views(store) as models:
            assert positions(models) == dict.fromkeys(MODEL_NAMES, target)
            live = snapshot(models)
        check_positions(app, live)
        rebuilt = rebuilt_elsewhere(app, store, tmp_path / "rebuild")
    assert live.keys() == rebuilt.keys()
    for table, rows in live.items():
        assert rows == rebuilt[table], f"{table}: resumed and rebuilt views differ"
