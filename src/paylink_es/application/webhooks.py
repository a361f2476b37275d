"""Webhooks: where a merchant wants events posted, and every try at posting them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TypeVar
from uuid import UUID

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import Snapshot
from paylink_es.domain.aggregate import PaylinkAggregate
from paylink_es.domain.errors import NotFoundError
from paylink_es.domain.idempotency import deriving_ids
from paylink_es.domain.webhooks import (
    Resolver,
    WebhookDelivery,
    WebhookEndpoint,
    check_event_types,
    check_webhook_target,
)
from paylink_es.resolver import system_resolver

T = TypeVar("T")
A = TypeVar("A", bound=PaylinkAggregate)


@dataclass(frozen=True)
class NewEndpoint:
    """A created endpoint; the secret is shown this once."""

    endpoint_id: UUID
    secret: str


@dataclass(frozen=True)
class EndpointDetails(Snapshot):
    """An endpoint as it stands now, with the secrets that sign its deliveries."""

    id: UUID
    merchant_id: UUID
    mode: str
    url: str
    event_types: list[str]
    created_at: datetime
    secret: str
    old_secret: str | None
    old_secret_until: datetime | None

    derived: ClassVar[Mapping[str, Callable[[WebhookEndpoint], object]]] = {
        "event_types": lambda endpoint: list(endpoint.event_types),
        "created_at": lambda endpoint: endpoint.created_on,
    }

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the old one while its 24 hours last."""
        if self.old_secret and self.old_secret_until and now < self.old_secret_until:
            return [self.secret, self.old_secret]
        return [self.secret]


class WebhookService:
    """Create, rotate and delete endpoints; record delivery attempts and resends."""

    def __init__(self, app: PaylinkApp, resolver: Resolver | None = None) -> None:
        self.app = app
        # How webhook host names are looked up; None: the system's resolver.
        self.resolver = resolver

    def create_endpoint(
        self,
        merchant_id: UUID,
        mode: str,
        url: str,
        event_types: list[str] | None,
        *,
        allow_private: bool,
    ) -> NewEndpoint:
        """Register where to post events.

        Unless private addresses are allowed, the URL's host and every address it resolves
        to must be globally reachable (not loopback, private, shared, documentation, ...).
        """
        types = check_event_types(event_types)  # cheap checks first; the URL may need DNS
        checked_url = check_webhook_target(
            url, allow_private=allow_private, resolve=self.resolver or system_resolver
        ).url

        endpoint_id = self.app.new_id()
        derived = deriving_ids()

        def command() -> NewEndpoint:
            if derived and endpoint_id in self.app.repository:
                # This idempotent request ran before and died before answering.
                earlier = self.app.get(WebhookEndpoint, endpoint_id, "endpoint")
                return NewEndpoint(earlier.id, earlier.secret)
            secret = WebhookEndpoint.new_secret()
            endpoint = WebhookEndpoint(
                id=endpoint_id,
                merchant_id=merchant_id,
                mode=mode,
                url=checked_url,
                event_types=types,
                secret=secret,
            )
            self.app.save(endpoint)
            return NewEndpoint(endpoint.id, secret)

        return self.app.run(command)

    def endpoint(self, merchant_id: UUID, mode: str, endpoint_id: UUID) -> EndpointDetails:
        """The merchant's endpoint (another merchant's is not found, like an unknown one)."""
        return EndpointDetails.of(self._owned(merchant_id, mode, endpoint_id))

    def _owned(self, merchant_id: UUID, mode: str, endpoint_id: UUID) -> WebhookEndpoint:
        endpoint = self.app.get(WebhookEndpoint, endpoint_id, "endpoint")
        if endpoint.merchant_id != merchant_id or endpoint.mode != mode or endpoint.deleted:
            raise NotFoundError(f"no endpoint {endpoint_id}", field="endpoint_id")
        return endpoint

    def rotate_secret(self, merchant_id: UUID, mode: str, endpoint_id: UUID) -> str:
        """A new secret; the old one keeps signing for 24 hours."""

        def command() -> str:
            endpoint = self._owned(merchant_id, mode, endpoint_id)
            secret = endpoint.rotate(self.app.now())
            self.app.save(endpoint)
            return secret

        return self.app.run(command)

    def delete_endpoint(self, merchant_id: UUID, mode: str, endpoint_id: UUID) -> None:
        """Stop posting to the endpoint."""

        def command() -> None:
            endpoint = self._owned(merchant_id, mode, endpoint_id)
            endpoint.delete()
            self.app.save(endpoint)

        self.app.run(command)

    def record_delivery_attempt(
        self,
        endpoint_id: UUID,
        merchant_id: UUID,
        position: int,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> UUID:
        """Record one try at posting event ``position`` to an endpoint."""
        delivery_id = WebhookDelivery.create_id(endpoint_id, position)

        def command() -> UUID:
            if delivery_id in self.app.repository:
                delivery = self.app.get(WebhookDelivery, delivery_id, "delivery")
                delivery.attempt(status_code, error, next_attempt_at)
            else:
                delivery = WebhookDelivery(
                    endpoint_id=endpoint_id,
                    merchant_id=merchant_id,
                    position=position,
                    status_code=status_code,
                    error=error,
                    next_attempt_at=next_attempt_at,
                )
            self.app.save(delivery)
            return delivery_id

        return self.app.run(command)

    def delivery_attempts(self, delivery_id: UUID) -> int:
        """How many times a delivery has been tried (0 if never)."""
        if delivery_id not in self.app.repository:
            return 0
        return self.app.get(WebhookDelivery, delivery_id, "delivery").attempts

    def resend_delivery(self, merchant_id: UUID, endpoint_id: UUID, position: int) -> UUID:
        """Ask for a delivery to be sent again now."""
        delivery_id = WebhookDelivery.create_id(endpoint_id, position)

        def command() -> UUID:
            if delivery_id not in self.app.repository:
                return delivery_id  # never tried yet: it is due already
            delivery = self.app.get(WebhookDelivery, delivery_id, "delivery")
            if delivery.merchant_id != merchant_id:
                raise NotFoundError(f"no delivery {delivery_id}", field="delivery_id")
            delivery.request_resend()
            self.app.save(delivery)
            return delivery_id

        return self.app.run(command)
