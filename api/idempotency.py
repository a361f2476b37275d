"""``Idempotency-Key`` on POSTs: the first response is kept (as an event) and replayed.

Same key, same body: the stored status and body, byte for byte. Same key, another body:
409. Two requests racing with one key: one executes, the other waits for its answer.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

import orjson
from fastapi import Request, Response
from pydantic import BaseModel

from api.problems import PROBLEM, ProblemError, error_document, problem_body
from paylink_es.application import PaylinkApp
from paylink_es.details import KeyOwner
from paylink_es.errors import DomainError

log = logging.getLogger("paylink.api")
Outcome = tuple[int, BaseModel]
WAIT_FOR_RACE_S = 10.0


def _render(request: Request, execute: Callable[[], Outcome]) -> tuple[int, bytes]:
    request_id = getattr(request.state, "request_id", None)
    try:
        status, model = execute()
        return status, model.model_dump_json().encode()
    except (DomainError, ProblemError) as error:
        return error_document(error, request_id)
    except Exception:
        log.exception("request %s failed", request_id)
        return 500, orjson.dumps(
            problem_body(
                500,
                "internal-error",
                "something went wrong on our side; quote the request id to support",
                request_id,
            )
        )


def _response(status: int, body: bytes, replayed: bool) -> Response:
    media = PROBLEM if status >= 400 else "application/json"
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(content=body, status_code=status, media_type=media, headers=headers)


def run_idempotent(
    request: Request, owner: KeyOwner, body: BaseModel | None, execute: Callable[[], Outcome]
) -> Response:
    """Execute a POST once per Idempotency-Key (or every time when there is no key)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return _response(*_render(request, execute), replayed=False)
    ledger: PaylinkApp = request.app.state.ledger
    payload = body.model_dump_json() if body is not None else ""
    fingerprint = hashlib.sha256(
        f"{request.method} {request.url.path}\n{payload}".encode()
    ).hexdigest()
    earlier = ledger.begin_request(owner.merchant_id, owner.mode, key, fingerprint)
    if earlier is None:
        status, content = _render(request, execute)
        ledger.answer_request(owner.merchant_id, owner.mode, key, status, content.decode())
        return _response(status, content, replayed=False)
    if earlier.fingerprint != fingerprint:
        raise ProblemError(
            409,
            "idempotency-key-reused",
            "this Idempotency-Key was used with a different request",
            field="Idempotency-Key",
        )
    deadline = time.monotonic() + WAIT_FOR_RACE_S
    while not earlier.answered and time.monotonic() < deadline:
        time.sleep(0.01)
        earlier = ledger.earlier_request(owner.merchant_id, owner.mode, key)
    if earlier.status_code is None or earlier.body is None:
        raise ProblemError(
            409,
            "request-in-progress",
            "a request with this Idempotency-Key is still running; retry",
            headers={"Retry-After": "1"},
        )
    return _response(earlier.status_code, earlier.body.encode(), replayed=True)
