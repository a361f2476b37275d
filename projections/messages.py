"""What messages are owed: reminders coming up, receipts and alerts to send.

The messages worker (``workers/messages.py``) reads this view for candidates and has the
write side decide each one on its aggregate, so a row here never sends anything twice;
the decision's event (``Reminded``, ``Receipted``, ``MerchantAlert.Raised``) removes the
row when it arrives here.

- ``message_links``: each link's merchant, status, whether money was reported for it
  (a payment received, even before it is verified, or flagged), its expiry and
  creation (Unix seconds, so a reminder's time is arithmetic), and whether it has a
  contact for reminders (it was sent to someone) and for receipts (sent by e-mail or
  WhatsApp, or a customer with an e-mail address or phone);
- ``message_reminders``: the reminders not sent yet (seconds before the expiry) of links
  that may still be reminded (gone once a link took money or closed for good);
- ``messages_due``: receipts and alerts to send, by cause (``receipt:<payment>``,
  ``payment_received:<payment>``, ``link_expired:<link>``, ``payout_paid:<payout>``,
  ``payout_failed:<payout>``, ``webhook_failing:<endpoint>:<first failure's position>``),
  with what the read side knows of them; an alert is owed only when the merchant wanted
  it when its cause happened and has an address;
- ``message_merchants``, ``message_payments``, ``message_payouts``, ``message_endpoints``:
  what those decisions need (alert preferences and whether there is an address; a
  payment's link; a payout's and an endpoint's merchant; an endpoint's failures in a row).

A row whose cause is older than the worker's limit is not sent: the worker deletes it
(``queries.messages.forget_stale``), the one write to this view from outside; a rebuild
adds such rows again, and they go the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from paylink_es.domain import alerts
from paylink_es.domain.alerts import AlertPreferences
from paylink_es.domain.link import RECEIPT_CHANNELS
from projections.events import (
    ALERT_RAISED,
    ALERTS_SET,
    DELIVERY_ATTEMPTED,
    DELIVERY_RETRIED,
    ENDPOINT_CREATED,
    LINK_CANCELLED,
    LINK_COMPLETED,
    LINK_CREATED,
    LINK_EDITED,
    LINK_EXPIRED,
    LINK_PAYMENT_ACCEPTED,
    LINK_PAYMENT_FLAGGED,
    LINK_RECEIPTED,
    LINK_REMINDED,
    LINK_REMINDERS_SCHEDULED,
    LINK_SENT,
    MERCHANT_REGISTERED,
    PAYMENT_INITIATED,
    PAYMENT_RECEIVED,
    PAYMENT_VERIFIED,
    PAYOUT_FAILED,
    PAYOUT_PAID_OUT,
    PAYOUT_REQUESTED,
)
from projections.links import LINK_STATUS
from projections.readmodel import Event, ReadModel, iso, originator, uuid_text
from projections.sqlview import Statement

# Where the messages view keeps whose a payout or a webhook endpoint is (table, id column).
OWNED: dict[type, tuple[str, str]] = {
    PAYOUT_REQUESTED: ("message_payouts", "payout_id"),
    ENDPOINT_CREATED: ("message_endpoints", "endpoint_id"),
}
DUE_COLUMNS = "cause, kind, merchant_id, mode, subject, link_id, count, detail, at, position"
# An alert is owed when the merchant wants its kind and has somewhere to send it.
WANTS = "m.{kind} = 1 AND (m.registered = 1 OR m.alert_email = 1)"


def seconds(instant: datetime) -> int:
    """An instant as whole Unix seconds."""
    return int(instant.timestamp())


def _customer_reachable(customer: Any) -> int:
    return int(customer is not None and bool(customer.email or customer.phone))


class MessagesView(ReadModel):
    """Reminders coming up, receipts and alerts owed."""

    name = "messages"
    reads = frozenset(
        {
            LINK_CREATED,
            LINK_EDITED,
            LINK_SENT,
            LINK_REMINDERS_SCHEDULED,
            LINK_REMINDED,
            LINK_RECEIPTED,
            LINK_PAYMENT_ACCEPTED,
            LINK_PAYMENT_FLAGGED,
            *LINK_STATUS,
            PAYMENT_INITIATED,
            PAYMENT_RECEIVED,
            PAYMENT_VERIFIED,
            PAYOUT_REQUESTED,
            PAYOUT_PAID_OUT,
            PAYOUT_FAILED,
            ENDPOINT_CREATED,
            DELIVERY_ATTEMPTED,
            DELIVERY_RETRIED,
            MERCHANT_REGISTERED,
            ALERTS_SET,
            ALERT_RAISED,
        }
    )
    tables = (
        "message_links",
        "message_reminders",
        "messages_due",
        "message_merchants",
        "message_payments",
        "message_payouts",
        "message_endpoints",
    )
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}message_links ("
        " link_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " status TEXT NOT NULL, paid INTEGER NOT NULL DEFAULT 0, expires_s BIGINT,"
        " created_s BIGINT NOT NULL, remind INTEGER NOT NULL DEFAULT 0,"
        " receipt INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS {s}message_reminders ("
        " link_id TEXT NOT NULL, before_s BIGINT NOT NULL, PRIMARY KEY (link_id, before_s))",
        "CREATE TABLE IF NOT EXISTS {s}messages_due ("
        " cause TEXT PRIMARY KEY, kind TEXT NOT NULL, merchant_id TEXT NOT NULL,"
        " mode TEXT NOT NULL, subject TEXT NOT NULL, link_id TEXT, count BIGINT,"
        " detail TEXT, at TEXT NOT NULL, position BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS messages_due_by_position ON {s}messages_due (position)",
        "CREATE INDEX IF NOT EXISTS messages_due_by_at ON {s}messages_due (at)",
        "CREATE TABLE IF NOT EXISTS {s}message_merchants ("
        " merchant_id TEXT PRIMARY KEY, registered INTEGER NOT NULL,"
        " alert_email INTEGER NOT NULL DEFAULT 0,"
        " payment_received INTEGER NOT NULL DEFAULT 1, link_expired INTEGER NOT NULL DEFAULT 1,"
        " webhook_failing INTEGER NOT NULL DEFAULT 1, payout_paid INTEGER NOT NULL DEFAULT 1,"
        " payout_failed INTEGER NOT NULL DEFAULT 1,"
        " webhook_failures BIGINT NOT NULL DEFAULT 5)",
        "CREATE TABLE IF NOT EXISTS {s}message_payments ("
        " payment_id TEXT PRIMARY KEY, link_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {s}message_payouts ("
        " payout_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {s}message_endpoints ("
        " endpoint_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " failures BIGINT NOT NULL DEFAULT 0, since BIGINT, last TEXT)",
    )

    def statements(self, event: Event, position: int) -> list[Statement]:
        kind = type(event)
        e = vars(event)
        at = iso(e["timestamp"])
        key = originator(event)
        if kind in LINK_STATUS or kind in (LINK_PAYMENT_ACCEPTED, LINK_PAYMENT_FLAGGED):
            return self._link_changed(kind, e, key, at, position)
        if kind is LINK_CREATED:
            expires = e["expires_at"]
            return [
                (
                    "INSERT INTO {s}message_links (link_id, merchant_id, mode, status,"
                    " expires_s, created_s, receipt) VALUES (?, ?, ?, 'active', ?, ?, ?)",
                    (
                        key,
                        uuid_text(e["merchant_id"]),
                        e["mode"],
                        seconds(expires) if expires else None,
                        seconds(e["timestamp"]),
                        _customer_reachable(e["customer"]),
                    ),
                )
            ]
        if kind is LINK_EDITED:
            expires = e["expires_at"]
            return [
                (
                    "UPDATE {s}message_links SET expires_s = ?,"
                    " receipt = CASE WHEN ? = 1 THEN 1 ELSE receipt END WHERE link_id = ?",
                    (
                        seconds(expires) if expires else None,
                        _customer_reachable(e["customer"]),
                        key,
                    ),
                )
            ]
        if kind is LINK_SENT:
            if e.get("to") is None:  # sent before addresses were kept: no one to remind
                return []
            receipt = int(e["channel"] in RECEIPT_CHANNELS)
            return [
                (
                    "UPDATE {s}message_links SET remind = 1,"
                    " receipt = CASE WHEN ? = 1 THEN 1 ELSE receipt END WHERE link_id = ?",
                    (receipt, key),
                )
            ]
        if kind is LINK_REMINDERS_SCHEDULED:
            return [
                ("DELETE FROM {s}message_reminders WHERE link_id = ?", (key,)),
                *(
                    (
                        "INSERT INTO {s}message_reminders (link_id, before_s) VALUES (?, ?)",
                        (key, before),
                    )
                    for before in e["reminders"]
                ),
            ]
        if kind is LINK_REMINDED:
            return [
                (
                    "DELETE FROM {s}message_reminders WHERE link_id = ? AND before_s >= ?",
                    (key, e["before_s"]),
                )
            ]
        if kind is LINK_RECEIPTED:
            return [self._settled(f"receipt:{uuid_text(e['payment_id'])}")]
        if kind is ALERT_RAISED:
            return [self._settled(e["cause"])]
        return self._merchant_side(kind, e, key, at, position)

    @staticmethod
    def _settled(cause: str) -> Statement:
        return ("DELETE FROM {s}messages_due WHERE cause = ?", (cause,))

    def _link_changed(
        self, kind: type, e: dict[str, Any], link_id: str, at: str, position: int
    ) -> list[Statement]:
        # A link closed for good, or that took money, is never reminded again.
        forget = ("DELETE FROM {s}message_reminders WHERE link_id = ?", (link_id,))
        if kind in LINK_STATUS:
            statements: list[Statement] = [
                (
                    "UPDATE {s}message_links SET status = ? WHERE link_id = ?",
                    (LINK_STATUS[kind], link_id),
                )
            ]
            if kind in (LINK_EXPIRED, LINK_CANCELLED, LINK_COMPLETED):
                statements.append(forget)
            if kind is LINK_EXPIRED:
                cause = f"{alerts.LINK_EXPIRED}:{link_id}"
                statements.append(
                    (
                        f"INSERT INTO {{s}}messages_due ({DUE_COLUMNS})"
                        " SELECT ?, ?, l.merchant_id, l.mode, ?, l.link_id, NULL, NULL, ?, ?"
                        " FROM {s}message_links l"
                        " JOIN {s}message_merchants m ON m.merchant_id = l.merchant_id"
                        " WHERE l.link_id = ? AND l.paid = 0 AND "
                        + WANTS.format(kind=alerts.LINK_EXPIRED)
                        + " ON CONFLICT (cause) DO NOTHING",
                        (cause, alerts.LINK_EXPIRED, link_id, at, position, link_id),
                    )
                )
            return statements
        statements = [
            ("UPDATE {s}message_links SET paid = 1 WHERE link_id = ?", (link_id,)),
            forget,
        ]
        if kind is LINK_PAYMENT_ACCEPTED:
            payment = uuid_text(e["payment_id"])
            statements.append(
                (
                    f"INSERT INTO {{s}}messages_due ({DUE_COLUMNS})"
                    " SELECT ?, 'receipt', merchant_id, mode, ?, link_id, NULL, NULL, ?, ?"
                    " FROM {s}message_links WHERE link_id = ? AND receipt = 1"
                    " ON CONFLICT (cause) DO NOTHING",
                    (f"receipt:{payment}", payment, at, position, link_id),
                )
            )
        return statements

    def _merchant_side(
        self, kind: type, e: dict[str, Any], key: str, at: str, position: int
    ) -> list[Statement]:
        if kind is MERCHANT_REGISTERED:
            return [
                (
                    "INSERT INTO {s}message_merchants (merchant_id, registered) VALUES (?, ?)",
                    (key, int(e["email"] is not None)),
                )
            ]
        if kind is ALERTS_SET:
            wanted = AlertPreferences.from_dict(e["alerts"])
            return [
                (
                    "UPDATE {s}message_merchants SET alert_email = ?, payment_received = ?,"
                    " link_expired = ?, webhook_failing = ?, payout_paid = ?, payout_failed = ?,"
                    " webhook_failures = ? WHERE merchant_id = ?",
                    (
                        int(wanted.email is not None),
                        int(wanted.payment_received),
                        int(wanted.link_expired),
                        int(wanted.webhook_failing),
                        int(wanted.payout_paid),
                        int(wanted.payout_failed),
                        wanted.webhook_failures,
                        uuid_text(e["merchant_id"]),
                    ),
                )
            ]
        if kind is PAYMENT_VERIFIED:
            return [
                (
                    f"INSERT INTO {{s}}messages_due ({DUE_COLUMNS})"
                    " SELECT ?, ?, m.merchant_id, ?, ?, NULL, NULL, NULL, ?, ?"
                    " FROM {s}message_merchants m WHERE m.merchant_id = ? AND "
                    + WANTS.format(kind=alerts.PAYMENT_RECEIVED)
                    + " ON CONFLICT (cause) DO NOTHING",
                    (
                        f"{alerts.PAYMENT_RECEIVED}:{key}",
                        alerts.PAYMENT_RECEIVED,
                        e["mode"],
                        key,
                        at,
                        position,
                        uuid_text(e["merchant_id"]),
                    ),
                )
            ]
        if kind is PAYMENT_INITIATED:
            return [
                (
                    "INSERT INTO {s}message_payments (payment_id, link_id) VALUES (?, ?)",
                    (key, uuid_text(e["link_id"])),
                )
            ]
        if kind is PAYMENT_RECEIVED:  # money reported: no reminder, even before it is verified
            link = "(SELECT link_id FROM {s}message_payments WHERE payment_id = ?)"
            return [
                (f"UPDATE {{s}}message_links SET paid = 1 WHERE link_id = {link}", (key,)),
                (f"DELETE FROM {{s}}message_reminders WHERE link_id = {link}", (key,)),
            ]
        if kind in OWNED:  # a payout's or an endpoint's merchant, for their alerts
            table, column = OWNED[kind]
            return [
                (
                    f"INSERT INTO {{s}}{table} ({column}, merchant_id, mode) VALUES (?, ?, ?)",
                    (key, uuid_text(e["merchant_id"]), e["mode"]),
                )
            ]
        if kind is PAYOUT_PAID_OUT or kind is PAYOUT_FAILED:
            alert = alerts.PAYOUT_PAID if kind is PAYOUT_PAID_OUT else alerts.PAYOUT_FAILED
            return [
                (
                    f"INSERT INTO {{s}}messages_due ({DUE_COLUMNS})"
                    " SELECT ?, ?, p.merchant_id, p.mode, p.payout_id, NULL, NULL, NULL, ?, ?"
                    " FROM {s}message_payouts p"
                    " JOIN {s}message_merchants m ON m.merchant_id = p.merchant_id"
                    " WHERE p.payout_id = ? AND "
                    + WANTS.format(kind=alert)
                    + " ON CONFLICT (cause) DO NOTHING",
                    (f"{alert}:{key}", alert, at, position, key),
                )
            ]
        if kind is DELIVERY_ATTEMPTED or kind is DELIVERY_RETRIED:
            return self._attempt(e, at, position)
        return []

    @staticmethod
    def _attempt(e: dict[str, Any], at: str, position: int) -> list[Statement]:
        """A webhook delivery's attempt: a success ends the endpoint's failures in a row;
        the failure that makes them the merchant's number owes the alert, once a run."""
        endpoint = uuid_text(e["endpoint_id"])
        status = e["status_code"]
        if status is not None and 200 <= status < 300:
            return [
                (
                    "UPDATE {s}message_endpoints SET failures = 0, since = NULL, last = NULL"
                    " WHERE endpoint_id = ?",
                    (endpoint,),
                )
            ]
        last = f"HTTP {status}" if status is not None else (e["error"] or "no answer")
        return [
            (
                "UPDATE {s}message_endpoints SET failures = failures + 1,"
                " since = COALESCE(since, ?), last = ? WHERE endpoint_id = ?",
                (position, last[:300], endpoint),
            ),
            (
                f"INSERT INTO {{s}}messages_due ({DUE_COLUMNS})"
                " SELECT ? || CAST(o.since AS TEXT), ?, o.merchant_id, o.mode, o.endpoint_id, NULL,"
                " o.failures, ?, ?, ? FROM {s}message_endpoints o"
                " JOIN {s}message_merchants m ON m.merchant_id = o.merchant_id"
                " WHERE o.endpoint_id = ? AND o.failures = m.webhook_failures AND "
                + WANTS.format(kind=alerts.WEBHOOK_FAILING)
                + " ON CONFLICT (cause) DO NOTHING",
                (
                    f"{alerts.WEBHOOK_FAILING}:{endpoint}:",
                    alerts.WEBHOOK_FAILING,
                    orjson.dumps({"last": last[:300]}).decode(),
                    at,
                    position,
                    endpoint,
                ),
            ),
        ]
