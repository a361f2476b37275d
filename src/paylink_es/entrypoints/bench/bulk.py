"""Bulk links: a CSV file of many rows through the code the API and the dashboard run.

- ``bulk_rows``: rows in the file (10,000: the most a file may hold);
- ``bulk_s``, ``bulk_rows_per_s``: reading the file and creating every row's link
  (``api.bulk.parse_batch`` then ``run_batch``, as ``POST /v1/links/batch`` and the
  dashboard's background upload do), on a fresh store;
- ``bulk_again_s``: the same file once more: every row finds its link (``existing``).
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from api.bulk import COLUMNS, BatchTarget, Summary, parse_batch, run_batch
from paylink_es.bootstrap import open_paylink
from paylink_es.entrypoints.bench.support import progress, scratch_settings
from paylink_es.settings import Settings


def bulk_file(rows: int) -> bytes:
    """A CSV file of ``rows`` links, each with a customer, methods and a usage limit."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for i in range(rows):
        writer.writerow(
            {
                "reference_id": f"BULK-{i:06d}",
                "description": f"Bulk bench link {i}",
                "amount": 10_000 + i,
                "currency": "IDR",
                "methods": "va_bca|qris",
                "usage_limit": "1",
                "customer_name": "Budi",
                "customer_email": f"budi{i}@example.com",
            }
        )
    return buffer.getvalue().encode()


def measure_bulk(settings: Settings, rows: int) -> dict[str, Any]:
    """Seconds to create the links of a ``rows``-row CSV, and to send it again."""
    paylink = open_paylink(settings)
    try:
        merchant_id = paylink.merchants.register("Bulk bench")
        data = bulk_file(rows)
        target = BatchTarget(paylink, merchant_id, "test", settings.public_url)
        started = time.perf_counter()
        first = Summary.of(run_batch(target, parse_batch(data, "csv")))
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = Summary.of(run_batch(target, parse_batch(data, "csv")))
        again_s = time.perf_counter() - started
        if first.created != rows or again.existing != rows:
            raise RuntimeError(f"bulk bench: {first} then {again}, expected {rows} rows each")
        return {
            "bulk_rows": rows,
            "bulk_file_mb": round(len(data) / 2**20, 2),
            "bulk_s": round(seconds, 2),
            "bulk_rows_per_s": round(rows / seconds, 1),
            "bulk_again_s": round(again_s, 2),
        }
    finally:
        paylink.close()


def bench_bulk(settings: Settings, rows: int) -> dict[str, Any]:
    """Create the links of a ``rows``-row CSV on a scratch store, then send it again."""
    with scratch_settings(settings) as scratch:
        progress(f"bulk links: a CSV of {rows:,} rows, then the same file again...")
        return measure_bulk(scratch, rows)
