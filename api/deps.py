"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.consistency import fresh, query_models
from paylink_es.application.services import Paylink
from paylink_es.settings import Settings
from projections.runner import ReadModels


def get_paylink(request: Request) -> Paylink:
    """The ledger application this server was built with."""
    paylink: Paylink = request.app.state.paylink
    return paylink


def get_models(request: Request) -> ReadModels:
    """The read models the queries run on (the read replica's, when there is one)."""
    return query_models(request.app.state)


def get_primary_models(request: Request) -> ReadModels:
    """The primary's read models, for a command that decides on what they hold (a read
    replica may not have replayed it yet)."""
    models: ReadModels = request.app.state.read_models
    return models


def public_url(request: Request) -> str:
    """Where customers reach this server (links and QR codes point here)."""
    settings: Settings = request.app.state.settings
    return settings.public_url


PaylinkDep = Annotated[Paylink, Depends(get_paylink)]
PrimaryModels = Annotated[ReadModels, Depends(get_primary_models)]

# The read models a query reads, once they reached the caller's last write (or the
# wait's bound passed: the answer then says Paylink-Stale); see api.consistency.
LinksView = Annotated[ReadModels, Depends(fresh("links"))]
PaymentsView = Annotated[ReadModels, Depends(fresh("payments"))]
LedgerView = Annotated[ReadModels, Depends(fresh("ledger"))]
SettlementsView = Annotated[ReadModels, Depends(fresh("settlements"))]
OutboxView = Annotated[ReadModels, Depends(fresh("outbox"))]
FeedView = Annotated[ReadModels, Depends(fresh("feed"))]
