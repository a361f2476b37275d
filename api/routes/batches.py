"""``POST /v1/links/batch``: many payment links from one CSV or JSON-lines file."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import IdempotencyKey, Owner
from api.bulk import (
    COLUMNS,
    CSV,
    MAX_ROWS,
    MEDIA,
    NDJSON,
    RESULT_COLUMNS,
    BatchTarget,
    Summary,
    answer_format,
    format_of,
    parse_batch,
    result_file,
    run_batch,
)
from api.deps import public_url
from api.routes.send import link_sender
from api.schemas import COMMON_PROBLEMS, problem_responses
from paylink_es.application.services import Paylink
from paylink_es.locale import Language

router = APIRouter(prefix="/v1/links", tags=["links"], responses=COMMON_PROBLEMS)


def batch_target(request: Request, merchant_id: UUID, mode: str, language: Language) -> BatchTarget:
    """The rows of a file become the merchant's links in ``mode``; the messages they ask
    for go out through this app's notifiers, in ``language``."""
    paylink: Paylink = request.app.state.paylink
    sender = link_sender(request, paylink)
    return BatchTarget(
        paylink, merchant_id, mode, public_url(request), sender=sender, language=language
    )


CSV_EXAMPLE = (
    ",".join(COLUMNS) + "\n"
    "INV-2026-0101,Kaos polos hitam,150000,,,IDR,va_bca|qris,,1,Budi,budi@example.com,"
    "+628123456789,,true,false,false\n"
    "INV-2026-0102,Donasi bebas,,10000,5000000,IDR,qris va_bsi,,unlimited,,,,,,,\n"
)
NDJSON_EXAMPLE = (
    '{"reference_id": "INV-2026-0201", "amount": 150000, "description": "Kaos polos hitam",'
    ' "methods": ["va_bca", "qris"], "customer": {"name": "Budi", "email":'
    ' "budi@example.com"}, "send_email": true}\n'
    '{"reference_id": "INV-2026-0202", "amount_min": 10000, "amount_max": 5000000,'
    ' "description": "Donasi bebas", "usage_limit": null}\n'
)
RESULT_CSV_EXAMPLE = (
    ",".join(RESULT_COLUMNS) + "\n"
    "2,INV-2026-0101,created,8f7d0c84-5b2e-4c1e-9a51-1d1f3c7e2a10,"
    "https://pay.example/l/Ab3dE6gH9jK1,,,,sent,,\n"
    "3,INV-2026-0102,existing,3c2b1a09-8e7f-4d6c-9b5a-0f1e2d3c4b5a,"
    "https://pay.example/l/Zx8wV7uT6sR5,,,,,,\n"
    "4,INV-2026-0103,error,,,amount-invalid,amount,amount: must be at least 1,,,\n"
)
RESULT_NDJSON_EXAMPLE = (
    '{"row":1,"reference_id":"INV-2026-0201","status":"created","link_id":'
    '"8f7d0c84-5b2e-4c1e-9a51-1d1f3c7e2a10","url":"https://pay.example/l/Ab3dE6gH9jK1",'
    '"error_type":null,"error_field":null,"error_message":null,"send_email":"sent",'
    '"send_whatsapp":null,"send_sms":null}\n'
)
COUNT_HEADERS = {
    f"Paylink-Batch-{name}": {
        "description": f"how many rows {what}",
        "schema": {"type": "integer"},
    }
    for name, what in (
        ("Rows", "the file had"),
        ("Created", "made a new link"),
        ("Existing", "found the link their reference_id made before"),
        ("Errors", "made no link (see the row's error)"),
    )
}
REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        f"At most {MAX_ROWS:,} rows and `PAYLINK_BATCH_MAX_BYTES` (8 MiB) of UTF-8 text.\n\n"
        f"**`{CSV}`**: a header row naming some of the columns {', '.join(COLUMNS)} "
        "(any order; `reference_id` is required, an unknown column is refused; `,` or `;` "
        "between cells). `methods` are separated by spaces or `|`; `usage_limit` "
        "`unlimited` means no limit; an empty cell means the field is not given. "
        "`customer_name`, `customer_email` and `customer_phone` make the `customer`.\n\n"
        f"**`{NDJSON}`**: one `LinkCreate` body (JSON object) per line, with its "
        "`reference_id`, and optionally `send_email`, `send_whatsapp`, `send_sms`.\n\n"
        "`send_email` / `send_whatsapp` / `send_sms` true: once its link is created the row "
        "is sent to the customer's e-mail or phone (as `POST /v1/links/{link_id}/send` "
        "does); a link that existed before is not sent again."
    ),
    "content": {
        CSV: {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
        NDJSON: {"schema": {"type": "string"}, "example": NDJSON_EXAMPLE},
    },
}
RESULT_DESCRIPTION = (
    "One result per row, in the file's order, as CSV (with a header) or JSON lines: the "
    "format of the file, or the one `Accept` names. `row` is the line the row starts on "
    "(the header is line 1); `status` is `created`, `existing` (the same body was sent "
    "before under this reference_id: its link) or `error` with the problem `error_type`, "
    "`error_field` and `error_message` a single create would have answered "
    "(`reference-id-reused` names the other link in `link_id`; `reference-id-repeated` "
    "and `slug-repeated`: an earlier row of the same file has it). `send_*`: `sent`, "
    "`failed: <why>`, `no-contact`, `not-configured` or `skipped-existing`; empty when "
    "the row did not ask."
)


@router.post(
    "/batch",
    response_class=Response,
    summary="Create many payment links from a CSV or JSON-lines file",
    openapi_extra={"requestBody": REQUEST_BODY},
    responses={
        200: {
            "description": RESULT_DESCRIPTION,
            "headers": COUNT_HEADERS,
            "content": {
                CSV: {"schema": {"type": "string"}, "example": RESULT_CSV_EXAMPLE},
                NDJSON: {"schema": {"type": "string"}, "example": RESULT_NDJSON_EXAMPLE},
            },
        },
        **problem_responses(415),
    },
)
async def create_batch(
    request: Request,
    owner: Owner,
    language: Annotated[
        Literal["id", "en"], Query(description="the language of the messages sent")
    ] = "id",
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a link for each row of the file, each as ``POST /v1/links`` would, and
    answer what became of every row (200 however many rows failed).

    Every row needs its ``reference_id``: it is the row's idempotency key, so sending the
    same file again creates nothing and answers ``existing`` for each row (and sends no
    message again); a row changed since answers ``reference-id-reused``. An
    ``Idempotency-Key`` is therefore not needed here, and one that is sent is not kept.
    A bad row is only that row's error; a file that cannot be read at all — another
    Content-Type (415), not UTF-8, a bad header, no rows (400), more than 10,000 rows
    (413) — stores nothing.
    """
    sent = format_of(request.headers.get("content-type"))
    data = await request.body()
    rows = await run_in_threadpool(parse_batch, data, sent)
    target = batch_target(request, owner.merchant_id, owner.mode, language)
    results = await run_in_threadpool(run_batch, target, rows)
    kind = answer_format(request.headers.get("accept"), sent)
    return Response(
        await run_in_threadpool(result_file, results, kind),
        media_type=MEDIA[kind],
        headers=Summary.of(results).headers(),
    )
