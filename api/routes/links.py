"""``/v1/links``: create, list, read, edit, duplicate, deactivate, reactivate and cancel
payment links. Every change records who made it: the API key's id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.auth import IdempotencyKey, Owner
from api.deps import LinksView, PaylinkDep, public_url
from api.idempotency import fingerprint, replay_earlier, run_idempotent
from api.params import Instant, Text
from api.problems import PROBLEM, ProblemError, error_document
from api.schemas import (
    COMMON_PROBLEMS,
    CancelRequest,
    Counts,
    DeactivateRequest,
    LinkCreate,
    LinkEdit,
    LinkList,
    LinkOut,
    SendResultOut,
    problem_responses,
)
from paylink_es import faults
from paylink_es.application.details import KeyOwner, LinkDetails
from paylink_es.application.requests import Answer, RequestDetails
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import Services
from paylink_es.domain.errors import DomainError
from paylink_es.notify import Messenger, NewLinkMessages
from projections.queries import links as link_queries
from projections.queries.links import LinkRow
from projections.queries.paging import QueryError

JSON = "application/json"
router = APIRouter(prefix="/v1/links", tags=["links"], responses=COMMON_PROBLEMS)
NOT_FOUND = "no such payment link"
AS_OF = (
    "ISO-8601 instant with offset: the links that existed then (created at or before it),"
    " each as it stood then: status, counts and money collected. Exact to the microsecond;"
    " an instant after now reads as now (the answer's as_of says which instant was used)."
    " Combines with the other filters but status."
)


def details_row(details: LinkDetails) -> dict[str, Any]:
    """A link read from the paylink, shaped like a row of the links view."""
    return {
        "link_id": str(details.id),
        "mode": details.mode,
        "code": details.code,
        "slug": details.slug,
        "status": details.status,
        "currency": details.currency,
        "amount": details.amount,
        "amount_min": details.amount_min,
        "amount_max": details.amount_max,
        "description": details.description,
        "reference_id": details.reference_id,
        "expires_at": details.expires_at,
        "usage_limit": details.usage_limit,
        "sent_count": details.sent_count,
        "opened_count": details.opened_count,
        "payment_count": details.uses,
        "flagged_count": details.flagged_count,
        "collected": details.collected,
        "created_at": details.created_at,
        "methods": details.methods,
        "line_items": [vars(item) for item in details.line_items],
        "customer": vars(details.customer) if details.customer else None,
        "success_url": details.success_url,
        "failure_url": details.failure_url,
        "metadata": details.metadata,
        "inactive_message": details.inactive_message,
        "customer_fields": details.customer_fields,
        "custom_fields": [vars(definition) for definition in details.custom_fields],
        "allow_partial": details.allow_partial,
        "partial_min": details.partial_min,
        "partial_expiry": details.partial_expiry,
        "amount_paid": details.amount_paid if details.allow_partial else None,
    }


def link_out(row: dict[str, Any], base: str) -> LinkOut:
    """The API's view of a link row (from the links view or :func:`details_row`)."""
    code = row["code"]
    slug = row.get("slug")
    path = slug or code
    return LinkOut(
        id=row["link_id"],
        mode=row["mode"],
        code=code,
        slug=slug,
        url=f"{base}/l/{path}",
        qr_url=f"{base}/l/{path}/qr.svg",
        status=row["status"],
        currency=row["currency"],
        amount=row["amount"],
        amount_min=row["amount_min"],
        amount_max=row["amount_max"],
        description=row["description"],
        reference_id=row["reference_id"],
        methods=row["methods"],
        expires_at=row["expires_at"],
        usage_limit=row["usage_limit"],
        line_items=row["line_items"],
        customer=row["customer"],
        success_url=row["success_url"],
        failure_url=row["failure_url"],
        metadata=row["metadata"],
        # Rows of the links view made before links asked payers anything have neither.
        customer_fields=row.get("customer_fields") or {},
        custom_fields=row.get("custom_fields") or [],
        counts=Counts(
            sent=row["sent_count"],
            opened=row["opened_count"],
            payments=row["payment_count"],
            flagged=row["flagged_count"],
        ),
        collected=row["collected"],
        allow_partial=row.get("allow_partial", False),
        partial_min=row.get("partial_min"),
        partial_expiry=row.get("partial_expiry"),
        amount_paid=row.get("amount_paid"),
        amount_due=link_queries.amount_due(row),
        created_at=row["created_at"],
        inactive_message=row.get("inactive_message"),
        timeline=row.get("timeline"),
    )


@router.post(
    "",
    status_code=201,
    response_model=LinkOut,
    responses={
        200: {
            "model": LinkOut,
            "description": "a link with that reference_id existed, made with this same body: it",
        },
        **problem_responses(409),
    },
    summary="Create a payment link",
)
async def create_link(
    body: LinkCreate,
    request: Request,
    owner: Owner,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a link; the same ``reference_id`` with the same body returns the first link
    (200 instead of 201), with another body it is a 409 ``reference-id-reused`` naming it.

    ``notify`` sends the new link at once to each address given (e-mail, WhatsApp, SMS),
    each send recorded on its timeline; the answer's ``notifications`` say how each went,
    and a send that fails leaves the link created. An address that is not one is a 422
    naming it (``notify.whatsapp``), and nothing is stored. ``reminders`` remind the
    customer the link was sent to before it expires.

    The amount is required: ``amount`` (or ``line_items``), or ``amount_min`` (and optionally
    ``amount_max``) for an amount the payer chooses. A fixed ``amount`` may be paid in parts
    (a down payment first): ``allow_partial`` with ``partial_min``, the least first part;
    such a link is one use (``usage_limit`` 1) that completes when paid in full, and
    ``partial_expiry`` says whether a link paid in part expires (``expire``: what was paid
    stays credited) or stays open until paid in full (``keep_open``); without it, the
    merchant's policy. An open amount, line items or another usage_limit with
    ``allow_partial`` is a 422 naming the field. Each method in ``methods`` must take the
    link's currency, amount and fee (422 ``method-unavailable`` naming ``methods[i]``);
    without ``methods`` the link is offered by every method that can take it.
    """
    # Most creations never get here: api.direct answers them with open_link before
    # FastAPI's layers. This route answers the rest (keys not seen lately, errors, replays,
    # links sent or reminded at once) with the same function where it can.
    # Not PaylinkDep: a plain function dependency runs in the thread pool, a hop per request.
    paylink: Paylink = request.app.state.paylink
    messages = None
    if body.notify is not None or body.reminders is not None:
        notify = body.notify.model_dump(exclude={"language"}) if body.notify else None
        language = body.notify.language if body.notify else "id"
        messages = NewLinkMessages.check(notify, body.reminders, language)
    fields = _link_fields(body)

    def execute() -> tuple[int, LinkOut]:
        details, created = paylink.links.create_or_find(
            owner.merchant_id, by=str(owner.key_id), mode=owner.mode, **fields
        )
        results = None
        # A request run again (its first run died) finds its link sent: not twice.
        if messages is not None and created and details.sent_count == 0:
            results = messenger(request, paylink).created(details, messages, str(owner.key_id))
            details = paylink.links.get(details.id)
        out = link_out(details_row(details), public_url(request))
        if results is not None:
            out.notifications = [SendResultOut.model_validate(vars(r)) for r in results]
        return (201 if created else 200), out

    if messages is not None:  # sends leave the store: claim the key, then keep the answer
        return await run_in_threadpool(run_idempotent, request, owner, body, execute)
    # No thread of the pool waits while the group commit writes.
    opened = await open_link(
        paylink,
        owner,
        body,
        public_url(request),
        key=idempotency_key,
        path=request.url.path,
        request_id=getattr(request.state, "request_id", None),
    )
    if isinstance(opened, Earlier):
        assert idempotency_key is not None  # noqa: S101 - only a key has an earlier use
        return await run_in_threadpool(
            replay_earlier, request, owner, idempotency_key, opened.record, opened.asked, execute
        )
    status, content = opened
    return Response(content, status_code=status, media_type=PROBLEM if status >= 400 else JSON)


def messenger(request: Request, paylink: Paylink) -> Messenger:
    """A messenger on the notifiers this app's services were built with."""
    services: Services = request.app.state.services
    return Messenger(paylink, services.notifications, public_url(request))


def _link_fields(body: LinkCreate) -> dict[str, Any]:
    """The fields of the link itself (not where it goes, nor its reminders)."""
    fields = body.model_dump(exclude_unset=True, exclude={"notify", "reminders"})
    if fields.get("expires_at") is not None:
        fields["expires_at"] = body.expires_at
    return fields


@dataclass(frozen=True)
class Earlier:
    """An Idempotency-Key used before (``record``), and what this request asks (``asked``)."""

    record: RequestDetails
    asked: str


async def open_link(
    paylink: Paylink,
    owner: KeyOwner,
    body: LinkCreate,
    base: str,
    *,
    key: str | None = None,
    path: str = router.prefix,
    request_id: str | None = None,
) -> tuple[int, bytes] | Earlier:
    """Create the link a validated body asks for: 201 (or 200: the reference's link), JSON.

    With an Idempotency-Key (``key``), the link's events and the key's record with this
    very answer are saved in one write (group-committed with other requests'); a domain
    refusal is answered as its problem document, kept as the answer too. A key used
    before runs and stores nothing: its record comes back (:class:`Earlier`) for the
    route to replay. Without a key a refusal raises.
    """
    fields = _link_fields(body)
    by = str(owner.key_id)
    if key is None:
        details, created = await paylink.links.create_or_find_async(
            owner.merchant_id, by=by, mode=owner.mode, **fields
        )
        return (201 if created else 200), link_out(
            details_row(details), base
        ).model_dump_json().encode()
    asked = fingerprint("POST", path, body)
    use = paylink.requests.use(owner.merchant_id, owner.mode, key, asked)

    def render(details: LinkDetails, created: bool) -> Answer:
        return (201 if created else 200), link_out(details_row(details), base).model_dump_json()

    def refused(error: DomainError) -> Answer:
        status, problem = error_document(error, request_id)
        return status, problem.decode()

    run = paylink.links.kept_create(owner.merchant_id, use, render, by=by, **fields)
    faults.reach("idempotency.claim")
    once = await paylink.requests.once_async(use, run, refused)
    if once.answer is None:
        assert once.earlier is not None  # noqa: S101 - one or the other
        return Earlier(once.earlier, asked)
    faults.reach("idempotency.answer")
    status, content = once.answer
    return status, content.encode()


@router.get("", response_model=LinkList, summary="List payment links")
def list_links(
    request: Request,
    owner: Owner,
    models: LinksView,
    paylink: PaylinkDep,
    status: Annotated[
        str | None,
        Query(description="active, partially_paid, inactive, completed, expired, cancelled"),
    ] = None,
    created_from: Annotated[Instant | None, Query(description="created at or after")] = None,
    created_to: Annotated[Instant | None, Query(description="created before")] = None,
    reference_id: Annotated[Text | None, Query(max_length=64)] = None,
    q: Annotated[Text | None, Query(max_length=200, description="text in description")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    as_of: Annotated[Instant | None, Query(description=AS_OF)] = None,
) -> LinkList:
    """The merchant's links, newest first; pass ``next_cursor`` back as ``cursor``.

    With ``as_of``, the links that existed at that instant, each as it stood then.
    """
    now = paylink.now()
    base = public_url(request)
    filters: dict[str, Any] = {
        "created_from": created_from,
        "created_to": created_to,
        "reference": reference_id,
        "text": q,
        "limit": limit,
        "cursor": cursor,
    }
    if as_of is None:
        page = link_queries.list_links(
            models, owner.merchant_id, owner.mode, now, status=status, **filters
        )
        return LinkList(
            data=[link_out(_row_terms(row), base) for row in page.items],
            next_cursor=page.next_cursor,
        )
    if status is not None:
        raise QueryError("status", "cannot be combined with as_of (a status is read as of now)")
    then = min(as_of, now)  # nothing has happened after now: a later instant reads as now
    past = link_queries.links_as_of(models, owner.merchant_id, owner.mode, then, **filters)
    return LinkList(
        data=[link_out({**_row_terms(row), "timeline": None}, base) for row in past.items],
        next_cursor=past.next_cursor,
        as_of=then,
    )


def _row_terms(row: LinkRow) -> dict[str, Any]:
    return {**row, **orjson.loads(row["terms"])}


@router.get(
    "/{link_id}",
    response_model=LinkOut,
    summary="Read a payment link",
    responses=problem_responses(404),
)
def get_link(
    link_id: UUID, request: Request, owner: Owner, models: LinksView, paylink: PaylinkDep
) -> LinkOut:
    """One link with its timeline; another merchant's link is 404, like an unknown one.

    Status, counts and money come from the event store (a client reads its own writes);
    the timeline comes from the views and may trail by a few milliseconds.
    """
    details = owned(paylink, owner, link_id)
    row = link_queries.link_detail(models, owner.merchant_id, owner.mode, link_id, paylink.now())
    timeline = row["timeline"] if row is not None else []
    return link_out({**details_row(details), "timeline": timeline}, public_url(request))


@router.post(
    "/{link_id}/cancel",
    response_model=LinkOut,
    summary="Cancel a payment link",
    responses=problem_responses(404, 409),
)
def cancel_link(
    link_id: UUID,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    body: CancelRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Close the link to new payments (an active or inactive one)."""
    cancel = partial(paylink.links.cancel, link_id, body.reason if body else None)
    return _on_owned(request, owner, paylink, link_id, body, cancel)


def owned(paylink: Paylink, owner: KeyOwner, link_id: UUID) -> LinkDetails:
    """The link if the key's merchant and mode own it; else the 404 an unknown one gets."""
    details = paylink.links.owned(owner.merchant_id, owner.mode, link_id)
    if details is None:
        raise ProblemError(404, "not-found", NOT_FOUND, field="link_id")
    return details


def _on_owned(
    request: Request,
    owner: KeyOwner,
    paylink: Paylink,
    link_id: UUID,
    body: BaseModel | None,
    command: Callable[[str], LinkDetails | None],
    status: int = 200,
) -> Response:
    """Run ``command`` on one of the key's links, once per Idempotency-Key, naming the
    key's id as who made the change; answer the link it returns (a new one), or else the
    link as the command left it."""

    def execute() -> tuple[int, LinkOut]:
        owned(paylink, owner, link_id)
        made = command(str(owner.key_id))
        details = made if made is not None else paylink.links.get(link_id)
        return status, link_out(details_row(details), public_url(request))

    return run_idempotent(request, owner, body, execute)


@router.patch(
    "/{link_id}",
    response_model=LinkOut,
    summary="Edit a payment link",
    responses=problem_responses(404, 409),
)
def edit_link(
    link_id: UUID, body: LinkEdit, request: Request, owner: Owner, paylink: PaylinkDep
) -> LinkOut:
    """Change a link that is not closed: any of description, currency, amount (or
    amount_min/amount_max), methods, expires_at, customer, allow_partial, partial_min,
    partial_expiry. Each is checked as on create;
    methods given must each take the link (422 ``method-unavailable``). An empty body is a
    422; an edit that changes nothing answers the link and records nothing.

    A link that has payments keeps its amount, range, currency and allow_partial (409
    ``link-has-payments`` naming the field); a cancelled, completed or expired link cannot
    be edited (409 ``link-closed``). The ``link.updated`` event lists what changed.
    """
    owned(paylink, owner, link_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("expires_at") is not None:
        changes["expires_at"] = body.expires_at
    details, _ = paylink.links.edit(link_id, str(owner.key_id), **changes)
    return link_out(details_row(details), public_url(request))


@router.post(
    "/{link_id}/duplicate",
    status_code=201,
    response_model=LinkOut,
    summary="Duplicate a payment link",
    responses=problem_responses(404, 409),
)
def duplicate_link(
    link_id: UUID,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new link on the same terms as this one (whatever its status), without its
    reference_id or slug; an expiry keeps the original's duration, counted from now.
    Methods that can no longer take the link are left out."""
    duplicate = partial(paylink.links.duplicate, link_id)
    return _on_owned(request, owner, paylink, link_id, None, duplicate, status=201)


@router.post(
    "/{link_id}/deactivate",
    response_model=LinkOut,
    summary="Deactivate a payment link",
    responses=problem_responses(404, 409),
)
def deactivate_link(
    link_id: UUID,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    body: DeactivateRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Stop an active link taking payments until it is reactivated: status ``inactive``,
    and its page shows ``message`` (optional) instead of the methods. It still expires."""
    deactivate = partial(paylink.links.deactivate, link_id, body.message if body else None)
    return _on_owned(request, owner, paylink, link_id, body, deactivate)


@router.post(
    "/{link_id}/reactivate",
    response_model=LinkOut,
    summary="Reactivate a payment link",
    responses=problem_responses(404, 409),
)
def reactivate_link(
    link_id: UUID,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Let an inactive link take payments again (not one past its expiry: that one is
    expired)."""
    reactivate = partial(paylink.links.reactivate, link_id)
    return _on_owned(request, owner, paylink, link_id, None, reactivate)
