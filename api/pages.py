"""What the hosted page needs around its routes: templates, visitors, CSRF, QR codes."""

from __future__ import annotations

import io
import re
import secrets
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import segno
from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from paylink_es import locale
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import Services
from paylink_es.domain.branding import DEFAULT_COLOR, NO_BRAND
from paylink_es.signing import Signer

VISITOR_COOKIE = "pl_visitor"
LANG_COOKIE = "pl_lang"
# Link-preview fetchers open links to draw a card; they are not customers.
PREVIEW_AGENTS = re.compile(
    r"whatsapp|facebookexternalhit|facebot|telegrambot|slackbot|slack-imgproxy|twitterbot|"
    r"discordbot|linkedinbot|skypeuripreview|googlebot|bingbot|embedly|pinterest|redditbot",
    re.IGNORECASE,
)
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_FORM_ACTION = re.compile(r"/(pay|simulate|card)$")


def page_templates() -> Jinja2Templates:
    """The page templates (the app factory builds them once)."""
    built = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    built.env.filters["digits"] = locale.format_digits
    return built


def templates(request: Request) -> Jinja2Templates:
    """This app's page templates."""
    built: Jinja2Templates = request.app.state.templates
    return built


def signer(request: Request, purpose: str) -> Signer:
    """The app's :class:`~paylink_es.signing.Signer` for ``purpose`` (made once per app,
    from the signing secret the services were built with)."""
    signers: dict[str, Signer] = request.app.state.signers
    found = signers.get(purpose)
    if found is None:
        services: Services = request.app.state.services
        found = signers[purpose] = Signer(services.signing_secret, purpose)
    return found


def cookie_nonce(request: Request, cookie: str, size: int) -> str:
    """The random nonce ``cookie`` holds if it is a sane one, else one made for this request
    (``size`` random bytes; the same on every call) that the response must set."""
    given = request.cookies.get(cookie, "")
    if _NONCE.fullmatch(given):
        return given
    made: dict[str, str] | None = getattr(request.state, "made_nonces", None)
    if made is None:
        made = request.state.made_nonces = {}
    if cookie not in made:
        made[cookie] = secrets.token_urlsafe(size)
    return made[cookie]


def visitor_id(request: Request) -> str:
    """The visitor's session id from its cookie, or a new one (set by :func:`render`)."""
    return cookie_nonce(request, VISITOR_COOKIE, 16)


def language(request: Request) -> locale.Language:
    """``?lang=`` if given, else the visitor's choice, else Bahasa Indonesia."""
    return locale.language_of(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def csrf_token(request: Request, code: str) -> str:
    """A token tying a form to this visitor and this link."""
    return signer(request, "page:csrf").token(f"{visitor_id(request)}:{code}")


def csrf_ok(request: Request, code: str, given: str | None) -> bool:
    """Whether a submitted token is the one this visitor was given for this link."""
    return signer(request, "page:csrf").token_ok(f"{visitor_id(request)}:{code}", given)


def is_preview_fetch(request: Request) -> bool:
    """HEAD requests and link-preview bots do not count as a customer opening the link."""
    agent = request.headers.get("user-agent", "")
    return request.method == "HEAD" or bool(PREVIEW_AGENTS.search(agent))


def merchant_brand(request: Request, merchant_id: UUID) -> str:
    """The name the merchant's page shows (its display name, else its registered name);
    the rest of its brand (colour, logo) goes to every page of this request
    (:func:`render`), whichever answer it turns out to be."""
    paylink: Paylink = request.app.state.paylink
    branding = paylink.merchants.branding(merchant_id)
    request.state.brand = branding.brand
    return branding.shown_name


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the visitor's language, keeping its session and language cookies;
    in the brand of the merchant :func:`merchant_brand` looked up (else the platform's)."""
    lang = language(request)
    currency = context.get("currency", "IDR")
    words = locale.PAGE_TEXT[lang]
    brand = getattr(request.state, "brand", None) or NO_BRAND
    page = templates(request).TemplateResponse(
        request,
        name,
        status_code=status,
        context={
            "t": words,
            "lang": lang,
            "other_lang": locale.other_language(lang),
            "wib": partial(locale.format_instant, language=lang, style="short"),
            "money": lambda amount: locale.format_money(int(amount), currency, lang),
            "amount_span": lambda low, high: locale.format_link_amount(
                None, low, high, currency, lang, words
            ),
            "title": context.get("title", words["title"]),
            "status": status,
            "brand": brand,
            "brand_color": brand.color or DEFAULT_COLOR,
            # Where the language switch points: the page itself, never a form's action.
            "here": _FORM_ACTION.sub("", request.url.path),
            **context,
        },
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'",
        },
    )
    secure = request.app.state.settings.environment == "production"
    visitor = visitor_id(request)
    if request.cookies.get(VISITOR_COOKIE) != visitor:
        page.set_cookie(VISITOR_COOKIE, visitor, httponly=True, samesite="lax", secure=secure)
    if request.query_params.get("lang") in locale.LANGUAGES:
        page.set_cookie(LANG_COOKIE, lang, samesite="lax", secure=secure, max_age=365 * 24 * 3600)
    return page


PAYMENT_COOKIE = "pl_payment"


def remember_payment(request: Request, response: Response, code: str, payment: UUID) -> None:
    """Tell this browser's later visits to link ``code`` which payment it started there
    (signed, so a visitor cannot name another's): a paid link's page then offers its
    receipt to the one who paid, and to no one else."""
    token = signer(request, "page:payment").token(f"{code}:{payment}")
    response.set_cookie(
        PAYMENT_COOKIE,
        f"{payment}.{token}",
        path=f"/l/{code}",
        max_age=90 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.environment == "production",
    )


def remembered_payment(request: Request, code: str) -> UUID | None:
    """The payment this browser started on link ``code``, if its cookie is genuine."""
    payment, _, token = request.cookies.get(PAYMENT_COOKIE, "").partition(".")
    if not signer(request, "page:payment").token_ok(f"{code}:{payment}", token):
        return None
    try:
        return UUID(payment)
    except ValueError:
        return None


def qr_svg(text: str) -> bytes:
    """A QR code as SVG."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=6, border=2)
    return out.getvalue()


def qr_png(text: str) -> bytes:
    """A QR code as PNG."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


def render_message(
    request: Request,
    status: int,
    key: str,
    merchant: str | None = None,
    detail_key: str | None = None,
) -> HTMLResponse:
    """A page that only says something: its heading is catalogue entry ``key``, its text
    ``detail_key`` (by default ``{key}_detail``)."""
    t = locale.PAGE_TEXT[language(request)]
    return render(
        request,
        "message.html",
        status=status,
        heading=t[key],
        detail=t.get(detail_key or f"{key}_detail", ""),
        merchant=merchant,
        title=t[key],
    )
