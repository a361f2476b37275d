"""The direct path: the common ``POST /v1/links`` answered before FastAPI's layers.

Under FastAPI 0.16x the layers between our request-id middleware and the endpoint
(exception middleware, exit stacks, included-router matching, the parameter solver,
``Request`` and ``Response`` objects) cost a worker more CPU per request than creating
the link does. :class:`api.middleware.RequestContext` already holds the whole body; for a
route registered here it first asks the route's direct handler.

A direct handler answers only the common case, with the same code the route runs
(:func:`api.routes.links.open_link`): a key seen within the last second, within its
rate, a JSON body the model accepts, with or without an ``Idempotency-Key`` (a key used
before for the same request replays its kept answer, byte for byte). For anything else it
returns ``None`` before anything is stored, and the request goes through FastAPI
unchanged, which gives the canonical answer (401, 409, 422, 429…).

``create_app(services, extra_direct=…)`` answers more routes this way (the benchmark's
no-I/O baseline is one); their handlers admit requests with :func:`admit`.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message
from typing import NamedTuple

from pydantic import ValidationError
from starlette.datastructures import State

from api.auth import Limiter
from api.middleware import Answer, Direct
from api.problems import PROBLEM, error_document
from api.routes.links import Earlier, open_link
from api.schemas import LinkCreate
from paylink_es.application.details import KeyOwner
from paylink_es.application.services import Paylink
from paylink_es.bearer import bearer_token
from paylink_es.domain.errors import DomainError
from paylink_es.domain.validation import require_text
from paylink_es.settings import Settings

JSON = b"application/json"
REPLAYED = ((b"idempotent-replayed", b"true"),)
# What ``create_app`` is given for each direct route: the app's state -> the route's handler.
MakeDirect = Callable[[State], Direct]


def json_content(value: bytes | None) -> bool:
    """Whether a Content-Type says JSON (as FastAPI's strict rule reads it)."""
    if value == JSON:
        return True
    if not value:
        return False
    message = Message()
    message["content-type"] = value.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class Admitted(NamedTuple):
    """A request the direct path may answer: the paylink, the key's owner, the valid body
    and its ``Idempotency-Key`` (None without one)."""

    paylink: Paylink
    owner: KeyOwner
    link: LinkCreate
    key: str | None


def checked_key(raw: bytes) -> str | None:
    """An ``Idempotency-Key`` header's value as the route reads it (latin-1, 1-255
    characters of text); None for a value the route must refuse."""
    try:
        return require_text(raw.decode("latin-1"), "Idempotency-Key", max_length=255)
    except DomainError:
        return None


def admit(state: State, headers: dict[bytes, bytes], body: bytes) -> Admitted | None:
    """The paylink, the key's owner, the valid body and the Idempotency-Key of a request
    the direct path may answer; ``None`` when the route must judge it (it then spends no
    rate token).

    Every direct handler admits requests with it (those given to ``create_app`` as
    ``extra_direct`` too), so each declines what ``POST /v1/links``'s handler declines."""
    raw_key = headers.get(b"idempotency-key")
    key = None if raw_key is None else checked_key(raw_key)
    if (raw_key is not None and key is None) or not json_content(headers.get(b"content-type")):
        return None
    secret = bearer_token(headers.get(b"authorization"))
    paylink: Paylink = state.paylink
    owner = paylink.merchants.cached_owner(secret) if secret is not None else None
    if owner is None:
        return None
    try:
        link = LinkCreate.model_validate_json(body)
    except ValidationError:
        return None
    limiter: Limiter = state.rate_limiter
    if limiter.wait_needed(owner.key_id) > 0:
        return None
    return Admitted(paylink, owner, link, key)


def create_link_handler(state: State) -> Direct:
    """``POST /v1/links`` for a known key and a valid body; ``None`` for the rest."""

    async def handle(headers: dict[bytes, bytes], body: bytes, request_id: str) -> Answer | None:
        admitted = admit(state, headers, body)
        if admitted is None:
            return None
        paylink, owner, link, key = admitted
        if link.notify is not None or link.reminders is not None:
            return None  # the route sends it and schedules its reminders
        settings: Settings = state.settings
        try:
            opened = await open_link(
                paylink, owner, link, settings.public_url, key=key, request_id=request_id
            )
        except DomainError as error:
            # Refused by the domain: nothing was stored, and the token is spent as the
            # route would have spent it.
            status, problem = error_document(error, request_id)
            return status, PROBLEM.encode(), problem
        if isinstance(opened, Earlier):
            # A key used before: nothing was run. Its kept answer is replayed here (the
            # rate token is spent once, as on the route); a different request (409), or a
            # claim still running or abandoned, is left to the route.
            kept = opened.record.kept
            if kept is None or opened.record.fingerprint != opened.asked:
                return None
            status, text = kept
            content_type = PROBLEM.encode() if status >= 400 else JSON
            return status, content_type, text.encode(), REPLAYED
        status, content = opened
        return status, PROBLEM.encode() if status >= 400 else JSON, content

    return handle
