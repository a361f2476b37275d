"""``paylink projections rebuild|status`` and ``paylink audit export|replay``, as run by hand."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import WIB, FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.readmodel import iso
from projections.runner import ProjectionService, ReadModels
from tests.support.read_models import (
    LISTENING,
    MODEL_NAMES,
    bulk_backlog,
    catch_up,
    change_view,
    head,
    opened_views,
    payee,
    paylink,
    positions,
    recorded,
    snapshot,
    wait_for_listeners,
)

# The bar redraws itself with "\r"; text-mode pipes hand that over as "\n".
PROGRESS = re.compile(r"\nrebuild all \[#{30}\] 100% ([\d,]+)/([\d,]+) events [\d,]+/s\n")


def sell(app: Paylink, clock: FakeClock, merchant: UUID, number: int) -> UUID:
    """One link paid, verified, settled and partly refunded; returns the payment."""
    _, payment = recorded(app, clock, merchant, "va_bca", 40_000 + number)
    app.payments.verify(payment, fee=Money(400, "IDR"))
    app.money.settle_payment(payment, uuid4(), clock().date())
    app.money.refund(payment, Money(1_000 + number, "IDR"), "returned")
    return payment


def test_rebuild_shows_progress_and_leaves_the_views_equal_to_the_live_ones(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Ulang")
        bulk_backlog(app, clock, merchant, 150)
        service = ProjectionService(backend_settings, app.app)
        service.start()
        try:
            wait_for_listeners(backend_settings, LISTENING)
            for number in range(3):
                sell(app, clock, merchant, number)
            service.wait_until(head(app), timeout=30)
            live = snapshot(service.models)
        finally:
            service.stop()
        events = head(app)
    # Damage the views, so that only a real rebuild can put them right.
    assert change_view(backend_settings, "links", "UPDATE {s}links SET collected = 0", ()) > 0
    assert change_view(backend_settings, "ledger", "DELETE FROM {s}journal WHERE seq = 0", ()) > 0

    result = paylink(backend_settings, "projections", "rebuild")
    assert result.returncode == 0, result.stderr
    progress = PROGRESS.search(result.stderr)
    assert progress, repr(result.stderr)
    assert progress.group(1) == progress.group(2) == f"{events:,}"
    assert f"rebuilt {', '.join(MODEL_NAMES)} from {events:,} events in" in result.stdout
    with opened_views(backend_settings) as models:
        assert positions(models) == dict.fromkeys(MODEL_NAMES, events)
        assert snapshot(models) == live

    change_view(backend_settings, "ledger", "UPDATE {s}balances SET available = 0", ())
    ledger_only = paylink(backend_settings, "projections", "rebuild", "ledger")
    assert ledger_only.returncode == 0, ledger_only.stderr
    assert f"rebuilt ledger from {events:,} events" in ledger_only.stdout
    with opened_views(backend_settings) as models:
        assert snapshot(models) == live


def test_rebuilding_an_unknown_read_model_is_refused_with_a_message_not_a_traceback(
    backend_settings: Settings,
) -> None:
    result = paylink(backend_settings, "projections", "rebuild", "balance")
    assert result.returncode != 0
    assert "unknown projection 'balance'" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_json_shows_position_head_and_how_far_behind_each_view_is(
    backend_settings: Settings, views: ReadModels
) -> None:
    # Events stamped ten minutes ago by the real clock the CLI reads.
    clock = FakeClock(datetime.now(tz=UTC) - timedelta(minutes=10))
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Status")
        sell(app, clock, merchant, 1)
        catch_up(app, views)
        seen = head(app)
        clock.advance(timedelta(minutes=1))
        sell(app, clock, merchant, 2)
        latest = head(app)

        behind = paylink(backend_settings, "projections", "status", "--json")
        assert behind.returncode == 0, behind.stderr
        rows = json.loads(behind.stdout)
        assert [row["name"] for row in rows] == list(MODEL_NAMES)
        for row in rows:
            assert (row["position"], row["head"]) == (seen, latest)
            assert row["events_behind"] == latest - seen
            # The oldest event not yet seen was stamped nine minutes ago.
            assert 9 * 60 - 5 <= row["seconds_behind"] <= 9 * 60 + 60

        catch_up(app, views)
        current = paylink(backend_settings, "projections", "status", "--json")
        assert current.returncode == 0, current.stderr
        assert json.loads(current.stdout) == [
            {
                "name": name,
                "position": latest,
                "head": latest,
                "events_behind": 0,
                "seconds_behind": 0.0,
                "failure": None,
            }
            for name in MODEL_NAMES
        ]
        table = paylink(backend_settings, "projections", "status")
        assert table.returncode == 0, table.stderr
        assert re.search(rf"^ledger\s+{latest}\s+{latest}\s+0\s+0\.000$", table.stdout, re.M)


def test_export_writes_exactly_the_journal_lines_in_range_and_they_balance(
    backend_settings: Settings, clock: FakeClock, views: ReadModels, tmp_path: Path
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Ekspor")
        instants = []
        for number in range(4):
            instants.append(clock())
            sell(app, clock, merchant, number)
            clock.advance(timedelta(hours=1))
        catch_up(app, views)
    journal = views["ledger"].view.query("SELECT * FROM {s}journal ORDER BY position, seq")
    start, end = instants[1], instants[3]  # the second and third sales, not the fourth
    wanted = [row for row in journal if iso(start) <= row["at"] < iso(end)]
    assert 0 < len(wanted) < len(journal)

    output = tmp_path / "journal.csv"
    result = paylink(
        backend_settings,
        "audit",
        "export",
        "--from",
        start.isoformat(),
        "--to",
        end.astimezone(WIB).isoformat(),  # any zone will do
        "--output",
        str(output),
    )
    assert result.returncode == 0, result.stderr
    assert f"exported {len(wanted)} journal lines" in result.stderr
    with output.open(newline="") as file:
        exported = list(csv.DictReader(file))
    assert exported == [{k: "" if v is None else str(v) for k, v in row.items()} for row in wanted]
    assert sum(int(row["debit"]) for row in exported) == sum(int(row["credit"]) for row in exported)
    assert {row["event"] for row in exported} == {
        "Payment.Verified",
        "Payment.Settled",
        "Payment.Refunded",
    }


def test_replay_exits_non_zero_with_a_readable_diff_when_a_live_balance_was_altered(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Jujur")
        sell(app, clock, merchant, 1)
        _, unsettled = recorded(app, clock, merchant, "qris", 9_000)
        app.payments.verify(unsettled, fee=Money(90, "IDR"))
        catch_up(app, views)
    later = (clock() + timedelta(days=1)).isoformat()
    [book] = views["ledger"].view.query("SELECT * FROM {s}balances")
    available = int(book["available"])

    honest = paylink(backend_settings, "audit", "replay", "--as-of", later)
    assert honest.returncode == 0, honest.stderr
    assert "replay equals the live views" in honest.stderr
    assert str(merchant) in honest.stdout

    change_view(
        backend_settings,
        "ledger",
        "UPDATE {s}balances SET available = available + 1 WHERE merchant_id = ?",
        (str(merchant),),
    )
    altered = paylink(backend_settings, "audit", "replay", "--as-of", later)
    assert altered.returncode == 1
    assert "DIFFERENCES between replay and live views:" in altered.stderr
    assert (
        f"merchant {merchant} (test) IDR available: replay {available} != live {available + 1}"
        in altered.stderr
    )
    assert "pending" not in altered.stderr.split("DIFFERENCES", 1)[1]


def _replayed(settings: Settings, as_of: str) -> dict[str, Any]:
    """``paylink audit replay --as-of AS_OF --format json``: its one merchant's book."""
    result = paylink(settings, "audit", "replay", "--as-of", as_of, "--format", "json")
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_replay_keeps_microseconds_an_event_just_before_the_instant_counts_one_just_after_not(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    clock.current = datetime(2026, 3, 2, 3, 0, 0, 100_000, tzinfo=UTC)
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = payee(app, "Toko Detik")
        _, payment = recorded(app, clock, merchant, "va_bca", 50_000)
        app.payments.verify(payment, fee=Money(500, "IDR"))
        app.money.settle_payment(payment, uuid4(), clock().date())  # all at .100000
        paid_out_at = clock.advance(timedelta(microseconds=400_000))  # .500000, same second
        app.money.request_payout(merchant, "test", Money(20_000, "IDR"))
        catch_up(app, views)
    just_before = (paid_out_at - timedelta(microseconds=1)).astimezone(WIB).isoformat()
    assert just_before == "2026-03-02T10:00:00.499999+07:00"

    [book] = _replayed(backend_settings, just_before)["balances"]
    assert (book["merchant_id"], book["available"], book["paid_out"]) == (
        str(merchant),
        49_500,
        0,
    )
    [book] = _replayed(backend_settings, paid_out_at.isoformat())["balances"]
    assert (book["available"], book["paid_out"]) == (29_500, 20_000)
    # The start of that second is before every event: none of them may be read as in it.
    assert _replayed(backend_settings, "2026-03-02T03:00:00Z")["balances"] == []


def test_replay_as_of_now_reads_every_event_by_the_applications_clock(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Sekarang")
        sell(app, clock, merchant, 1)
        catch_up(app, views)
    [book] = views["ledger"].view.query("SELECT * FROM {s}balances")

    for word in ("now", "NOW"):
        result = paylink(backend_settings, "audit", "replay", "--as-of", word, "--format", "json")
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        assert datetime.fromisoformat(body["as_of"].replace("Z", "+00:00")) > clock()
        [replayed] = body["balances"]
        assert {k: replayed[k] for k in ("available", "refunded", "verified")} == {
            k: int(book[k]) for k in ("available", "refunded", "verified")
        }
        assert "replay equals the live views" in result.stderr

    table = paylink(backend_settings, "audit", "replay", "--as-of", "now")
    assert table.returncode == 0, table.stderr
    assert str(merchant) in table.stdout
    export = paylink(backend_settings, "audit", "export", "--from", "2026-01-01", "--to", "now")
    assert export.returncode == 0, export.stderr
    assert "exported 7 journal lines" in export.stderr
    words = paylink(backend_settings, "audit", "replay", "--as-of", "yesterday")
    assert words.returncode == 2
    assert "--as-of: 'yesterday' is not an ISO-8601 instant" in words.stderr
