"""Outgoing webhooks: endpoints, signed deliveries, retries; every attempt is an event.

Signature (Stripe's habit): ``Paylink-Signature: t=<unix>,v1=<hex hmac-sha256(secret,
"{t}.{body}")>``; during a secret rotation the old secret signs too (a second ``v1``)
for 24 hours.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.errors import InvalidFieldError, TransitionInvalidError
from paylink_es.domain.merchant import random_base62

# Public event types, from the domain events that make them.
PUBLIC_EVENTS: Final[dict[str, str]] = {
    "PaymentLink.Created": "link.created",
    "PaymentLink.Edited": "link.updated",
    "PaymentLink.Deactivated": "link.deactivated",
    "PaymentLink.Reactivated": "link.reactivated",
    "PaymentLink.Sent": "link.sent",
    "PaymentLink.Opened": "link.opened",
    "PaymentLink.Expired": "link.expired",
    "PaymentLink.Cancelled": "link.cancelled",
    "PaymentLink.Completed": "link.completed",
    "PaymentLink.PartiallyPaid": "link.partially_paid",
    "PaymentLink.PartRefunded": "link.part_refunded",
    "Payment.Initiated": "payment.initiated",
    "Payment.Received": "payment.paid",
    "Payment.Flagged": "payment.flagged",
    "Payment.Verified": "payment.verified",
    "Payment.Rejected": "payment.rejected",
    "Payment.Settled": "payment.settled",
    "Payment.Refunded": "payment.refunded",
    "Payment.RefundRequested": "refund.created",
    "Payment.RefundSucceeded": "refund.succeeded",
    "Payment.RefundFailed": "refund.failed",
    "Payment.Reviewed": "payment.review_decided",
    "SettlementBatch.PaymentsAdded": "settlement.completed",
    "Payout.Requested": "payout.created",
    "Payout.PaidOut": "payout.paid",
    "Payout.Failed": "payout.failed",
}
EVENT_TYPES: Final = frozenset(PUBLIC_EVENTS.values())
# What ``data`` holds for each public type (besides ``object`` and ``id``): the API's
# documentation of the event feed and of webhook bodies is made from this table.
EVENT_DATA: Final[dict[str, str]] = {
    "link.created": "payment_link: code, amount or amount_min/amount_max, currency, "
    "description, reference_id, allow_partial, partial_min, partial_expiry; by (who "
    "created it: an API key's id or a dashboard user's e-mail) and duplicate_of (the link "
    "it copies) when known",
    "link.updated": "payment_link: changed (the names of the fields the edit changed), by, "
    "previous (those fields before), and the terms after it: description, currency, "
    "amount, amount_min, amount_max, methods, expires_at, customer, customer_fields (the "
    "customer details the page asks for), custom_fields (the link's own fields), "
    "allow_partial, partial_min, partial_expiry",
    "link.deactivated": "payment_link: message (what the page shows payers instead of the "
    "methods; absent when none was given), by",
    "link.reactivated": "payment_link: by (the link takes payments again); status "
    "partially_paid when it was paid in part (absent: active)",
    "link.sent": "payment_link: channel, recipient (masked)",
    "link.opened": "payment_link: opened by a customer",
    "link.expired": "payment_link: its expiry passed (recorded by the expiry scheduler)",
    "link.cancelled": "payment_link: reason, by (when given)",
    "link.completed": "payment_link: its last use was paid (a link paid in parts: paid in full)",
    "link.partially_paid": "payment_link: payment_id, amount (this part), currency, "
    "amount_paid (all parts so far), amount_due (what is left to pay), status "
    "(partially_paid; an inactive, cancelled or expired link keeps its own)",
    "link.part_refunded": "payment_link: payment_id, refund_id, amount (how much less counts "
    "toward the link), currency, amount_paid, amount_due, status (a completed link is "
    "partially_paid again; active once nothing is paid)",
    "payment.initiated": "payment: link_id, method, channel, amount, customer (the details "
    "the payer entered on the page: name, email, phone in E.164, address; null when none "
    "were asked), custom_fields (the payer's answers to the link's custom fields, by key)",
    "payment.paid": "payment: amount, channel_ref, paid_at (money reported, not yet verified)",
    "payment.flagged": "payment: anomaly, disposition (needs_review or refund_due)",
    "payment.review_decided": "payment: decision (accept or refund), disposition, moved, note",
    "payment.verified": "payment: gross, fee, net (credited to pending)",
    "payment.rejected": "payment: reason (the channel did not confirm it)",
    "payment.settled": "payment: net, settlement_date (pending to available)",
    "payment.refunded": "payment: amount, reason (money went back to the payer; sent beside "
    "refund.succeeded, for subscribers of payment events)",
    "refund.created": "refund: status pending, payment_id, amount, currency, reason "
    "(recorded with the channel's answer, which follows at once)",
    "refund.succeeded": "refund: status succeeded, payment_id, amount, currency, reason, "
    "channel_ref (the channel's reference, or null), fee_returned (the fee given back to "
    "the merchant: 0 when the plan keeps it)",
    "refund.failed": "refund: status failed, payment_id, amount, currency, reason, failure "
    "(the channel's words); no money moved",
    "settlement.completed": "settlement: merchant_id, settlement_date, count, currency, "
    "gross, fee, net (one per batch and settlement run)",
    "payout.created": "payout: status requested, amount, currency, description",
    "payout.paid": "payout: status paid, channel_ref (the bank transfer's reference)",
    "payout.failed": "payout: status failed, amount, currency, reason (money back to available)",
}
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
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).encode()
    # As bytes: compare_digest refuses a str with non-ASCII in it (a crafted header).
    return any(
        hmac.compare_digest(expected, value.encode()) for key, _, value in parts if key == "v1"
    )


Resolver = Callable[[str], Sequence[str]]
"""Looks a host name up: its addresses, preferred first; raises ``OSError`` when it cannot.

The domain never looks names up itself: the application and the delivery worker pass
one in (``paylink_es.resolver.system_resolver`` in production, a fake in tests)."""

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# IANA's IPv4 Special-Purpose Address Registry (and multicast): every block that is not
# globally reachable, most specific first. 192.0.0.0/24 is refused whole: its two
# globally reachable /32s (PCP and TURN anycast) are not webhook receivers.
_IPV4_SPECIAL: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = (
    (_V4("0.0.0.0/8"), 'in the "this network" range'),
    (_V4("10.0.0.0/8"), "in the private-use range"),
    (_V4("100.64.0.0/10"), "in the shared address space"),
    (_V4("127.0.0.0/8"), "in the loopback range"),
    (_V4("169.254.0.0/16"), "in the link-local range"),
    (_V4("172.16.0.0/12"), "in the private-use range"),
    (_V4("192.0.0.0/24"), "in the IETF protocol assignments range"),
    (_V4("192.0.2.0/24"), "in the documentation range TEST-NET-1"),
    (_V4("192.88.99.0/24"), "in the deprecated 6to4 relay anycast range"),
    (_V4("192.168.0.0/16"), "in the private-use range"),
    (_V4("198.18.0.0/15"), "in the benchmarking range"),
    (_V4("198.51.100.0/24"), "in the documentation range TEST-NET-2"),
    (_V4("203.0.113.0/24"), "in the documentation range TEST-NET-3"),
    (_V4("224.0.0.0/4"), "in the multicast range"),
    (_V4("255.255.255.255/32"), "the limited broadcast address"),
    (_V4("240.0.0.0/4"), "in the reserved range"),
)
# Sub-blocks of 2001::/23 that IANA lists as globally reachable.
_IPV6_GLOBAL_IN_2001: Final = tuple(
    _V6(net)
    for net in (
        "2001:1::1/128",  # PCP anycast
        "2001:1::2/128",  # TURN anycast
        "2001:1::3/128",  # DNS-SD SRP anycast
        "2001:3::/32",  # AMT
        "2001:4:112::/48",  # AS112-v6
        "2001:20::/28",  # ORCHIDv2
        "2001:30::/28",  # drone remote ID entity tags
    )
)
# IANA's IPv6 Special-Purpose Address Registry: blocks not globally reachable, most
# specific first. The forms that embed an IPv4 address are judged by it (below).
_IPV6_SPECIAL: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = (
    (_V6("::/128"), "the unspecified address"),
    (_V6("::1/128"), "the loopback address"),
    (_V6("::/96"), "in the deprecated IPv4-compatible range"),
    (_V6("64:ff9b:1::/48"), "in the local-use IPv4/IPv6 translation range"),
    (_V6("100::/64"), "in the discard-only range"),
    (_V6("100:0:0:1::/64"), "in the dummy IPv6 prefix"),
    (_V6("2001::/32"), "in the Teredo range"),
    (_V6("2001:2::/48"), "in the benchmarking range"),
    (_V6("2001:10::/28"), "in the deprecated ORCHID range"),
    (_V6("2001::/23"), "in the IETF protocol assignments range"),
    (_V6("2001:db8::/32"), "in the documentation range"),
    (_V6("3fff::/20"), "in the documentation range"),
    (_V6("5f00::/16"), "in the segment routing (SRv6) SID range"),
    (_V6("fc00::/7"), "in the unique-local range"),
    (_V6("fe80::/10"), "in the link-local range"),
    (_V6("ff00::/8"), "in the multicast range"),
)
_IPV4_MAPPED: Final = _V6("::ffff:0:0/96")
_NAT64: Final = _V6("64:ff9b::/96")
_SIX_TO_FOUR: Final = _V6("2002::/16")
_GLOBAL_UNICAST: Final = _V6("2000::/3")
_NOT_REACHABLE: Final = "not reachable on the internet"


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL and the addresses its host had when it was checked.

    ``addresses`` is empty when private addresses are allowed (nothing was looked up):
    then the URL is used as it is. Otherwise every address was checked, and a sender
    connects to one of these, never to a second lookup of ``host``.
    """

    url: str
    host: str
    addresses: tuple[str, ...]


def special_purpose(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``address`` is not reachable on the internet (``"in the loopback range
    (127.0.0.0/8)"``), or None for a globally reachable one.

    Python's ``ipaddress`` is not trusted with this: on 3.11 ``is_private`` is false for
    100.64.0.0/10, ``is_global`` is true for 192.88.99.0/24, multicast, 3fff::/20,
    64:ff9b:1::/48 and the IPv4-compatible ::/96, and neither judges 6to4 or NAT64
    addresses by the IPv4 address they embed (2002:7f00:1:: is "global").
    """
    ip = _parse_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv4Address):
        for network4, what in _IPV4_SPECIAL:
            if ip in network4:
                return f"{what} ({network4})"
        return None
    for prefix, kind, embedded in (
        (_IPV4_MAPPED, "an IPv4-mapped", ip.ipv4_mapped),
        (_NAT64, "a NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)),
        (_SIX_TO_FOUR, "a 6to4", ip.sixtofour),
    ):
        if ip in prefix and embedded is not None:
            inner = special_purpose(embedded)
            return None if inner is None else f"{kind} address of {embedded}, which is {inner}"
    if any(ip in network for network in _IPV6_GLOBAL_IN_2001):
        return None
    for network6, what in _IPV6_SPECIAL:
        if ip in network6:
            return f"{what} ({network6})"
    if ip not in _GLOBAL_UNICAST:
        return f"outside the global unicast space ({_GLOBAL_UNICAST})"
    return None


def check_webhook_address(
    address: str | ipaddress.IPv4Address | ipaddress.IPv6Address, *, host: str | None = None
) -> None:
    """Refuse (field ``url``) an address in any special-purpose range that is not
    globally reachable; ``host`` is the name it was found under, to say so."""
    ip = _parse_address(address) if isinstance(address, str) else address
    why = special_purpose(ip)
    if why is None:
        return
    if host is None or _literal(host) is not None:
        raise InvalidFieldError("url", f"{ip} is {why}, {_NOT_REACHABLE}")
    raise InvalidFieldError("url", f"{host} resolves to {ip}, which is {why}, {_NOT_REACHABLE}")


def check_webhook_url(url: object, *, allow_private: bool) -> str:
    """An absolute https (or, when private addresses are allowed, http) URL whose host is
    a name or a literal address that is not special-purpose. Looks nothing up: see
    :func:`check_webhook_target` for the addresses a name resolves to."""
    if not isinstance(url, str) or len(url) > 2048:
        raise InvalidFieldError("url", "must be an absolute URL of at most 2048 characters")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise InvalidFieldError("url", f"{url!r} has an invalid port") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidFieldError("url", f"{url!r} is not an absolute http(s) URL")
    if not allow_private:
        if parts.scheme != "https":
            raise InvalidFieldError("url", "must use https")
        literal = _literal(parts.hostname)
        if literal is not None:
            check_webhook_address(literal)
        elif _numeric_looking(parts.hostname):
            raise InvalidFieldError(
                "url", f"{parts.hostname} is neither a host name nor a standard IP address"
            )
    return url


def check_webhook_target(url: object, *, allow_private: bool, resolve: Resolver) -> WebhookTarget:
    """:func:`check_webhook_url`, then every address the host resolves to (through
    ``resolve``) is checked too. Used when an endpoint is registered and before every
    delivery, since DNS can change in between."""
    checked = check_webhook_url(url, allow_private=allow_private)
    host = urlsplit(checked).hostname or ""
    if allow_private:
        return WebhookTarget(checked, host, ())
    literal = _literal(host)
    if literal is not None:
        return WebhookTarget(checked, host, (str(literal),))
    try:
        found = [str(_parse_address(address)) for address in resolve(host)]
    except (OSError, ValueError):
        found = []
    if not found:
        raise InvalidFieldError("url", f"{host} does not resolve")
    for address in found:
        check_webhook_address(address, host=host)
    return WebhookTarget(checked, host, tuple(dict.fromkeys(found)))


def _parse_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address without its IPv6 zone (``fe80::1%eth0``)."""
    return ipaddress.ip_address(address.split("%")[0])


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return _parse_address(host)
    except ValueError:
        return None


def _numeric_looking(host: str) -> bool:
    """``2130706433``, ``0x7f.1``, ``127.1``, ``0177.0.0.1``: what ``inet_aton`` (and so a
    resolver) reads as an IPv4 address though no top-level domain is numeric."""
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return re.fullmatch(r"[0-9]+|0[xX][0-9a-fA-F]*", last) is not None


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

    @event("Created")
    def __init__(
        self,
        id: UUID,  # the library passes the aggregate's id to __init__ by this name
        merchant_id: UUID,
        mode: str,
        url: str,
        event_types: list[str],
        secret: str,
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

    @staticmethod
    def create_id(endpoint_id: UUID, position: int) -> UUID:
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
