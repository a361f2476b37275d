"""CSV exports of links, payments and the journal, streamed a keyset page at a time.

Nothing holds more than one page: the response is a generator that asks the read
model for the next page only when the previous one has gone out, so a million rows
cost the memory of a hundred. ``measure_export_memory`` proves it (for ``paylink bench``).
"""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.dashboard.links import link_filters
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import StaffDep
from api.routes.payments import PAYMENT_STATUSES
from paylink_es.application.app import PaylinkApp
from paylink_es.settings import Settings
from projections.queries import ledger as ledger_queries
from projections.queries import links as link_queries
from projections.queries import payments as payment_queries
from projections.queries.ledger import JOURNAL_COLUMNS
from projections.queries.links import LinkRow
from projections.queries.paging import QueryError
from projections.runner import ReadModels

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
LINK_COLUMNS = (
    "link_id",
    "code",
    "url",
    "reference_id",
    "description",
    "status",
    "currency",
    "amount",
    "amount_min",
    "amount_max",
    "usage_limit",
    "payment_count",
    "collected",
    "sent_count",
    "opened_count",
    "created_at",
    "expires_at",
)
PAYMENT_COLUMNS = (
    "payment_id",
    "link_id",
    "method",
    "channel",
    "status",
    "currency",
    "amount",
    "received",
    "fee",
    "net",
    "refunded",
    "channel_ref",
    "anomaly",
    "disposition",
    "paid_at",
    "created_at",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class LinkExportRow(LinkRow):
    """A link as its export writes it: with its short URL."""

    url: str


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell; text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def csv_chunks(
    pages: Iterable[Sequence[Mapping[str, object]]],
    columns: Sequence[str],
    extra: dict[str, Any] | None = None,
) -> Iterator[str]:
    """The header, then one chunk of CSV text per page of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield buffer.getvalue()
    for page in pages:
        buffer.seek(0)
        buffer.truncate()
        for row in page:
            values = {**row, **(extra or {})}
            writer.writerow([_cell(values.get(column)) for column in columns])
        yield buffer.getvalue()


def link_pages(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    ledger: PaylinkApp,
    base_url: str,
    filters: dict[str, Any],
) -> Iterator[list[LinkExportRow]]:
    """Pages of link rows with their short URL."""
    for page in link_queries.all_links(models, merchant_id, mode, ledger.now(), **filters):
        yield [{**row, "url": f"{base_url}/l/{row['code']}"} for row in page]


def _download(chunks: Iterator[str], name: str) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _stamp(ledger: PaylinkApp) -> str:
    return ledger.now().strftime("%Y%m%d-%H%M%S")


@router.get("/dashboard/exports/links.csv")
def export_links(
    request: Request,
    staff: StaffDep,
    status: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    created_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    created_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """Every link under the list page's filters (not only the page on screen)."""
    filters = link_filters({"status": status, "q": q, "from": created_from, "to": created_to})
    models: ReadModels = request.app.state.read_models
    ledger: PaylinkApp = request.app.state.ledger
    # The first page is read now: a bad filter is a 400 page, not a broken download.
    link_queries.list_links(models, staff.merchant_id, staff.mode, ledger.now(), limit=1, **filters)
    base_url = request.app.state.settings.public_url
    pages = link_pages(models, staff.merchant_id, staff.mode, ledger, base_url, filters)
    name = f"links-{staff.mode}-{_stamp(ledger)}.csv"
    return _download(csv_chunks(pages, LINK_COLUMNS), name)


@router.get("/dashboard/exports/payments.csv")
def export_payments(
    request: Request, staff: StaffDep, status: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    """Every payment attempt (of one status if asked)."""
    if status and status not in PAYMENT_STATUSES:
        raise QueryError("status", f"must be one of {', '.join(PAYMENT_STATUSES)}")
    models: ReadModels = request.app.state.read_models
    ledger: PaylinkApp = request.app.state.ledger
    pages = payment_queries.all_payments(
        models, staff.merchant_id, staff.mode, status=status or None
    )
    name = f"payments-{staff.mode}-{_stamp(ledger)}.csv"
    return _download(csv_chunks(pages, PAYMENT_COLUMNS), name)


@router.get("/dashboard/exports/journal.csv")
def export_journal(request: Request, staff: StaffDep) -> Response:
    """The merchant's double-entry journal lines in store order, for accountants."""
    models: ReadModels = request.app.state.read_models
    ledger: PaylinkApp = request.app.state.ledger
    pages = ledger_queries.journal(models, merchant_id=staff.merchant_id, mode=staff.mode)
    name = f"journal-{staff.mode}-{_stamp(ledger)}.csv"
    return _download(csv_chunks(pages, JOURNAL_COLUMNS), name)


# -- the benchmark -------------------------------------------------------------------


def seed_links(ledger: PaylinkApp, merchant_id: UUID, count: int, threads: int = 32) -> None:
    """Create ``count`` links from many threads at once (group commit batches them)."""

    def create(i: int) -> None:
        ledger.create_link(
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
    whatever ``n_links`` is.
    """
    from paylink_es.bootstrap import open_app
    from projections.runner import CatchUp

    ledger = open_app(settings)
    models = ReadModels(settings, ["links"])
    try:
        merchant_id = ledger.register_merchant("Export bench")
        started = time.perf_counter()
        seed_links(ledger, merchant_id, n_links)
        seeded = time.perf_counter() - started
        CatchUp(ledger, [models["links"]]).run_once()
        pages = link_pages(models, merchant_id, "test", ledger, settings.public_url, {})
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
        ledger.close()
