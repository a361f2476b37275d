"""Hostile query and path parameters on the dashboard: a 4xx page naming it, never a 500.

The same values as the API's (``tests/integration/api/test_api_hostile_params.py``),
through the dashboard's pages, exports and live stream, on SQLite and PostgreSQL: the
validators are the API's (:mod:`api.params`, the queries' cursor checks), and a person
gets the error page with the parameter named; nothing is stored.
"""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.queries.paging import encode_cursor
from tests.integration.api.support import UNKNOWN_ID
from tests.support.desk import Desk, build_desk, post
from tests.support.shop import shop

NUL_CURSOR = encode_cursor("2026-01-05T03:00:00.000000Z\x00", UNKNOWN_ID)
SURROGATE_CURSOR = encode_cursor("\ud800", UNKNOWN_ID)

# (why, path, query, the parameter the page must name)
HOSTILE: list[tuple[str, str, dict[str, str], str]] = [
    *[
        (f"{why} on {path}", path, {**base, name: value}, name)
        for path, base in (
            ("/dashboard/links", {}),
            ("/dashboard/exports/links.csv", {}),
            ("/dashboard/stream", {"page": "links"}),
        )
        for why, name, value in (
            ("NUL in q", "q", "Kaos\x00"),
            ("from a number", "from", "0"),
            ("from in the basic format", "from", "20260131"),
            ("to a week date", "to", "2026-W05-1"),
            ("to not in the calendar", "to", "2026-02-30"),
            ("NUL in to", "to", "2026-01-3\x00"),
        )
    ],
    ("NUL in a links cursor", "/dashboard/links", {"cursor": NUL_CURSOR}, "cursor"),
    ("surrogate in a links cursor", "/dashboard/links", {"cursor": SURROGATE_CURSOR}, "cursor"),
    ("NUL in a payments cursor", "/dashboard/payments", {"cursor": NUL_CURSOR}, "cursor"),
    (
        "delivery cursor beyond 64 bits",
        "/dashboard/webhooks",
        {"cursor": encode_cursor(2**63, "whd_1")},
        "cursor",
    ),
    (
        "NUL in a delivery cursor",
        "/dashboard/webhooks",
        {"cursor": encode_cursor(3, "whd\x00")},
        "cursor",
    ),
    ("NUL in a delivery status", "/dashboard/webhooks", {"status": "failed\x00"}, "status"),
    ("NUL in a payment status", "/dashboard/payments", {"status": "paid\x00"}, "status"),
    *[
        (f"as_of {why}", "/dashboard/audit", {"as_of": value}, "as_of")
        for why, value in (
            ("a fraction", "0.5"),
            ("Unix seconds", "1700000000"),
            ("a day only", "2026-01-31"),
            ("in the basic format", "20260131T1700"),
            ("not in the calendar", "2026-02-30T17:00"),
            ("with a NUL", "2026-01-31T17:00\x00"),
        )
    ],
    (
        "NUL in an audit cursor",
        "/dashboard/audit",
        {"as_of": "2026-01-31T17:00", "cursor": NUL_CURSOR},
        "cursor",
    ),
]


@pytest.fixture(scope="module")
def desk(module_backend_settings: Settings) -> Iterator[Desk]:
    """One desk per backend for this module: every test only reads, and checks that its
    own request stored nothing but the sign-in it made."""
    with shop(module_backend_settings, FakeClock(), run_projections=True) as built:
        yield build_desk(built)


@pytest.mark.parametrize(
    ("path", "query", "field"), [pytest.param(*case[1:], id=case[0]) for case in HOSTILE]
)
def test_a_hostile_parameter_is_a_4xx_page_naming_it_and_nothing_is_stored(
    desk: Desk, path: str, query: dict[str, str], field: str
) -> None:
    owner = desk.signed_in()
    before = desk.shop.paylink.app.recorder.max_notification_id()

    response = owner.get(path, params=query)

    assert response.status_code == 400, response.text
    assert 'data-testid="error"' in response.text
    # named in the error, or (a day the links list filters by) beside its input
    named_beside = f'data-error-for="{field}"' in response.text
    assert named_beside or f"{field}: " in html.unescape(response.text)
    assert "Traceback" not in response.text
    assert desk.shop.paylink.app.recorder.max_notification_id() == before


def test_a_hostile_delivery_id_to_resend_is_a_4xx_page_naming_it(desk: Desk) -> None:
    owner = desk.signed_in()
    before = desk.shop.paylink.app.recorder.max_notification_id()

    response = post(owner, "/dashboard/webhooks/deliveries/whd%00x/resend")

    assert response.status_code == 422, response.text
    assert "delivery_id: " in html.unescape(response.text)
    assert desk.shop.paylink.app.recorder.max_notification_id() == before


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/dashboard/links", {"from": "2026-01-01", "to": "2026-12-31", "q": "Kaos\npolos"}),
        ("/dashboard/audit", {"as_of": "2026-01-31T17:00"}),  # a datetime-local input: WIB
        ("/dashboard/audit", {"as_of": "2026-01-31T17:00:00+07:00"}),
        ("/dashboard/audit", {"as_of": "2026-01-31T10:00:00Z"}),
    ],
)
def test_a_well_formed_parameter_is_still_answered(
    desk: Desk, path: str, query: dict[str, str]
) -> None:
    response = desk.signed_in().get(path, params=query)

    assert response.status_code == 200, response.text
