"""The webhook delivery worker: posts what the outbox owes, signed, and records each try.

At least once: a delivery is sent when the outbox says it is due and the store's
count of attempts agrees with the outbox's (so a try the outbox has not seen yet is
not repeated). Every try — status code or error, and when to try next — is an event.
Among nodes on one PostgreSQL the node that leads the webhooks claims each try first, in
a transaction that checks its term (``paylink_es.store.leases.Claims``): two nodes never
both make the same try. A node that dies between its post and the record of it leaves
a claim a later term takes over after :data:`CLAIM_TTL_S` and posts again: the one case
a receiver sees a try twice (the same ``Paylink-Event-Id``).

Before every try the endpoint's host is resolved again and every address checked (DNS
can change after the endpoint was registered); the request then goes to a checked
address (the host still in ``Host`` and in TLS's SNI and certificate check), so no second
lookup can swap in another. A refused address is a failed try, with the reason.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from uuid import UUID

import httpx

from paylink_es.application.services import Paylink
from paylink_es.domain.errors import DomainError
from paylink_es.domain.webhooks import (
    Resolver,
    WebhookDelivery,
    WebhookTarget,
    check_webhook_target,
    next_attempt,
    signature_header,
)
from paylink_es.resolver import system_resolver
from paylink_es.store.leases import Claims, LeaseLostError
from paylink_es.store.postgres import is_outage
from projections.feed import WebhookOutbox
from projections.queries.outbox import DeliveryRow, due_deliveries

log = logging.getLogger("paylink.webhooks")
USER_AGENT = "Paylink-Webhooks/0.1"
OUTAGE_WAIT_MAX_S = 5.0  # while the database is unavailable, a look this often at most
# A try claimed by a term that ended without recording it (its node died mid-way) is made
# again by a later term only after this long; a claim older than half of it is not posted on.
CLAIM_TTL_S = 60.0


class DeliveryWorker:
    """Sends due webhook deliveries; one instance per process is enough, and among nodes on
    one PostgreSQL one of them leads it: each try is then claimed first (``claims``)."""

    def __init__(
        self,
        paylink: Paylink,
        outbox: WebhookOutbox,
        *,
        allow_private: bool,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
        resolve: Resolver = system_resolver,
        claims: Claims | None = None,
    ) -> None:
        self.paylink = paylink
        self.outbox = outbox
        self.allow_private = allow_private
        self.resolve = resolve
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._owns_client = client is None
        self.claims = claims

    def run_once(self, limit: int = 50) -> int:
        """Send everything due now (up to ``limit``); returns how many were tried."""
        now = self.paylink.now()
        tried = 0
        for row in due_deliveries(self.outbox, now, limit):
            endpoint_id, position = UUID(row["endpoint_id"]), row["position"]
            delivery = WebhookDelivery.create_id(endpoint_id, position)
            if self.paylink.webhooks.delivery_attempts(delivery) != row["attempts"]:
                continue  # the outbox has not seen the last try yet
            attempt = f"{row['delivery_id']}#{row['attempts'] + 1}"
            if self.claims is not None and not self.claims.claim(attempt):
                continue  # another node's term claimed this try and may still be making it
            if self._send(row, endpoint_id, position, time.monotonic()) and self.claims:
                self.claims.release(attempt)
            tried += 1
        return tried

    def _send(self, row: DeliveryRow, endpoint_id: UUID, position: int, claimed: float) -> bool:
        """Post one try and record it; False when its claim grew too old to post on."""
        merchant = UUID(row["merchant_id"])
        now = self.paylink.now()
        body = row["payload"].encode()
        status_code: int | None = None
        error: str | None = None
        try:
            endpoint = self.paylink.webhooks.endpoint(merchant, row["mode"], endpoint_id)
            target = check_webhook_target(
                endpoint.url, allow_private=self.allow_private, resolve=self.resolve
            )
            stamp = int(now.timestamp())
            if time.monotonic() - claimed > CLAIM_TTL_S / 2:
                return False  # paused since the claim: a later term may have taken it over
            response = post_pinned(
                self.client,
                target,
                body,
                {
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    "Paylink-Event-Id": str(json.loads(body)["id"]),
                    "Paylink-Delivery-Id": row["delivery_id"],
                    "Paylink-Event-Type": row["event_type"],
                    "Paylink-Signature": signature_header(
                        endpoint.signing_secrets(now), stamp, body
                    ),
                },
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except DomainError as problem:
            error = problem.message
        except httpx.HTTPError as problem:
            error = f"{type(problem).__name__}: {problem}"[:500]
        attempts = row["attempts"] + 1
        delivered = status_code is not None and error is None
        retry = None if delivered else next_attempt(attempts, now)
        if not delivered and retry is None:
            log.warning(
                "webhook %s to endpoint %s failed %d times; giving up",
                row["delivery_id"],
                endpoint_id,
                attempts,
            )
        self.paylink.webhooks.record_delivery_attempt(
            endpoint_id, merchant, position, status_code, error, retry
        )
        return True

    def run_forever(self, stopping: threading.Event, interval: float = 0.2) -> None:
        """Keep sending until ``stopping`` is set.

        While the database is unavailable, say so once and look again less often (up to
        every :data:`OUTAGE_WAIT_MAX_S`); the first round that reaches it goes on as usual.
        """
        pause = interval
        while not stopping.is_set():
            try:
                busy = self.run_once()
            except LeaseLostError:
                raise  # another node sends the webhooks now
            except Exception as error:
                if not is_outage(error):
                    log.exception("webhook delivery round failed")
                elif pause == interval:
                    log.warning("webhook delivery waits for the database: %s", error)
                pause = min(pause * 2, OUTAGE_WAIT_MAX_S) if is_outage(error) else interval
                stopping.wait(pause)
                continue
            if pause != interval:
                log.warning("webhook delivery goes on")
                pause = interval
            if not busy:
                stopping.wait(interval)

    def close(self) -> None:
        """Close the HTTP client if this worker made it."""
        if self._owns_client:
            self.client.close()


def post_pinned(
    client: httpx.Client, target: WebhookTarget, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST ``body`` to ``target``, connecting only to its checked addresses.

    The URL's host is replaced by each checked address in turn (the next one only when
    the connection cannot be made); the host name stays in ``Host`` and, for https, in
    SNI, where it is also the name the certificate must match. Without checked addresses
    (private addresses allowed) the URL is used as it is.
    """
    url = httpx.URL(target.url)
    if not target.addresses:
        return client.post(url, content=body, headers=headers)
    host_header = {"Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": target.host} if url.scheme == "https" else {}
    for index, address in enumerate(target.addresses):
        try:
            return client.post(
                url.copy_with(host=address),
                content=body,
                headers={**headers, **host_header},
                extensions=extensions,
            )
        except httpx.ConnectError:
            if index == len(target.addresses) - 1:
                raise
    raise AssertionError("unreachable: a target has at least one address")
