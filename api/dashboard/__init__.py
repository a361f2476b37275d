"""The merchant dashboard under ``/dashboard``: server-rendered pages for merchant staff.

Sign-in with argon2 passwords (``paylink users create``), signed session cookies,
CSRF tokens on every form, owner and viewer roles, pages for links, payments (with
refunds and review decisions), settlements, webhooks, API keys, branding, message
settings and audit, live numbers over server-sent events, streamed CSV exports and
server-rendered SVG charts, in Bahasa Indonesia and English.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.dashboard import (
    auth_routes,
    branding,
    bulk,
    developers,
    exports,
    links,
    money,
    overview,
    refunds,
    settings,
    sse,
)


def dashboard_router() -> APIRouter:
    """Every dashboard route, for ``create_app`` to include."""
    router = APIRouter(include_in_schema=False)
    # bulk before links: /dashboard/links/bulk is no link's id
    for module in (
        *(auth_routes, overview, bulk, links, money, refunds),
        *(developers, branding, settings, sse, exports),
    ):
        router.include_router(module.router)
    return router
