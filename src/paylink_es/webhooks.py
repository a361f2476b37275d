"""Outgoing webhooks: endpoints, signed deliveries, retries; every attempt is an event.

Signature (Stripe's habit): ``Paylink-Signature: t=<unix>,v1=<hex hmac-sha256(secret,
"{t}.{body}")>``; during a secret rotation the old secret signs too (a second ``v1``)
for 24 hours.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.aggregate import PaylinkAggregate, stable_id
from paylink_es.errors import InvalidFieldError, TransitionInvalidError
from paylink_es.merchant import random_base62

# Public event types, from the domain events that make them.
PUBLIC_EVENTS: Final[dict[str, str]] = {
    "PaymentLink.Created": "link.created",
    "PaymentLink.Sent": "link.sent",
    "PaymentLink.Opened": "link.opened",
    "PaymentLink.Expired": "link.expired",
    "PaymentLink.Cancelled": "link.cancelled",
    "PaymentLink.Completed": "link.completed",
    "Payment.Initiated": "payment.initiated",
    "Payment.Received": "payment.paid",
    "Payment.Flagged": "payment.flagged",
    "Payment.Verified": "payment.verified",
    "Payment.Rejected": "payment.rejected",
    "Payment.Settled": "payment.settled",
    "Payment.Refunded": "payment.refunded",
}
EVENT_TYPES: Final = frozenset(PUBLIC_EVENTS.values())
# Waits before each retry: about two days in all, well over the 24 hours promised.
RETRY_DELAYS: Final = tuple(timedelta(minutes=m) for m in (1, 5, 15, 45, 120, 180, 360, 720, 1440))
ROTATION_OVERLAP: Final = timedelta(hours=24)
SIGNATURE_TOLERANCE_S: Final = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<sig>[,v1=<sig of the old secret>]``."""
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets)])


def verify_signature(
    secret: str, header: str, body: bytes, now: int, tolerance: int = SIGNATURE_TOLERANCE_S
) -> bool:
    """What a receiver does: the timestamp is recent and one ``v1`` matches."""
    parts = [part.partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in parts if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, value) for key, _, value in parts if key == "v1")


def check_webhook_url(url: object, *, allow_private: bool) -> str:
    """An https (or, for private hosts when allowed, http) URL that is not on a private net."""
    if not isinstance(url, str) or len(url) > 2048:
        raise InvalidFieldError("url", "must be an absolute URL of at most 2048 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidFieldError("url", f"{url!r} is not an absolute http(s) URL")
    if not allow_private:
        if parts.scheme != "https":
            raise InvalidFieldError("url", "must use https")
        for address in _addresses(parts.hostname):
            if _is_private(address):
                raise InvalidFieldError(
                    "url", f"{parts.hostname} is a private, loopback or link-local address"
                )
    return url


def _addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise InvalidFieldError("url", f"{host} does not resolve") from None
    return sorted({str(info[4][0]) for info in infos})


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_event_types(types: object) -> list[str]:
    """Known public event types, or ``["*"]`` for all."""
    if types is None:
        return ["*"]
    if isinstance(types, str) or not isinstance(types, list | tuple) or not types:
        raise InvalidFieldError("event_types", "must be a non-empty list of event types")
    checked: list[str] = []
    for index, name in enumerate(types):
        if name != "*" and name not in EVENT_TYPES:
            raise InvalidFieldError(
                f"event_types[{index}]",
                f"{name!r} is not an event type (known: {', '.join(sorted(EVENT_TYPES))})",
            )
        if name not in checked:
            checked.append(str(name))
    return checked


class WebhookEndpoint(PaylinkAggregate):
    """Where a merchant wants events posted, and the secret that signs them.

    The secret is kept in the event store so deliveries can be signed; see
    ARCHITECTURE.md (encrypting the store at rest is the next step).
    """

    id: UUID  # given by the application

    @event("Created")
    def __init__(
        self, merchant_id: UUID, mode: str, url: str, event_types: list[str], secret: str
    ) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.url = url
        self.event_types = event_types
        self.secret = secret
        self.old_secret: str | None = None
        self.old_secret_until: datetime | None = None
        self.deleted = False

    @staticmethod
    def new_secret() -> str:
        """A fresh signing secret."""
        return f"whsec_{random_base62(32)}"

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the old one while its 24 hours last."""
        if self.old_secret and self.old_secret_until and now < self.old_secret_until:
            return [self.secret, self.old_secret]
        return [self.secret]

    def rotate(self, now: datetime) -> str:
        """Replace the secret; the old one keeps signing for 24 hours. Returns the new one."""
        self._require_live()
        secret = self.new_secret()
        self._rotated(secret=secret, old_secret_until=now + ROTATION_OVERLAP)
        return secret

    @event("SecretRotated")
    def _rotated(self, secret: str, old_secret_until: datetime) -> None:
        self.old_secret = self.secret
        self.old_secret_until = old_secret_until
        self.secret = secret

    def delete(self) -> None:
        """Stop sending to this endpoint."""
        self._require_live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True

    def _require_live(self) -> None:
        if self.deleted:
            raise TransitionInvalidError("the webhook endpoint is deleted", field="endpoint")


class WebhookDelivery(PaylinkAggregate):
    """One event for one endpoint: every attempt, and whether it got through."""

    id: UUID  # given by the application

    @staticmethod
    def id_for(endpoint_id: UUID, position: int) -> UUID:
        """One delivery per endpoint and event."""
        return stable_id(f"/webhooks/{endpoint_id}/events/{position}")

    @event("Attempted")
    def __init__(
        self,
        endpoint_id: UUID,
        merchant_id: UUID,
        position: int,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.merchant_id = merchant_id
        self.position = position
        self.attempts = 0
        self.delivered = False
        self._apply_attempt(status_code, next_attempt_at)

    def _apply_attempt(self, status_code: int | None, next_attempt_at: datetime | None) -> None:
        self.attempts += 1
        self.delivered = status_code is not None and 200 <= status_code < 300
        self.next_attempt_at = next_attempt_at

    def attempt(
        self, status_code: int | None, error: str | None, next_attempt_at: datetime | None
    ) -> None:
        """Record another try."""
        self._attempted(
            endpoint_id=self.endpoint_id,
            position=self.position,
            status_code=status_code,
            error=error,
            next_attempt_at=next_attempt_at,
        )

    @event("Retried")
    def _attempted(
        self,
        endpoint_id: UUID,
        position: int,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        self._apply_attempt(status_code, next_attempt_at)

    def request_resend(self) -> None:
        """A person asked for this event to be sent again now."""
        self._resend_requested(endpoint_id=self.endpoint_id, position=self.position)

    @event("ResendRequested")
    def _resend_requested(self, endpoint_id: UUID, position: int) -> None:
        self.next_attempt_at = None


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed tries; None when we give up."""
    if attempts > len(RETRY_DELAYS):
        return None
    return now + RETRY_DELAYS[attempts - 1]
