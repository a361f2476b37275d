"""The dashboard's CSV export: peak memory while it streams, whatever the rows.

- ``export_links``, ``export_csv_mb``: how many links, and what a client downloads;
- ``export_peak_mb``: the traced peak of Python allocations while the export streams.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from api.dashboard.exports import LINK_COLUMNS, LinkExportRow, csv_chunks, link_pages
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.entrypoints.bench.support import progress, scratch_settings
from paylink_es.settings import Settings
from projections.runner import CatchUp, ReadModels


def seed_links(paylink: Paylink, merchant_id: UUID, count: int, threads: int = 32) -> None:
    """Create ``count`` links from many threads at once (group commit batches them)."""

    def create(i: int) -> None:
        paylink.links.create(
            merchant_id,
            amount=10_000 + i,
            description=f"Export bench link {i}",
            reference_id=f"EXPORT-{i}",
            methods=["qris", "va_bca"],
            usage_limit=None,
        )

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(create, range(count)):
            pass


def measure_export_memory(settings: Settings, n_links: int) -> dict[str, Any]:
    """Peak memory of streaming the links CSV of ``n_links`` links, on a fresh store.

    ``settings`` should point at a scratch store (``paylink bench`` makes one): a
    merchant and its links are created there. Python allocations are traced while the
    export streams into a byte counter, and only then; ``peak_mb`` is their high-water
    mark, ``csv_mb`` what a client would download. Streaming keeps ``peak_mb`` flat
    whatever ``n_links`` is. The export is the dashboard's own (``api.dashboard.exports``:
    the same pages, the same CSV writer).
    """
    paylink = open_paylink(settings)
    models = ReadModels(settings, ["links"])
    try:
        merchant_id = paylink.merchants.register("Export bench")
        started = time.perf_counter()
        seed_links(paylink, merchant_id, n_links)
        seeded = time.perf_counter() - started
        CatchUp(paylink.app, [models["links"]]).run_once()
        pages = link_pages(models, merchant_id, "test", paylink, settings.public_url, {})
        rows = 0

        def counted() -> Iterator[list[LinkExportRow]]:
            nonlocal rows
            for page in pages:
                rows += len(page)
                yield page

        size = 0
        tracemalloc.start()
        try:
            began = time.perf_counter()
            for chunk in csv_chunks(counted(), LINK_COLUMNS):
                size += len(chunk.encode())
            seconds = time.perf_counter() - began
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return {
            "links": n_links,
            "rows": rows,
            "csv_mb": round(size / 2**20, 2),
            "peak_mb": round(peak / 2**20, 2),
            "export_s": round(seconds, 2),
            "seed_s": round(seeded, 2),
        }
    finally:
        models.close()
        paylink.close()


def bench_export(settings: Settings, links: int) -> dict[str, Any]:
    """Peak Python memory while the dashboard streams the CSV of ``links`` links."""
    with scratch_settings(settings) as scratch:
        progress(f"creating {links:,} links, then streaming their CSV export...")
        return measure_export_memory(scratch, links)
