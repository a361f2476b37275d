"""Link tracking: each link's status, counts, money collected (and paid toward a link paid
in parts) and full timeline."""

from __future__ import annotations

from functools import cache
from typing import Any

from paylink_es.domain.link import PaymentLink
from paylink_es.domain.payment import Payment
from paylink_es.domain.reminders import written
from projections.events import (
    LINK_CANCELLED,
    LINK_COMPLETED,
    LINK_CREATED,
    LINK_DEACTIVATED,
    LINK_EDITED,
    LINK_EXPIRED,
    LINK_MESSAGE_FAILED,
    LINK_MESSAGE_SENT,
    LINK_OPENED,
    LINK_PART_REFUNDED,
    LINK_PARTIALLY_PAID,
    LINK_PAYMENT_ACCEPTED,
    LINK_PAYMENT_FLAGGED,
    LINK_REACTIVATED,
    LINK_RECEIPTED,
    LINK_REMINDED,
    LINK_REMINDERS_SCHEDULED,
    LINK_SEND_FAILED,
    LINK_SENT,
    PAYMENT_FLAGGED,
    PAYMENT_INITIATED,
    PAYMENT_RECEIVED,
    PAYMENT_REFUNDED,
    PAYMENT_REJECTED,
    PAYMENT_SETTLED,
    PAYMENT_VERIFIED,
    REFUND_FAILED,
    REFUND_REQUESTED,
    REFUND_SUCCEEDED,
)
from projections.readmodel import Event, ReadModel, fields_at, iso, originator, to_json, uuid_text
from projections.sqlview import Statement, marks

LINK_STATUS: dict[type, str] = {
    LINK_EXPIRED: "expired",
    LINK_CANCELLED: "cancelled",
    LINK_COMPLETED: "completed",
    LINK_DEACTIVATED: "inactive",
    LINK_REACTIVATED: "active",
    LINK_PARTIALLY_PAID: "partially_paid",
    LINK_PART_REFUNDED: "partially_paid",
}
# Events that say the status they leave the link in (it depends on what was paid);
# Reactivated stored before links were paid in parts says none: active.
STATUS_SAID = frozenset({LINK_REACTIVATED, LINK_PARTIALLY_PAID, LINK_PART_REFUNDED})


def status_after(kind: type, e: dict[str, Any]) -> str:
    """The status a link has after an event of ``kind`` (one of :data:`LINK_STATUS`)."""
    said: str | None = e.get("status") if kind in STATUS_SAID else None
    return said or LINK_STATUS[kind]


COUNTERS: dict[type, str] = {
    LINK_SENT: "sent_count = sent_count + 1",
    LINK_OPENED: "opened_count = opened_count + 1",
    LINK_PAYMENT_FLAGGED: "flagged_count = flagged_count + 1",
}


@cache
def timeline_event(kind: type) -> str:
    """What a link's timeline calls an event: ``Sent`` (``PaymentLink.Sent``),
    ``PaymentVerified`` (``Payment.Verified``), ``PaymentAnomaly`` (``Payment.Flagged``)."""
    if kind is PAYMENT_FLAGGED:
        return "PaymentAnomaly"
    aggregate, _, name = kind.__qualname__.partition(".")
    return name if issubclass(kind, PaymentLink.Event) else aggregate + name


TIMELINE_SQL = (
    "INSERT INTO {s}link_timeline (position, link_id, at, event, detail) VALUES (?, ?, ?, ?, ?)"
)
PAYMENT_TIMELINE_SQL = (
    "INSERT INTO {s}link_timeline (position, link_id, at, event, detail)"
    " SELECT ?, link_id, ?, ?, ? FROM {s}link_payments WHERE payment_id = ?"
)


# The columns a link's terms fill: set on create, all rewritten on an edit.
TERMS_COLUMNS = (
    "reference_id",
    "description",
    "currency",
    "amount",
    "amount_min",
    "amount_max",
    "usage_limit",
    "expires_at",
    "terms",
    "search",
    "partial_expiry",
)
# After the terms, whether the link is paid in parts: its amount_paid is then a number
# (0 when created; an edit turns payment in parts on or off only while nothing was paid),
# else NULL.
CREATED_SQL = (
    f"INSERT INTO {{s}}links (link_id, merchant_id, mode, code, {', '.join(TERMS_COLUMNS)},"
    " amount_paid, status, created_at, updated_at, position)"
    f" VALUES (?, ?, ?, ?, {marks(TERMS_COLUMNS)}, CASE WHEN ? THEN 0 END, 'active', ?, ?, ?)"
)
# Every column of a link's row, as a rebuild writes it once (see LinkTracking.rebuilding).
ROW_COLUMNS = (
    "link_id",
    "merchant_id",
    "mode",
    "code",
    *TERMS_COLUMNS,
    "amount_paid",
    "status",
    "sent_count",
    "opened_count",
    "payment_count",
    "flagged_count",
    "collected",
    "created_at",
    "updated_at",
    "position",
)
ROW_SQL = f"INSERT INTO {{s}}links ({', '.join(ROW_COLUMNS)}) VALUES ({marks(ROW_COLUMNS)})"
COLUMN = {name: index for index, name in enumerate(ROW_COLUMNS)}
TERMS_AT = COLUMN["reference_id"]
AMOUNT_PAID, STATUS, COLLECTED = COLUMN["amount_paid"], COLUMN["status"], COLUMN["collected"]
PAYMENT_COUNT, UPDATED_AT = COLUMN["payment_count"], COLUMN["updated_at"]
COUNTED: dict[type, int] = {
    LINK_SENT: COLUMN["sent_count"],
    LINK_OPENED: COLUMN["opened_count"],
    LINK_PAYMENT_FLAGGED: COLUMN["flagged_count"],
}
# How many payments' links a rebuild remembers (a payment's link never changes); past
# that it starts again, and a payment it forgot finds its link in link_payments.
PAYMENT_LINKS_KEPT = 262_144
EDITED_SQL = (
    "UPDATE {s}links SET "
    + ", ".join(f"{column} = ?" for column in TERMS_COLUMNS)
    + ", amount_paid = CASE WHEN ? THEN COALESCE(amount_paid, 0) END"
    + ", updated_at = ?, position = ? WHERE link_id = ?"
)


def _terms_columns(e: dict[str, Any]) -> tuple[Any, ...]:
    """The values of :data:`TERMS_COLUMNS` from a created or edited link's full terms, and
    whether it is paid in parts."""
    expires = e["expires_at"]
    partial = bool(e.get("allow_partial"))
    return (
        e["reference_id"],
        e["description"],
        e["currency"],
        e["amount"],
        e["amount_min"],
        e["amount_max"],
        e["usage_limit"],
        iso(expires) if expires else None,
        to_json(_terms(e)),
        search_text(e["description"], e["reference_id"]),
        e.get("partial_expiry") if partial else None,
        partial,
    )


def _terms(e: dict[str, Any]) -> dict[str, Any]:
    """What a link's page and API show beyond the columns: methods, items, customer, what
    the page asks payers…"""
    return {
        "methods": e["methods"],
        "line_items": term_value("line_items", e["line_items"]),
        "customer": term_value("customer", e["customer"]),
        "success_url": e["success_url"],
        "failure_url": e["failure_url"],
        "metadata": e["metadata"],
        "slug": e.get("slug"),
        "customer_fields": e.get("customer_fields") or {},
        "custom_fields": term_value("custom_fields", e.get("custom_fields") or []),
        **partial_terms(e),
    }


def partial_terms(e: dict[str, Any]) -> dict[str, Any]:
    """Whether a created or edited link is paid in parts, and the least first part (links
    stored before links could be paid in parts are paid whole); ``partial_expiry`` is a
    column."""
    return {"allow_partial": e.get("allow_partial", False), "partial_min": e.get("partial_min")}


def search_text(description: str, reference_id: str | None) -> str:
    """What the list's text filter searches: description and reference, case-folded."""
    return f"{description} {reference_id or ''}".casefold()


def term_value(name: str, value: Any) -> Any:
    """A term of a link as JSON and the columns hold it (an expiry as ``iso`` text)."""
    if value is None:
        return None
    if name == "expires_at":
        return iso(value)
    if name == "customer":
        return vars(value)
    if name in ("line_items", "custom_fields"):
        return [vars(item) for item in value]
    return value


def _who(e: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` with who made the change, when the event says (older ones do not)."""
    by = e.get("by")
    if by is not None:
        detail["by"] = by
    return detail


def _change(row: list[Any], kind: type, e: dict[str, Any], at: str, position: int) -> None:
    """What the live path's UPDATE of a link's row makes of it, done to ``row`` in memory."""
    if kind is LINK_EDITED:
        terms = _terms_columns(e)
        row[TERMS_AT : TERMS_AT + len(TERMS_COLUMNS)] = terms[:-1]
        paid = row[AMOUNT_PAID]
        row[AMOUNT_PAID] = (paid if paid is not None else 0) if terms[-1] else None
    elif kind is LINK_PART_REFUNDED:
        row[STATUS], row[AMOUNT_PAID] = e["status"], e["amount_paid"]
    elif kind in LINK_STATUS:
        row[STATUS] = status_after(kind, e)
    elif kind in COUNTED:
        row[COUNTED[kind]] += 1
    elif kind is LINK_PAYMENT_ACCEPTED:
        part = e.get("part")
        row[PAYMENT_COUNT] += 1
        row[COLLECTED] += e["amount"].amount
        if row[AMOUNT_PAID] is not None:  # NULL (a link paid whole) stays NULL
            row[AMOUNT_PAID] += part.amount if part is not None else 0
    else:
        return  # no change to the row: only the timeline
    row[UPDATED_AT], row[UPDATED_AT + 1] = at, position


MONEY_EVENTS = frozenset(
    {LINK_PAYMENT_ACCEPTED, LINK_PAYMENT_FLAGGED, LINK_PARTIALLY_PAID, LINK_PART_REFUNDED}
)


def link_event_detail(kind: type, e: dict[str, Any]) -> dict[str, Any]:
    """What a link's timeline says about one of its events (JSON values)."""
    if kind is LINK_EDITED:
        changed: list[str] = e["changed"]
        return {
            "changed": changed,
            "by": e["by"],
            "from": {name: term_value(name, e["previous"].get(name)) for name in changed},
            "to": {name: term_value(name, e[name]) for name in changed},
        }
    if kind is LINK_DEACTIVATED:
        detail = {"message": e["message"]} if e["message"] is not None else {}
        return _who(e, detail)
    if kind is LINK_REACTIVATED:
        # A link paid in part is partially paid again (none said: active, as before).
        said = e.get("status")
        return _who(e, {"status": said} if said not in (None, "active") else {})
    if kind is LINK_CREATED:
        detail = {}
        if e.get("duplicate_of") is not None:
            detail["duplicate_of"] = uuid_text(e["duplicate_of"])
        return _who(e, detail)
    if kind is LINK_SENT:
        return {"channel": e["channel"], "recipient": e["recipient"]}
    if kind is LINK_SEND_FAILED or kind is LINK_MESSAGE_SENT or kind is LINK_MESSAGE_FAILED:
        keep = ("kind", "about", "channel", "recipient", "reason")
        return {name: e[name] for name in keep if name in e}
    if kind is LINK_REMINDERS_SCHEDULED:
        return _who(e, {"reminders": [written(before) for before in e["reminders"]]})
    if kind is LINK_REMINDED:
        return {"before": written(e["before_s"]), "passed": [written(b) for b in e["passed"]]}
    if kind is LINK_RECEIPTED:
        return {"payment_id": uuid_text(e["payment_id"])}
    if kind in MONEY_EVENTS:
        detail = {
            "payment_id": str(e["payment_id"]),
            "amount": e["amount"].amount,
            "currency": e["amount"].currency,
        }
        if "anomaly" in e:
            detail["anomaly"] = e["anomaly"]
        if e.get("part") is not None:  # what counts toward a link paid in parts
            detail["part"] = e["part"].amount
        if kind is LINK_PART_REFUNDED:
            detail["refund_id"] = uuid_text(e["refund_id"])
        if kind is LINK_PARTIALLY_PAID or kind is LINK_PART_REFUNDED:
            detail.update(
                amount_paid=e["amount_paid"], amount_due=e["amount_due"], status=e["status"]
            )
        return detail
    if kind is LINK_CANCELLED:
        return _who(e, {"reason": e["reason"]} if e.get("reason") else {})
    return {}


def payment_event_detail(kind: type, e: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = {"payment_id": originator(e)}
    if kind is PAYMENT_INITIATED:
        detail.update(method=e["method"], channel=e["channel"], amount=e["amount"].amount)
    elif kind is PAYMENT_RECEIVED:
        detail.update(
            amount=e["amount"].amount, channel_ref=e["channel_ref"], paid_at=iso(e["paid_at"])
        )
    elif kind is PAYMENT_FLAGGED:
        detail.update(anomaly=e["anomaly"], disposition=e["disposition"])
    elif kind is PAYMENT_VERIFIED:
        detail.update(gross=e["gross"].amount, fee=e["fee"].amount, net=e["net"].amount)
    elif kind is PAYMENT_REJECTED:
        detail.update(reason=e["reason"])
    elif kind is PAYMENT_SETTLED:
        detail.update(net=e["net"].amount, settlement_date=e["settlement_date"])
    elif kind is PAYMENT_REFUNDED:
        detail.update(amount=e["amount"].amount, reason=e["reason"])
    elif kind is REFUND_REQUESTED or kind is REFUND_SUCCEEDED or kind is REFUND_FAILED:
        detail.update(
            refund_id=uuid_text(e["refund_id"]), amount=e["amount"].amount, reason=e["reason"]
        )
        if kind is REFUND_SUCCEEDED:
            detail["channel_ref"] = e["channel_ref"]
        elif kind is REFUND_FAILED:
            detail["failure"] = e["failure"]
    return detail


class LinkTracking(ReadModel):
    """Status, counts and timeline of every link."""

    name = "links"
    deferred = frozenset({TIMELINE_SQL, PAYMENT_TIMELINE_SQL})
    reads = frozenset({PaymentLink, Payment})
    tables = ("links", "link_timeline", "link_payments")
    later_indexes = ("links_by_merchant", "links_expiring", "link_timeline_by_link")
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
        "CREATE INDEX IF NOT EXISTS links_expiring ON {s}links (status, expires_at)",
        "CREATE TABLE IF NOT EXISTS {s}link_timeline ("
        " position BIGINT PRIMARY KEY, link_id TEXT NOT NULL, at TEXT NOT NULL,"
        " event TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS link_timeline_by_link ON {s}link_timeline (link_id, position)",
        "CREATE TABLE IF NOT EXISTS {s}link_payments ("
        " payment_id TEXT PRIMARY KEY, link_id TEXT NOT NULL)",
        # A link paid in parts: what counts toward its amount (NULL for a link paid whole)
        # and its policy at the expiry; added after the table.
        "ALTER TABLE {s}links ADD COLUMN IF NOT EXISTS amount_paid BIGINT",
        "ALTER TABLE {s}links ADD COLUMN IF NOT EXISTS partial_expiry TEXT",
    )

    # While rebuilding: the rows of links created in the current batch, in order and by
    # id, which the batch's later events of theirs change in memory (one insert each at
    # its end instead of an insert and updates); and each payment's link.
    _rows: list[list[Any]] | None = None
    _created: dict[str, list[Any]]
    _payment_links: dict[str, str]

    def rebuilding(self, on: bool) -> None:
        self._rows = [] if on else None
        self._created = {}
        self._payment_links = {}

    def batch_rows(self) -> list[Statement]:
        rows = self._rows
        if not rows:
            return []
        self._rows, self._created = [], {}
        return [(ROW_SQL, row) for row in rows]

    def statements(self, event: Event, position: int) -> list[Statement]:
        kind = type(event)
        e, at = fields_at(event)
        if issubclass(kind, Payment.Event):
            return self._payment(kind, e, at, position)
        if not issubclass(kind, PaymentLink.Event):
            return []
        link_id = originator(event)
        timeline: Statement = (
            TIMELINE_SQL,
            (position, link_id, at, timeline_event(kind), to_json(link_event_detail(kind, e))),
        )
        if self._rows is not None:
            if kind is LINK_CREATED:
                kept = self._new_row(link_id, e, at, position)
                self._rows.append(kept)
                # A second Created of one link keeps both rows: their inserts then fail
                # on the key, as the live path's second insert does.
                self._created.setdefault(link_id, kept)
                return [timeline]
            changed = self._created.get(link_id)
            if changed is not None:
                _change(changed, kind, e, at, position)
                return [timeline]
        if kind is LINK_CREATED:
            identity = (link_id, uuid_text(e["merchant_id"]), e["mode"], e["code"])
            row = (*identity, *_terms_columns(e), at, at, position)
            return [(CREATED_SQL, row), timeline]
        if kind is LINK_EDITED:
            return [(EDITED_SQL, (*_terms_columns(e), at, position, link_id)), timeline]
        if kind is LINK_PART_REFUNDED:
            change = "status = ?, amount_paid = ?"
            params: tuple[Any, ...] = (e["status"], e["amount_paid"])
        elif kind in LINK_STATUS:
            change, params = "status = ?", (status_after(kind, e),)
        elif kind in COUNTERS:
            change, params = COUNTERS[kind], ()
        elif kind is LINK_PAYMENT_ACCEPTED:
            # amount_paid: NULL (a link paid whole) stays NULL.
            change = (
                "payment_count = payment_count + 1, collected = collected + ?,"
                " amount_paid = amount_paid + ?"
            )
            part = e.get("part")
            params = (e["amount"].amount, part.amount if part is not None else 0)
        else:
            return [timeline]
        update = f"UPDATE {{s}}links SET {change}, updated_at = ?, position = ? WHERE link_id = ?"
        return [(update, (*params, at, position, link_id)), timeline]

    @staticmethod
    def _new_row(link_id: str, e: dict[str, Any], at: str, position: int) -> list[Any]:
        """A created link's row, every column of :data:`ROW_COLUMNS` as CREATED_SQL sets it."""
        terms = _terms_columns(e)
        identity = [link_id, uuid_text(e["merchant_id"]), e["mode"], e["code"]]
        counts = [0, 0, 0, 0, 0]  # sent, opened, payments, flagged; collected
        paid = 0 if terms[-1] else None
        return [*identity, *terms[:-1], paid, "active", *counts, at, at, position]

    def _payment(self, kind: type, e: dict[str, Any], at: str, position: int) -> list[Statement]:
        payment_id = originator(e)
        statements: list[Statement] = []
        payment_links = self._payment_links if self._rows is not None else None
        if kind is PAYMENT_INITIATED:
            link_id = uuid_text(e["link_id"])
            statements.append(
                (
                    "INSERT INTO {s}link_payments (payment_id, link_id) VALUES (?, ?)",
                    (payment_id, link_id),
                )
            )
            if payment_links is not None:
                if len(payment_links) >= PAYMENT_LINKS_KEPT:
                    payment_links.clear()
                payment_links[payment_id] = link_id
        link = payment_links.get(payment_id) if payment_links is not None else None
        if link is not None:  # the row PAYMENT_TIMELINE_SQL would make, its link known
            detail = to_json(payment_event_detail(kind, e))
            statements.append((TIMELINE_SQL, (position, link, at, timeline_event(kind), detail)))
            return statements
        statements.append(
            (
                PAYMENT_TIMELINE_SQL,
                (
                    position,
                    at,
                    timeline_event(kind),
                    to_json(payment_event_detail(kind, e)),
                    payment_id,
                ),
            )
        )
        return statements
