"""The no-I/O baselines of ``paylink bench --http``: a create's body, validated, not stored.

Everything a link creation does but the command: the same authentication, the same
admission, the same terms check, then a small answer. ``/_bench/validate`` is answered
on the direct path, as creations are (``api.direct``); ``/_bench/validate-routed`` only
by FastAPI, to show what its layers cost. Only the bench's server serves them
(``paylink_es.entrypoints.bench.server``): they are given to ``create_app`` as
``extra_direct`` and ``extra_routers``, never part of the product's app.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.datastructures import State

from api.auth import Owner
from api.direct import JSON, MakeDirect, admit
from api.middleware import Answer, Direct
from api.problems import PROBLEM, error_document
from api.schemas import LinkCreate
from paylink_es.domain.errors import DomainError
from paylink_es.domain.terms import link_terms

VALIDATE = "/_bench/validate"
VALIDATE_ROUTED = "/_bench/validate-routed"


def validation(body: LinkCreate) -> dict[str, Any]:
    """What the baseline endpoints answer: the body's terms checked as a create checks them."""
    terms = link_terms(datetime.now(tz=UTC), **body.model_dump(exclude_unset=True))
    return {"object": "payment_link", "amount": terms.amount, "currency": terms.currency}


def validate_link_handler(state: State) -> Direct:
    """The no-I/O baseline on the direct path: everything a create does but the command
    (same admission, same terms check), answered as the routed baseline is."""

    async def handle(headers: dict[bytes, bytes], body: bytes, request_id: str) -> Answer | None:
        admitted = admit(state, headers, body)
        if admitted is None:
            return None
        try:
            answer = validation(admitted[2])
        except DomainError as error:
            status, problem = error_document(error, request_id)
            return status, PROBLEM.encode(), problem
        return 201, JSON, orjson.dumps(answer)

    return handle


router = APIRouter(include_in_schema=False)


@router.post(VALIDATE, status_code=201)
@router.post(VALIDATE_ROUTED, status_code=201)
async def validate(body: LinkCreate, owner: Owner) -> dict[str, Any]:
    """The routed baseline (and the direct one's answer when the direct path declines)."""
    del owner  # authenticated as a create is (which also keeps the key's cache fresh)
    return validation(body)


# What ``create_app`` is given to serve the baselines beside the product's routes.
DIRECT: dict[tuple[str, str], MakeDirect] = {("POST", VALIDATE): validate_link_handler}
ROUTERS = (router,)
