"""Dashboard sessions: a signed cookie, checked against the User aggregate on every request.

The cookie holds ``[user id, mode, nonce, session epoch, issued at]`` sealed by
:class:`paylink_es.signing.Signer` (HMAC-SHA256 under a key derived from
``settings.secret_key`` or ``var/secret.key``), which refuses it once older than
``SESSION_TTL``. Nothing else is kept on the server: the user's ``session_epoch``
(bumped by sign-out and password change) ends every older cookie. CSRF tokens are
tokens of the session's nonce; the sign-in form, which has no session yet, uses a
pre-session cookie's nonce instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.pages import cookie_nonce, signer
from paylink_es.application.services import Paylink
from paylink_es.application.users import UserDetails, UserService
from paylink_es.bootstrap import Services
from paylink_es.settings import Settings

SESSION_COOKIE = "pl_dash"
LOGIN_COOKIE = "pl_dash_login"
COOKIE_PATH = "/dashboard"
SESSION_TTL = timedelta(hours=12)
MODES = ("test", "live")


class SignInRequiredError(Exception):
    """No valid session: the browser goes to the sign-in page (an API-like path gets 401)."""


class ForbiddenError(Exception):
    """The request may not do this: a bad CSRF token, or a viewer asking for an owner action."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # an i18n key: csrf_failed or owner_only


class PageNotFoundError(Exception):
    """Nothing of this merchant's at this address (another merchant's thing included)."""


@dataclass(frozen=True)
class Staff:
    """The signed-in user, the mode they are looking at, and this session's nonce."""

    user: UserDetails
    mode: str
    nonce: str
    issued: int

    @property
    def merchant_id(self) -> UUID:
        """The only merchant whose data this session may see."""
        return self.user.merchant_id

    @property
    def is_owner(self) -> bool:
        """Owners may create and change; viewers only look."""
        return self.user.role == "owner"


def users(request: Request) -> UserService:
    """The user services this app was built with."""
    services: Services = request.app.state.services
    return services.paylink.users


def cookie_of(request: Request, staff: Staff) -> str:
    """The signed cookie value of a session."""
    values: list[str | int] = [
        str(staff.user.id),
        staff.mode,
        staff.nonce,
        staff.user.session_epoch,
    ]
    return signer(request, "dashboard:session").seal(values, staff.issued)


def _parse(request: Request, value: str) -> tuple[str, str, str, int, int] | None:
    """The cookie's user id, mode, nonce, epoch and issue time, if ours and not expired."""
    opened = signer(request, "dashboard:session").unseal(
        value, now=_now_s(request), max_age_s=SESSION_TTL.total_seconds()
    )
    if opened is None:
        return None
    values, issued = opened
    match values:
        case [str(user), str(mode), str(nonce), int(epoch)] if type(epoch) is int:
            return user, mode, nonce, epoch, issued
    return None


def _now_s(request: Request) -> int:
    paylink: Paylink = request.app.state.paylink
    return int(paylink.now().timestamp())


def load_staff(request: Request) -> Staff | None:
    """The session of this request, if its cookie is valid and its user still signed in."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    parts = _parse(request, value)
    if parts is None:
        return None
    user_text, mode, nonce, epoch, issued = parts
    if mode not in MODES:
        return None
    try:
        user_id = UUID(user_text)
    except ValueError:
        return None
    user = users(request).user(user_id)
    if user is None or user.session_epoch != epoch:
        return None
    return Staff(user=user, mode=mode, nonce=nonce, issued=issued)


def current_staff(request: Request) -> Staff:
    """The signed-in user (dependency); raises :class:`SignInRequiredError` without one."""
    staff = load_staff(request)
    if staff is None:
        raise SignInRequiredError
    request.state.staff = staff
    return staff


def new_session(request: Request, user: UserDetails, mode: str = "test") -> Staff:
    """A fresh session (new nonce, so new CSRF tokens) for a user who just signed in."""
    return Staff(user=user, mode=mode, nonce=secrets.token_urlsafe(18), issued=_now_s(request))


def with_mode(staff: Staff, mode: str) -> Staff:
    """The same session looking at the other mode."""
    return replace(staff, mode=mode)


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.environment != "development"


def set_session(request: Request, response: Response, staff: Staff) -> None:
    """Put the session cookie on a response: HttpOnly, SameSite=Lax, Secure outside dev."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie_of(request, staff),
        max_age=int(SESSION_TTL.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def clear_session(request: Request, response: Response) -> None:
    """Take the session cookie off the browser."""
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=_secure(request)
    )


# -- CSRF ----------------------------------------------------------------------------


def csrf_token(request: Request, staff: Staff) -> str:
    """The token every form of this session carries."""
    return signer(request, "dashboard:csrf").token(staff.nonce)


def login_nonce(request: Request) -> str:
    """The pre-session nonce of the sign-in form (set as a cookie by the sign-in page)."""
    return cookie_nonce(request, LOGIN_COOKIE, 18)


def login_token(request: Request) -> str:
    """The CSRF token of the sign-in form."""
    return signer(request, "dashboard:login").token(login_nonce(request))


def set_login_cookie(request: Request, response: Response) -> None:
    """Keep the sign-in form's nonce in the browser (only the dashboard sees it)."""
    response.set_cookie(
        LOGIN_COOKIE,
        login_nonce(request),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


async def _form_token(request: Request) -> str:
    form = await request.form()  # parsed once: the route's Form() fields reuse it
    token = form.get("csrf")
    return token if isinstance(token, str) else ""


async def checked_form(request: Request) -> Staff:
    """A signed-in user's POST with the right CSRF token (dependency)."""
    staff = await run_in_threadpool(current_staff, request)
    if not signer(request, "dashboard:csrf").token_ok(staff.nonce, await _form_token(request)):
        raise ForbiddenError("csrf_failed")
    return staff


async def owner_form(request: Request) -> Staff:
    """Like :func:`checked_form`, and only for owners (dependency)."""
    staff = await checked_form(request)
    if not staff.is_owner:
        raise ForbiddenError("owner_only")
    return staff


async def checked_login_form(request: Request) -> None:
    """The sign-in form carries the token its page was given (dependency)."""
    given = await _form_token(request)
    if LOGIN_COOKIE not in request.cookies or not signer(request, "dashboard:login").token_ok(
        login_nonce(request), given
    ):
        raise ForbiddenError("csrf_failed")


StaffDep = Annotated[Staff, Depends(current_staff)]
FormDep = Annotated[Staff, Depends(checked_form)]
OwnerFormDep = Annotated[Staff, Depends(owner_form)]
LoginFormDep = Annotated[None, Depends(checked_login_form)]
