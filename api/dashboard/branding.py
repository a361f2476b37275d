"""The brand customers see: display name, brand colour (with a preview of the page's
button) and logo. Everyone signed in sees it; owners change it, and each change names
the signed-in user as who made it. Refusals are said in the dashboard's language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from api.dashboard.render import render, said_error, said_notice, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import OwnerFormDep, Staff, StaffDep
from api.deps import get_paylink
from api.routes.branding import DASHBOARD_LOGO_PATH, FORM_OVERHEAD
from paylink_es.domain.branding import DEFAULT_COLOR
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.logo import LOGO_MAX_BYTES

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
PAGE = "/dashboard/branding"
NOTICES = ("branding_saved", "logo_saved", "logo_removed")


def refusal(request: Request, error: InvalidFieldError) -> str:
    """What the domain refused, in the dashboard's language (by its type when the catalogue
    has no words for its kind)."""
    template = words(request).get(f"{error.field}_{error.kind}")
    return said_error(request, error) if template is None else template.format(**error.params)


def _page(
    request: Request,
    staff: Staff,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    branding = get_paylink(request).merchants.branding(staff.merchant_id)
    brand = branding.brand
    return render(
        request,
        "branding.html",
        staff,
        status=status,
        title=words(request)["branding_title"],
        branding=branding,
        brand=brand,
        form=form or {"display_name": brand.display_name or "", "brand_color": brand.color or ""},
        errors=errors or {},
        default_color=DEFAULT_COLOR,
        notice=said_notice(request, NOTICES),
    )


def _refused(request: Request, staff: Staff, error: InvalidFieldError, **form: Any) -> Response:
    errors = {error.field or "form": refusal(request, error)}
    return _page(request, staff, status=422, form=form or None, errors=errors)


@router.get(PAGE)
def branding_page(request: Request, staff: StaffDep) -> Response:
    """The brand as customers see it now, and (for owners) the forms that change it."""
    return _page(request, staff)


@router.post(PAGE)
def save_branding(
    request: Request,
    staff: OwnerFormDep,
    display_name: Annotated[str, Form(max_length=1000)] = "",
    brand_color: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Set the display name and colour (an empty field: the default)."""
    try:
        get_paylink(request).merchants.set_branding(
            staff.merchant_id,
            display_name.strip() or None,
            brand_color.strip() or None,
            staff.user.email,
        )
    except InvalidFieldError as error:
        return _refused(request, staff, error, display_name=display_name, brand_color=brand_color)
    return RedirectResponse(f"{PAGE}?notice=branding_saved", 303)


@router.post(DASHBOARD_LOGO_PATH)
def upload_logo(
    request: Request,
    staff: OwnerFormDep,
    logo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Show a new logo: the server's own PNG of the file (checked by its content)."""
    data = logo.file.read(LOGO_MAX_BYTES + FORM_OVERHEAD) if logo is not None else b""
    try:
        get_paylink(request).merchants.set_logo(staff.merchant_id, data, staff.user.email)
    except InvalidFieldError as error:
        return _refused(request, staff, error)
    return RedirectResponse(f"{PAGE}?notice=logo_saved", 303)


@router.post(f"{DASHBOARD_LOGO_PATH}/delete")
def remove_logo(request: Request, staff: OwnerFormDep) -> Response:
    """Show the name alone again."""
    get_paylink(request).merchants.remove_logo(staff.merchant_id, staff.user.email)
    return RedirectResponse(f"{PAGE}?notice=logo_removed", 303)
