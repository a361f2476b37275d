"""Developer pages: webhook endpoints and their delivery log, and API keys."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import RedirectResponse

from api.dashboard.paging import CursorQuery, StatusQuery, next_page_query
from api.dashboard.render import render, said_error, said_notice, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import OwnerFormDep, PageNotFoundError, Staff, StaffDep
from api.deps import get_models, get_paylink, get_primary_models
from api.params import Text
from paylink_es.application.services import Paylink
from paylink_es.domain.errors import DomainError
from paylink_es.domain.merchant import ApiKey, Merchant
from paylink_es.domain.terms import Mode
from paylink_es.domain.webhooks import EVENT_TYPES
from paylink_es.settings import Settings
from projections.queries import outbox as outbox_queries

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
DELIVERY_STATUSES = ("pending", "delivered", "failed")
NOTICES = ("resent_ok", "revoked_ok")


# -- webhooks --------------------------------------------------------------------


def _webhooks_page(
    request: Request,
    staff: Staff,
    *,
    status: int = 200,
    error: str | None = None,
    secret: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    models = get_models(request)
    delivery_status = request.query_params.get("status", "")
    cursor = request.query_params.get("cursor") or None
    page = outbox_queries.webhook_deliveries(
        models,
        staff.merchant_id,
        staff.mode,
        status=delivery_status or None,
        limit=20,
        cursor=cursor,
    )
    endpoints = [
        {**row, "event_types": json.loads(row["event_types"])}
        for row in outbox_queries.webhook_endpoints(models, staff.merchant_id, staff.mode)
    ]
    kept = {"status": delivery_status} if delivery_status else {}
    return render(
        request,
        "webhooks.html",
        staff,
        status=status,
        title=words(request)["webhooks_title"],
        endpoints=endpoints,
        deliveries=page.items,
        delivery_statuses=DELIVERY_STATUSES,
        delivery_status=delivery_status,
        next_query=next_page_query(kept, page.next_cursor),
        event_types=sorted(EVENT_TYPES),
        error=error,
        secret=secret,
        form=form or {"url": "", "event_types": []},
        notice=said_notice(request, NOTICES),
    )


@router.get("/dashboard/webhooks")
def webhooks(
    request: Request,
    staff: StaffDep,
    status: StatusQuery = "",
    cursor: CursorQuery = "",
) -> Response:
    """Endpoints and the delivery log (filter by status, a cursor page at a time)."""
    del status, cursor  # read from the query by the page builder, validated by the query
    return _webhooks_page(request, staff)


@router.post("/dashboard/webhooks")
def add_endpoint(
    request: Request,
    staff: OwnerFormDep,
    url: Annotated[str, Form(max_length=2048)] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Add an endpoint; its signing secret is shown on this answer only."""
    settings: Settings = request.app.state.settings
    try:
        created = get_paylink(request).webhooks.create_endpoint(
            staff.merchant_id,
            staff.mode,
            url.strip(),
            event_types or None,
            allow_private=settings.allow_private_webhooks,
        )
    except DomainError as error:
        form = {"url": url, "event_types": event_types or []}
        message = said_error(request, error)
        return _webhooks_page(request, staff, status=422, error=message, form=form)
    return _webhooks_page(request, staff, status=201, secret=created.secret)


@router.post("/dashboard/webhooks/{endpoint_id}/delete")
def delete_endpoint(request: Request, staff: OwnerFormDep, endpoint_id: UUID) -> Response:
    """Stop posting to an endpoint."""
    get_paylink(request).webhooks.delete_endpoint(staff.merchant_id, staff.mode, endpoint_id)
    return RedirectResponse("/dashboard/webhooks", 303)


@router.post("/dashboard/webhooks/deliveries/{delivery_id}/resend")
def resend(
    request: Request, staff: OwnerFormDep, delivery_id: Annotated[Text, Path(max_length=80)]
) -> Response:
    """Queue one delivery to be posted again now."""
    row = outbox_queries.webhook_delivery(
        get_primary_models(request), staff.merchant_id, staff.mode, delivery_id
    )
    if row is None:
        raise PageNotFoundError
    get_paylink(request).webhooks.resend_delivery(
        staff.merchant_id, UUID(row["endpoint_id"]), row["position"]
    )
    return RedirectResponse("/dashboard/webhooks?notice=resent_ok", 303)


# -- API keys ----------------------------------------------------------------------


def merchant_keys(paylink: Paylink, merchant_id: UUID, mode: str) -> list[ApiKey]:
    """The merchant's keys of one mode (what is kept of them: prefix, never the secret)."""
    merchant: object = paylink.app.repository.get(merchant_id)
    if not isinstance(merchant, Merchant):
        raise PageNotFoundError
    return [key for key in merchant.keys.values() if key.mode == mode]


def _keys_page(
    request: Request, staff: Staff, *, status: int = 200, secret: str | None = None
) -> Response:
    return render(
        request,
        "keys.html",
        staff,
        status=status,
        title=words(request)["keys_title"],
        keys=merchant_keys(get_paylink(request), staff.merchant_id, staff.mode),
        secret=secret,
        notice=said_notice(request, NOTICES),
    )


@router.get("/dashboard/keys")
def keys(request: Request, staff: StaffDep) -> Response:
    """The keys of the mode being looked at."""
    return _keys_page(request, staff)


@router.post("/dashboard/keys")
def issue_key(request: Request, staff: OwnerFormDep) -> Response:
    """Issue a key of the current mode; its secret is shown on this answer only."""
    mode: Mode = "live" if staff.mode == "live" else "test"
    issued = get_paylink(request).merchants.issue_key(staff.merchant_id, mode)
    return _keys_page(request, staff, status=201, secret=issued.secret)


@router.post("/dashboard/keys/{key_id}/revoke")
def revoke_key(request: Request, staff: OwnerFormDep, key_id: UUID) -> Response:
    """Revoke one of the merchant's keys (another merchant's key is not found)."""
    owned = merchant_keys(get_paylink(request), staff.merchant_id, staff.mode)
    if key_id not in {key.key_id for key in owned}:
        raise PageNotFoundError
    get_paylink(request).merchants.revoke_key(staff.merchant_id, key_id)
    return RedirectResponse("/dashboard/keys?notice=revoked_ok", 303)
