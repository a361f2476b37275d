"""``/v1/links``: create with every field, read with its timeline, list, page and cancel."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from paylink_es.domain.clock import WIB
from paylink_es.domain.money import Money
from tests.integration.api.support import (
    CODE,
    FULL_LINK,
    OPEN_LINK,
    UNKNOWN_ID,
    assert_problem,
    instant,
    require,
)
from tests.support.app import Api, MakeApi, Merchant

EST = timezone(timedelta(hours=-5))


def _list(api: Api, merchant: Merchant, **params: Any) -> dict[str, Any]:
    response = api.client.get("/v1/links", params=params, headers=merchant.headers())
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert page["object"] == "list"
    return page


def _ids(page: dict[str, Any]) -> list[str]:
    return [link["id"] for link in page["data"]]


def test_a_link_with_every_field_is_created_with_its_short_url_and_its_terms_echoed(
    api: Api,
) -> None:
    merchant = api.merchant()

    response = api.client.post("/v1/links", json=FULL_LINK, headers=merchant.headers())

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    link = response.json()
    UUID(link["id"])
    assert link["object"] == "payment_link"
    assert CODE.fullmatch(link["code"]), link["code"]
    assert link["url"].endswith(f"/l/{link['code']}")
    assert link["url"].startswith(("http://", "https://"))
    assert link["qr_url"] == f"{link['url']}/qr.svg"
    assert link["status"] == "active"
    assert link["mode"] == "test"
    for name in ("amount", "currency", "reference_id", "methods", "usage_limit"):
        assert link[name] == FULL_LINK[name], name
    assert link["description"] == FULL_LINK["description"]
    assert link["amount_min"] is None
    assert link["amount_max"] is None
    assert instant(link["expires_at"]) == instant(FULL_LINK["expires_at"])
    assert link["line_items"] == FULL_LINK["line_items"]
    assert link["customer"] == {
        "name": "Budi",
        "email": "budi@example.com",
        "phone": "+628123456789",  # normalised to E.164
        "address": None,
    }
    assert link["success_url"] == FULL_LINK["success_url"]
    assert link["failure_url"] == FULL_LINK["failure_url"]
    assert link["metadata"] == FULL_LINK["metadata"]
    assert link["counts"] == {"sent": 0, "opened": 0, "payments": 0, "flagged": 0}
    assert link["collected"] == 0
    assert instant(link["created_at"]) == api.clock()
    assert api.count("PaymentLink.Created") == 1


@pytest.mark.parametrize("usage_limit", [1, 5, None], ids=["single-use", "five-uses", "unlimited"])
def test_an_open_amount_link_keeps_its_range_and_usage_limit(
    api: Api, usage_limit: int | None
) -> None:
    merchant = api.merchant()

    response = api.client.post(
        "/v1/links", json={**OPEN_LINK, "usage_limit": usage_limit}, headers=merchant.headers()
    )

    assert response.status_code == 201, response.text
    link = response.json()
    assert link["amount"] is None
    assert (link["amount_min"], link["amount_max"]) == (10000, 5000000)
    assert link["usage_limit"] == usage_limit
    assert link["metadata"] == {"campaign": "ramadan"}
    assert link["methods"] == ["qris", "va_bsi"]
    assert link["expires_at"] is None
    api.catch_up()
    read = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert (read["amount_min"], read["amount_max"], read["usage_limit"]) == (
        10000,
        5000000,
        usage_limit,
    )


def test_a_link_left_without_usage_limit_is_single_use(api: Api) -> None:
    merchant = api.merchant()

    link = api.create_link(merchant)

    assert link["usage_limit"] == 1


def test_repeating_a_reference_id_answers_200_with_the_first_link_and_stores_nothing(
    api: Api,
) -> None:
    merchant = api.merchant()
    first = api.client.post("/v1/links", json=FULL_LINK, headers=merchant.headers())
    assert first.status_code == 201
    events = api.head()

    again = api.client.post("/v1/links", json=FULL_LINK, headers=merchant.headers())

    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["code"] == first.json()["code"]
    assert again.json()["amount"] == FULL_LINK["amount"]
    assert api.head() == events
    api.catch_up()
    assert _ids(_list(api, merchant)) == [first.json()["id"]]


def test_a_reference_id_reused_with_another_body_is_a_409_naming_the_link(api: Api) -> None:
    merchant = api.merchant()
    first = api.client.post("/v1/links", json=FULL_LINK, headers=merchant.headers())
    assert first.status_code == 201
    events = api.head()

    other = api.client.post(
        "/v1/links",
        json={**FULL_LINK, "description": "Kaos lain"},
        headers=merchant.headers(),
    )

    problem = assert_problem(other, 409, "reference-id-reused")
    assert problem["field"] == "reference_id"
    assert first.json()["id"] in problem["detail"]
    assert api.head() == events


def test_a_link_without_an_amount_is_a_422_naming_it_and_stores_nothing(api: Api) -> None:
    merchant = api.merchant()
    events = api.head()
    body = {"description": "Bayar berapa saja", "currency": "IDR"}

    refused = api.client.post("/v1/links", json=body, headers=merchant.headers())

    problem = assert_problem(refused, 422, "amount-invalid")
    assert problem["field"] == "amount"
    assert "amount_min" in problem["detail"]
    assert api.head() == events
    opened = api.client.post(
        "/v1/links", json={**body, "amount_min": 10_000}, headers=merchant.headers()
    )
    assert opened.status_code == 201, opened.text


def test_a_usd_link_offering_a_rupiah_rail_is_a_422_naming_the_method(api: Api) -> None:
    merchant = api.merchant()
    body = {"amount": 5_000, "currency": "USD", "description": "Kaos", "methods": ["va_bca"]}

    refused = api.client.post("/v1/links", json=body, headers=merchant.headers())

    problem = assert_problem(refused, 422, "method-unavailable")
    assert problem["field"] == "methods[0]"
    assert "va_bca" in problem["detail"]


def test_the_same_reference_id_in_another_mode_is_another_link(api: Api) -> None:
    merchant = api.merchant()

    test_link = api.create_link(merchant, "test", reference_id="INV-1")
    live_link = api.create_link(merchant, "live", reference_id="INV-1")

    assert test_link["id"] != live_link["id"]
    assert live_link["mode"] == "live"


def test_a_link_can_be_read_right_after_it_is_created_before_any_projection_ran(
    make_api: MakeApi,
) -> None:
    api = make_api(run_projections=False)
    merchant = api.merchant()
    created = api.client.post("/v1/links", json=FULL_LINK, headers=merchant.headers()).json()

    response = api.client.get(f"/v1/links/{created['id']}", headers=merchant.headers())

    assert response.status_code == 200, response.text
    link = response.json()
    assert {k: v for k, v in link.items() if k != "timeline"} == {
        k: v for k, v in created.items() if k != "timeline"
    }
    assert link["timeline"] == []


def test_once_projections_caught_up_a_link_carries_its_timeline(api: Api) -> None:
    merchant = api.merchant()
    created = api.client.post("/v1/links", json=FULL_LINK, headers=merchant.headers()).json()
    api.clock.advance(timedelta(minutes=5))
    cancelled = api.client.post(
        f"/v1/links/{created['id']}/cancel",
        json={"reason": "customer changed the order"},
        headers=merchant.headers(),
    )
    assert cancelled.status_code == 200, cancelled.text
    api.catch_up()

    link = api.client.get(f"/v1/links/{created['id']}", headers=merchant.headers()).json()

    assert [entry["event"] for entry in link["timeline"]] == ["Created", "Cancelled"]
    positions = [entry["position"] for entry in link["timeline"]]
    assert positions == sorted(positions)
    assert instant(link["timeline"][0]["at"]) == instant(created["created_at"])
    assert instant(link["timeline"][1]["at"]) == api.clock()
    assert link["status"] == "cancelled"
    assert link["code"] == created["code"]
    assert link["url"] == created["url"]
    assert link["qr_url"] == created["qr_url"]
    assert instant(link["expires_at"]) == instant(FULL_LINK["expires_at"])
    assert link["customer"] == created["customer"]
    assert link["line_items"] == created["line_items"]
    assert link["metadata"] == created["metadata"]


def test_a_link_reads_as_cancelled_right_after_it_was_cancelled(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()
    link = sqlite_api.create_link(merchant)
    sqlite_api.catch_up()
    sqlite_api.app.state.projections.stop()  # the projections lag behind from here on
    cancelled = sqlite_api.client.post(f"/v1/links/{link['id']}/cancel", headers=merchant.headers())
    require(cancelled.json()["status"] == "cancelled", cancelled.text)

    read = sqlite_api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers())

    assert read.json()["status"] == "cancelled"


def test_reading_an_unknown_link_is_a_404_problem(api: Api) -> None:
    merchant = api.merchant()

    response = api.client.get(f"/v1/links/{UNKNOWN_ID}", headers=merchant.headers())

    assert_problem(response, 404, "not-found")


def test_links_are_filtered_by_status_as_the_clock_sees_it(api: Api) -> None:
    merchant = api.merchant()
    active = api.create_link(merchant, description="stays active")
    cancelled = api.create_link(merchant, description="cancelled")
    expiring = api.create_link(
        merchant,
        description="expires",
        expires_at=(api.clock() + timedelta(hours=1)).astimezone(WIB).isoformat(),
    )
    completed = api.create_link(merchant, description="paid once")
    assert (
        api.client.post(
            f"/v1/links/{cancelled['id']}/cancel", headers=merchant.headers()
        ).status_code
        == 200
    )
    payment = api.paylink.payments.start(UUID(completed["id"]), "qris")
    api.paylink.payments.record(payment, "QR-1", Money(100000, "IDR"), api.clock())
    api.paylink.payments.verify(payment)
    api.clock.advance(timedelta(hours=2))
    api.catch_up()

    by_status = {
        status: _ids(_list(api, merchant, status=status))
        for status in ("active", "cancelled", "expired", "completed")
    }

    assert by_status == {
        "active": [active["id"]],
        "cancelled": [cancelled["id"]],
        "expired": [expiring["id"]],
        "completed": [completed["id"]],
    }
    statuses = {link["id"]: link["status"] for link in _list(api, merchant)["data"]}
    assert statuses[expiring["id"]] == "expired"
    assert statuses[completed["id"]] == "completed"


def test_links_are_filtered_by_a_creation_window_given_with_offsets(api: Api) -> None:
    merchant = api.merchant()
    start = api.clock()
    first = api.create_link(merchant, description="first")
    api.clock.advance(timedelta(hours=1))
    second = api.create_link(merchant, description="second")
    api.clock.advance(timedelta(hours=1))
    third = api.create_link(merchant, description="third")
    api.catch_up()
    one_hour_in = (start + timedelta(hours=1)).astimezone(WIB).isoformat()
    two_hours_in = (start + timedelta(hours=2)).astimezone(EST).isoformat()

    assert _ids(_list(api, merchant, created_from=one_hour_in)) == [third["id"], second["id"]]
    assert _ids(_list(api, merchant, created_to=two_hours_in)) == [second["id"], first["id"]]
    assert _ids(_list(api, merchant, created_from=one_hour_in, created_to=two_hours_in)) == [
        second["id"]
    ]
    later = (start + timedelta(hours=3)).astimezone(UTC).isoformat()
    assert _list(api, merchant, created_from=later)["data"] == []


def test_links_are_found_by_reference_id_and_by_text(api: Api) -> None:
    merchant = api.merchant()
    shirt = api.create_link(merchant, description="Kaos polos hitam", reference_id="INV-001")
    shoes = api.create_link(merchant, description="Sepatu lari", reference_id="INV-002")
    hat = api.create_link(merchant, description="Topi HITAM", reference_id="ORD-77")
    api.catch_up()

    assert _ids(_list(api, merchant, reference_id="INV-002")) == [shoes["id"]]
    assert _list(api, merchant, reference_id="INV-404")["data"] == []
    assert set(_ids(_list(api, merchant, q="hitam"))) == {shirt["id"], hat["id"]}
    assert _ids(_list(api, merchant, q="SEPATU")) == [shoes["id"]]
    assert _ids(_list(api, merchant, q="ord-7")) == [hat["id"]]
    assert _list(api, merchant, q="celana")["data"] == []
    assert _ids(_list(api, merchant, q="hitam", reference_id="ORD-77")) == [hat["id"]]


@pytest.mark.parametrize("limit", [1, 2, 7])
def test_cursor_pages_visit_every_link_exactly_once_newest_first(api: Api, limit: int) -> None:
    merchant = api.merchant()
    created = [api.create_link(merchant, description=f"same instant {n}") for n in range(4)]
    for n in range(4):
        api.clock.advance(timedelta(seconds=1))
        created.append(api.create_link(merchant, description=f"later {n}"))
    api.catch_up()
    newest_first = [
        link["id"]
        for link in sorted(created, key=lambda link: (link["created_at"], link["id"]), reverse=True)
    ]

    seen: list[str] = []
    pages = 0
    params: dict[str, Any] = {"limit": limit}
    while True:
        page = _list(api, merchant, **params)
        pages += 1
        assert 1 <= len(page["data"]) <= limit
        seen += _ids(page)
        if page["next_cursor"] is None:
            break
        params = {"limit": limit, "cursor": page["next_cursor"]}
        assert pages < 20, "pagination does not end"

    assert seen == newest_first
    assert pages == math.ceil(len(created) / limit)


def test_cursor_pages_keep_their_filter(api: Api) -> None:
    merchant = api.merchant()
    wanted = [api.create_link(merchant, description=f"hitam {n}")["id"] for n in range(3)]
    for n in range(3):
        api.create_link(merchant, description=f"putih {n}")
    api.catch_up()

    first = _list(api, merchant, q="hitam", limit=2)
    second = _list(api, merchant, q="hitam", limit=2, cursor=first["next_cursor"])

    assert sorted(_ids(first) + _ids(second)) == sorted(wanted)
    assert second["next_cursor"] is None


def test_cancelling_a_link_closes_it_and_cancelling_again_is_a_409_problem(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant)

    response = api.client.post(
        f"/v1/links/{link['id']}/cancel",
        json={"reason": "customer changed the order"},
        headers=merchant.headers(),
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["id"] == link["id"]
    events = api.head()
    again = api.client.post(f"/v1/links/{link['id']}/cancel", headers=merchant.headers())
    problem = assert_problem(again, 409)
    assert problem["type"] == "/problems/link-closed"
    assert api.head() == events
    api.catch_up()
    read = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert read["status"] == "cancelled"


def test_cancelling_an_unknown_link_is_a_404_problem(api: Api) -> None:
    merchant = api.merchant()

    response = api.client.post(f"/v1/links/{UNKNOWN_ID}/cancel", headers=merchant.headers())

    assert_problem(response, 404, "not-found")


def _as_of(api: Api, merchant: Merchant, moment: datetime, **params: Any) -> dict[str, Any]:
    """GET /v1/links?as_of=… (in WIB, to the microsecond)."""
    return _list(api, merchant, as_of=moment.astimezone(WIB).isoformat(), **params)


def _shown(page: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """Each link of a page as it stood: id, status, payments, money collected."""
    return [
        (link["id"], link["status"], link["counts"]["payments"], link["collected"])
        for link in page["data"]
    ]


def test_links_as_of_an_instant_are_the_links_that_existed_then_as_they_stood_then(
    api: Api,
) -> None:
    merchant = api.merchant()
    before_anything = api.clock()
    api.clock.advance(timedelta(microseconds=250_000))
    created_at = api.clock()
    shirt = api.create_link(merchant, description="Kaos", usage_limit=None)
    api.clock.advance(timedelta(hours=1))
    hat = api.create_link(
        merchant,
        description="Topi",
        expires_at=(api.clock() + timedelta(hours=2)).astimezone(WIB).isoformat(),
    )
    paid_at = api.clock.advance(timedelta(minutes=10))
    payment = api.paylink.payments.start(UUID(shirt["id"]), "qris")
    api.paylink.payments.record(payment, "QR-1", Money(100000, "IDR"), api.clock())
    api.paylink.payments.verify(payment)
    cancelled_at = api.clock.advance(timedelta(microseconds=300_000))  # the same second
    cancel = api.client.post(f"/v1/links/{shirt['id']}/cancel", headers=merchant.headers())
    assert cancel.status_code == 200, cancel.text
    api.clock.advance(timedelta(hours=3))  # the hat has expired by now
    api.catch_up()
    now = _list(api, merchant)

    assert _as_of(api, merchant, before_anything)["data"] == []
    assert _as_of(api, merchant, created_at - timedelta(microseconds=1))["data"] == []
    assert _shown(_as_of(api, merchant, created_at)) == [(shirt["id"], "active", 0, 0)]
    assert _shown(_as_of(api, merchant, paid_at - timedelta(microseconds=1))) == [
        (hat["id"], "active", 0, 0),
        (shirt["id"], "active", 0, 0),
    ]
    just_before = _as_of(api, merchant, cancelled_at - timedelta(microseconds=1))
    assert _shown(just_before) == [(hat["id"], "active", 0, 0), (shirt["id"], "active", 1, 100000)]
    assert instant(just_before["as_of"]) == cancelled_at - timedelta(microseconds=1)
    assert _shown(_as_of(api, merchant, cancelled_at)) == [
        (hat["id"], "active", 0, 0),
        (shirt["id"], "cancelled", 1, 100000),
    ]
    assert _shown(now) == [(hat["id"], "expired", 0, 0), (shirt["id"], "cancelled", 1, 100000)]
    assert now.get("as_of") is None
    then = _as_of(api, merchant, api.clock())
    assert then["data"] == now["data"], "as of now, a link reads as it does without as_of"
    assert all(link["timeline"] is None for link in then["data"])
    for link, created in zip(then["data"], (hat, shirt), strict=True):
        assert {k: link[k] for k in ("code", "url", "description", "created_at")} == {
            k: created[k] for k in ("code", "url", "description", "created_at")
        }


def test_links_as_of_a_later_instant_read_as_now_and_never_predict_an_expiry(api: Api) -> None:
    merchant = api.merchant()
    hat = api.create_link(
        merchant,
        description="Topi",
        expires_at=(api.clock() + timedelta(days=1)).astimezone(WIB).isoformat(),
    )
    api.catch_up()

    later = _as_of(api, merchant, api.clock() + timedelta(days=7))

    assert _shown(later) == [(hat["id"], "active", 0, 0)]
    assert instant(later["as_of"]) == api.clock()


def test_links_as_of_an_instant_page_with_cursors_and_keep_their_filters(api: Api) -> None:
    merchant = api.merchant()
    black = [api.create_link(merchant, description=f"hitam {n}")["id"] for n in range(3)]
    white = [api.create_link(merchant, description=f"putih {n}")["id"] for n in range(2)]
    api.clock.advance(timedelta(seconds=1))
    as_of = api.clock()
    api.clock.advance(timedelta(seconds=1))
    api.create_link(merchant, description="hitam later")  # after the instant: never listed
    api.catch_up()

    def walk(**params: Any) -> list[str]:
        seen: list[str] = []
        page = _as_of(api, merchant, as_of, limit=2, **params)
        while True:
            assert len(page["data"]) <= 2
            seen += _ids(page)
            if page["next_cursor"] is None:
                return seen
            page = _as_of(api, merchant, as_of, limit=2, cursor=page["next_cursor"], **params)

    assert walk() == _ids(_list(api, merchant, created_to=as_of.isoformat(), limit=100))
    assert sorted(walk()) == sorted(black + white)
    assert sorted(walk(q="hitam")) == sorted(black)
    assert walk(q="hitam", created_from=as_of.isoformat()) == []


@pytest.mark.parametrize(
    ("params", "field", "slug"),
    [
        ({"as_of": "yesterday"}, "as_of", "validation-error"),
        ({"as_of": "2026-01-31T17:00:00"}, "as_of", "validation-error"),
        ({"as_of": "2026-02-30T17:00:00Z"}, "as_of", "validation-error"),
        ({"as_of": "2026-01-31T17:00:00Z", "status": "active"}, "status", "invalid-query"),
    ],
)
def test_a_bad_as_of_is_a_422_problem_naming_it(
    api: Api, params: dict[str, str], field: str, slug: str
) -> None:
    merchant = api.merchant()

    response = api.client.get("/v1/links", params=params, headers=merchant.headers())

    body = assert_problem(response, 422, slug, field=field)
    assert body["detail"].startswith(f"{field}: "), body


def test_a_slug_gives_the_link_its_own_address_in_any_case(api: Api) -> None:
    merchant = api.merchant()
    body = {"amount": 75_000, "description": "Kelas yoga", "slug": "Yoga-Sabtu"}
    created = api.client.post("/v1/links", json=body, headers=merchant.headers())
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["slug"] == "yoga-sabtu"
    assert link["url"].endswith("/l/yoga-sabtu")
    for path in ("yoga-sabtu", "Yoga-Sabtu", link["code"]):
        page = api.client.get(f"/l/{path}")
        assert page.status_code == 200, path
        assert "Kelas yoga" in page.text
    fetched = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert (fetched["slug"], fetched["url"]) == ("yoga-sabtu", link["url"])


def test_a_slug_is_unique_across_merchants_and_a_taken_one_stores_nothing(api: Api) -> None:
    first, second = api.merchant(), api.merchant()
    body = {"amount": 75_000, "description": "Kelas yoga", "slug": "yoga"}
    assert api.client.post("/v1/links", json=body, headers=first.headers()).status_code == 201
    events = api.head()
    taken = api.client.post("/v1/links", json=body, headers=second.headers())
    problem = assert_problem(taken, 409, "slug-taken")
    assert problem["field"] == "slug"
    assert api.head() == events


@pytest.mark.parametrize(
    ("slug", "why"),
    [("ab", "3-64"), ("-promo", "3-64"), ("promo-", "3-64"), ("pro mo", "3-64"),
     ("promo_1", "3-64"), ("x" * 65, "3-64"), ("dashboard", "reserved"), ("API", "reserved")],
)  # fmt: skip
def test_a_bad_or_reserved_slug_is_a_422_naming_it(api: Api, slug: str, why: str) -> None:
    merchant = api.merchant()
    events = api.head()
    body = {"amount": 75_000, "description": "Kelas", "slug": slug}
    refused = api.client.post("/v1/links", json=body, headers=merchant.headers())
    if len(slug) > 64:  # the schema's own bound answers first
        assert refused.status_code == 422
    else:
        problem = assert_problem(refused, 422)
        assert problem["field"] == "slug"
        assert why in problem["detail"]
    assert api.head() == events
