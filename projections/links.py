"""Link tracking: each link's status, counts, money collected and full timeline."""

from __future__ import annotations

from typing import Any

from projections.readmodel import (
    Event,
    ReadModel,
    event_name,
    iso,
    originator,
    to_json,
    uuid_text,
)
from projections.sqlview import Statement

LINK_STATUS = {
    "PaymentLink.Expired": "expired",
    "PaymentLink.Cancelled": "cancelled",
    "PaymentLink.Completed": "completed",
}
COUNTERS = {
    "PaymentLink.Sent": "sent_count = sent_count + 1",
    "PaymentLink.Opened": "opened_count = opened_count + 1",
    "PaymentLink.PaymentFlagged": "flagged_count = flagged_count + 1",
}


TIMELINE_SQL = (
    "INSERT INTO {s}link_timeline (position, link_id, at, event, detail) VALUES (?, ?, ?, ?, ?)"
)
PAYMENT_TIMELINE_SQL = (
    "INSERT INTO {s}link_timeline (position, link_id, at, event, detail)"
    " SELECT ?, link_id, ?, ?, ? FROM {s}link_payments WHERE payment_id = ?"
)


def _terms(e: dict[str, Any]) -> dict[str, Any]:
    """What a link's page and API show beyond the columns: methods, items, customer…"""
    customer = e["customer"]
    return {
        "methods": e["methods"],
        "line_items": [vars(item) for item in e["line_items"]],
        "customer": vars(customer) if customer is not None else None,
        "success_url": e["success_url"],
        "failure_url": e["failure_url"],
        "metadata": e["metadata"],
    }


def link_event_detail(name: str, e: dict[str, Any]) -> dict[str, Any]:
    if name == "PaymentLink.Sent":
        return {"channel": e["channel"], "recipient": e["recipient"]}
    if name == "PaymentLink.SendFailed":
        return {"channel": e["channel"], "recipient": e["recipient"], "reason": e["reason"]}
    if name in ("PaymentLink.PaymentAccepted", "PaymentLink.PaymentFlagged"):
        detail = {
            "payment_id": str(e["payment_id"]),
            "amount": e["amount"].amount,
            "currency": e["amount"].currency,
        }
        if "anomaly" in e:
            detail["anomaly"] = e["anomaly"]
        return detail
    if name == "PaymentLink.Cancelled" and e.get("reason"):
        return {"reason": e["reason"]}
    return {}


def payment_event_detail(name: str, e: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = {"payment_id": originator(e)}
    if name == "Payment.Initiated":
        detail.update(method=e["method"], channel=e["channel"], amount=e["amount"].amount)
    elif name == "Payment.Received":
        detail.update(
            amount=e["amount"].amount, channel_ref=e["channel_ref"], paid_at=iso(e["paid_at"])
        )
    elif name == "Payment.Flagged":
        detail.update(anomaly=e["anomaly"], disposition=e["disposition"])
    elif name == "Payment.Verified":
        detail.update(gross=e["gross"].amount, fee=e["fee"].amount, net=e["net"].amount)
    elif name == "Payment.Rejected":
        detail.update(reason=e["reason"])
    elif name == "Payment.Settled":
        detail.update(net=e["net"].amount, settlement_date=e["settlement_date"])
    elif name == "Payment.Refunded":
        detail.update(amount=e["amount"].amount, reason=e["reason"])
    return detail


class LinkTracking(ReadModel):
    """Status, counts and timeline of every link."""

    name = "links"
    deferred = frozenset({TIMELINE_SQL, PAYMENT_TIMELINE_SQL})
    reads = frozenset({"PaymentLink.", "Payment."})
    tables = ("links", "link_timeline", "link_payments")
    ddl = (
        "CREATE TABLE IF NOT EXISTS {s}links ("
        " link_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, mode TEXT NOT NULL,"
        " code TEXT NOT NULL, reference_id TEXT, description TEXT NOT NULL,"
        " currency TEXT NOT NULL, amount BIGINT, amount_min BIGINT, amount_max BIGINT,"
        " usage_limit BIGINT, expires_at TEXT, status TEXT NOT NULL,"
        " sent_count BIGINT NOT NULL DEFAULT 0, opened_count BIGINT NOT NULL DEFAULT 0,"
        " payment_count BIGINT NOT NULL DEFAULT 0, flagged_count BIGINT NOT NULL DEFAULT 0,"
        " collected BIGINT NOT NULL DEFAULT 0, created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL, position BIGINT NOT NULL, terms TEXT NOT NULL,"
        " search TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS links_by_merchant"
        " ON {s}links (merchant_id, mode, created_at, link_id)",
        "CREATE TABLE IF NOT EXISTS {s}link_timeline ("
        " position BIGINT PRIMARY KEY, link_id TEXT NOT NULL, at TEXT NOT NULL,"
        " event TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS link_timeline_by_link ON {s}link_timeline (link_id, position)",
        "CREATE TABLE IF NOT EXISTS {s}link_payments ("
        " payment_id TEXT PRIMARY KEY, link_id TEXT NOT NULL)",
    )

    def statements(self, event: Event, position: int) -> list[Statement]:
        name = event_name(event)
        e = vars(event)
        at = iso(e["timestamp"])
        if name.startswith("Payment."):
            return self._payment(name, e, at, position)
        if not name.startswith("PaymentLink."):
            return []
        link_id = originator(event)
        timeline: Statement = (
            TIMELINE_SQL,
            (position, link_id, at, name.split(".", 1)[1], to_json(link_event_detail(name, e))),
        )
        if name == "PaymentLink.Created":
            expires = e["expires_at"]
            return [
                (
                    "INSERT INTO {s}links (link_id, merchant_id, mode, code, reference_id,"
                    " description, currency, amount, amount_min, amount_max, usage_limit,"
                    " expires_at, status, created_at, updated_at, position, terms, search)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
                    (
                        link_id,
                        uuid_text(e["merchant_id"]),
                        e["mode"],
                        e["code"],
                        e["reference_id"],
                        e["description"],
                        e["currency"],
                        e["amount"],
                        e["amount_min"],
                        e["amount_max"],
                        e["usage_limit"],
                        iso(expires) if expires else None,
                        at,
                        at,
                        position,
                        to_json(_terms(e)),
                        f"{e['description']} {e['reference_id'] or ''}".casefold(),
                    ),
                ),
                timeline,
            ]
        if name in LINK_STATUS:
            change = "status = ?"
            params: tuple[Any, ...] = (LINK_STATUS[name],)
        elif name in COUNTERS:
            change, params = COUNTERS[name], ()
        elif name == "PaymentLink.PaymentAccepted":
            change = "payment_count = payment_count + 1, collected = collected + ?"
            params = (e["amount"].amount,)
        else:
            return [timeline]
        update = f"UPDATE {{s}}links SET {change}, updated_at = ?, position = ? WHERE link_id = ?"
        return [(update, (*params, at, position, link_id)), timeline]

    def _payment(self, name: str, e: dict[str, Any], at: str, position: int) -> list[Statement]:
        payment_id = originator(e)
        statements: list[Statement] = []
        if name == "Payment.Initiated":
            statements.append(
                (
                    "INSERT INTO {s}link_payments (payment_id, link_id) VALUES (?, ?)",
                    (payment_id, uuid_text(e["link_id"])),
                )
            )
        statements.append(
            (
                PAYMENT_TIMELINE_SQL,
                (
                    position,
                    at,
                    "PaymentAnomaly" if name == "Payment.Flagged" else name.replace(".", ""),
                    to_json(payment_event_detail(name, e)),
                    payment_id,
                ),
            )
        )
        return statements
