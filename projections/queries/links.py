"""Queries of the links read model (:mod:`projections.links`): lists, a link and its
timeline, a link as it stood at an instant, and the export's pages."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypedDict, Unpack, cast
from uuid import UUID

from projections.events import (
    LINK_CREATED,
    LINK_EDITED,
    LINK_OPENED,
    LINK_PART_REFUNDED,
    LINK_PAYMENT_ACCEPTED,
    LINK_PAYMENT_FLAGGED,
    LINK_SENT,
)
from projections.links import LINK_STATUS, STATUS_SAID, search_text, timeline_event
from projections.queries.paging import (
    EXPORT_PAGE,
    Keyset,
    Page,
    QueryError,
    every_page,
    like_pattern,
    merchant_where,
    owned_row,
    page,
    typed_rows,
    where_given,
)
from projections.readmodel import iso, to_json
from projections.runner import ReadModels
from projections.sqlview import marks

LINK_STATUSES = ("active", "partially_paid", "inactive", "completed", "expired", "cancelled")
# Statuses that still end at the link's expiry (past it, the link reads expired).
OPEN = ("active", "inactive", "partially_paid")
IS_OPEN = "status IN ({})".format(", ".join(f"'{status}'" for status in OPEN))
# An open link is past its expiry at ``?``, unless a part paid holds it open (keep_open).
PAST_EXPIRY = (
    "(expires_at IS NOT NULL AND expires_at <= ? AND (partial_expiry IS NULL"
    " OR partial_expiry <> 'keep_open' OR amount_paid = 0))"
)


class LinkRow(TypedDict):
    """A row of the links view; ``status`` as of the query's instant (an active or
    inactive link past its expiry reads ``expired``)."""

    link_id: str
    merchant_id: str
    mode: str
    code: str
    reference_id: str | None
    description: str
    currency: str
    amount: int | None
    amount_min: int | None
    amount_max: int | None
    usage_limit: int | None
    expires_at: str | None
    status: str
    sent_count: int
    opened_count: int
    payment_count: int
    flagged_count: int
    collected: int
    created_at: str
    updated_at: str
    position: int
    terms: str  # JSON: methods, line_items, customer, success_url, failure_url, metadata,
    # slug, allow_partial, partial_min
    search: str  # description and reference, case-folded
    amount_paid: int | None  # toward a link paid in parts; None for a link paid whole
    partial_expiry: str | None  # a link paid in parts: expire or keep_open


class TimelineEntry(TypedDict):
    """One event in a link's life (``detail``: what the event said, as JSON values)."""

    position: int
    at: str
    event: str
    detail: dict[str, Any]


class StoredTimelineEntry(TypedDict):
    """A row of ``link_timeline`` as stored (``detail`` is JSON text)."""

    position: int
    at: str
    event: str
    detail: str


class LinkTimelineRow(StoredTimelineEntry):
    """A row of ``link_timeline`` with the link it belongs to (timelines of many links)."""

    link_id: str


class LinkDetail(LinkRow):
    """A link with its whole timeline, oldest first."""

    timeline: list[TimelineEntry]


class LinkAsOf(LinkDetail):
    """A link as the views showed it at ``as_of``: status, counts and money then."""

    as_of: str


LINKS = Keyset("links", ("created_at", "link_id"), (str, str), LinkRow)


def amount_due(row: Mapping[str, Any]) -> int | None:
    """What is left to pay on a link paid in parts (a row of the links view, or one shaped
    like it): its amount less what was paid; None for a link paid whole."""
    paid, amount = row.get("amount_paid"), row.get("amount")
    return None if paid is None or amount is None else int(amount) - int(paid)


def _status_at(row: LinkRow, status: str, then: str) -> str:
    """``status`` as read at ``then``: an open link past its expiry (:data:`PAST_EXPIRY`)
    reads expired."""
    expires = row["expires_at"]
    held = row["partial_expiry"] == "keep_open" and bool(row["amount_paid"])
    if status in OPEN and expires and expires <= then and not held:
        return "expired"
    return status


def _effective_status(row: LinkRow, now: datetime) -> str:
    return _status_at(row, row["status"], iso(now))


def expiring(models: ReadModels, now: datetime, limit: int = 500) -> list[str]:
    """Open links (active, inactive, partially paid and not held open) whose expiry has
    passed by ``now`` (earliest first): the ones still waiting for their ``Expired``
    event."""
    rows = models["links"].view.query(
        f"SELECT link_id FROM {{s}}links WHERE {IS_OPEN} AND {PAST_EXPIRY}"
        " ORDER BY expires_at, link_id LIMIT ?",
        (iso(now), limit),
    )
    return [row["link_id"] for row in rows]


def list_links(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    now: datetime,
    *,
    status: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    created_by: datetime | None = None,
    reference: str | None = None,
    text: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[LinkRow]:
    """The merchant's links, newest first, filtered, one cursor page at a time.

    ``created_from`` is inclusive and ``created_to`` exclusive (a window); ``created_by``
    is inclusive (the links that existed at an instant).
    """
    where, params = merchant_where(merchant_id, mode, reference_id=reference)
    if status is not None:
        if status not in LINK_STATUSES:
            raise QueryError("status", f"must be one of {', '.join(LINK_STATUSES)}")
        if status in OPEN:
            where.append(f"status = ? AND NOT {PAST_EXPIRY}")
            params.extend((status, iso(now)))
        elif status == "expired":
            where.append(f"(status = 'expired' OR ({IS_OPEN} AND {PAST_EXPIRY}))")
            params.append(iso(now))
        else:
            where.append("status = ?")
            params.append(status)
    where_given(where, params, "created_at >= ?", created_from, iso)
    where_given(where, params, "created_at < ?", created_to, iso)
    where_given(where, params, "created_at <= ?", created_by, iso)
    if text:
        # ``search`` is folded in Python (SQLite's LOWER() only folds ASCII).
        where.append("search LIKE ? ESCAPE '\\'")
        params.append(like_pattern(text))
    found = page(models["links"], LINKS, where, params, limit, cursor)
    items: list[LinkRow] = [{**row, "status": _effective_status(row, now)} for row in found.items]
    return Page(items, found.next_cursor)


def all_links(
    models: ReadModels, merchant_id: UUID, mode: str, now: datetime, **filters: Any
) -> Iterator[list[LinkRow]]:
    """Every link matching the list page's filters, newest first, a keyset page at a time."""
    return every_page(
        lambda cursor: list_links(
            models, merchant_id, mode, now, limit=EXPORT_PAGE, cursor=cursor, **filters
        )
    )


def link_detail(
    models: ReadModels, merchant_id: UUID, mode: str, link_id: UUID, now: datetime
) -> LinkDetail | None:
    """One link with its full timeline; None for an unknown link or another merchant's."""
    view = models["links"]
    row = owned_row(view, LinkRow, "links", "link_id", str(link_id), merchant_id, mode)
    if row is None:
        return None
    timeline: list[TimelineEntry] = [
        {**entry, "detail": json.loads(entry["detail"])}
        for entry in typed_rows(
            view,
            StoredTimelineEntry,
            "SELECT position, at, event, detail FROM {s}link_timeline WHERE link_id = ?"
            " ORDER BY position",
            (str(link_id),),
        )
    ]
    return {**row, "status": _effective_status(row, now), "timeline": timeline}


# A link's status after each event of its timeline that changes it (those that say the
# status they leave it in say it in their detail).
STATUS_AFTER = {
    timeline_event(LINK_CREATED): "active",
    **{timeline_event(kind): status for kind, status in LINK_STATUS.items()},
}
SAYS_STATUS = frozenset(timeline_event(kind) for kind in STATUS_SAID)
EDITED = timeline_event(LINK_EDITED)
# Terms an edit can change that the links view keeps as columns; the rest are in ``terms``.
TERM_COLUMNS = frozenset(
    (
        "description",
        "currency",
        "amount",
        "amount_min",
        "amount_max",
        "expires_at",
        "partial_expiry",
    )
)
SENT, OPENED = timeline_event(LINK_SENT), timeline_event(LINK_OPENED)
ACCEPTED, FLAGGED = timeline_event(LINK_PAYMENT_ACCEPTED), timeline_event(LINK_PAYMENT_FLAGGED)
PART_REFUNDED = timeline_event(LINK_PART_REFUNDED)


def _status_after(entry: TimelineEntry, status: str) -> str:
    said = entry["detail"].get("status") if entry["event"] in SAYS_STATUS else None
    return said or STATUS_AFTER.get(entry["event"], status)


def link_as_of(
    models: ReadModels, merchant_id: UUID, mode: str, link_id: UUID, as_of: datetime
) -> LinkAsOf | None:
    """The link as the views showed it at ``as_of``, rebuilt from its timeline."""
    link = link_detail(models, merchant_id, mode, link_id, as_of)
    if link is None or link["created_at"] > iso(as_of):
        return None
    return _as_it_stood(link, as_of)


def _terms_before(link: LinkDetail, edits: list[TimelineEntry]) -> LinkDetail:
    """``link`` with ``edits`` (later than the instant asked for) undone, newest first:
    each edit's timeline entry says what the fields it changed were before."""
    if not edits:
        return link
    row: dict[str, Any] = dict(link)
    terms = json.loads(link["terms"])
    for entry in reversed(edits):
        for name, value in entry["detail"]["from"].items():
            if name in TERM_COLUMNS:
                row[name] = value
            else:
                terms[name] = value
    row["terms"] = to_json(terms)
    row["search"] = search_text(row["description"], row["reference_id"])
    return cast(LinkDetail, row)


def _as_it_stood(link: LinkDetail, as_of: datetime) -> LinkAsOf:
    """``link`` at ``as_of``: its status, counts and money from its timeline up to then,
    its terms as they were before any later edit."""
    then = iso(as_of)
    later_edits = [e for e in link["timeline"] if e["at"] > then and e["event"] == EDITED]
    link = _terms_before(link, later_edits)
    timeline = [entry for entry in link["timeline"] if entry["at"] <= then]
    status, collected, paid = "active", 0, 0
    counts: defaultdict[str, int] = defaultdict(int)
    for entry in timeline:
        status = _status_after(entry, status)
        counts[entry["event"]] += 1
        if entry["event"] == ACCEPTED:
            collected += int(entry["detail"]["amount"])
            paid += int(entry["detail"].get("part", 0))
        elif entry["event"] == PART_REFUNDED:
            paid = int(entry["detail"]["amount_paid"])
    partial = bool(json.loads(link["terms"]).get("allow_partial"))
    link = {**link, "amount_paid": paid if partial else None}
    return {
        **link,
        "status": _status_at(link, status, then),
        "sent_count": counts[SENT],
        "opened_count": counts[OPENED],
        "payment_count": counts[ACCEPTED],
        "flagged_count": counts[FLAGGED],
        "collected": collected,
        "timeline": timeline,
        "as_of": then,
    }


class AsOfFilters(TypedDict, total=False):
    """What :func:`links_as_of` filters by: those of :func:`list_links` but the status
    (read as of now) and ``created_by`` (the instant itself)."""

    created_from: datetime | None
    created_to: datetime | None
    reference: str | None
    text: str | None
    limit: int
    cursor: str | None


def links_as_of(
    models: ReadModels,
    merchant_id: UUID,
    mode: str,
    as_of: datetime,
    **filters: Unpack[AsOfFilters],
) -> Page[LinkAsOf]:
    """The links that existed at ``as_of`` (created at or before it), each as it stood then
    (status, counts, money), newest first; filters and cursors as :func:`list_links`.

    A page's links and their timelines take two queries, however many links it holds.
    """
    found = list_links(models, merchant_id, mode, as_of, created_by=as_of, **filters)
    timelines: defaultdict[str, list[TimelineEntry]] = defaultdict(list)
    if found.items:
        for entry in typed_rows(
            models["links"],
            LinkTimelineRow,
            "SELECT link_id, position, at, event, detail FROM {s}link_timeline"
            f" WHERE link_id IN ({marks(found.items)}) AND (at <= ? OR event = ?)"
            " ORDER BY position",
            [*(row["link_id"] for row in found.items), iso(as_of), EDITED],
        ):
            timelines[entry["link_id"]].append(
                {
                    "position": entry["position"],
                    "at": entry["at"],
                    "event": entry["event"],
                    "detail": json.loads(entry["detail"]),
                }
            )
    rows = [
        _as_it_stood({**row, "timeline": timelines[row["link_id"]]}, as_of) for row in found.items
    ]
    return Page(rows, found.next_cursor)


def links_by_id(
    models: ReadModels, merchant_id: UUID, mode: str, link_ids: Iterable[str]
) -> dict[str, LinkRow]:
    """The merchant's links among ``link_ids`` (a page's worth), by id; others' are left out."""
    wanted = sorted(set(link_ids))
    if not wanted:
        return {}
    rows = typed_rows(
        models["links"],
        LinkRow,
        f"SELECT * FROM {{s}}links WHERE link_id IN ({marks(wanted)})"
        " AND merchant_id = ? AND mode = ?",
        (*wanted, str(merchant_id), mode),
    )
    return {row["link_id"]: row for row in rows}
