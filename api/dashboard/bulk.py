"""Bulk links: upload a CSV of links, watch it run in the background, download the results.

The upload is read and checked at once (a bad file is shown beside the form and nothing
is stored); its rows then run in the background (:class:`api.bulk_jobs.BulkJobs`) with
:func:`api.bulk.run_batch`, the same code as ``POST /v1/links/batch``. The batch's page
polls a small JSON endpoint for its progress and offers the per-row result CSV when done.
A batch is found only by the merchant and mode that uploaded it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Path, Request, Response, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse

from api.bulk import (
    COLUMNS,
    MAX_ROWS,
    BatchFileError,
    Format,
    parse_batch,
    run_batch,
    template_csv,
)
from api.bulk_jobs import BulkBusyError, BulkJob, BulkJobs
from api.dashboard.render import render, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import (
    ForbiddenError,
    OwnerFormDep,
    PageNotFoundError,
    Staff,
    StaffDep,
    load_staff,
)
from api.deps import get_paylink
from api.pages import language
from api.routes.batches import batch_target
from paylink_es.locale import WIB
from paylink_es.settings import Settings

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
BatchId = Annotated[str, Path(max_length=40)]
DOWNLOAD = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
JSON_LINES = (".jsonl", ".ndjson")


def bulk_jobs(request: Request) -> BulkJobs:
    """This app's bulk uploads."""
    jobs: BulkJobs = request.app.state.bulk_jobs
    return jobs


def _form_page(
    request: Request, staff: Staff, *, status: int = 200, error: str | None = None
) -> Response:
    settings: Settings = request.app.state.settings
    return render(
        request,
        "bulk.html",
        staff,
        status=status,
        title=words(request)["bulk_title"],
        error=error,
        jobs=bulk_jobs(request).recent(staff.merchant_id, staff.mode),
        columns=COLUMNS,
        max_rows=f"{MAX_ROWS:,}".replace(",", "." if language(request) == "id" else ","),
        max_mb=max(1, settings.batch_max_bytes // 2**20),
    )


@router.get("/dashboard/links/bulk")
def bulk_form(request: Request, staff: StaffDep) -> Response:
    """The upload form, the template, and this merchant's recent uploads."""
    if not staff.is_owner:
        raise ForbiddenError("owner_only")
    return _form_page(request, staff)


@router.post("/dashboard/links/bulk")
def bulk_upload(
    request: Request,
    staff: OwnerFormDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Check the file, then create its links in the background; to the batch's page."""
    t = words(request)
    settings: Settings = request.app.state.settings
    if file is None or not file.filename:
        return _form_page(request, staff, status=422, error=t["bulk_no_file"])
    data = file.file.read(settings.batch_max_bytes + 1)
    if len(data) > settings.batch_max_bytes:
        message = t["bulk_too_big"].format(mb=max(1, settings.batch_max_bytes // 2**20))
        return _form_page(request, staff, status=413, error=message)
    kind: Format = "ndjson" if file.filename.lower().endswith(JSON_LINES) else "csv"
    try:
        rows = parse_batch(data, kind)
    except BatchFileError as error:
        message = t["bulk_bad_file"].format(detail=error.detail)
        return _form_page(request, staff, status=error.status, error=message)
    target = batch_target(request, staff.merchant_id, staff.mode, language(request))
    try:
        job = bulk_jobs(request).start(
            staff.merchant_id,
            staff.mode,
            file.filename[:200],
            len(rows),
            get_paylink(request).now(),
            lambda job, stop: run_batch(target, rows, on_row=job.record, stop=stop),
        )
    except BulkBusyError:
        return _form_page(request, staff, status=429, error=t["bulk_busy"])
    return RedirectResponse(f"/dashboard/links/bulk/{job.id}", 303)


def _job(request: Request, staff: Staff, batch_id: str) -> BulkJob:
    job = bulk_jobs(request).get(staff.merchant_id, staff.mode, batch_id)
    if job is None:
        raise PageNotFoundError
    return job


@router.get("/dashboard/links/bulk/{batch_id}")
def bulk_batch(request: Request, staff: StaffDep, batch_id: BatchId) -> Response:
    """One upload: its progress (live while it runs), its counts, its result file."""
    job = _job(request, staff, batch_id)
    return render(
        request,
        "bulk_batch.html",
        staff,
        title=words(request)["bulk_title"],
        job=job,
        progress=job.progress(),
    )


@router.get("/dashboard/links/bulk/{batch_id}/progress")
def bulk_progress(request: Request, batch_id: BatchId) -> Response:
    """How far an upload has got, as JSON (the batch page polls it); 401 or 404 as JSON."""
    staff = load_staff(request)
    headers = {"Cache-Control": "no-store"}
    if staff is None:
        return JSONResponse({"error": "sign in first"}, status_code=401, headers=headers)
    job = bulk_jobs(request).get(staff.merchant_id, staff.mode, batch_id)
    if job is None:
        return JSONResponse({"error": "no such upload"}, status_code=404, headers=headers)
    return JSONResponse(job.progress(), headers=headers)


@router.get("/dashboard/exports/bulk/{batch_id}.csv")
def bulk_result(request: Request, staff: StaffDep, batch_id: BatchId) -> Response:
    """The per-row result file of a finished upload (409 while it still runs)."""
    job = _job(request, staff, batch_id)
    if job.result is None:
        status = 409 if not job.finished else 404
        return Response("the upload has no result file yet", status, media_type="text/plain")
    disposition = f'attachment; filename="bulk-{job.id}-results.csv"'
    return Response(
        job.result,
        media_type="text/csv; charset=utf-8",
        headers={**DOWNLOAD, "Content-Disposition": disposition},
    )


@router.get("/dashboard/exports/bulk-template.csv")
def bulk_template(request: Request, staff: StaffDep) -> Response:
    """The CSV template: every column, and one example row that expires in a month."""
    day = (get_paylink(request).now() + timedelta(days=30)).astimezone(WIB).date()
    expiry = datetime.combine(day, time(23, 59), WIB).isoformat()
    return Response(
        template_csv(expiry),
        media_type="text/csv; charset=utf-8",
        headers={
            **DOWNLOAD,
            "Content-Disposition": 'attachment; filename="paylink-bulk-links.csv"',
        },
    )
