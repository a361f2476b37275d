"""Rendering dashboard pages: one template set, the user's language, strict headers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.dashboard.session import Staff, csrf_token
from api.pages import LANG_COOKIE, language
from api.routes.payments import payer_of
from paylink_es.domain.errors import DomainError
from paylink_es.domain.fields import CUSTOMER_PARTS
from paylink_es.domain.methods import PAYMENT_METHODS
from paylink_es.locale import (
    DASHBOARD_TEXT,
    LANGUAGES,
    Language,
    error_message,
    format_instant,
    format_link_amount,
    format_money,
    other_language,
    status_label,
)
from projections.queries.links import amount_due
from projections.queries.payments import PaymentRow
from projections.readmodel import from_iso

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # No inline script or style: everything comes from /dashboard/static.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'",
}
NAV = (
    ("overview", "/dashboard"),
    ("links", "/dashboard/links"),
    ("payments", "/dashboard/payments"),
    ("settlements", "/dashboard/settlements"),
    ("webhooks", "/dashboard/webhooks"),
    ("keys", "/dashboard/keys"),
    ("branding", "/dashboard/branding"),
    ("messages", "/dashboard/settings/messages"),
    ("partial", "/dashboard/settings/partial"),
    ("audit", "/dashboard/audit"),
)


def dashboard_templates() -> Jinja2Templates:
    """The dashboard's templates: a missing word or variable is an error, not a blank."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined
    )
    built = Jinja2Templates(env=env)
    built.env.filters["when"] = when
    return built


def templates(request: Request) -> Jinja2Templates:
    """This app's dashboard templates (built once by the app factory)."""
    built: Jinja2Templates = request.app.state.dashboard_templates
    return built


def when(value: str | datetime | None) -> str:
    """A stored instant (ISO text or datetime) as people in Jakarta read it."""
    if value is None or value == "":
        return "—"
    instant = from_iso(value) if isinstance(value, str) else value
    return format_instant(instant, style="seconds")


def brief(value: str, language: Language) -> str:
    """A stored instant as the timeline shows it: ``5 Des 2026 14.03 WIB``."""
    return format_instant(from_iso(value), language, style="brief")


def method_label(code: str) -> str:
    """A method's name (the code itself if the catalogue does not know it)."""
    entry = PAYMENT_METHODS.get(code)
    return entry[1] if entry else code


def payer_lines(row: PaymentRow) -> list[str]:
    """What the payer entered, a line each: the customer details, then ``key: value`` of
    each custom field."""
    customer, custom = payer_of(row)
    details = [getattr(customer, part) for part in CUSTOMER_PARTS] if customer else []
    return [text for text in details if text] + [f"{key}: {value}" for key, value in custom.items()]


def words(request: Request) -> dict[str, str]:
    """The dashboard's words in the request's language."""
    return DASHBOARD_TEXT[language(request)]


def said_notice(request: Request, known: tuple[str, ...]) -> str | None:
    """What the page after a change says it did: ``?notice=`` if it is one of ``known``
    (a redirect names it), in the request's language; anything else says nothing."""
    key = request.query_params.get("notice", "")
    return words(request)[key] if key in known else None


def said_error(request: Request, error: DomainError) -> str:
    """A domain error as the dashboard says it, in the request's language."""
    return error_message(language(request), error)


def context(request: Request, staff: Staff | None, **extra: Any) -> dict[str, Any]:
    """What every dashboard template may use."""
    lang = language(request)
    t = DASHBOARD_TEXT[lang]

    def link_amount(link: Mapping[str, Any]) -> str:
        return format_link_amount(
            link["amount"], link["amount_min"], link["amount_max"], link["currency"], lang, t
        )

    return {
        "t": t,
        "lang": lang,
        "other_lang": other_language(lang),
        "staff": staff,
        "csrf": csrf_token(request, staff) if staff is not None else "",
        "nav": NAV,
        "path": request.url.path,
        "money": lambda amount, currency="IDR": format_money(int(amount), currency, lang),
        "link_amount": link_amount,
        "amount_due": amount_due,
        "status_label": lambda status: status_label(lang, status),
        "method_label": method_label,
        "payer_lines": payer_lines,
        "brief": lambda value: brief(value, lang),
        "notice": None,
        "stream": None,
        "title": t["app"],
        **extra,
    }


def render(
    request: Request,
    name: str,
    staff: Staff | None,
    *,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    """A full dashboard page."""
    page = templates(request).TemplateResponse(
        request,
        f"dashboard/{name}",
        status_code=status,
        context=context(request, staff, **extra),
        headers=HEADERS,
    )
    if request.query_params.get("lang") in LANGUAGES:
        page.set_cookie(
            LANG_COOKIE,
            language(request),
            samesite="lax",
            max_age=365 * 24 * 3600,
            secure=request.app.state.settings.environment != "development",
        )
    return page


def fragment(request: Request, name: str, staff: Staff, **extra: Any) -> str:
    """A part of a page as HTML text (the live stream sends these)."""
    template = templates(request).get_template(f"dashboard/{name}")
    return template.render(context(request, staff, **extra))
