"""The merchant's event feed, and the webhook outbox that fans events out to endpoints.

Both turn domain events into the same public payload, so what a webhook delivers is
exactly what ``GET /v1/events`` lists. A small objects table maps each link and payment
to its merchant and mode, since later events of an aggregate do not repeat them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import NAMESPACE_URL

import orjson

from paylink_es.domain.link import EDITABLE, PaymentLink
from paylink_es.domain.webhooks import PUBLIC_EVENTS, WebhookDelivery, WebhookEndpoint
from projections.events import (
    BATCH_PAYMENTS_ADDED,
    DELIVERY_ATTEMPTED,
    DELIVERY_RESEND_REQUESTED,
    DELIVERY_RETRIED,
    ENDPOINT_CREATED,
    ENDPOINT_DELETED,
    LINK_CREATED,
    LINK_EDITED,
    PAYMENT_INITIATED,
    PAYMENT_REVIEWED,
    PAYOUT_FAILED,
    PAYOUT_PAID_OUT,
    PAYOUT_REQUESTED,
    REFUND_FAILED,
    REFUND_REQUESTED,
    REFUND_SUCCEEDED,
    event_named,
)
from projections.links import link_event_detail, partial_terms, payment_event_detail, term_value
from projections.readmodel import Event, ReadModel, fields_at, iso, originator, uuid_text
from projections.sqlview import RowsView, Statement

# The public type of each public event (``payment.verified``), keyed by its class: the
# domain names them by qualified name, resolved here when the module loads.
PUBLIC_TYPES: dict[type, str] = {event_named(name): kind for name, kind in PUBLIC_EVENTS.items()}
CREATORS: dict[type, str] = {
    LINK_CREATED: "payment_link",
    PAYMENT_INITIATED: "payment",
    PAYOUT_REQUESTED: "payout",
}
PAYOUT_EVENTS = (PAYOUT_REQUESTED, PAYOUT_PAID_OUT, PAYOUT_FAILED)
PAYOUT_STATUS = {PAYOUT_REQUESTED: "requested", PAYOUT_PAID_OUT: "paid", PAYOUT_FAILED: "failed"}
# A refund's events are the payment's (one save: the request and the channel's answer);
# publicly they are the refund object's, with the refund's id.
REFUND_STATUS = {
    REFUND_REQUESTED: "pending",
    REFUND_SUCCEEDED: "succeeded",
    REFUND_FAILED: "failed",
}


_URL_NAMESPACE = NAMESPACE_URL.bytes
_VARIANT = {f"{d:x}": f"{d & 0x3 | 0x8:x}" for d in range(16)}


def event_id(event: Event) -> str:
    """A stable public id for a stored event.

    ``str(uuid5(NAMESPACE_URL, f"/events/{originator_id}/{originator_version}"))``,
    written from the SHA-1 digest without making a UUID.
    """
    name = f"/events/{originator(event)}/{event.originator_version}"
    h = hashlib.sha1(_URL_NAMESPACE + name.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def public_payload(event: Event, at: str, mode: str | None = None) -> dict[str, Any]:
    """The public representation of an event (feed item and webhook body)."""
    e = vars(event)
    kind = type(event)
    if kind is LINK_EDITED:
        detail = link_event_detail(kind, e)
        data = {
            "object": "payment_link",
            "id": originator(event),
            "changed": detail["changed"],
            "by": detail["by"],
            "previous": detail["from"],
            # Terms added since the edit was stored read as a link paid whole has them.
            **{name: term_value(name, e.get(name)) for name in EDITABLE},
            **partial_terms(e),
        }
    elif issubclass(kind, PaymentLink.Event):
        data = {
            "object": "payment_link",
            "id": originator(event),
            **link_event_detail(kind, e),
        }
        if kind is LINK_CREATED:
            data.update(
                code=e["code"],
                amount=e["amount"],
                amount_min=e["amount_min"],
                amount_max=e["amount_max"],
                currency=e["currency"],
                description=e["description"],
                reference_id=e["reference_id"],
                **partial_terms(e),
                partial_expiry=e.get("partial_expiry"),
            )
    elif kind in PAYOUT_EVENTS:
        data = {"object": "payout", "id": originator(event), "status": PAYOUT_STATUS[kind]}
        if kind is PAYOUT_REQUESTED:
            data.update(
                amount=e["amount"].amount,
                currency=e["amount"].currency,
                description=e["description"],
            )
        elif kind is PAYOUT_PAID_OUT:
            data["channel_ref"] = e["channel_ref"]
        else:
            data.update(
                amount=e["amount"].amount, currency=e["amount"].currency, reason=e["reason"]
            )
    elif kind in REFUND_STATUS:
        data = refund_object(kind, e)
    elif kind is BATCH_PAYMENTS_ADDED:
        # One per batch and settlement run (and currency): what that run settled.
        data = {
            "object": "settlement",
            "id": originator(event),
            "merchant_id": uuid_text(e["merchant_id"]),
            "settlement_date": e["settlement_date"],
            "count": e["count"],
            "currency": e["gross"].currency,
            "gross": e["gross"].amount,
            "fee": e["fee"].amount,
            "net": e["net"].amount,
        }
    else:
        detail = payment_event_detail(kind, e)
        detail.pop("payment_id", None)
        data = {"object": "payment", "id": originator(event), **detail}
        if kind is PAYMENT_INITIATED:
            data["link_id"] = uuid_text(e["link_id"])
            # What the payer entered on the page (payments started before: nothing).
            data["customer"] = term_value("customer", e.get("customer"))
            data["custom_fields"] = e.get("custom_fields") or {}
        elif kind is PAYMENT_REVIEWED:
            data.update(
                decision=e["decision"],
                disposition=e["disposition"],
                note=e["note"],
                moved=e["moved"].amount if e["moved"] is not None else None,
            )
    payload: dict[str, Any] = {
        "id": event_id(event),
        "type": PUBLIC_TYPES[kind],
        "created_at": at,
        "data": data,
    }
    if mode is not None:
        payload["livemode"] = mode == "live"
    return payload


def refund_object(kind: type, e: dict[str, Any]) -> dict[str, Any]:
    """The refund object of ``refund.created``, ``refund.succeeded`` and ``refund.failed``."""
    amount = e["amount"]
    data: dict[str, Any] = {
        "object": "refund",
        "id": uuid_text(e["refund_id"]),
        "payment_id": originator(e),
        "status": REFUND_STATUS[kind],
        "amount": amount.amount,
        "currency": amount.currency,
        "reason": e["reason"],
    }
    if kind is REFUND_SUCCEEDED:
        fee_back = e["fee_returned"]
        data.update(channel_ref=e["channel_ref"], fee_returned=fee_back.amount if fee_back else 0)
    elif kind is REFUND_FAILED:
        data["failure"] = e["failure"]
    return data


def public_payload_json(event: Event, at: str) -> str:
    """The public payload as JSON text, made once per event for the feed and the outbox."""
    cache = vars(event)
    text: str | None = cache.get("_public_json")
    if text is None:
        text = orjson.dumps(public_payload(event, at)).decode()
        cache["_public_json"] = text
    return text


Owner = tuple[str, str]  # merchant id, mode
OWNERS_KEPT = 100_000  # links and payments whose owner is remembered (the most recent)


class Owners:
    """Which merchant and mode each recently created link or payment belongs to.

    Only what the objects tables say too (an owner never changes), kept in memory so that
    later events of an object need not look it up; an object not remembered any more is
    looked up by the SQL instead.
    """

    def __init__(self, kept: int = OWNERS_KEPT) -> None:
        self.kept = kept
        self._owners: dict[str, Owner] = {}
        self._known: dict[Owner, Owner] = {}  # one tuple per merchant and mode

    def learn(self, object_id: str, e: dict[str, Any]) -> Owner:
        """Remember the owner a creating event names."""
        owner: Owner = (uuid_text(e["merchant_id"]), e["mode"])
        owner = self._known.setdefault(owner, owner)
        if len(self._owners) >= self.kept:
            del self._owners[next(iter(self._owners))]  # the oldest first
        self._owners[object_id] = owner
        return owner

    def get(self, object_id: str) -> Owner | None:
        """The owner of an object, if remembered."""
        return self._owners.get(object_id)


def _owner_statements(
    table: str, owners: Owners, event: Event
) -> tuple[Owner | None, list[Statement]]:
    """The object's owner if known, and the row a creating event adds to ``table``."""
    object_id = originator(event)
    if type(event) not in CREATORS:
        e = vars(event)
        if "merchant_id" in e and "mode" in e:  # the event names its owner itself
            return (uuid_text(e["merchant_id"]), e["mode"]), []
        return owners.get(object_id), []
    owner = owners.learn(object_id, vars(event))
    sql = f"INSERT INTO {{s}}{table} (object_id, merchant_id, mode) VALUES (?, ?, ?)"
    return owner, [(sql, (object_id, *owner))]


FEED_SQL = (
    "INSERT INTO {s}feed (position, merchant_id, mode, type, payload)"
    " SELECT ?, merchant_id, mode, ?, ? FROM {s}feed_objects WHERE object_id = ?"
)
FEED_OWNED_SQL = (
    "INSERT INTO {s}feed (position, merchant_id, mode, type, payload) VALUES (?, ?, ?, ?, ?)"
)


class EventFeed(ReadModel):
    """Every public event of every merchant, in store order (the cursor is the position)."""

    name = "feed"
    deferred = frozenset({FEED_SQL, FEED_OWNED_SQL})  # appends, after the batch's objects
    reads = frozenset(PUBLIC_TYPES)
    tables = ("feed_objects", "feed")
    later_indexes = ("feed_by_merchant",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}feed_objects ("
        " object_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {s}feed ("
        " position BIGINT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " type TEXT NOT NULL, payload TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS feed_by_merchant ON {s}feed (merchant_id, mode, position)",
    )

    def __init__(self, view: RowsView) -> None:
        super().__init__(view)
        self.owners = Owners()

    def statements(self, event: Event, position: int) -> list[Statement]:
        public_type = PUBLIC_TYPES.get(type(event))
        if public_type is None:
            return []
        at = iso(vars(event)["timestamp"])
        payload = public_payload_json(event, at)
        owner, statements = _owner_statements("feed_objects", self.owners, event)
        if owner is None:
            statements.append((FEED_SQL, (position, public_type, payload, originator(event))))
        else:
            statements.append((FEED_OWNED_SQL, (position, *owner, public_type, payload)))
        return statements


DELIVERY_FANOUT = (
    "INSERT INTO {s}webhook_deliveries (delivery_id, endpoint_id, merchant_id, mode, position,"
    " event_type, payload, status, attempts, next_attempt_at, created_at, updated_at)"
    " SELECT 'whd_' || ? || '_' || REPLACE(e.endpoint_id, '-', ''), e.endpoint_id,"
    " e.merchant_id, e.mode, ?, ?, ?, 'pending', 0, NULL, ?, ?"
    " FROM {s}webhook_endpoints e JOIN {s}outbox_objects o"
    " ON o.merchant_id = e.merchant_id AND o.mode = e.mode"
    " WHERE o.object_id = ? AND e.deleted = 0 AND EXISTS (SELECT 1 FROM"
    " {s}webhook_subscriptions t WHERE t.endpoint_id = e.endpoint_id"
    " AND t.event_type IN (?, '*'))"
)

# The same when the event names its merchant and mode itself (no objects row needed).
DELIVERY_FANOUT_OWNED = (
    "INSERT INTO {s}webhook_deliveries (delivery_id, endpoint_id, merchant_id, mode, position,"
    " event_type, payload, status, attempts, next_attempt_at, created_at, updated_at)"
    " SELECT 'whd_' || ? || '_' || REPLACE(e.endpoint_id, '-', ''), e.endpoint_id,"
    " e.merchant_id, e.mode, ?, ?, ?, 'pending', 0, NULL, ?, ?"
    " FROM {s}webhook_endpoints e"
    " WHERE e.merchant_id = ? AND e.mode = ? AND e.deleted = 0 AND EXISTS (SELECT 1 FROM"
    " {s}webhook_subscriptions t WHERE t.endpoint_id = e.endpoint_id"
    " AND t.event_type IN (?, '*'))"
)


class WebhookOutbox(ReadModel):
    """Deliveries owed to each endpoint, and every attempt at them."""

    name = "outbox"
    reads = frozenset({*PUBLIC_TYPES, WebhookEndpoint, WebhookDelivery})
    # Not deferred: a rebuild can meet a delivery's attempts in the same batch as the
    # event that created it, and the attempt updates must find the row.
    # The fan-out only runs for an object whose merchant and mode may have an endpoint:
    # endpoints are events of this log too, so the model knows which (merchant, mode)
    # ever had one — every one in the view when it starts, and each new one as it comes.
    tables = (
        "outbox_objects",
        "webhook_endpoints",
        "webhook_subscriptions",
        "webhook_deliveries",
        "webhook_attempts",
    )
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}outbox_objects ("
        " object_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {s}webhook_endpoints ("
        " endpoint_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " url TEXT NOT NULL, event_types TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
        " created_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {s}webhook_subscriptions ("
        " endpoint_id TEXT NOT NULL, event_type TEXT NOT NULL,"
        " PRIMARY KEY (endpoint_id, event_type))",
        "CREATE TABLE IF NOT EXISTS {s}webhook_deliveries ("
        " delivery_id TEXT PRIMARY KEY, endpoint_id TEXT NOT NULL, merchant_id TEXT NOT NULL,"
        " mode TEXT NOT NULL, position BIGINT NOT NULL, event_type TEXT NOT NULL,"
        " payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
        " last_status_code INTEGER, last_error TEXT, next_attempt_at TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_due"
        " ON {s}webhook_deliveries (status, next_attempt_at)",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_merchant"
        " ON {s}webhook_deliveries (merchant_id, mode, position)",
        "CREATE TABLE IF NOT EXISTS {s}webhook_attempts ("
        " delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL,"
        " status_code INTEGER, error TEXT, PRIMARY KEY (delivery_id, attempt))",
    )

    def __init__(self, view: RowsView) -> None:
        super().__init__(view)
        self.owners = Owners()
        self._hooked: set[Owner] | None = None  # (merchant, mode) that ever had an endpoint

    def hooked(self) -> set[Owner]:
        """Every (merchant, mode) that ever had an endpoint: the view's, then the log's."""
        if self._hooked is None:
            rows = self.view.query("SELECT DISTINCT merchant_id, mode FROM {s}webhook_endpoints")
            self._hooked = {(row["merchant_id"], row["mode"]) for row in rows}
        return self._hooked

    def statements(self, event: Event, position: int) -> list[Statement]:
        kind = type(event)
        e, at = fields_at(event)
        if issubclass(kind, WebhookEndpoint.Event):
            return self._endpoint(kind, e, at)
        if issubclass(kind, WebhookDelivery.Event):
            return self._attempt(kind, e, at)
        public_type = PUBLIC_TYPES.get(kind)
        if public_type is None:
            return []
        owner, statements = _owner_statements("outbox_objects", self.owners, event)
        if owner is not None and owner not in self.hooked():
            return statements  # no endpoint to owe it to
        payload = public_payload_json(event, at)
        if owner is not None:
            owned = (position, position, public_type, payload, at, at, *owner, public_type)
            return [*statements, (DELIVERY_FANOUT_OWNED, owned)]
        return [
            *statements,
            (
                DELIVERY_FANOUT,
                (
                    position,
                    position,
                    public_type,
                    payload,
                    at,
                    at,
                    originator(event),
                    public_type,
                ),
            ),
        ]

    def _endpoint(self, kind: type, e: dict[str, Any], at: str) -> list[Statement]:
        endpoint = originator(e)
        if kind is ENDPOINT_CREATED:
            self.hooked().add((uuid_text(e["merchant_id"]), e["mode"]))
            return [
                (
                    "INSERT INTO {s}webhook_endpoints (endpoint_id, merchant_id, mode, url,"
                    " event_types, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        endpoint,
                        uuid_text(e["merchant_id"]),
                        e["mode"],
                        e["url"],
                        json.dumps(e["event_types"]),
                        at,
                    ),
                ),
                *(
                    (
                        "INSERT INTO {s}webhook_subscriptions (endpoint_id, event_type)"
                        " VALUES (?, ?)",
                        (endpoint, kind),
                    )
                    for kind in e["event_types"]
                ),
            ]
        if kind is ENDPOINT_DELETED:
            return [
                ("UPDATE {s}webhook_endpoints SET deleted = 1 WHERE endpoint_id = ?", (endpoint,))
            ]
        return []

    def _attempt(self, kind: type, e: dict[str, Any], at: str) -> list[Statement]:
        if kind is DELIVERY_RESEND_REQUESTED:
            return [
                (
                    "UPDATE {s}webhook_deliveries SET status = 'pending', next_attempt_at = ?,"
                    " updated_at = ? WHERE endpoint_id = ? AND position = ?",
                    (at, at, str(e["endpoint_id"]), e["position"]),
                )
            ]
        if kind is not DELIVERY_ATTEMPTED and kind is not DELIVERY_RETRIED:
            return []
        code, retry = e["status_code"], e["next_attempt_at"]
        status = (
            "delivered"
            if code is not None and 200 <= code < 300
            else "pending"
            if retry is not None
            else "failed"
        )
        endpoint, position = str(e["endpoint_id"]), e["position"]
        return [
            (
                "INSERT INTO {s}webhook_attempts (delivery_id, attempt, at, status_code, error)"
                " SELECT delivery_id, attempts + 1, ?, ?, ? FROM {s}webhook_deliveries"
                " WHERE endpoint_id = ? AND position = ?",
                (at, code, e["error"], endpoint, position),
            ),
            (
                "UPDATE {s}webhook_deliveries SET attempts = attempts + 1, last_status_code = ?,"
                " last_error = ?, status = ?, next_attempt_at = ?, updated_at = ?"
                " WHERE endpoint_id = ? AND position = ?",
                (code, e["error"], status, iso(retry) if retry else None, at, endpoint, position),
            ),
        ]
