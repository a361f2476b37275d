"""``/v1/webhook-endpoints``, ``/v1/webhook-deliveries`` and the ``/v1/events`` feed."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response

from api.auth import IdempotencyKey, Owner
from api.deps import FeedView, OutboxView, PaylinkDep, PrimaryModels
from api.idempotency import run_idempotent
from api.params import Text
from api.problems import ProblemError
from api.schemas import (
    COMMON_PROBLEMS,
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    EndpointCreate,
    EndpointList,
    EndpointOut,
    EventList,
    instant_of,
    problem_responses,
)
from paylink_es.application.webhooks import EndpointDetails
from paylink_es.settings import Settings
from projections.queries import feed as feed_queries
from projections.queries import outbox as outbox_queries
from projections.queries.outbox import AttemptRow, DeliveryRow, EndpointRow

router = APIRouter(tags=["webhooks"], responses=COMMON_PROBLEMS)


def _endpoint_out(row: EndpointRow) -> EndpointOut:
    return EndpointOut(
        id=row["endpoint_id"],
        mode=row["mode"],
        url=row["url"],
        event_types=json.loads(row["event_types"]),
        created_at=instant_of(row["created_at"]),
    )


def _endpoint_model(endpoint: EndpointDetails, secret: str | None = None) -> EndpointOut:
    """An endpoint as the API shows it; the secret only when just created or rotated."""
    return EndpointOut(
        id=str(endpoint.id),
        mode=endpoint.mode,
        url=endpoint.url,
        event_types=endpoint.event_types,
        created_at=endpoint.created_at,
        secret=secret,
    )


def _delivery_out(row: DeliveryRow, attempts: list[AttemptRow] | None = None) -> DeliveryOut:
    return DeliveryOut(
        id=row["delivery_id"],
        endpoint_id=row["endpoint_id"],
        event_type=row["event_type"],
        event=json.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        next_attempt_at=instant_of(row["next_attempt_at"]),
        created_at=instant_of(row["created_at"]),
        attempt_log=[_attempt_out(a) for a in attempts] if attempts is not None else None,
    )


def _attempt_out(row: AttemptRow) -> AttemptOut:
    return AttemptOut(
        attempt=row["attempt"],
        at=instant_of(row["at"]),
        status_code=row["status_code"],
        error=row["error"],
    )


@router.post(
    "/v1/webhook-endpoints",
    status_code=201,
    response_model=EndpointOut,
    summary="Add a webhook endpoint (the secret is shown once)",
    responses=problem_responses(409),
)
def create_endpoint(
    body: EndpointCreate,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Events of the chosen types are posted to ``url``, signed with the secret."""
    settings: Settings = request.app.state.settings

    def execute() -> tuple[int, EndpointOut]:
        created = paylink.webhooks.create_endpoint(
            owner.merchant_id,
            owner.mode,
            body.url,
            body.event_types,
            allow_private=settings.allow_private_webhooks,
        )
        endpoint = paylink.webhooks.endpoint(owner.merchant_id, owner.mode, created.endpoint_id)
        return 201, _endpoint_model(endpoint, created.secret)

    return run_idempotent(request, owner, body, execute)


@router.get("/v1/webhook-endpoints", response_model=EndpointList, summary="List endpoints")
def list_endpoints(owner: Owner, models: OutboxView) -> EndpointList:
    """The merchant's endpoints (deleted ones are gone)."""
    rows = outbox_queries.webhook_endpoints(models, owner.merchant_id, owner.mode)
    return EndpointList(data=[_endpoint_out(row) for row in rows])


@router.get(
    "/v1/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="Read an endpoint",
    responses=problem_responses(404),
)
def get_endpoint(endpoint_id: UUID, owner: Owner, paylink: PaylinkDep) -> EndpointOut:
    """One endpoint (never its secret)."""
    endpoint = paylink.webhooks.endpoint(owner.merchant_id, owner.mode, endpoint_id)
    return _endpoint_model(endpoint)


@router.delete(
    "/v1/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="Delete an endpoint",
    responses=problem_responses(404),
)
def delete_endpoint(endpoint_id: UUID, owner: Owner, paylink: PaylinkDep) -> EndpointOut:
    """Stop posting to the endpoint; pending deliveries to it are dropped."""
    endpoint = paylink.webhooks.endpoint(owner.merchant_id, owner.mode, endpoint_id)
    paylink.webhooks.delete_endpoint(owner.merchant_id, owner.mode, endpoint_id)
    return _endpoint_model(endpoint)


@router.post(
    "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointOut,
    summary="Rotate the signing secret",
    responses=problem_responses(404, 409),
)
def rotate_secret(
    endpoint_id: UUID,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new secret (shown once); the old one also signs for 24 hours."""

    def execute() -> tuple[int, EndpointOut]:
        secret = paylink.webhooks.rotate_secret(owner.merchant_id, owner.mode, endpoint_id)
        endpoint = paylink.webhooks.endpoint(owner.merchant_id, owner.mode, endpoint_id)
        return 200, _endpoint_model(endpoint, secret)

    return run_idempotent(request, owner, None, execute)


@router.get("/v1/webhook-deliveries", response_model=DeliveryList, summary="Delivery log")
def list_deliveries(
    owner: Owner,
    models: OutboxView,
    endpoint_id: UUID | None = None,
    status: Annotated[str | None, Query(description="pending, delivered, failed")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> DeliveryList:
    """Deliveries, newest event first, with their status and attempt count."""
    page = outbox_queries.webhook_deliveries(
        models,
        owner.merchant_id,
        owner.mode,
        endpoint_id=endpoint_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return DeliveryList(
        data=[_delivery_out(row) for row in page.items], next_cursor=page.next_cursor
    )


def _delivery(models: Any, owner: Any, delivery_id: str) -> DeliveryRow:
    row = outbox_queries.webhook_delivery(models, owner.merchant_id, owner.mode, delivery_id)
    if row is None:
        raise ProblemError(404, "not-found", "no such webhook delivery", field="delivery_id")
    return row


@router.get(
    "/v1/webhook-deliveries/{delivery_id}",
    response_model=DeliveryOut,
    summary="A delivery with every attempt",
    responses=problem_responses(404),
)
def get_delivery(
    delivery_id: Annotated[Text, Path(max_length=80)], owner: Owner, models: OutboxView
) -> DeliveryOut:
    """One delivery and its attempt log."""
    row = _delivery(models, owner, delivery_id)
    return _delivery_out(row, outbox_queries.webhook_attempts(models, delivery_id))


@router.post(
    "/v1/webhook-deliveries/{delivery_id}/resend",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a delivery again now",
    responses=problem_responses(404, 409),
)
def resend(
    delivery_id: Annotated[Text, Path(max_length=80)],
    request: Request,
    owner: Owner,
    models: PrimaryModels,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Queue the delivery to be posted again at once (also after it succeeded or gave up)."""

    def execute() -> tuple[int, DeliveryOut]:
        row = _delivery(models, owner, delivery_id)
        paylink.webhooks.resend_delivery(
            owner.merchant_id, UUID(row["endpoint_id"]), row["position"]
        )
        return 202, _delivery_out({**row, "status": "pending"})

    return run_idempotent(request, owner, None, execute)


@router.get("/v1/events", response_model=EventList, summary="The event feed")
def events(
    owner: Owner,
    models: FeedView,
    after: Annotated[str | None, Query(max_length=40, description="next_cursor of a page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    type: Annotated[Text | None, Query(max_length=40)] = None,
) -> EventList:
    """The merchant's events in a stable order; resume from any cursor to resync."""
    page = feed_queries.events(
        models, owner.merchant_id, owner.mode, after=after, limit=limit, event_type=type
    )
    return EventList(
        data=[json.loads(row["payload"]) for row in page.items], next_cursor=page.next_cursor
    )
