"""Bearer secret keys, and a per-key rate limit."""

from __future__ import annotations

import math
import threading
import time
from typing import Annotated, Protocol

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer

from api.problems import ProblemError
from paylink_es.application.details import KeyOwner
from paylink_es.application.services import Paylink
from paylink_es.bearer import bearer_token
from paylink_es.domain.errors import ApiKeyInvalidError

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="paylink"'}


class Limiter(Protocol):
    """What judges a request against its key's rate limit (``api.rate_limit``)."""

    def wait_needed(self, key: object) -> float:
        """0 if the request may go now (and counts against the limit), else seconds to wait."""
        ...


class RateLimiter:
    """A token bucket per API key in this process: ``rate``/s sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_needed(self, key: object) -> float:
        """0 if the request may go now (and take a token), else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class _BearerKey(HTTPBearer):
    """``Authorization: Bearer sk_…`` in OpenAPI, and the authentication itself.

    The scheme and the check are one dependency: a separate ``authenticate`` with the
    scheme as its sub-dependency made FastAPI solve two per request.
    """

    async def __call__(self, request: Request) -> KeyOwner:  # type: ignore[override]
        return await authenticate(request)


BEARER = _BearerKey(
    auto_error=False,
    bearerFormat="sk_test_… / sk_live_…",
    description="Your secret API key",
    scheme_name="HTTPBearer",
)


def presented_key(authorization: str | bytes | None) -> str:
    """The secret key of an ``Authorization: Bearer sk_…`` header value.

    Raises a 401 :class:`ProblemError` that says whether the key is missing or the header
    is not ``Bearer <secret key>``. The middleware asks this of every ``/v1/`` request
    before reading its body, and :func:`authenticate` of every request it authenticates.
    """
    secret = bearer_token(authorization)
    if secret is not None:
        return secret
    if not authorization:
        detail = "send your secret key as 'Authorization: Bearer sk_test_…'"
    else:
        detail = "the Authorization header must be 'Bearer <secret key>'"
    raise ProblemError(401, "authentication-required", detail, headers=CHALLENGE)


async def authenticate(request: Request) -> KeyOwner:
    """The merchant behind ``Authorization: Bearer sk_…``, within its rate limit."""
    secret = presented_key(request.headers.get("authorization"))
    paylink: Paylink = request.app.state.paylink
    owner = paylink.merchants.cached_owner(secret)
    if owner is None:
        try:
            owner = await run_in_threadpool(paylink.merchants.authenticate, secret)
        except ApiKeyInvalidError as error:
            raise ProblemError(401, "api-key-invalid", error.message, headers=CHALLENGE) from None
    limiter: Limiter = request.app.state.rate_limiter
    wait = limiter.wait_needed(owner.key_id)
    if wait > 0:
        raise ProblemError(
            429,
            "rate-limited",
            "too many requests for this API key; slow down and retry",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return owner


Owner = Annotated[KeyOwner, Depends(BEARER)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Send the same key to retry safely: the first response is replayed",
    ),
]
