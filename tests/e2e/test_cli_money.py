"""``paylink settle``, ``settlements report``, ``payouts`` and the merchants' money settings."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import WIB, FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from tests.e2e.test_cli import paylink


def _merchant(folder: Path) -> str:
    created = paylink(folder, "merchants", "create", "--name", "Toko Settle")
    assert created.returncode == 0, created.stderr
    found = re.search(r"Merchant: ([0-9a-f-]{36})", created.stdout)
    assert found
    return found.group(1)


def _paid_last_week(folder: Path, merchant: str, amounts: list[int]) -> list[UUID]:
    """Verified VA payments made ten days ago (so due today), written to the folder's store."""
    clock = FakeClock(datetime.now(tz=UTC) - timedelta(days=10))
    ids = []
    with open_paylink(Settings(data_dir=folder / "var"), clock=clock) as app:
        for i, amount in enumerate(amounts):
            link = app.links.create(UUID(merchant), amount=amount, description=f"Order {i}")
            payment = app.payments.start(link, "va_bca")
            app.payments.record(payment, f"VA-{i}", Money(amount, "IDR"), clock())
            app.payments.verify(payment)
            ids.append(payment)
    return ids


def test_settle_twice_settles_once_and_the_report_lists_every_payment(tmp_path: Path) -> None:
    merchant = _merchant(tmp_path)
    _paid_last_week(tmp_path, merchant, [150_000, 54_000])

    first = paylink(tmp_path, "settle", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["settled"], summary["batches"]) == (2, 1)
    assert summary["totals"]["IDR"] == {"gross": 204_000, "fee": 8_000, "net": 196_000}
    assert "settle" in first.stderr, "progress is shown on stderr"
    second = paylink(tmp_path, "settle")
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("settled 0 payment(s)")

    report = tmp_path / "report.csv"
    out = paylink(
        tmp_path, "settlements", "report", "--merchant", merchant, "--output", str(report)
    )
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(report.read_text().splitlines()))
    assert sorted((int(r["received"]), int(r["fee"]), int(r["net"])) for r in rows) == [
        (54_000, 4_000, 50_000),
        (150_000, 4_000, 146_000),
    ]
    assert {r["settlement_date"] for r in rows} == {summary["date"]}


def test_settling_a_day_after_today_is_refused_unless_forced(tmp_path: Path) -> None:
    merchant = _merchant(tmp_path)
    _paid_last_week(tmp_path, merchant, [150_000, 54_000])
    # Two days ahead of Jakarta's today: still ahead if midnight passes during the test.
    ahead = (datetime.now(tz=WIB).date() + timedelta(days=2)).isoformat()

    refused = paylink(tmp_path, "settle", "--date", ahead, "--json")
    assert refused.returncode == 2, refused.stderr
    assert refused.stdout == ""
    assert f"--date {ahead} is after today" in refused.stderr
    assert "Asia/Jakarta" in refused.stderr
    assert "--force" in refused.stderr
    assert "Traceback" not in refused.stderr

    forced = paylink(tmp_path, "settle", "--date", ahead, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    summary = json.loads(forced.stdout)
    assert (summary["date"], summary["settled"]) == (ahead, 2), "the refusal settled nothing"


def test_settling_today_or_an_earlier_day_needs_no_force(tmp_path: Path) -> None:
    merchant = _merchant(tmp_path)
    _paid_last_week(tmp_path, merchant, [80_000])
    yesterday = (datetime.now(tz=WIB).date() - timedelta(days=1)).isoformat()

    earlier = paylink(tmp_path, "settle", "--date", yesterday, "--json")
    assert earlier.returncode == 0, earlier.stderr
    assert json.loads(earlier.stdout)["date"] == yesterday


def test_bank_account_policy_and_fee_plan_from_the_command_line(tmp_path: Path) -> None:
    merchant = _merchant(tmp_path)
    bank = paylink(
        tmp_path,
        "merchants", "bank-account", "--merchant", merchant,
        "--bank", "BCA", "--number", "1234567890", "--holder", "Toko Settle",
    )  # fmt: skip
    assert bank.returncode == 0, bank.stderr
    assert "••••7890" in bank.stdout

    policy = paylink(tmp_path, "merchants", "policy", "--merchant", merchant, "overpaid=accept")
    assert policy.returncode == 0, policy.stderr
    assert re.search(r"overpaid\s+accept", policy.stdout)
    assert re.search(r"link_cancelled\s+refund", policy.stdout)
    wrong = paylink(tmp_path, "merchants", "policy", "--merchant", merchant, "overpaid=keep")
    assert wrong.returncode == 1
    assert "policy.overpaid" in wrong.stderr

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(
        json.dumps({"name": "nego", "families": {"virtual_account": {"flat": 2500}}})
    )
    plan = paylink(
        tmp_path, "merchants", "fee-plan", "--merchant", merchant, "--file", str(plan_file)
    )
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["families"]["virtual_account"]["flat"] == 2500
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps({"name": "bad", "families": {"qris": {"rate_ppm": -1}}}))
    refused = paylink(
        tmp_path, "merchants", "fee-plan", "--merchant", merchant, "--file", str(bad_file)
    )
    assert refused.returncode == 1
    assert "families.qris.rate_ppm" in refused.stderr


def test_a_live_payout_waits_for_finance_to_complete_it(tmp_path: Path) -> None:
    merchant = _merchant(tmp_path)
    clock = FakeClock(datetime.now(tz=UTC) - timedelta(days=10))
    with open_paylink(Settings(data_dir=tmp_path / "var"), clock=clock) as app:
        owner = UUID(merchant)
        app.merchants.set_bank_account(owner, "BRI", "555566667777", "Toko Settle")
        link = app.links.create(owner, amount=104_000, description="Live order", mode="live")
        payment = app.payments.start(link, "va_bri")
        app.payments.record(payment, "LIVE-1", Money(104_000, "IDR"), clock())
        app.payments.verify(payment)
        assert app.money.settle(clock().date() + timedelta(days=5), [payment]).settled == 1
        payout = app.money.request_payout(owner, "live", Money(100_000, "IDR"))
    assert payout.status == "requested"
    done = paylink(
        tmp_path, "payouts", "complete", "--payout", str(payout.id), "--reference", "BRI-778"
    )
    assert done.returncode == 0, done.stderr
    assert "paid_out" in done.stdout
    again = paylink(tmp_path, "payouts", "fail", "--payout", str(payout.id), "--reason", "x")
    assert again.returncode == 1
    assert "already paid_out" in again.stderr
