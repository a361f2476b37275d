"""``Idempotency-Key`` on POSTs: the first response is kept (as an event) and replayed.

A command whose effects are all in the store (creating a link) keeps its answer in the
same write as its events (``RequestService.once_command``): nothing to claim first, nothing
to take over after a crash. Routes with effects outside the store (sending messages,
calling a channel) claim the key first, as below.

Same key, same body: the stored status and body, byte for byte. Same key, another body:
409. Two requests racing with one key: one executes, the other waits for its answer.

A request that died between claiming the key and answering (a crash, a kill -9) does not
hold the key forever: a retry takes the claim over once the log shows the command was
stored, or once the claim's lease (``idempotency_lease_s``) has run out, and runs the
request again. New ids are derived from the key while it runs, so running it again finds
what the first run created instead of creating it twice (see ``paylink_es.domain.idempotency``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import orjson
from fastapi import Request, Response
from pydantic import BaseModel

from api.problems import (
    PROBLEM,
    ProblemError,
    error_document,
    problem_body,
    unavailable_problem,
)
from paylink_es import faults
from paylink_es.application.details import KeyOwner
from paylink_es.application.requests import RequestDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.errors import DomainError
from paylink_es.domain.idempotency import IdempotentRequest, ids_from

log = logging.getLogger("paylink.api")
Outcome = tuple[int, BaseModel]
WAIT_FOR_RACE_S = 10.0
RETAKE_EVERY_S = 0.25
# Claims this process gave up on when the database went away mid-request: a retry that
# reaches this process retakes them at once instead of waiting for the lease.
_ABANDONED: set[UUID] = set()


def _render(request: Request, execute: Callable[[], Outcome]) -> tuple[int, bytes]:
    request_id = getattr(request.state, "request_id", None)
    try:
        status, model = execute()
        return status, model.model_dump_json().encode()
    except (DomainError, ProblemError) as error:
        return error_document(error, request_id)
    except Exception as error:
        if unavailable_problem(error) is not None:
            raise  # no answer to keep: the handlers answer 503 and a retry runs it again
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
    paylink: Paylink = request.app.state.paylink
    asked = fingerprint(request.method, request.url.path, body)
    earlier = paylink.requests.begin(owner.merchant_id, owner.mode, key, asked)
    if earlier is None:
        faults.reach("idempotency.claim")
        return _execute_and_answer(request, owner, key, execute)
    return replay_earlier(request, owner, key, earlier, asked, execute)


def fingerprint(method: str, path: str, body: BaseModel | None) -> str:
    """What a request under an Idempotency-Key asks: its method, path and validated body."""
    payload = body.model_dump_json() if body is not None else ""
    return hashlib.sha256(f"{method} {path}\n{payload}".encode()).hexdigest()


def replay_earlier(
    request: Request,
    owner: KeyOwner,
    key: str,
    earlier: RequestDetails,
    asked: str,
    execute: Callable[[], Outcome],
) -> Response:
    """The answer to a key used before: its kept answer (once there is one), a 409 when it
    asked something else; a claim whose owner is gone is taken over and ``execute`` run."""
    paylink: Paylink = request.app.state.paylink
    if earlier.fingerprint != asked:
        raise ProblemError(
            409,
            "idempotency-key-reused",
            "this Idempotency-Key was used with a different request",
            field="Idempotency-Key",
        )
    lease = timedelta(seconds=request.app.state.settings.idempotency_lease_s)
    deadline = time.monotonic() + WAIT_FOR_RACE_S
    next_retake = time.monotonic()
    while (kept := earlier.kept) is None:
        if time.monotonic() >= next_retake:
            gave_up = earlier.id in _ABANDONED
            earlier, taken = paylink.requests.retake(
                owner.merchant_id, owner.mode, key, lease, abandoned=gave_up
            )
            if taken:
                _ABANDONED.discard(earlier.id)
                log.warning("Idempotency-Key %r: retaken (%s)", key, earlier.retake_reason)
                return _execute_and_answer(request, owner, key, execute)
            next_retake = time.monotonic() + RETAKE_EVERY_S
            continue
        if time.monotonic() >= deadline:
            raise ProblemError(
                409,
                "request-in-progress",
                "a request with this Idempotency-Key is still running; retry",
                headers={"Retry-After": str(_seconds_left(paylink, earlier, lease))},
            )
        time.sleep(0.01)
        earlier = paylink.requests.earlier(owner.merchant_id, owner.mode, key)
    return _response(kept[0], kept[1].encode(), replayed=True)


def _execute_and_answer(
    request: Request, owner: KeyOwner, key: str, execute: Callable[[], Outcome]
) -> Response:
    """Run the request with ids derived from its key, then keep its answer."""
    paylink: Paylink = request.app.state.paylink
    record_id = IdempotentRequest.create_id(owner.merchant_id, owner.mode, key)
    with ids_from(record_id):
        try:
            status, content = _render(request, execute)
        except Exception as error:
            if unavailable_problem(error) is not None:
                _ABANDONED.add(record_id)
            raise
    faults.reach("idempotency.answer")
    paylink.requests.answer(owner.merchant_id, owner.mode, key, status, content.decode())
    return _response(status, content, replayed=False)


def _seconds_left(paylink: Paylink, record: RequestDetails, lease: timedelta) -> int:
    """Whole seconds until the claim may be retaken (at least 1)."""
    left = (record.claim_expires(lease) - paylink.now()).total_seconds()
    return max(1, math.ceil(left))
