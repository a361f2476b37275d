"""The FastAPI app factory: everything is built here from settings, nothing at import time."""

from __future__ import annotations

import multiprocessing
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from fastapi import APIRouter, FastAPI, Request

from api import docs, problems
from api.bulk import upload_limits
from api.bulk_jobs import BulkJobs
from api.consistency import KeyPositions, open_replica
from api.dashboard import dashboard_router
from api.dashboard.render import dashboard_templates
from api.dashboard.session import SESSION_COOKIE
from api.direct import MakeDirect, create_link_handler
from api.middleware import RequestContext
from api.pages import page_templates
from api.rate_limit import close_limiter, limiter_state, rate_limiter
from api.routes import batches as batch_routes
from api.routes import (
    branding,
    channels,
    links,
    merchant,
    money,
    page,
    payments,
    send,
    webhooks,
)
from api.routes import winpay as winpay_routes
from api.schemas import Liveness, Problem, Readiness, ReplicaStatus, problem_responses
from paylink_es import __version__
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import Services, build
from paylink_es.heap import freeze_startup_heap
from paylink_es.process import die_with_parent
from paylink_es.settings import Settings
from paylink_es.store.postgres import SharedDatastore, is_outage, replica_lag
from projections.freshness import PositionWatch
from projections.runner import ReadModels
from workers.background import Background

DESCRIPTION = """
Payment links on an event-sourced paylink. Authenticate with
`Authorization: Bearer sk_test_…` (test mode) or `sk_live_…`. Send an `Idempotency-Key`
header on every POST: the first response is kept and replayed. Errors are
`application/problem+json` with a stable `type`. Amounts are integers in the currency's
minor unit (IDR: whole rupiah).

Read your own writes: a command answers with `Paylink-Position`, the log position it
wrote. Queries backed by read models wait (at most 2 s) until those have reached the
position in `Paylink-Min-Position`, or by default the last one written with the same key;
an answer given before they did says `Paylink-Stale: true`.

After a payment the hosted page sends the customer to the link's `success_url` or
`failure_url` with `paylink_*` parameters signed with the redirect secret
(`GET /v1/account/redirect-secret`); see the README for the signed string.

While the database is unavailable, requests are answered at once with `503`
`/problems/database-unavailable` and a `Retry-After` header. Operators: `GET /healthz`
(liveness, asks no database) and `GET /readyz` (readiness: the database answers).
"""
READY_TIMEOUT_S = 2.0  # /readyz waits at most this long for the database


def create_app(
    services: Services,
    *,
    run_projections: bool = True,
    owns_services: bool = False,
    extra_direct: Mapping[tuple[str, str], MakeDirect] | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the HTTP app on ``services`` (``paylink_es.bootstrap.build``).

    With ``run_projections`` the background workers run in-process while the app runs
    (``workers.background``: the read models' runner, the webhook sender, the schedulers;
    ``paylink projections run`` does the same as a process of its own), each while this
    node leads it when many nodes share one PostgreSQL. The app can be started again
    after a shutdown: what the shutdown closed (the read models) is opened anew. The
    services are closed at shutdown only when ``owns_services`` (a worker process that
    built them for this app).

    Routes beyond the product's, for a caller that serves the app with more (the
    benchmark's baselines): ``extra_direct`` maps ``(method, path)`` to what makes that
    route's direct handler from the app's state (see ``api.direct``), beside
    ``POST /v1/links``'s; ``extra_routers`` are included after every route of the app's
    own, so they cannot shadow one.
    """
    settings = services.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.closed:
            app.state.read_models = ReadModels(settings)
            _open_replica(app.state, settings)
            app.state.closed = False
        read_models: ReadModels = app.state.read_models
        background = (
            Background(
                settings,
                services.paylink,
                read_models,
                services.channels,
                app.state.position_watch,
                notifications=services.notifications,
            )
            if run_projections
            else None
        )
        if background is not None:
            background.start()
            app.state.projections = background.service
        try:
            yield
        finally:
            app.state.bulk_jobs.close()
            if background is not None:
                background.stop()
            read_models.close()
            if app.state.replica_models is not None:
                app.state.replica_models.close()
            close_limiter(app.state.rate_limiter)
            if owns_services:
                services.close()
            app.state.closed = True

    app = FastAPI(
        title="Paylink ES",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app)
    app.state.settings = settings
    app.state.services = services
    app.state.paylink = services.paylink
    app.state.read_models = ReadModels(settings)
    # Where the read models stand (fed by the in-process catch-up): queries wait on it.
    app.state.position_watch = PositionWatch(services.paylink.app.name)
    _open_replica(app.state, settings)
    app.state.closed = False
    app.state.templates = page_templates()
    app.state.dashboard_templates = dashboard_templates()
    app.state.signers = {}
    app.state.rate_limiter = rate_limiter(settings)
    app.state.bulk_jobs = BulkJobs()
    handlers = {("POST", "/v1/links"): create_link_handler, **(extra_direct or {})}
    direct = {route: make(app.state) for route, make in handlers.items()}
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        direct=direct,
        positions=KeyPositions(),
        larger_bodies={**upload_limits(settings), **branding.logo_upload_limits()},
        session=("/dashboard", SESSION_COOKIE),
    )
    problems.install(app)
    for router in (
        batch_routes.router,  # before /v1/links/{link_id}: "batch" is no id
        links.router,
        send.router,
        payments.router,
        money.router,
        merchant.router,
        branding.router,
        webhooks.router,
        channels.api_router,
        channels.router,
        winpay_routes.router,
        page.router,
        branding.public_router,
        dashboard_router(),
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["operations"], response_model=Liveness)
    async def health() -> Liveness:
        """Liveness: the process is up and answering. Asks no database, so it answers
        fast even while the database is unavailable (``/readyz`` tells that)."""
        return Liveness(version=__version__)

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=Readiness,
        responses=problem_responses(503),
    )
    def ready(request: Request) -> Readiness:
        """Readiness: the database answers within a short time (else 503
        `/problems/database-unavailable` with `Retry-After`), and how far the log and
        each read model have got (a read model at `events` has seen every event)."""
        paylink: Paylink = request.app.state.paylink
        read_models: ReadModels = request.app.state.read_models
        datastore = getattr(paylink.app.recorder, "datastore", None)
        if isinstance(datastore, SharedDatastore):
            datastore.ready(min(READY_TIMEOUT_S, settings.postgres_pool_timeout_s))
        projections = {
            name: model.view.max_tracking_id(paylink.app.name) or 0
            for name, model in read_models.models.items()
        }
        return Readiness(
            backend=settings.backend,
            events=paylink.app.recorder.max_notification_id() or 0,
            projections=projections,
            replica=replica_status(paylink, projections, request.app.state.replica_models),
            rate_limit=limiter_state(request.app.state.rate_limiter),
            version=__version__,
        )

    for router in extra_routers:
        app.include_router(router)
    _document_problems(app)
    return app


def _open_replica(state: Any, settings: Settings) -> None:
    """The read models on the read replica, if there is one (``api.consistency`` chooses
    which a query reads)."""
    state.replica_models = open_replica(settings)
    # Nothing publishes the replica's positions: its waiters ask its views.
    state.replica_watch = PositionWatch(state.paylink.app.name)


def replica_status(
    paylink: Paylink, primary: dict[str, int], replica: ReadModels | None
) -> ReplicaStatus | None:
    """The read replica's lag, in WAL bytes and seconds and in log positions per read
    model (None without a replica; ``available: false`` when it does not answer)."""
    if replica is None:
        return None
    own = getattr(paylink.app.recorder, "datastore", None)
    theirs = getattr(next(iter(replica.models.values())).view, "datastore", None)
    if not isinstance(own, PostgresDatastore) or not isinstance(theirs, PostgresDatastore):
        return None  # pragma: no cover - a replica is PostgreSQL by its settings
    try:
        positions = {
            name: model.view.max_tracking_id(paylink.app.name) or 0
            for name, model in replica.models.items()
        }
        lag = replica_lag(own, theirs)
    except Exception as error:
        if not is_outage(error):
            raise
        return ReplicaStatus(available=False, standby=None, lag_bytes=None, lag_seconds=None)
    return ReplicaStatus(
        available=True,
        standby=lag.standby,
        lag_bytes=lag.bytes,
        lag_seconds=lag.seconds,
        projections=positions,
        positions_behind={
            name: max(0, primary.get(name, 0) - position) for name, position in positions.items()
        },
    )


def app_from_environment(
    *,
    extra_direct: Mapping[tuple[str, str], MakeDirect] | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """For ``serve --workers N``: each worker process builds its app from PAYLINK_*.

    A worker started by uvicorn's supervisor (a multiprocessing child) first asks to get
    SIGTERM when the supervisor dies, even by SIGKILL, so it never serves as an orphan
    (Linux; see ``die_with_parent``). ``extra_direct`` and ``extra_routers`` go to
    ``create_app``: a factory of its own can serve more routes the same way.
    """
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and supervisor.pid is not None:
        die_with_parent(supervisor.pid)
    settings = Settings()
    app = create_app(
        build(settings),
        run_projections=settings.run_projections,
        owns_services=True,
        extra_direct=extra_direct,
        extra_routers=extra_routers,
    )
    freeze_startup_heap()
    return app


def _document_problems(app: FastAPI) -> None:
    """Put the problem document's schema in the OpenAPI components the routes refer to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            # Examples must stay valid: an expiry a month from when the document is built.
            expiry = (datetime.now(tz=UTC) + timedelta(days=30)).replace(microsecond=0)
            for example in schemas.get("LinkCreate", {}).get("examples", []):
                if "expires_at" in example:
                    example["expires_at"] = expiry.isoformat()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
