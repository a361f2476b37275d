"""Bulk links: a file of link requests (CSV or JSON lines) in, one result per row out.

Used by ``POST /v1/links/batch`` (:mod:`api.routes.batches`) and by the dashboard's
upload (:mod:`api.dashboard.bulk`, in the background through :mod:`api.bulk_jobs`).

- **The file** is read whole before anything is stored: not UTF-8, a bad CSV header
  (no ``reference_id`` column, an unknown or repeated column), no rows or more than
  :data:`MAX_ROWS` rows is a :class:`BatchFileError` (a problem document) and nothing
  is created. A bad *row* is only that row's error.
- **Each row** goes through what ``POST /v1/links`` does with a body: the ``LinkCreate``
  model, then the link service (``create_or_find``: the domain's terms and the methods
  that can take the link). A CSV row is first turned into the JSON body it stands for.
  ``reference_id`` is required: it makes the row idempotent (the link's id derives from
  it), so the same file sent again creates nothing and answers ``existing``, and a row
  changed since answers ``reference-id-reused``. A reference or a slug that repeats an
  earlier row of the same file is refused for the later row, so the answer never
  depends on which row ran first.
- **Rows run concurrently** (:data:`WORKERS` threads), so the group committer writes
  many creations per commit; the results keep the file's order. A row whose reference
  names a link already is looked up (``links.find_same``), not created: a create would
  conflict on the link's id and make its whole group-commit batch run again one by one.
- **Sending**: a created row whose ``send_email``/``send_whatsapp``/``send_sms`` is true
  goes to the customer's e-mail or phone through ``LinkSender``; each channel's outcome
  is in the row's result and a failed send never undoes the creation. A link that
  existed before is not sent again.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from api.problems import ProblemError, field_path
from api.routes.links import _link_fields
from api.schemas import LinkCreate
from paylink_es.application.details import LinkDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.errors import DomainError, ReferenceReusedError
from paylink_es.locale import Language
from paylink_es.notify import Channel, ChannelNotConfiguredError, DeliveryFailedError, LinkSender
from paylink_es.settings import Settings
from paylink_es.store.postgres import is_outage

log = logging.getLogger("paylink.bulk")

MAX_ROWS: Final = 10_000
WORKERS: Final = 16  # rows in flight at once: the group committer writes them together
SENDS_AT_ONCE: Final = 4  # messages being delivered at once (each reads the merchant)
API_PATH: Final = "/v1/links/batch"
DASHBOARD_PATH: Final = "/dashboard/links/bulk"
FORM_OVERHEAD: Final = 64 * 1024  # the dashboard's form around the file: token, boundaries
CSV: Final = "text/csv"
NDJSON: Final = "application/x-ndjson"
FORMATS: Final = {CSV: "csv", NDJSON: "ndjson", "application/jsonl": "ndjson"}
Format = Literal["csv", "ndjson"]
MEDIA: Final[dict[Format, str]] = {"csv": f"{CSV}; charset=utf-8", "ndjson": NDJSON}

COLUMNS: Final = (
    "reference_id",
    "description",
    "amount",
    "amount_min",
    "amount_max",
    "currency",
    "methods",
    "expires_at",
    "usage_limit",
    "customer_name",
    "customer_email",
    "customer_phone",
    "slug",
    "send_email",
    "send_whatsapp",
    "send_sms",
    "ask_name",
    "ask_email",
    "ask_phone",
    "ask_address",
    "custom_fields",
)
RESULT_COLUMNS: Final = (
    "row",
    "reference_id",
    "status",
    "link_id",
    "url",
    "error_type",
    "error_field",
    "error_message",
    "send_email",
    "send_whatsapp",
    "send_sms",
)
SENDS: Final[dict[str, Channel]] = {
    "send_email": "email",
    "send_whatsapp": "whatsapp",
    "send_sms": "sms",
}
TEXT_COLUMNS: Final = ("reference_id", "description", "currency", "slug", "expires_at")
NUMBER_COLUMNS: Final = ("amount", "amount_min", "amount_max", "usage_limit")
UNLIMITED: Final = frozenset({"unlimited", "none", "null"})
# What the page asks the payer: a column per detail (required or optional), and the
# merchant's own fields as the JSON array ``POST /v1/links`` takes.
ASKED: Final = ("name", "email", "phone", "address")
_WHOLE = re.compile(r"-?[0-9]{1,20}")
_METHOD_SEPARATORS = re.compile(r"[|\s]+")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
INTERNAL = "something went wrong on our side with this row; send the file again"


class BatchFileError(ProblemError):
    """The file as a whole cannot be read: nothing of it is stored."""

    def __init__(self, status: int, slug: str, detail: str, *, field: str = "file") -> None:
        super().__init__(status, slug, detail, field=field)


def invalid(detail: str, field: str = "file") -> BatchFileError:
    """A 400 ``batch-invalid``: the file cannot be read as a batch."""
    return BatchFileError(400, "batch-invalid", detail, field=field)


class RowOptions(BaseModel):
    """What a row asks for besides the link: send it to the customer, by which channels."""

    model_config = ConfigDict(extra="forbid")
    send_email: bool = False
    send_whatsapp: bool = False
    send_sms: bool = False


@dataclass(frozen=True)
class RowError:
    """Why a row made no link: a problem type (as the API's), the field, a message."""

    type: str
    field: str | None
    message: str
    link_id: str | None = None


@dataclass(frozen=True)
class RowRequest:
    """One row of the file: its line, its reference, and the link's fields or its error."""

    row: int
    reference_id: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    channels: tuple[Channel, ...] = ()
    error: RowError | None = None


@dataclass(frozen=True)
class RowResult:
    """What became of a row (one line of the result file)."""

    row: int
    reference_id: str | None
    status: Literal["created", "existing", "error"]
    link_id: str | None = None
    url: str | None = None
    error: RowError | None = None
    sends: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The result as the result file's columns, in their order."""
        error = self.error
        return {
            "row": self.row,
            "reference_id": self.reference_id,
            "status": self.status,
            "link_id": self.link_id,
            "url": self.url,
            "error_type": error.type if error else None,
            "error_field": error.field if error else None,
            "error_message": error.message if error else None,
            **{column: self.sends.get(channel) for column, channel in SENDS.items()},
        }


# -- reading the file ----------------------------------------------------------------


def format_of(content_type: str | None) -> Format:
    """The batch format a Content-Type names; 415 for any other."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = FORMATS.get(media)
    if found == "csv":
        return "csv"
    if found == "ndjson":
        return "ndjson"
    raise BatchFileError(
        415,
        "unsupported-media-type",
        f"send the file as {CSV} or {NDJSON} (one link per line), not {media or 'nothing'}",
        field="Content-Type",
    )


def answer_format(accept: str | None, sent: Format) -> Format:
    """The result's format: the first of ours that Accept names, else the file's own."""
    for part in (accept or "").split(","):
        found = FORMATS.get(part.split(";", 1)[0].strip().lower())
        if found == "csv":
            return "csv"
        if found == "ndjson":
            return "ndjson"
    return sent


def parse_batch(data: bytes, kind: Format) -> list[RowRequest]:
    """Every row of a file, each checked as a create's body; raises for a bad file."""
    text = _decode(data)
    rows = _csv_rows(text) if kind == "csv" else _ndjson_rows(text)
    if not rows:
        raise invalid("the file has no rows" + (" after the header" if kind == "csv" else ""))
    return _refuse_repeats(rows)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise invalid(f"the file is not UTF-8 text (line {line}, byte {error.start})") from None


def _counted(rows: list[RowRequest]) -> None:
    if len(rows) > MAX_ROWS:
        raise BatchFileError(
            413,
            "batch-too-large",
            f"the file has more than {MAX_ROWS:,} rows; split it into files of at most "
            f"{MAX_ROWS:,}",
            field="rows",
        )


def _csv_rows(text: str) -> list[RowRequest]:
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[RowRequest] = []
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = _header(cells)
                continue
            rows.append(_csv_row(line, header, cells))
            _counted(rows)
    except csv.Error as error:
        raise invalid(f"line {reader.line_num}: the CSV cannot be read ({error})") from None
    if header is None:
        raise invalid("the file is empty: it needs a header row naming the columns", "header")
    return rows


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    for name in names:
        if name not in COLUMNS:
            shown = repr(name) if name else "an empty name"
            raise invalid(
                f"the header has {shown}, which is no column; the columns are {', '.join(COLUMNS)}",
                "header",
            )
        if names.count(name) > 1:
            raise invalid(f"the header names {name!r} twice", "header")
    if "reference_id" not in names:
        raise invalid(
            "the header has no reference_id column: every row needs its reference_id, which "
            "makes sending the file again safe",
            "header",
        )
    return names


def _csv_row(line: int, header: list[str], cells: list[str]) -> RowRequest:
    values = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
    reference = values.get("reference_id") or None
    extra = [cell for cell in cells[len(header) :] if cell.strip()]
    if extra:
        message = f"row: has {len(cells)} cells, the header names {len(header)} columns"
        return RowRequest(line, reference, error=RowError("validation-error", "row", message))
    body: dict[str, Any] = {}
    for name in TEXT_COLUMNS:
        if values.get(name):
            body[name] = values[name]
    for name in NUMBER_COLUMNS:
        text = values.get(name, "")
        if name == "usage_limit" and text.lower() in UNLIMITED:
            body[name] = None
        elif text:
            body[name] = int(text) if _WHOLE.fullmatch(text) else text
    if values.get("methods"):
        body["methods"] = [m for m in _METHOD_SEPARATORS.split(values["methods"]) if m]
    customer = {
        part: values[f"customer_{part}"]
        for part in ("name", "email", "phone")
        if values.get(f"customer_{part}")
    }
    if customer:
        body["customer"] = customer
    asked = {part: values[f"ask_{part}"].lower() for part in ASKED if values.get(f"ask_{part}")}
    if asked:
        body["customer_fields"] = asked
    if values.get("custom_fields"):
        try:
            body["custom_fields"] = orjson.loads(values["custom_fields"])
        except orjson.JSONDecodeError as error:
            message = f"custom_fields: is not a JSON array of fields ({error})"
            return RowRequest(line, reference, error=_row_error("custom_fields", message))
    options = {name: values[name] for name in SENDS if values.get(name)}
    read = _checked(line, reference, body, options)
    if read.error is not None and (read.error.field or "").startswith("customer_fields."):
        # Named by the CSV's column: customer_fields.phone is the ask_phone cell.
        column = "ask_" + (read.error.field or "").removeprefix("customer_fields.")
        message = read.error.message.replace(read.error.field or "", column, 1)
        return replace(read, error=replace(read.error, field=column, message=message))
    return read


def _row_error(where: str, message: str) -> RowError:
    return RowError("validation-error", where, message)


def _ndjson_rows(text: str) -> list[RowRequest]:
    rows: list[RowRequest] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        rows.append(_ndjson_row(number, line))
        _counted(rows)
    return rows


def _ndjson_row(number: int, line: str) -> RowRequest:
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        message = f"body: the line is not valid JSON ({error})"
        return RowRequest(number, None, error=RowError("validation-error", "body", message))
    if not isinstance(body, dict):
        message = "body: the line must be a JSON object: one link's body"
        return RowRequest(number, None, error=RowError("validation-error", "body", message))
    reference = body.get("reference_id")
    options = {name: body.pop(name) for name in SENDS if name in body}
    return _checked(number, reference if isinstance(reference, str) else None, body, options)


def _checked(
    row: int, reference: str | None, body: dict[str, Any], options: dict[str, Any]
) -> RowRequest:
    """The row's link fields as ``POST /v1/links`` reads a body, or the first problem."""
    try:
        link = LinkCreate.model_validate(body)
        sends = RowOptions.model_validate(options)
    except ValidationError as error:
        return RowRequest(row, reference, error=_validation_error(error))
    for name in ("notify", "reminders"):
        if getattr(link, name) is not None:
            message = f"{name}: a file's rows are sent by its send_email, send_whatsapp and"
            message += " send_sms columns, and remind as the merchant's default says"
            return RowRequest(row, reference, error=RowError("validation-error", name, message))
    if not link.reference_id:
        message = "reference_id: is required: it is the row's idempotency key"
        return RowRequest(row, None, error=RowError("validation-error", "reference_id", message))
    channels = tuple(channel for name, channel in SENDS.items() if getattr(sends, name))
    return RowRequest(row, link.reference_id, fields=_link_fields(link), channels=channels)


def _validation_error(error: ValidationError) -> RowError:
    first = error.errors()[0]
    where = field_path(first.get("loc", ()))
    return RowError("validation-error", where, f"{where}: {first.get('msg', 'invalid')}")


def _refuse_repeats(rows: list[RowRequest]) -> list[RowRequest]:
    """A later row with an earlier row's reference_id or slug gets an error of its own."""
    references: dict[str, int] = {}
    slugs: dict[str, int] = {}
    checked: list[RowRequest] = []
    for row in rows:
        if row.error is None:
            reference = str(row.fields["reference_id"])
            slug = row.fields.get("slug")
            first = references.setdefault(reference, row.row)
            if first != row.row:
                row = _repeated(row, "reference_id", first)
            elif isinstance(slug, str):
                first = slugs.setdefault(slug.lower(), row.row)
                if first != row.row:
                    row = _repeated(row, "slug", first)
        checked.append(row)
    return checked


def _repeated(row: RowRequest, name: str, first: int) -> RowRequest:
    message = f"{name}: row {first} of this file has it already; each row needs its own"
    kind = "reference-id-repeated" if name == "reference_id" else f"{name}-repeated"
    return RowRequest(row.row, row.reference_id, error=RowError(kind, name, message))


# -- running the rows ----------------------------------------------------------------


@dataclass(frozen=True)
class BatchTarget:
    """Whose links the rows become, and how their messages go out."""

    paylink: Paylink
    merchant_id: UUID
    mode: str
    base_url: str
    sender: LinkSender | None = None
    language: Language = "id"


def run_batch(
    target: BatchTarget,
    rows: list[RowRequest],
    *,
    on_row: Callable[[RowResult], None] | None = None,
    stop: threading.Event | None = None,
    workers: int = WORKERS,
) -> list[RowResult]:
    """Create (or find) every row's link, concurrently; the results in the rows' order.

    ``on_row`` hears of each row when it is done (from a worker thread). Once ``stop``
    is set, the rows not started yet answer ``interrupted``. A database that becomes
    unavailable stops the batch: the error is raised once the rows in flight are done
    (those created stay created; sending the file again finds them).
    """
    results: list[RowResult | None] = [None] * len(rows)
    gate = threading.Semaphore(SENDS_AT_ONCE)
    abort = threading.Event()
    # Rows whose reference names a link already (a file sent again) are looked up, not
    # created: a create would first conflict on the link's id, with its whole batch.
    taken = target.paylink.links.taken_references(
        target.merchant_id,
        target.mode,
        [str(row.fields["reference_id"]) for row in rows if row.error is None],
    )

    def one(index: int) -> None:
        row = rows[index]
        if abort.is_set() or (stop is not None and stop.is_set()):
            message = "the batch stopped before this row; send the file again"
            result = RowResult(row.row, row.reference_id, "error", error=_stopped(message))
        else:
            try:
                result = _run_row(target, row, gate, row.reference_id in taken)
            except Exception as error:
                if is_outage(error):
                    abort.set()
                    raise
                log.exception("bulk row %d failed", row.row)
                internal = RowError("internal-error", None, INTERNAL)
                result = RowResult(row.row, row.reference_id, "error", error=internal)
        results[index] = result
        if on_row is not None:
            on_row(result)

    with ThreadPoolExecutor(max(1, min(workers, len(rows))), "bulk-row") as pool:
        futures = [pool.submit(one, index) for index in range(len(rows))]
    for future in futures:
        future.result()  # the first outage, once every row has finished or stopped
    return [result for result in results if result is not None]


def _stopped(message: str) -> RowError:
    return RowError("interrupted", None, message)


def _run_row(
    target: BatchTarget, row: RowRequest, gate: threading.Semaphore, taken: bool
) -> RowResult:
    if row.error is not None:
        return RowResult(row.row, row.reference_id, "error", error=row.error)
    links = target.paylink.links
    try:
        found = None
        if taken:  # found without a write: the link, or reference-id-reused
            found = links.find_same(target.merchant_id, mode=target.mode, **row.fields)
        if found is not None:
            details, created = found, False
        else:
            details, created = links.create_or_find(
                target.merchant_id, mode=target.mode, **row.fields
            )
    except ReferenceReusedError as error:
        refused = RowError(error.type, error.field, error.message, link_id=error.link_id)
        return RowResult(row.row, row.reference_id, "error", link_id=error.link_id, error=refused)
    except DomainError as error:
        refused = RowError(error.type, error.field, error.message)
        return RowResult(row.row, row.reference_id, "error", error=refused)
    sends: dict[str, str] = {
        channel: _send(target, details, channel, created, gate) for channel in row.channels
    }
    return RowResult(
        row.row,
        row.reference_id,
        "created" if created else "existing",
        link_id=str(details.id),
        url=f"{target.base_url}/l/{details.path}",
        sends=sends,
    )


def _send(
    target: BatchTarget,
    details: LinkDetails,
    channel: Channel,
    created: bool,
    gate: threading.Semaphore,
) -> str:
    """One channel's outcome: sent, failed: why, no-contact, not-configured, skipped-existing."""
    if not created:
        return "skipped-existing"
    customer = details.customer
    to = None if customer is None else customer.email if channel == "email" else customer.phone
    if not to:
        return "no-contact"
    if target.sender is None:
        return "not-configured"
    with gate:
        try:
            target.sender.send(details, channel, to, target.language)
        except DeliveryFailedError as error:
            return f"failed: {error.reason}"
        except ChannelNotConfiguredError:
            return "not-configured"
        except DomainError as error:
            return f"failed: {error.message}"
    return "sent"


# -- the result file -----------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """How many rows came to what."""

    rows: int
    created: int
    existing: int
    errors: int

    @classmethod
    def of(cls, results: Iterable[RowResult]) -> Summary:
        """Count the results by status."""
        counts = {"created": 0, "existing": 0, "error": 0}
        for result in results:
            counts[result.status] += 1
        total = sum(counts.values())
        return cls(total, counts["created"], counts["existing"], counts["error"])

    def headers(self) -> dict[str, str]:
        """The counts as response headers."""
        return {
            "Paylink-Batch-Rows": str(self.rows),
            "Paylink-Batch-Created": str(self.created),
            "Paylink-Batch-Existing": str(self.existing),
            "Paylink-Batch-Errors": str(self.errors),
        }


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: text a spreadsheet would run as a formula is quoted
    (as the dashboard's exports do)."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def result_csv(results: Iterable[RowResult], chunk: int = 1_000) -> Iterator[str]:
    """The result file as CSV text, in chunks of rows (the header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RESULT_COLUMNS)
    for number, result in enumerate(results, start=1):
        writer.writerow([_cell(value) for value in result.as_dict().values()])
        if number % chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def result_file(results: list[RowResult], kind: Format) -> bytes:
    """The whole result file: CSV with a header, or one JSON object per line."""
    if kind == "csv":
        return "".join(result_csv(results)).encode()
    return b"".join(orjson.dumps(result.as_dict()) + b"\n" for result in results)


def upload_limits(settings: Settings) -> dict[str, int]:
    """The largest bodies of the bulk uploads (the request middleware's ``larger_bodies``)."""
    return {
        API_PATH: settings.batch_max_bytes,
        DASHBOARD_PATH: settings.batch_max_bytes + FORM_OVERHEAD,
    }


def template_csv(expires_at: str) -> str:
    """The CSV template: the header and one example row (expiring at ``expires_at``)."""
    example = {
        "reference_id": "INV-2026-0042",
        "description": "Kaos polos hitam",
        "amount": "150000",
        "currency": "IDR",
        "methods": "va_bca|va_bri|qris",
        "expires_at": expires_at,
        "usage_limit": "1",
        "customer_name": "Budi",
        "customer_email": "budi@example.com",
        "customer_phone": "+628123456789",
        "send_email": "true",
        "send_whatsapp": "false",
        "send_sms": "false",
        "ask_name": "required",
        "ask_phone": "optional",
    }
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerow([example.get(column, "") for column in COLUMNS])
    return buffer.getvalue()
