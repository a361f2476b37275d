"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from paylink_es.application.services import Paylink
from paylink_es.settings import Settings
from projections.runner import ReadModels


def get_paylink(request: Request) -> Paylink:
    """The ledger application this server was built with."""
    paylink: Paylink = request.app.state.paylink
    return paylink


def get_models(request: Request) -> ReadModels:
    """The read models the queries run on."""
    models: ReadModels = request.app.state.read_models
    return models


def public_url(request: Request) -> str:
    """Where customers reach this server (links and QR codes point here)."""
    settings: Settings = request.app.state.settings
    return settings.public_url


PaylinkDep = Annotated[Paylink, Depends(get_paylink)]
ModelsDep = Annotated[ReadModels, Depends(get_models)]
