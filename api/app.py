"""The FastAPI app factory: everything is built here from settings, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from paylink_es import __version__
from paylink_es.application import PaylinkApp
from paylink_es.bootstrap import open_app
from paylink_es.settings import Settings
from projections.runner import ProjectionService


def get_ledger(request: Request) -> PaylinkApp:
    """The ledger application this server was built with."""
    ledger: PaylinkApp = request.app.state.ledger
    return ledger


LedgerDep = Annotated[PaylinkApp, Depends(get_ledger)]


def create_app(
    settings: Settings, ledger: PaylinkApp | None = None, *, run_projections: bool = True
) -> FastAPI:
    """Build the HTTP app on ``settings``; ``ledger`` lets tests pass one they built.

    With ``run_projections`` the read models are kept up to date in-process while the
    app runs (``paylink projections run`` does the same as a process of its own).
    """
    owned = ledger is None
    ledger_app = ledger if ledger is not None else open_app(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = ProjectionService(settings, ledger_app) if run_projections else None
        if service is not None:
            service.start()
            app.state.projections = service
        try:
            yield
        finally:
            if service is not None:
                service.stop()
            if owned:
                ledger_app.close()

    app = FastAPI(title="Paylink ES", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.ledger = ledger_app

    @app.get("/healthz", tags=["operations"])
    def health(ledger: LedgerDep) -> dict[str, Any]:
        """Liveness and the event store's position."""
        service: ProjectionService | None = getattr(app.state, "projections", None)
        return {
            "status": "ok",
            "backend": settings.backend,
            "events": ledger.recorder.max_notification_id() or 0,
            "projections": {
                name: model.view.max_tracking_id(ledger.name) or 0
                for name, model in (service.models.models.items() if service else ())
            },
            "version": __version__,
        }

    return app
