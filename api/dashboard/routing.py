"""The dashboard's route class: sign-in redirects and error pages instead of problem JSON.

The app answers errors as problem+json for the API; a person in a browser gets a page.
Every dashboard route is built with :class:`DashboardRoute`, which turns the
dashboard's own exceptions (and domain errors nobody caught) into pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.dashboard.render import render, said_error
from api.dashboard.session import (
    ForbiddenError,
    PageNotFoundError,
    SignInRequiredError,
    load_staff,
)
from api.problems import field_path, status_for
from paylink_es.domain.errors import DomainError
from projections.queries.paging import QueryError

log = logging.getLogger("paylink.dashboard")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# Paths a script reads (stream, exports): no redirect to a page, a plain status instead.
MACHINE_PATHS = ("/dashboard/stream", "/dashboard/exports/")


def error_page(request: Request, status: int, key: str, detail: str | None = None) -> Response:
    """A page saying what went wrong, in the user's language, with the right status."""
    staff = getattr(request.state, "staff", None) or load_staff(request)
    return render(
        request, "error.html", staff, status=status, key=key, detail=detail, status_code=status
    )


def _validation_messages(error: RequestValidationError) -> list[str]:
    """``field: message`` for each parameter the request got wrong."""
    messages = []
    for problem in error.errors():
        where = field_path(problem.get("loc", ()), "form")
        messages.append(f"{where}: {problem.get('msg', 'invalid')}")
    return messages


class DashboardRoute(APIRoute):
    """An APIRoute whose errors become dashboard pages."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequiredError:
                if request.url.path.startswith(MACHINE_PATHS):
                    return Response("sign in first", status_code=401, media_type="text/plain")
                target = request.url.path
                if request.method == "GET" and request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse(f"/dashboard/login?next={quote(target, safe='')}", 303)
            except ForbiddenError as error:
                return await run_in_threadpool(error_page, request, 403, error.reason)
            except PageNotFoundError:
                return await run_in_threadpool(error_page, request, 404, "not_found")
            except QueryError as error:
                return await run_in_threadpool(error_page, request, 400, "bad_input", str(error))
            except RequestValidationError as error:
                detail = "; ".join(_validation_messages(error))
                return await run_in_threadpool(error_page, request, 422, "bad_input", detail)
            except DomainError as error:
                status = status_for(error)
                return await run_in_threadpool(
                    error_page, request, status, "bad_input", said_error(request, error)
                )

        return route_handler
