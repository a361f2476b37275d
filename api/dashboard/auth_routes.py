"""Signing in and out, switching between test and live, and the dashboard's static files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse

from api.dashboard.render import render, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import (
    MODES,
    FormDep,
    LoginFormDep,
    PageNotFoundError,
    clear_session,
    load_staff,
    login_token,
    new_session,
    set_login_cookie,
    set_session,
    users,
    with_mode,
)
from paylink_es.domain.users import AccountLockedError, SignInFailedError
from paylink_es.locale import format_instant

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}


def safe_next(target: str) -> str:
    """Where to go after signing in: a dashboard path only, never another site."""
    if target.startswith("/dashboard") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


def _login_page(
    request: Request, next_path: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    page = render(
        request,
        "login.html",
        None,
        status=status,
        title=words(request)["sign_in_title"],
        login_csrf=login_token(request),
        next=safe_next(next_path),
        email=email,
        error=error,
    )
    set_login_cookie(request, page)
    return page


@router.get("/dashboard/login")
def login_page(
    request: Request, next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/dashboard"
) -> Response:
    """The sign-in form (a signed-in user goes straight on)."""
    if load_staff(request) is not None:
        return RedirectResponse(safe_next(next_path), 303)
    return _login_page(request, next_path)


@router.post("/dashboard/login")
async def login(
    request: Request,
    _: LoginFormDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/dashboard",
) -> Response:
    """Check the password (argon2, off the event loop); start a session or say why not."""
    t = words(request)
    try:
        user = await run_in_threadpool(users(request).sign_in, email, password)
    except AccountLockedError as error:
        message = t["account_locked"].format(until=format_instant(error.until, style="short"))
        return _login_page(request, next_path, email, message, status=429)
    except SignInFailedError:
        return _login_page(request, next_path, email, t["sign_in_failed"], status=401)
    response = RedirectResponse(safe_next(next_path), 303)
    set_session(request, response, new_session(request, user))
    return response


@router.post("/dashboard/logout")
def logout(request: Request, staff: FormDep) -> Response:
    """End every session of this user (sign-out is an event), then show the sign-in form."""
    users(request).sign_out(staff.user.id)
    response = RedirectResponse("/dashboard/login", 303)
    clear_session(request, response)
    return response


@router.post("/dashboard/mode")
def switch_mode(
    request: Request,
    staff: FormDep,
    mode: Annotated[str, Form()] = "test",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/dashboard",
) -> Response:
    """Look at test or live data (the same session, signed anew)."""
    response = RedirectResponse(safe_next(next_path), 303)
    set_session(request, response, with_mode(staff, mode if mode in MODES else "test"))
    return response


@router.get("/dashboard/static/{name}")
def static_file(name: str) -> Response:
    """The stylesheet and the script (only files that ship in api/static)."""
    path = STATIC / name
    media = STATIC_TYPES.get(path.suffix)
    if media is None or path.parent != STATIC or not path.is_file():
        raise PageNotFoundError
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=300"})
