"""CSV exports stream a page at a time, hold only the merchant's rows, and defuse formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from api.dashboard.exports import LINK_COLUMNS, PAYMENT_COLUMNS
from paylink_es.entrypoints.bench.export_memory import measure_export_memory
from paylink_es.settings import Settings
from projections.queries.ledger import JOURNAL_COLUMNS
from tests.support.desk import Desk


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_links_export_streams_every_link_in_pages(desk: Desk) -> None:
    for n in range(250):
        desk.link(reference_id=f"EXP-{n:03d}", description=f"Barang {n:03d}", usage_limit=None)
    desk.link(reference_id="FORMULA", description='=HYPERLINK("http://evil")')
    desk.catch_up()
    owner = desk.signed_in()
    with owner.stream("GET", "/dashboard/exports/links.csv") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"].startswith('attachment; filename="links-')
        chunks = [chunk for chunk in response.iter_text() if chunk]
    text = "".join(chunks)
    # A header, then one chunk per keyset page of 100 (the transport may merge some).
    assert len(chunks) >= 2
    rows = _rows(text)
    assert list(rows[0]) == list(LINK_COLUMNS)
    assert len(rows) == 251
    assert len({row["link_id"] for row in rows}) == 251
    formula = next(row for row in rows if row["reference_id"] == "FORMULA")
    assert formula["description"] == '\'=HYPERLINK("http://evil")'
    first = next(row for row in rows if row["reference_id"] == "EXP-000")
    assert first["amount"] == "150000"
    assert first["url"].endswith(f"/l/{first['code']}")
    assert first["status"] == "active"


def test_the_exports_follow_the_filters_and_the_journal_balances(desk: Desk) -> None:
    paid = desk.link(reference_id="PAID", description="Lunas")
    desk.link(reference_id="OPEN", description="Belum")
    desk.pay(paid)
    desk.catch_up()
    owner = desk.signed_in()
    completed = _rows(owner.get("/dashboard/exports/links.csv?status=completed").text)
    assert [row["reference_id"] for row in completed] == ["PAID"]
    payments = _rows(owner.get("/dashboard/exports/payments.csv").text)
    assert list(payments[0]) == list(PAYMENT_COLUMNS)
    assert [(p["status"], p["received"], p["method"]) for p in payments] == [
        ("verified", "150000", "qris")
    ]
    journal = _rows(owner.get("/dashboard/exports/journal.csv").text)
    assert list(journal[0]) == list(JOURNAL_COLUMNS)
    assert journal
    assert sum(int(line["debit"]) for line in journal) == sum(
        int(line["credit"]) for line in journal
    )
    assert any(line["account"].endswith(":pending") for line in journal)
    bad = owner.get("/dashboard/exports/payments.csv?status=lost")
    assert bad.status_code == 400


def test_exports_need_a_session(sqlite_desk: Desk) -> None:
    for name in ("links", "payments", "journal"):
        response = sqlite_desk.client().get(f"/dashboard/exports/{name}.csv")
        assert response.status_code == 401


def test_the_memory_of_an_export_does_not_grow_with_the_rows(tmp_path: Path) -> None:
    small = measure_export_memory(Settings(data_dir=tmp_path / "small"), 300)
    large = measure_export_memory(Settings(data_dir=tmp_path / "large"), 3000)
    assert small["rows"] == 300
    assert large["rows"] == 3000
    assert large["csv_mb"] > 5 * small["csv_mb"]
    # Ten times the rows, about the same peak: one page is held, never the whole file.
    assert large["peak_mb"] < 2 * small["peak_mb"] + 0.5, (small, large)
