"""``paylink audit what-if`` as finance runs it: a table, JSON or CSV, and a bad plan refused."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import WIB, FakeClock
from paylink_es.settings import Settings
from projections.runner import ReadModels
from tests.support.read_models import (
    CHEAPER_PLAN,
    catch_up,
    head,
    paylink,
    tracking_from_outside,
    verified,
)

CHEAPER = CHEAPER_PLAN
# The bar redraws itself with "\r"; text-mode pipes hand that over as "\n".
PROGRESS = re.compile(r"what-if \[#{30}\] 100% ([\d,]+)/([\d,]+) events")


def shop(settings: Settings, views: ReadModels) -> tuple[UUID, UUID, int]:
    """Two merchants' verified payments on 2 and 3 March; (A, B, the store's head)."""
    clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=WIB))
    with open_paylink(settings, clock=clock) as app:
        a = app.merchants.register("Toko A")
        b = app.merchants.register("Toko B")
        verified(app, clock, a, "va_bca", 150_000)
        verified(app, clock, a, "qris", 10_001)
        verified(app, clock, b, "qris", 99_999)
        clock.advance(timedelta(days=1))
        verified(app, clock, a, "ewallet_ovo", 123_457)
        catch_up(app, views)
        return a, b, head(app)


def written(tmp_path: Path, name: str, plan: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(plan) if not isinstance(plan, str) else plan)
    return str(path)


def test_what_if_prints_the_table_json_and_csv_and_writes_nothing(
    backend_settings: Settings, views: ReadModels, tmp_path: Path
) -> None:
    a, b, position = shop(backend_settings, views)
    tracked = tracking_from_outside(backend_settings)
    plan = written(tmp_path, "cheaper.json", CHEAPER)

    table = paylink(backend_settings, "audit", "what-if", "--fee-plan", plan)
    assert table.returncode == 0, table.stderr
    progress = PROGRESS.search(table.stderr)
    assert progress, repr(table.stderr)
    assert progress.group(1) == progress.group(2) == f"{position:,}"
    lines = table.stdout.splitlines()
    assert lines[0].startswith("fees under plan 'cheaper' beside the fees charged")
    assert "in all history" in lines[0]
    assert lines[1].split()[:4] == ["merchant", "mode", "method", "cur"]
    body = [" ".join(line.split()) for line in lines[2:]]
    assert f"{a} test va_bca IDR 1 150,000 4,000 2,500 -1,500 146,000 147,500 +1,500" in body
    assert f"{a} test qris IDR 1 10,001 70 50 -20 9,931 9,951 +20" in body
    assert f"{b} test qris IDR 1 99,999 700 500 -200 99,299 99,499 +200" in body
    assert body[-1].startswith("total test IDR 4 ")

    only_a = paylink(
        backend_settings,
        "audit",
        "what-if",
        "--fee-plan",
        plan,
        "--merchant",
        str(a),
        "--from",
        "2026-03-03",
        "--to",
        "2026-03-03",
        "--format",
        "json",
    )
    assert only_a.returncode == 0, only_a.stderr
    result = json.loads(only_a.stdout)
    assert (result["from"], result["to"], result["position"]) == (
        "2026-03-03",
        "2026-03-03",
        position,
    )
    assert result["plan"]["name"] == "cheaper"
    assert result["rows"] == [
        {
            "merchant_id": str(a),
            "method": "ewallet_ovo",
            "mode": "test",
            "currency": "IDR",
            "were": {"count": 1, "gross": 123_457, "fees": 1_852, "net": 121_605},
            "would_be": {"count": 1, "gross": 123_457, "fees": 1_481, "net": 121_976},
            "difference": {"fees": -371, "net": 371},
        }
    ]

    as_csv = paylink(backend_settings, "audit", "what-if", "--fee-plan", plan, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(row["merchant_id"], row["method"]) for row in rows] == sorted(
        [(str(a), "ewallet_ovo"), (str(a), "qris"), (str(a), "va_bca"), (str(b), "qris")]
    )
    assert sum(int(row["fees_difference"]) for row in rows) == -371 - 20 - 1_500 - 200
    assert all(int(row["net_difference"]) == -int(row["fees_difference"]) for row in rows)

    # Nothing was written: not one event, not one read model moved.
    with open_paylink(backend_settings) as app:
        assert head(app) == position
    assert tracking_from_outside(backend_settings) == tracked


def test_a_bad_plan_file_exits_2_naming_the_field_and_writes_nothing(
    backend_settings: Settings, views: ReadModels, tmp_path: Path
) -> None:
    _, _, position = shop(backend_settings, views)
    tracked = tracking_from_outside(backend_settings)
    negative = {**CHEAPER, "families": {**CHEAPER["families"], "qris": {"rate_ppm": -5}}}
    no_ewallet = {"name": "partial", "families": {"virtual_account": {"flat": 1}, "qris": {}}}
    cases = {
        "negative.json": (negative, "families.qris.rate_ppm: must not be negative"),
        "misspelt.json": ({"name": "x", "famillies": {}}, "plan: unknown keys ['famillies']"),
        "not-json.json": ("{'name': 'x'}", "plan: is not valid JSON"),
        "partial.json": (no_ewallet, "families.ewallet: plan 'partial' has no fee for"),
    }
    for name, (plan, message) in cases.items():
        result = paylink(
            backend_settings,
            "audit",
            "what-if",
            "--fee-plan",
            written(tmp_path, name, plan),
        )
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert f"paylink: bad fee plan {tmp_path / name}: {message}" in result.stderr, name
        assert "Traceback" not in result.stderr
        assert result.stdout == ""

    missing = paylink(backend_settings, "audit", "what-if", "--fee-plan", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "--fee-plan: cannot read" in missing.stderr
    backwards = paylink(
        backend_settings,
        "audit",
        "what-if",
        "--fee-plan",
        written(tmp_path, "ok.json", CHEAPER),
        "--from",
        "2026-03-03",
        "--to",
        "2026-03-02",
    )
    assert backwards.returncode == 2
    assert "--to: 2026-03-02 is before the first day 2026-03-03" in backwards.stderr
    basic = paylink(backend_settings, "audit", "what-if", "--fee-plan", "x", "--from", "20260303")
    assert basic.returncode == 2
    assert "--from" in basic.stderr

    with open_paylink(backend_settings) as app:
        assert head(app) == position
    assert tracking_from_outside(backend_settings) == tracked
