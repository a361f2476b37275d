"""ASGI middleware: a request id on every request and response, a body size limit, and the
read-your-writes headers of ``/v1/`` (``Paylink-Position`` out, the position a query waits
for in; see :mod:`api.consistency`); the dashboard's pages wait for their session's own
writes the same way."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http.cookies import SimpleCookie
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import presented_key
from api.consistency import (
    MIN_POSITION_STATE,
    POSITION_HEADER,
    STALE_HEADER,
    STALE_STATE,
    KeyPositions,
    min_position,
)
from api.problems import PROBLEM, ProblemError, problem_body, unavailable_problem
from paylink_es.application.written import Written, noting_writes
from paylink_es.domain.merchant import hash_secret

log = logging.getLogger("paylink.api")
# A route answered here when it can be (see api.direct): headers, body, request id ->
# (status, content type, body, extra headers), or None to go through the app as usual.
Headers = tuple[tuple[bytes, bytes], ...]
Answer = tuple[int, bytes, bytes] | tuple[int, bytes, bytes, Headers]
Direct = Callable[[dict[bytes, bytes], bytes, str], Awaitable[Answer | None]]
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _new_request_id() -> str:
    """32 hex digits, like a uuid4's, from the process's PRNG (reseeded in each forked worker).

    A request id only has to be unique enough to find a request in the logs; it is no
    secret. ``uuid.uuid4`` reads the system's randomness, a call that gives up the GIL
    on every request and then waits for it while the group-commit writer holds it.
    """
    return f"{random.getrandbits(128):032x}"


async def _own_writes_read(scope: Scope, position: int) -> None:
    """Wait until every read model of the app has processed ``position`` (bounded)."""
    if position <= 0:
        return
    state = scope["app"].state
    models = state.read_models.models
    await state.position_watch.reach(models, tuple(models), position, state.settings.read_wait_s)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out ``messages`` first, then defers to the real one."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class RequestContext:
    """Give each request an id (kept from ``X-Request-Id`` if sane) and refuse big bodies.

    A ``/v1/`` request also runs noting what it writes: its answer carries
    ``Paylink-Position`` when it stored events, and ``positions`` keeps that position for
    its key; a query learns the position it should wait for (``request.state``), and says
    ``Paylink-Stale: true`` when its read models did not reach it in time.
    A dashboard request (``session``: the path prefix and the session cookie's name) runs
    noting its writes the same way, kept for its session; a page of that session then
    waits until every read model has processed them (at most ``PAYLINK_READ_WAIT_S``), so
    the page a form redirects to shows what the form did.
    ``max_body_bytes`` bounds every body but those of the paths in ``larger_bodies``
    (path -> bytes): the uploads of bulk links.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        direct: Mapping[tuple[str, str], Direct] | None = None,
        positions: KeyPositions | None = None,
        larger_bodies: Mapping[str, int] | None = None,
        session: tuple[str, str] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.direct = dict(direct or {})
        self.positions = positions if positions is not None else KeyPositions()
        self.larger_bodies = dict(larger_bodies or {})
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.fullmatch(given) else _new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        if scope["path"].startswith("/v1/"):
            # No key, or no Bearer key: say so before anything reads (and judges) the body.
            try:
                key = hash_secret(presented_key(headers.get(b"authorization")))
                if scope["method"] in ("GET", "HEAD"):
                    given = headers.get(b"paylink-min-position")
                    state[MIN_POSITION_STATE] = min_position(given, key, self.positions)
            except ProblemError as refused:
                await self._refuse(send, request_id, refused)
                return
            written = Written()
            with noting_writes(written):
                consistent = self._consistent(send, key, written, state)
                await self._handle(scope, receive, consistent, headers, request_id)
            return
        session = self._session_key(scope, headers)
        if session is not None:
            if scope["method"] in ("GET", "HEAD"):
                await _own_writes_read(scope, self.positions.get(session))
            written = Written()
            with noting_writes(written):
                noted = self._consistent(send, session, written, None)
                await self._handle(scope, receive, noted, headers, request_id)
            return
        await self._handle(scope, receive, send, headers, request_id)

    def _session_key(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """Where a dashboard session's writes are kept (a hash of its cookie), else None."""
        if self.session is None:
            return None
        prefix, cookie_name = self.session
        if not scope["path"].startswith(prefix) or b"cookie" not in headers:
            return None
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(headers[b"cookie"].decode("latin-1"))
        except Exception:  # a cookie header the parser refuses: the app judges it
            return None
        morsel = cookies.get(cookie_name)
        if morsel is None or not morsel.value:
            return None
        return "session:" + hash_secret(morsel.value)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        request_id: str,
    ) -> None:
        limit = self.larger_bodies.get(scope["path"], self.max_body_bytes)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(send, request_id, limit)
            return
        # Read the body here (it is small by definition), so that a chunked body that
        # grows past the limit gets 413 before any route starts parsing it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), self._with_id(send, request_id))
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, request_id, limit)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        content = b"".join(chunks)
        body = {"type": "http.request", "body": content, "more_body": False}
        direct = self.direct.get((scope["method"], scope["path"]))
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            answer = None if direct is None else await direct(headers, content, request_id)
            if answer is not None:
                await self._answer(tracking_send, request_id, *answer)
                return
            await self.app(
                scope, _replay([body], receive), self._with_id(tracking_send, request_id)
            )
        except Exception as error:
            # Answer here, inside the server's error middleware, so that the client gets
            # the problem document and keeps its connection; then the crash is logged.
            if started:
                raise
            unavailable = unavailable_problem(error)
            if unavailable is not None:  # the direct path met an unavailable database
                log.warning("request %s: database unavailable: %s", request_id, error)
                await self._refuse(send, request_id, unavailable)
                return
            log.exception("request %s failed", request_id)
            await self._problem(
                send,
                request_id,
                500,
                "internal-error",
                "something went wrong on our side; quote the request id to support",
            )

    def _consistent(
        self, send: Send, key: str, written: Written, state: dict[str, Any] | None
    ) -> Send:
        """``send`` keeping the key's position before the answer leaves, so the client's
        next query finds it; with ``state`` (an API request), adding the read-your-writes
        headers too."""

        async def send_consistent(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: list[tuple[bytes, bytes]] = []
                if written.position:
                    self.positions.note(key, written.position)
                    extra.append((POSITION_HEADER.lower().encode(), b"%d" % written.position))
                if state is not None and state.get(STALE_STATE):
                    extra.append((STALE_HEADER.lower().encode(), b"true"))
                if extra and state is not None:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return send_consistent

    @staticmethod
    def _with_id(send: Send, request_id: str) -> Send:
        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        return send_with_id

    @classmethod
    async def _refuse(cls, send: Send, request_id: str, problem: ProblemError) -> None:
        """Answer with a problem raised outside FastAPI's handlers (its headers included)."""
        await cls._problem(
            send,
            request_id,
            problem.status,
            problem.slug,
            problem.detail,
            [(name.lower().encode(), value.encode()) for name, value in problem.headers.items()],
            field=problem.field,
        )

    @classmethod
    async def _too_large(cls, send: Send, request_id: str, limit: int) -> None:
        await cls._problem(
            send,
            request_id,
            413,
            "payload-too-large",
            f"the request body is larger than {limit} bytes",
        )

    @staticmethod
    async def _answer(
        send: Send,
        request_id: str,
        status: int,
        content_type: bytes,
        body: bytes,
        extra_headers: Sequence[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers: list[Any] = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
            *(extra_headers or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @classmethod
    async def _problem(
        cls,
        send: Send,
        request_id: str,
        status: int,
        slug: str,
        detail: str,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
        *,
        field: str | None = None,
    ) -> None:
        body = orjson.dumps(problem_body(status, slug, detail, request_id, field))
        await cls._answer(send, request_id, status, PROBLEM.encode(), body, extra_headers)
