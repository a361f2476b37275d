"""Live pages: server-sent events fed by the read models' tracking positions.

The stream polls the positions of the read models a page shows (a cheap query each)
every ``POLL_S``; when they move, it renders the page's live regions again and sends
those that changed, as one ``regions`` event of ``{name: html}``. The browser swaps
them in without reloading. A stream ends after ``LIFETIME_S`` and the browser's
EventSource reconnects (``retry``), so a stream never outlives a session for long
and a server can always shut down.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.dashboard.links import detail_regions, links_regions
from api.dashboard.money import payments_regions
from api.dashboard.overview import overview_regions
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import PageNotFoundError, Staff, current_staff
from api.deps import get_models
from paylink_es.application.services import Paylink
from projections.queries.live import positions
from projections.runner import ReadModels

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
Regions = Callable[[Request, Staff, dict[str, str]], dict[str, str]]
PAGES: dict[str, Regions] = {
    "overview": overview_regions,
    "links": links_regions,
    "link": detail_regions,
    "payments": payments_regions,
}
POLL_S = 0.2
HEARTBEAT_S = 15.0
LIFETIME_S = 55.0
RETRY_MS = 500


def _event(name: str, data: dict[str, str]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _follow(request: Request, staff: Staff, build: Regions) -> AsyncIterator[str]:
    models: ReadModels = get_models(request)
    paylink: Paylink = request.app.state.paylink
    params = dict(request.query_params)
    sent: dict[str, str] = {}
    seen = -1
    started = last_write = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    while time.monotonic() - started < LIFETIME_S and not await request.is_disconnected():
        position = await run_in_threadpool(positions, models, paylink.app.name)
        if position != seen:
            seen = position
            regions = await run_in_threadpool(build, request, staff, params)
            changed = {name: html for name, html in regions.items() if sent.get(name) != html}
            if changed:
                sent.update(changed)
                last_write = time.monotonic()
                yield _event("regions", changed)
        if time.monotonic() - last_write > HEARTBEAT_S:
            last_write = time.monotonic()
            yield ": still here\n\n"
        await asyncio.sleep(POLL_S)


@router.get("/dashboard/stream")
async def stream(request: Request) -> Response:
    """``text/event-stream`` of a page's live regions (``?page=overview|links|link|payments``)."""
    staff = await run_in_threadpool(current_staff, request)
    build = PAGES.get(request.query_params.get("page", ""))
    if build is None:
        raise PageNotFoundError
    # Bad filters or another merchant's link fail here, before the stream starts.
    await run_in_threadpool(build, request, staff, dict(request.query_params))
    return StreamingResponse(
        _follow(request, staff, build),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
