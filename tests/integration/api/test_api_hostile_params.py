"""Hostile query and path parameters: a 4xx problem naming the parameter, never a 500.

Each value below once reached a database that refuses it, or a parser that took it:
an integer beyond 64 bits (SQLite cannot bind it), a NUL (PostgreSQL's text cannot hold
it), a lone surrogate in a forged cursor (neither can store it), a Unix time or a basic
ISO date where the document promises an ISO-8601 instant or ``YYYY-MM-DD``. Every one is
sent to every endpoint that takes that kind of parameter, on SQLite and PostgreSQL, and
must be a 422 problem of the parameter checks' stable type, naming the parameter, with
nothing stored. The well-formed values the document promises still pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.queries.paging import MAX_POSITION, encode_cursor
from tests.integration.api.support import UNKNOWN_ID, assert_problem
from tests.support.app import Api, app_builder

VALIDATION = "validation-error"  # a parameter the route's own validators refuse
INVALID_QUERY = "invalid-query"  # a cursor (``after``, ``cursor``) the query refuses
NUL = "INV\x00-1"
LISTS = ("/v1/links", "/v1/payments", "/v1/payouts", "/v1/settlements")

# (why, method, path, query, the field the problem must name, its type)
Case = tuple[str, str, str, dict[str, str], str, str]


def _query(why: str, path: str, name: str, value: str, slug: str) -> Case:
    """A GET with ``value`` in the query parameter ``name``: the problem names ``name``."""
    return (why, "GET", path, {name: value}, name, slug)


def _path(why: str, method: str, path: str, field: str) -> Case:
    """A request whose ``path`` holds a hostile ``field``."""
    return (why, method, path, {}, field, VALIDATION)


DELIVERIES = "/v1/webhook-deliveries"
HOSTILE: list[Case] = [
    # -- the four reproductions of the finding --------------------------------------
    _query("after beyond 64 bits", "/v1/events", "after", str(2**63), INVALID_QUERY),
    _query("NUL in q", "/v1/links", "q", NUL, VALIDATION),
    _query("NUL in reference_id", "/v1/links", "reference_id", NUL, VALIDATION),
    _query("NUL in type", "/v1/events", "type", "link.\x00created", VALIDATION),
    _path("NUL in a path id", "GET", f"{DELIVERIES}/whd%00x", "delivery_id"),
    _query("as_of a number", "/v1/balances", "as_of", "0.5", VALIDATION),
    _query("date a number", "/v1/settlements/report.csv", "date", "0", VALIDATION),
    # -- positions: ASCII digits, 0 to 2**63 - 1 ---------------------------------------
    _query("after of 30 digits", "/v1/events", "after", "9" * 30, INVALID_QUERY),
    _query("after negative", "/v1/events", "after", "-1", INVALID_QUERY),
    _query("after a superscript", "/v1/events", "after", "²", INVALID_QUERY),
    _query("after Arabic digits", "/v1/events", "after", "١٢", INVALID_QUERY),
    _query("after a fraction", "/v1/events", "after", "1.5", INVALID_QUERY),
    _query("NUL in after", "/v1/events", "after", "1\x00", INVALID_QUERY),
    *[
        _query(why, DELIVERIES, "cursor", cursor, INVALID_QUERY)
        for why, cursor in (
            ("delivery cursor beyond 64 bits", encode_cursor(2**63, "whd_1")),
            ("delivery cursor negative", encode_cursor(-1, "whd_1")),
            ("NUL in a delivery cursor", encode_cursor(7, "whd\x00")),
        )
    ],
    # -- free text ---------------------------------------------------------------------
    _path("NUL in the path of a resend", "POST", f"{DELIVERIES}/whd%00x/resend", "delivery_id"),
    _query("NUL alone in q", "/v1/links", "q", "\x00", VALIDATION),
    _query("NUL in a link status", "/v1/links", "status", "active\x00", INVALID_QUERY),
    _query("NUL in a payment status", "/v1/payments", "status", "paid\x00", VALIDATION),
    _query("NUL in a delivery status", DELIVERIES, "status", "failed\x00", INVALID_QUERY),
    *[
        _query(f"NUL in a cursor of {path}", path, "cursor", cursor, INVALID_QUERY)
        for path in LISTS
        for cursor in (
            encode_cursor("2026-01-05T03:00:00.000000Z\x00", UNKNOWN_ID),
            encode_cursor("2026-01-05T03:00:00.000000Z", "\x00"),
        )
    ],
    *[
        _query(f"lone surrogate in a cursor of {path}", path, "cursor", cursor, INVALID_QUERY)
        for path in LISTS
        for cursor in (encode_cursor("\ud800", UNKNOWN_ID),)
    ],
    # -- instants: ISO-8601 with a time zone, nothing else --------------------------------
    *[
        _query(f"{name} {why}", path, name, value, VALIDATION)
        for path, name in (
            ("/v1/balances", "as_of"),
            ("/v1/links", "as_of"),
            ("/v1/links", "created_from"),
            ("/v1/links", "created_to"),
        )
        for why, value in (
            ("a fraction", "0.5"),
            ("Unix seconds", "1700000000"),
            ("Unix milliseconds", "1700000000000"),
            ("a day only", "2026-01-31"),
            ("without a zone", "2026-01-31T17:00:00"),
            ("in the basic format", "20260131T170000Z"),
            ("with a zone without colon", "2026-01-31T17:00:00+0700"),
            ("with an offset of 24 hours", "2026-01-31T17:00:00+24:00"),
            ("not in the calendar", "2026-02-30T17:00:00Z"),
            ("at hour 24", "2026-01-31T24:00:00Z"),
            ("in year 0", "0000-01-01T00:00:00Z"),
            ("with a NUL", "2026-01-31T17:00:00Z\x00"),
            ("in words", "yesterday"),
        )
    ],
    # -- days: YYYY-MM-DD ------------------------------------------------------------------
    *[
        _query(f"date {why}", "/v1/settlements/report.csv", "date", value, VALIDATION)
        for why, value in (
            ("Unix seconds", "1700000000"),
            ("in the basic format", "20260131"),
            ("a week date", "2026-W05-1"),
            ("without leading zeros", "2026-1-5"),
            ("not in the calendar", "2026-02-30"),
            ("with a time", "2026-01-31T00:00:00Z"),
            ("with a NUL", "2026-01-31\x00"),
        )
    ],
]


@pytest.fixture(scope="module")
def api(module_backend_settings: Settings) -> Iterator[Api]:
    """One running app per backend for this module: each test asks as a merchant of its
    own (or about no merchant's data) and checks that its own request stored nothing."""
    with app_builder(module_backend_settings, FakeClock()) as build:
        yield build()


@pytest.mark.parametrize(
    ("method", "path", "query", "field", "slug"),
    [pytest.param(*case[1:], id=case[0]) for case in HOSTILE],
)
def test_a_hostile_parameter_is_a_4xx_problem_naming_it_and_nothing_is_stored(
    api: Api, method: str, path: str, query: dict[str, str], field: str, slug: str
) -> None:
    merchant = api.merchant()
    before = api.head()

    response = api.client.request(method, path, params=query, headers=merchant.headers())

    body = assert_problem(response, 422, slug, field=field)
    assert body["detail"].startswith(f"{field}: "), body
    assert api.head() == before


# What the document promises keeps working: the strict validators take every such form.
GOOD: list[tuple[str, str, dict[str, str]]] = [
    ("after 0", "/v1/events", {"after": "0"}),
    ("after the largest position", "/v1/events", {"after": str(MAX_POSITION)}),
    ("after with leading zeros", "/v1/events", {"after": "007"}),
    ("as_of in UTC", "/v1/balances", {"as_of": "2026-01-31T10:00:00Z"}),
    ("as_of in WIB", "/v1/balances", {"as_of": "2026-01-31T17:00:00+07:00"}),
    ("as_of in minutes", "/v1/balances", {"as_of": "2026-01-31T17:00-03:30"}),
    ("as_of with a fraction", "/v1/balances", {"as_of": "2026-01-31T10:00:00.123456789Z"}),
    ("as_of at the first instant", "/v1/balances", {"as_of": "0001-01-01T00:00:00+01:00"}),
    ("as_of at the last instant", "/v1/balances", {"as_of": "9999-12-31T23:59:59-01:00"}),
    ("a creation window", "/v1/links", {"created_from": "2026-01-01T00:00:00+07:00"}),
    ("links as of an instant", "/v1/links", {"as_of": "2026-01-31T10:00:00.123456789Z"}),
    ("links as of the last instant", "/v1/links", {"as_of": "9999-12-31T23:59:59-01:00"}),
    ("links as of the first instant", "/v1/links", {"as_of": "0001-01-01T00:00:00+01:00"}),
    ("text with a newline", "/v1/links", {"q": "Kaos\npolos", "reference_id": "INV-1"}),
    ("an event type", "/v1/events", {"type": "payment.verified"}),
    ("a settlement day", "/v1/settlements/report.csv", {"date": "2026-01-31"}),
]


@pytest.mark.parametrize(("path", "query"), [pytest.param(*case[1:], id=case[0]) for case in GOOD])
def test_a_well_formed_parameter_is_still_answered(
    api: Api, path: str, query: dict[str, str]
) -> None:
    merchant = api.merchant()

    response = api.client.get(path, params=query, headers=merchant.headers())

    assert response.status_code == 200, response.text


# The hosted page answers a customer with pages, not problem documents: an unknown or
# hostile code is its "not found" page (or an empty 404 for an image), never a 500.
PAGE_PATHS = [
    "/l/abc%00def",
    "/l/%00",
    "/l/abc%00def/qr.svg",
    "/l/abc%00def/qr.png",
    f"/l/abc%00def/p/{UNKNOWN_ID}",
    f"/l/abc%00def/p/{UNKNOWN_ID}/receipt",
    f"/l/abc%00def/p/{UNKNOWN_ID}/qris.svg",
]


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_a_hostile_code_on_the_hosted_page_is_not_found(api: Api, path: str) -> None:
    before = api.head()

    response = api.client.get(path, params={"lang": "en\x00"})

    assert response.status_code == 404, response.text
    assert "Traceback" not in response.text
    assert api.head() == before


def test_a_hostile_payment_id_on_the_hosted_page_is_a_problem_naming_it(api: Api) -> None:
    merchant = api.merchant()
    link: dict[str, Any] = api.create_link(merchant)
    before = api.head()

    response = api.client.get(f"/l/{link['code']}/p/pay%00ment")

    assert_problem(response, 422, VALIDATION, field="payment_id")
    assert api.head() == before
