"""Settings: which alerts the merchant gets by e-mail, the reminders its links take by
default, and what its links paid in part do at their expiry (owners change them; viewers
see them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.dashboard.forms import error_text, split_list
from api.dashboard.render import render, said_notice, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import OwnerFormDep, Staff, StaffDep
from api.deps import get_paylink
from paylink_es.domain.alerts import ALERTS, MAX_WEBHOOK_FAILURES
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.reminders import written

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
PAGE = "/dashboard/settings/messages"
NOTICES = ("alerts_saved", "reminders_saved")
PARTIAL_PAGE = "/dashboard/settings/partial"
PARTIAL_POLICIES = ("expire", "keep_open")


def _page(
    request: Request,
    staff: Staff,
    *,
    status: int = 200,
    alerts: dict[str, Any] | None = None,
    reminders: str | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    settings = get_paylink(request).messages.settings(staff.merchant_id)
    return render(
        request,
        "messages.html",
        staff,
        status=status,
        title=words(request)["messages_title"],
        kinds=ALERTS,
        alerts=alerts if alerts is not None else settings.alerts.to_dict(),
        address=settings.address,
        reminders=(
            reminders
            if reminders is not None
            else ", ".join(written(before) for before in settings.reminders)
        ),
        errors=errors or {},
        notice=said_notice(request, NOTICES),
    )


@router.get(PAGE)
def message_settings(request: Request, staff: StaffDep) -> Response:
    """The alerts and default reminders of the signed-in user's merchant."""
    return _page(request, staff)


@router.post("/dashboard/settings/alerts")
async def save_alerts(request: Request, staff: OwnerFormDep) -> Response:
    """Replace the alert settings; a wrong value comes back beside its input."""
    form = await request.form()
    typed = {name: str(form.get(name, "")).strip() for name in ("webhook_failures", "email")}
    given: dict[str, Any] = {kind: form.get(kind) == "on" for kind in ALERTS}
    given["language"] = "en" if form.get("language") == "en" else "id"
    given["email"] = typed["email"] or None
    failures = typed["webhook_failures"]
    shown = {**given, "webhook_failures": failures}

    async def refused(name: str, message: str) -> Response:
        """The page again, the typed values kept and the message beside the input."""
        errors = {name: message}
        return await run_in_threadpool(
            _page, request, staff, status=422, alerts=shown, errors=errors
        )

    if not failures.isdigit() or not 1 <= int(failures) <= MAX_WEBHOOK_FAILURES:
        return await refused("webhook_failures", words(request)["must_be_whole"])
    given["webhook_failures"] = int(failures)
    try:
        await run_in_threadpool(get_paylink(request).messages.set_alerts, staff.merchant_id, given)
    except InvalidFieldError as error:
        return await refused(error.field or "form", error_text(error, words(request)))
    return RedirectResponse(f"{PAGE}?notice=alerts_saved", 303)


@router.post("/dashboard/settings/reminders")
async def save_reminders(request: Request, staff: OwnerFormDep) -> Response:
    """Replace the default reminders (``24h, 1h``; empty: none)."""
    typed = str((await request.form()).get("reminders", "")).strip()
    try:
        await run_in_threadpool(
            get_paylink(request).messages.set_reminders, staff.merchant_id, split_list(typed)
        )
    except InvalidFieldError as error:
        errors = {"reminders": error_text(error, words(request))}
        return await run_in_threadpool(
            _page, request, staff, status=422, reminders=typed, errors=errors
        )
    return RedirectResponse(f"{PAGE}?notice=reminders_saved", 303)


def _partial_page(
    request: Request, staff: Staff, *, status: int = 200, error: str | None = None
) -> Response:
    return render(
        request,
        "partial_settings.html",
        staff,
        status=status,
        title=words(request)["partial_settings_title"],
        policies=PARTIAL_POLICIES,
        policy=get_paylink(request).merchants.partial_expiry(staff.merchant_id),
        error=error,
        notice=said_notice(request, ("partial_saved",)),
    )


@router.get(PARTIAL_PAGE)
def partial_settings(request: Request, staff: StaffDep) -> Response:
    """What the merchant's links paid in part do at their expiry, unless a link says."""
    return _partial_page(request, staff)


@router.post(PARTIAL_PAGE)
async def save_partial(request: Request, staff: OwnerFormDep) -> Response:
    """Set the policy for links created from now on (links made before keep theirs)."""
    chosen = str((await request.form()).get("partial_expiry", ""))
    try:
        await run_in_threadpool(
            get_paylink(request).merchants.set_partial_expiry, staff.merchant_id, chosen
        )
    except InvalidFieldError as error:
        message = error_text(error, words(request))
        return await run_in_threadpool(_partial_page, request, staff, status=422, error=message)
    return RedirectResponse(f"{PARTIAL_PAGE}?notice=partial_saved", 303)
