"""CSV exports of links, payments and the journal, streamed a keyset page at a time.

Nothing holds more than one page: the response is a generator that asks the read
model for the next page only when the previous one has gone out, so a million rows
cost the memory of a hundred (``paylink bench`` measures it: ``export_peak_mb``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.dashboard.links import LinkListParams, link_filters, owned_link
from api.dashboard.paging import StatusQuery
from api.dashboard.render import words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import StaffDep
from api.deps import get_models
from api.routes.payments import PAYMENT_STATUSES, payer_of
from paylink_es.application.services import Paylink
from projections.queries import ledger as ledger_queries
from projections.queries import links as link_queries
from projections.queries import payments as payment_queries
from projections.queries.ledger import JOURNAL_COLUMNS
from projections.queries.links import LinkRow, amount_due
from projections.queries.paging import QueryError
from projections.queries.payments import PaymentRow
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
    "amount_paid",
    "amount_due",
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
    # What the payer entered: the customer details, and the custom fields' values as JSON
    # (key -> value); a link's own export has a column per custom field instead.
    "customer_name",
    "customer_email",
    "customer_phone",
    "customer_address",
    "custom_fields",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class LinkExportRow(LinkRow):
    """A link as its export writes it: with its short URL and, for a link paid in parts,
    what is left to pay."""

    url: str
    amount_due: int | None


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
    paylink: Paylink,
    base_url: str,
    filters: dict[str, Any],
) -> Iterator[list[LinkExportRow]]:
    """Pages of link rows with their short URL."""
    for page in link_queries.all_links(models, merchant_id, mode, paylink.now(), **filters):
        yield [
            {**row, "url": f"{base_url}/l/{row['code']}", "amount_due": amount_due(row)}
            for row in page
        ]


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


def _stamp(paylink: Paylink) -> str:
    return paylink.now().strftime("%Y%m%d-%H%M%S")


@router.get("/dashboard/exports/links.csv")
def export_links(request: Request, staff: StaffDep, params: LinkListParams) -> Response:
    """Every link under the list page's filters (not only the page on screen)."""
    filters = link_filters(params, words(request))
    models: ReadModels = get_models(request)
    paylink: Paylink = request.app.state.paylink
    # The first page is read now: a bad filter is a 400 page, not a broken download.
    link_queries.list_links(
        models, staff.merchant_id, staff.mode, paylink.now(), limit=1, **filters
    )
    base_url = request.app.state.settings.public_url
    pages = link_pages(models, staff.merchant_id, staff.mode, paylink, base_url, filters)
    name = f"links-{staff.mode}-{_stamp(paylink)}.csv"
    return _download(csv_chunks(pages, LINK_COLUMNS), name)


def answer_pages(
    pages: Iterable[list[PaymentRow]], keys: Sequence[str]
) -> Iterator[list[dict[str, Any]]]:
    """Pages of payment rows with a ``custom_fields.<key>`` cell per custom field."""
    for page in pages:
        yield [
            {**row, **{f"custom_fields.{key}": value for key, value in payer_of(row)[1].items()}}
            for row in page
        ]


@router.get("/dashboard/exports/payments.csv")
def export_payments(
    request: Request,
    staff: StaffDep,
    status: StatusQuery = "",
    link: Annotated[UUID | None, Query(description="only this link's payments")] = None,
) -> Response:
    """Every payment attempt (of one status, of one link if asked). A link's export has a
    column per custom field of the link (``custom_fields.<key>``) instead of the JSON."""
    if status and status not in PAYMENT_STATUSES:
        raise QueryError("status", f"must be one of {', '.join(PAYMENT_STATUSES)}")
    models: ReadModels = get_models(request)
    paylink: Paylink = request.app.state.paylink
    rows = payment_queries.all_payments(
        models, staff.merchant_id, staff.mode, status=status or None, link_id=link
    )
    if link is None:
        name = f"payments-{staff.mode}-{_stamp(paylink)}.csv"
        return _download(csv_chunks(rows, PAYMENT_COLUMNS), name)
    keys = [field.key for field in owned_link(request, staff, link).custom_fields]
    columns = [*PAYMENT_COLUMNS[:-1], *(f"custom_fields.{key}" for key in keys)]
    name = f"payments-{staff.mode}-{link}-{_stamp(paylink)}.csv"
    return _download(csv_chunks(answer_pages(rows, keys), columns), name)


@router.get("/dashboard/exports/journal.csv")
def export_journal(request: Request, staff: StaffDep) -> Response:
    """The merchant's double-entry journal lines in store order, for accountants."""
    models: ReadModels = get_models(request)
    paylink: Paylink = request.app.state.paylink
    pages = ledger_queries.journal(models, merchant_id=staff.merchant_id, mode=staff.mode)
    name = f"journal-{staff.mode}-{_stamp(paylink)}.csv"
    return _download(csv_chunks(pages, JOURNAL_COLUMNS), name)
