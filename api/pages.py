"""What the hosted page needs around its routes: templates, visitors, CSRF, QR codes."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import segno
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.i18n import LANGUAGES, TEXT, rupiah
from paylink_es.settings import Settings

WIB = timezone(timedelta(hours=7), "WIB")
VISITOR_COOKIE = "pl_visitor"
LANG_COOKIE = "pl_lang"
# Link-preview fetchers open links to draw a card; they are not customers.
PREVIEW_AGENTS = re.compile(
    r"whatsapp|facebookexternalhit|facebot|telegrambot|slackbot|slack-imgproxy|twitterbot|"
    r"discordbot|linkedinbot|skypeuripreview|googlebot|bingbot|embedly|pinterest|redditbot",
    re.IGNORECASE,
)
_VISITOR = re.compile(r"[A-Za-z0-9_-]{16,64}")
_FORM_ACTION = re.compile(r"/(pay|simulate|card)$")


def templates(request: Request) -> Jinja2Templates:
    """The page templates (built once per app)."""
    existing: Jinja2Templates | None = getattr(request.app.state, "templates", None)
    if existing is None:
        existing = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
        request.app.state.templates = existing
    return existing


def page_secret(settings: Settings) -> bytes:
    """The key that signs CSRF tokens: the setting, or a random one kept in the data dir."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def visitor_id(request: Request) -> str:
    """The visitor's session id from its cookie, or a new one (set by :func:`render`)."""
    given = request.cookies.get(VISITOR_COOKIE, "")
    if _VISITOR.fullmatch(given):
        return given
    cached: str | None = getattr(request.state, "new_visitor", None)
    if cached is None:
        cached = request.state.new_visitor = secrets.token_urlsafe(16)
    return cached


def language(request: Request) -> str:
    """``?lang=`` if given, else the visitor's choice, else Bahasa Indonesia."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "id"
    return asked if asked in LANGUAGES else "id"


def csrf_token(request: Request, code: str) -> str:
    """A token tying a form to this visitor and this link."""
    secret = page_secret(request.app.state.settings)
    message = f"{visitor_id(request)}:{code}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]


def csrf_ok(request: Request, code: str, given: str | None) -> bool:
    """Whether a submitted token is the one this visitor was given for this link."""
    return bool(given) and hmac.compare_digest(csrf_token(request, code), given or "")


def is_preview_fetch(request: Request) -> bool:
    """HEAD requests and link-preview bots do not count as a customer opening the link."""
    agent = request.headers.get("user-agent", "")
    return request.method == "HEAD" or bool(PREVIEW_AGENTS.search(agent))


def wib(instant: datetime) -> str:
    """An instant as people in Jakarta read it."""
    return instant.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the visitor's language, keeping its session and language cookies."""
    lang = language(request)
    currency = context.get("currency", "IDR")
    page = templates(request).TemplateResponse(
        request,
        name,
        status_code=status,
        context={
            "t": TEXT[lang],
            "lang": lang,
            "other_lang": "en" if lang == "id" else "id",
            "wib": wib,
            "money": lambda amount: rupiah(int(amount), currency, lang),
            "title": context.get("title", TEXT[lang]["title"]),
            "status": status,
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
    if VISITOR_COOKIE not in request.cookies or getattr(request.state, "new_visitor", None):
        page.set_cookie(
            VISITOR_COOKIE, visitor_id(request), httponly=True, samesite="lax", secure=secure
        )
    if request.query_params.get("lang") in LANGUAGES:
        page.set_cookie(LANG_COOKIE, lang, samesite="lax", secure=secure, max_age=365 * 24 * 3600)
    return page


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
