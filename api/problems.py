"""Errors as RFC 9457 problem documents, with a stable ``type`` per error."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from paylink_es.domain.errors import (
    ApiKeyInvalidError,
    ConcurrencyConflictError,
    DomainError,
    InvalidFieldError,
    NotFoundError,
    TransitionInvalidError,
)
from paylink_es.store.postgres import DatabaseUnavailableError, is_outage
from projections.queries.paging import QueryError

log = logging.getLogger("paylink.api")
PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}
# What FastAPI says (400) when it cannot decode a request body at all.
BODY_PARSE_FAILED = "There was an error parsing the body"
# A client told the database is unavailable tries again after this many seconds.
RETRY_AFTER_S = 2
UNAVAILABLE = "database-unavailable"
UNAVAILABLE_DETAIL = (
    "the database cannot be reached right now; retry in a few seconds"
    " (a POST with the same Idempotency-Key)"
)
# Errors that may say the database is unavailable (``unavailable_problem`` decides).
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseUnavailableError,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    sqlite3.OperationalError,
)


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def problem_body(
    status: int,
    slug: str,
    detail: str,
    request_id: str | None,
    field: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem document for an error."""
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if request_id is not None:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem(
    request: Request,
    status: int,
    slug: str,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response carrying the request id."""
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(
        problem_body(status, slug, detail, request_id, field, **extra),
        status_code=status,
        media_type=PROBLEM,
        headers=headers,
    )


def error_document(error: DomainError | ProblemError, request_id: str | None) -> tuple[int, bytes]:
    """Status and problem+json bytes of an error, for answers built outside FastAPI's
    handlers (idempotent requests, the direct path of ``POST /v1/links``)."""
    if isinstance(error, DomainError):
        status = status_for(error)
        return status, orjson.dumps(
            problem_body(status, error.type, error.message, request_id, error.field)
        )
    return error.status, orjson.dumps(
        problem_body(error.status, error.slug, error.detail, request_id, error.field)
    )


def unavailable_problem(error: BaseException) -> ProblemError | None:
    """The 503 problem for an error that says the database is unavailable (a connection
    that cannot be had or broke, a statement that timed out, SQLite locked); else None.

    For answers built outside FastAPI's handlers: ``error_document(problem, request_id)``
    gives its bytes, and ``problem.headers`` its ``Retry-After``.
    """
    if not is_outage(error):
        return None
    return ProblemError(
        503, UNAVAILABLE, UNAVAILABLE_DETAIL, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


def status_for(error: DomainError) -> int:
    """The HTTP status of a domain error."""
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ApiKeyInvalidError):
        return 401
    if isinstance(error, TransitionInvalidError | ConcurrencyConflictError):
        return 409
    return 422


def field_path(location: Sequence[Any], empty: str = "body") -> str:
    """Where a validation error is, written as the domain names fields: ``line_items[0].name``,
    ``custom_fields[1].options`` (a list's index in brackets); ``empty`` when nowhere."""
    path = ""
    for part in location:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or empty


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route serves at this path (included routers looked into)."""
    allowed: set[str] = set()
    pending = list(request.app.router.routes)
    while pending:
        route = pending.pop()
        inner = getattr(route, "original_router", None)
        if inner is not None:
            pending.extend(inner.routes)
            continue
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            allowed |= set(getattr(route, "methods", None) or ())
    return allowed


def install(app: FastAPI) -> None:
    """Answer every error as problem+json; never a stack trace."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem(
            request,
            error.status,
            error.slug,
            error.detail,
            field=error.field,
            headers=error.headers,
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        field = error.field if isinstance(error, InvalidFieldError) or error.field else None
        return problem(request, status_for(error), error.type, error.message, field=field)

    @app.exception_handler(QueryError)
    async def _query(request: Request, error: QueryError) -> JSONResponse:
        return problem(request, 422, "invalid-query", str(error), field=error.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": "body"
                if e.get("type") == "json_invalid"
                else field_path(e.get("loc", ())),
                "message": str(e.get("msg", "")),
            }
            for e in error.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return problem(
            request,
            422,
            "validation-error",
            f"{first['field']}: {first['message']}",
            field=first["field"],
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and error.detail == BODY_PARSE_FAILED:
            # FastAPI's answer to a body it cannot decode (not UTF-8): the same 422 as for
            # malformed JSON, which is what the OpenAPI document declares.
            message = "the body is not valid JSON text (it must be UTF-8)"
            return problem(
                request,
                422,
                "validation-error",
                f"body: {message}",
                field="body",
                errors=[{"field": "body", "message": message}],
            )
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # A path can be served by several routes (GET and POST /v1/links): allow them all.
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        return problem(request, error.status_code, slug, str(error.detail), headers=headers)

    async def _storage(request: Request, error: Exception) -> JSONResponse:
        unavailable = unavailable_problem(error)
        if unavailable is None:
            return _internal(request, error)
        log.warning(
            "request %s: database unavailable: %s",
            getattr(request.state, "request_id", None),
            error,
        )
        return await _problem(request, unavailable)

    for storage_error in STORAGE_ERRORS:
        app.add_exception_handler(storage_error, _storage)

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> JSONResponse:
        unavailable = unavailable_problem(error)  # wrapped in another error on its way
        if unavailable is not None:
            return await _problem(request, unavailable)
        return _internal(request, error)


def _internal(request: Request, error: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.error("request %s failed", request_id, exc_info=error)
    return problem(
        request,
        500,
        "internal-error",
        "something went wrong on our side; quote the request id to support",
        headers={"X-Request-Id": request_id or ""},
    )
