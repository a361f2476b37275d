"""``paylink bench --grow``: how the read side's costs grow with the log.

Histories of two sizes (20,000 and 200,000 events with ``--quick``; 100,000 and
1,000,000 otherwise), each in a scratch store of its own, made of whole payment
lifecycles of one merchant (seeded from many threads, so that their saves share
commits). At each size ``<n>``:

- ``grow_<n>_events``: the log's last position, at least ``n`` (the events it holds; on
  PostgreSQL the sequence's gaps count too);
- ``grow_<n>_rebuild_s``: every read model rebuilt from zero (``projections rebuild``);
- ``grow_<n>_audit_replay_s``, ``grow_<n>_audit_verify_s``: ``audit replay`` and
  ``audit verify`` over the whole log; ``grow_<n>_audit_replay_cpu_s`` and
  ``grow_<n>_audit_verify_cpu_s``: the bench process's CPU seconds for the same (on a
  shared machine the wall clock of a run of a few tenths of a second moves with the
  load; its CPU time much less; on PostgreSQL the server's share is not in it);
- ``grow_<n>_page_first_ms``, ``grow_<n>_page_deep_ms``: the median of
  ``GET /v1/links`` through the API app (in-process: ASGI calls, no sockets) for the first page and
  for a page nine tenths down the merchant's list.

Then the ratios of the larger size's figures to the smaller's, beside
``grow_events_ratio``: ``grow_rebuild_ratio``, ``grow_audit_replay_ratio``,
``grow_audit_verify_ratio``, ``grow_audit_replay_cpu_ratio``, ``grow_audit_verify_cpu_ratio``,
``grow_page_first_ratio``, ``grow_page_deep_ratio``. A cost
that grows with the log has the events' ratio; a cursor page should have about 1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI

from api.app import create_app
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import Services, build
from paylink_es.entrypoints.bench.replay import seed_lifecycles
from paylink_es.entrypoints.bench.support import percentile, progress, scratch_settings
from paylink_es.settings import Settings
from projections.audit import verify_chain
from projections.queries.links import LINKS
from projections.queries.paging import encode_cursor, keyset_query, merchant_where
from projections.rebuild import rebuild_models
from projections.replay import replay
from projections.runner import ReadModels

QUICK_SIZES = (20_000, 200_000)
FULL_SIZES = (100_000, 1_000_000)
PAGE_REQUESTS = 15  # requests per page measured (the median is reported)
PAGE_LIMIT = 20
SEED_THREADS = 16
EVENTS_PER_LIFECYCLE = 11  # a first guess, on the high side; the seeding measures it and tops up
FIGURES = (
    "rebuild_s",
    "audit_replay_s",
    "audit_verify_s",
    "audit_replay_cpu_s",
    "audit_verify_cpu_s",
    "page_first_ms",
    "page_deep_ms",
)


def run_grow(
    settings: Settings, *, quick: bool, sizes: Sequence[int] | None = None
) -> dict[str, Any]:
    """The read side's costs at two sizes of history, and their ratios."""
    small, large = sizes or (QUICK_SIZES if quick else FULL_SIZES)
    figures: dict[str, Any] = {"backend": settings.backend, "quick": quick}
    measured = {size: measure_size(settings, size) for size in (small, large)}
    for size, found in measured.items():
        figures.update({f"grow_{size}_{key}": value for key, value in found.items()})
    figures["grow_events_ratio"] = round(measured[large]["events"] / measured[small]["events"], 2)
    for key in FIGURES:
        name = key.rsplit("_", 1)[0]
        figures[f"grow_{name}_ratio"] = round(
            measured[large][key] / max(measured[small][key], 1e-9), 2
        )
    return figures


def measure_size(settings: Settings, size: int) -> dict[str, Any]:
    """Seed a history of at least ``size`` events in a scratch store; measure its costs."""
    with scratch_settings(settings) as scratch:
        services = build(scratch)
        try:
            paylink = services.paylink
            progress(f"grow: seeding {size:,} events of payment lifecycles...")
            merchant = seed_history(paylink, size)
            events = paylink.app.recorder.max_notification_id() or 0
            found: dict[str, Any] = {"events": events}
            models = ReadModels(scratch)
            try:
                progress(f"grow: {events:,} events: rebuild, audit replay, audit verify...")
                found.update(read_side(scratch, paylink, models))
                progress(f"grow: {events:,} events: GET /v1/links, first and deep pages...")
                found.update(pages(services, paylink, models, merchant))
            finally:
                models.close()
        finally:
            services.close()
    return found


def seed_history(paylink: Paylink, size: int) -> UUID:
    """Payment lifecycles of one merchant until the log holds at least ``size`` events."""
    merchant = paylink.merchants.register("Bench Growth")
    per_lifecycle = float(EVENTS_PER_LIFECYCLE)
    while True:
        head = paylink.app.recorder.max_notification_id() or 0
        if head >= size:
            return merchant
        count = max(1, int((size - head) / per_lifecycle) + 1)
        seed_lifecycles(paylink, count, merchant=merchant, threads=SEED_THREADS)
        after = paylink.app.recorder.max_notification_id() or 0
        per_lifecycle = max((after - head) / count, 1.0)


def read_side(settings: Settings, paylink: Paylink, models: ReadModels) -> dict[str, float]:
    """Seconds to rebuild every read model, replay the books and verify the chain."""
    started = time.perf_counter()
    rebuild_models(settings, paylink.app, models)
    rebuild_s = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    result = replay(paylink.app, models, datetime.now(tz=UTC))
    replay_s, replay_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    if result.differences:
        msg = f"audit replay differs from the rebuilt views: {result.differences[:3]}"
        raise RuntimeError(msg)
    started, cpu = time.perf_counter(), time.process_time()
    verified = verify_chain(paylink.app.recorder, models.chain())
    verify_s, verify_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    if not verified.ok:
        raise RuntimeError(verified.problem)
    return {
        "rebuild_s": round(rebuild_s, 3),
        "audit_replay_s": round(replay_s, 3),
        "audit_verify_s": round(verify_s, 3),
        "audit_replay_cpu_s": round(replay_cpu_s, 3),
        "audit_verify_cpu_s": round(verify_cpu_s, 3),
    }


def pages(
    services: Services, paylink: Paylink, models: ReadModels, merchant: UUID
) -> dict[str, float]:
    """Median milliseconds of ``GET /v1/links``: the first page, and one deep in the list."""
    secret = paylink.merchants.issue_key(merchant, "test").secret
    where, params = merchant_where(merchant, "test")
    (count,) = (
        models["links"]
        .view.query(
            "SELECT COUNT(*) AS n FROM {s}links WHERE merchant_id = ? AND mode = ?", params
        )[0]
        .values()
    )
    sql, bound = keyset_query(LINKS, where, params, 1)
    row = models["links"].view.query(sql + " OFFSET ?", [*bound, max(int(count) * 9 // 10, 0)])
    cursor = encode_cursor(*(row[0][key] for key in LINKS.keys)) if row else None
    app = create_app(services, run_projections=False)
    first, deep = asyncio.run(_page_medians(app, secret, cursor))
    return {"page_first_ms": round(first, 3), "page_deep_ms": round(deep, 3)}


async def _page_medians(app: FastAPI, secret: str, cursor: str | None) -> tuple[float, float]:
    """The app as it serves (its lifespan entered), asked over ASGI without sockets."""
    headers = {"Authorization": f"Bearer {secret}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as client,
    ):
        first = await _median_ms(client, headers, {"limit": PAGE_LIMIT})
        deep = await _median_ms(client, headers, {"limit": PAGE_LIMIT, "cursor": cursor})
    return first, deep


async def _median_ms(
    client: httpx.AsyncClient, headers: dict[str, str], query: dict[str, Any]
) -> float:
    params = {key: value for key, value in query.items() if value is not None}
    await client.get("/v1/links", params=params, headers=headers)  # warm: the same path
    samples = []
    for _ in range(PAGE_REQUESTS):
        started = time.perf_counter()
        answer = await client.get("/v1/links", params=params, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            msg = f"GET /v1/links answered {answer.status_code}: {answer.text[:200]}"
            raise RuntimeError(msg)
    return percentile(samples, 0.5)
