"""The merchant's brand on the customer's side: ``/v1/account/branding`` and its logo.

Display name and brand colour are set together (``PUT``); the logo is a resource of its
own (``PUT`` an image, ``DELETE`` it). Every change is an event on the merchant naming
the API key that made it. Logos are served to everyone at ``/brand/logos/{sha256}.png``:
the PNG the server made from the upload, never the upload itself, under a URL that
changes with the content (so it is cached for good).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from api.auth import Owner
from api.deps import PaylinkDep, public_url
from api.schemas import COMMON_PROBLEMS
from paylink_es.application.merchants import BrandingDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.branding import DISPLAY_NAME_MAX, LOGO_PATH, MIN_CONTRAST
from paylink_es.domain.logo import LOGO_DISPLAY_SIDE, LOGO_MAX_BYTES, LOGO_MAX_SIDE, LOGO_MIN_SIDE

router = APIRouter(tags=["branding"], responses=COMMON_PROBLEMS)
public_router = APIRouter(include_in_schema=False)

API_LOGO_PATH: Final = "/v1/account/branding/logo"
DASHBOARD_LOGO_PATH: Final = "/dashboard/branding/logo"
FORM_OVERHEAD: Final = 64 * 1024  # a form around the image: token, boundaries, headers
LOGO_HEADERS: Final = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}


def logo_upload_limits() -> dict[str, int]:
    """The largest bodies of the logo uploads (the request middleware's ``larger_bodies``):
    the image's limit and a form around it; the route says when the image is too heavy."""
    return dict.fromkeys((API_LOGO_PATH, DASHBOARD_LOGO_PATH), LOGO_MAX_BYTES + FORM_OVERHEAD)


async def uploaded_image(request: Request, field: str = "logo") -> bytes:
    """The image a request carries: the file ``field`` of a multipart form, or else the
    body itself. What it is, is judged from its bytes alone (never the Content-Type or
    the file's name); an empty answer means no image was sent."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get(field)
            if not isinstance(upload, UploadFile):
                return b""
            return await upload.read(LOGO_MAX_BYTES + FORM_OVERHEAD)
    return await request.body()


class BrandingIn(BaseModel):
    """The name and colour customers see (``null``: the default)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"display_name": "Kopi Senja", "brand_color": "#7a1f5c"}]},
    )
    display_name: str | None = Field(
        default=None,
        description=f"Shown instead of the registered name on the page, the receipt and "
        f"e-mails: 1-{DISPLAY_NAME_MAX} characters on one line (trimmed); null: the "
        "registered name",
    )
    brand_color: str | None = Field(
        default=None,
        description=f"`#RRGGBB` of the page's buttons and accent; white text on it must "
        f"reach a WCAG 2.x contrast of {MIN_CONTRAST}:1 (a refusal gives the ratio); null: "
        "the platform's colour",
    )


class LogoOut(BaseModel):
    """The logo as served: a PNG the server made from the upload."""

    url: str = Field(description="Where it is served; the path holds the PNG's SHA-256")
    sha256: str
    width: int
    height: int
    content_type: Literal["image/png"] = "image/png"


class BrandingOut(BaseModel):
    """The merchant's brand."""

    object: Literal["branding"] = "branding"
    display_name: str | None
    brand_color: str | None
    logo: LogoOut | None
    shown_name: str = Field(description="The name customers see now")


def branding_out(details: BrandingDetails, base_url: str) -> BrandingOut:
    """The API's view of a merchant's brand (the logo's URL under ``base_url``)."""
    brand, logo = details.brand, details.brand.logo
    return BrandingOut(
        display_name=brand.display_name,
        brand_color=brand.color,
        logo=None
        if logo is None
        else LogoOut(
            url=f"{base_url}{logo.path}", sha256=logo.sha256, width=logo.width, height=logo.height
        ),
        shown_name=details.shown_name,
    )


@router.get("/v1/account/branding", response_model=BrandingOut, summary="The brand customers see")
def get_branding(request: Request, owner: Owner, paylink: PaylinkDep) -> BrandingOut:
    """Display name, brand colour and logo, as the hosted page, receipt and e-mails show
    them (the same for test and live)."""
    return branding_out(paylink.merchants.branding(owner.merchant_id), public_url(request))


@router.put(
    "/v1/account/branding",
    response_model=BrandingOut,
    summary="Set the display name and brand colour",
)
def set_branding(
    body: BrandingIn, request: Request, owner: Owner, paylink: PaylinkDep
) -> BrandingOut:
    """Both are set as sent (one not sent, or null, goes back to the default); the same
    values again record nothing. A refusal is `422 branding-invalid` naming the field:
    `brand_color: white text on #ffcc00 has a contrast of 1.51:1; the minimum is 4.5:1`."""
    details = paylink.merchants.set_branding(
        owner.merchant_id, body.display_name, body.brand_color, str(owner.key_id)
    )
    return branding_out(details, public_url(request))


LOGO_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        f"A PNG or JPEG of at most {LOGO_MAX_BYTES // 1024:,} KiB and "
        f"{LOGO_MIN_SIDE}..{LOGO_MAX_SIDE} px a side, as the body itself or as the file "
        "`logo` of a form. What it is, is read from its content (the Content-Type and the "
        "file's name are not trusted); SVG, GIF, WebP and animated PNGs are refused. The "
        f"server makes its own PNG of it (upright, metadata dropped, fitted into "
        f"{LOGO_DISPLAY_SIDE}x{LOGO_DISPLAY_SIDE}) and serves only that. A refusal is "
        "`422 branding-invalid` naming `logo` (`logo: must be PNG or JPEG`, `logo: "
        "20000x20000 px is larger than 2048x2048`, …); a body far over the limit is `413`."
    ),
    "content": {
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"logo": {"type": "string", "format": "binary"}},
                "required": ["logo"],
            }
        },
    },
}


@router.put(
    API_LOGO_PATH,
    response_model=BrandingOut,
    summary="Upload the logo",
    openapi_extra={"requestBody": LOGO_BODY},
)
async def set_logo(request: Request, owner: Owner, paylink: PaylinkDep) -> BrandingOut:
    """The logo shown on the page, the receipt and e-mails from now on; its URL (and
    SHA-256) is in the answer. The same image again records nothing."""
    image = await uploaded_image(request)
    details = await run_in_threadpool(
        paylink.merchants.set_logo, owner.merchant_id, image, str(owner.key_id)
    )
    return branding_out(details, public_url(request))


@router.delete(API_LOGO_PATH, response_model=BrandingOut, summary="Remove the logo")
def remove_logo(request: Request, owner: Owner, paylink: PaylinkDep) -> BrandingOut:
    """Customers see the name alone again (without a logo this records nothing)."""
    details = paylink.merchants.remove_logo(owner.merchant_id, str(owner.key_id))
    return branding_out(details, public_url(request))


@public_router.api_route(LOGO_PATH, methods=["GET", "HEAD"])
def logo_image(sha256: str, request: Request) -> Response:
    """A logo's PNG, by its SHA-256: the same bytes for ever (cached for a year)."""
    paylink: Paylink = request.app.state.paylink
    png = paylink.merchants.logo_png(sha256)
    if png is None:
        return Response(status_code=404, headers={"X-Content-Type-Options": "nosniff"})
    etag = f'"{sha256}"'
    headers = {**LOGO_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(png, media_type="image/png", headers=headers)
