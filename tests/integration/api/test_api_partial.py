"""Links paid in parts through the API, on SQLite and PostgreSQL: a down payment and the
rest paid on the hosted page through the sandbox channel, parts refunded, the expiry
policies, what is refused, and what another merchant cannot see."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.runner import ProjectionService
from tests.integration.api.support import assert_problem
from tests.support.shop import Shop, csrf_of, shop
from workers.expiry import expire_due

TOTAL = 1_000_000
DP_LINK: dict[str, Any] = {
    "amount": TOTAL,
    "description": "Sofa 3 dudukan",
    "methods": ["va_bca", "qris"],
    "allow_partial": True,
    "partial_min": 300_000,
}


@pytest.fixture
def dp_shop(backend_settings: Settings, clock: FakeClock) -> Iterator[Shop]:
    """The app in-process on SQLite and PostgreSQL, projections running: the sandbox's
    callbacks reach it through its own client. No expiry scheduler of its own runs: the
    test runs the scheduler's tick itself."""
    settings = backend_settings.model_copy(update={"expire_every_s": 0})
    with shop(settings, clock, run_projections=True) as built:
        yield built


def create(shop: Shop, **fields: Any) -> dict[str, Any]:
    response = shop.client.post("/v1/links", json={**DP_LINK, **fields}, headers=shop.headers())
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def read(shop: Shop, link_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = shop.client.get(f"/v1/links/{link_id}", headers=headers or shop.headers())
    assert response.status_code == 200, response.text
    link: dict[str, Any] = response.json()
    return link


def amounts(link: dict[str, Any]) -> tuple[str, int | None, int | None]:
    return link["status"], link["amount_paid"], link["amount_due"]


def pay_part(shop: Shop, link: dict[str, Any], amount: int) -> UUID:
    """The customer pays ``amount`` now on the page by VA; the sandbox pays it."""
    payment_id = shop.choose(link["code"], "va_bca", amount=str(amount))
    response = shop.sandbox_pay(payment_id)
    assert response.status_code == 200, response.text
    assert shop.payment(payment_id).status == "verified"
    return payment_id


def events(shop: Shop, kind: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    shop.caught_up()
    response = shop.client.get(
        "/v1/events", params={"type": kind}, headers=headers or shop.headers()
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = [event["data"] for event in response.json()["data"]]
    return data


def listed(shop: Shop, headers: dict[str, str] | None = None, **params: str) -> list[Any]:
    shop.caught_up()
    response = shop.client.get("/v1/links", params=params, headers=headers or shop.headers())
    assert response.status_code == 200, response.text
    return [(row["id"], *amounts(row)) for row in response.json()["data"]]


def test_a_down_payment_then_the_rest_through_the_sandbox_pays_the_link_in_full(
    dp_shop: Shop,
) -> None:
    link = create(dp_shop)
    assert (link["allow_partial"], link["partial_min"], link["partial_expiry"]) == (
        True,
        300_000,
        "expire",
    )
    assert amounts(link) == ("active", 0, TOTAL)

    down = pay_part(dp_shop, link, 300_000)
    assert amounts(read(dp_shop, link["id"])) == ("partially_paid", 300_000, 700_000)
    assert listed(dp_shop, status="partially_paid") == [
        (link["id"], "partially_paid", 300_000, 700_000)
    ]
    assert listed(dp_shop, status="active") == []

    rest = pay_part(dp_shop, link, 700_000)
    done = read(dp_shop, link["id"])
    assert amounts(done) == ("completed", TOTAL, 0)
    assert done["counts"]["payments"] == 2
    assert done["collected"] == TOTAL
    timeline = [entry["event"] for entry in done["timeline"]]
    assert timeline.count("PartiallyPaid") == 1
    assert timeline[-1] == "Completed"
    assert listed(dp_shop, status="completed") == [(link["id"], "completed", TOTAL, 0)]

    assert events(dp_shop, "link.partially_paid") == [
        {
            "object": "payment_link",
            "id": link["id"],
            "payment_id": str(down),
            "amount": 300_000,
            "currency": "IDR",
            "amount_paid": 300_000,
            "amount_due": 700_000,
            "status": "partially_paid",
        }
    ]
    assert [event["id"] for event in events(dp_shop, "link.completed")] == [link["id"]]
    # Each part was credited as it was verified: both sit in pending.
    money = dp_shop.balances()
    assert (money["verified"], money["pending"]) == (TOTAL, TOTAL)
    assert {dp_shop.payment(p).received for p in (down, rest)} == {
        dp_shop.payment(down).amount,
        dp_shop.payment(rest).amount,
    }


def test_more_than_is_left_or_a_first_part_below_the_minimum_is_refused_before_paying(
    dp_shop: Shop,
) -> None:
    link = create(dp_shop)
    pay_part(dp_shop, link, 400_000)
    head = dp_shop.head()
    page = dp_shop.open(link["code"], lang="en")
    assert "Left to pay" in page.text
    for amount in ("600001", "1000000"):
        response = dp_shop.client.post(
            f"/l/{link['code']}/pay",
            params={"lang": "en"},
            data={"csrf": csrf_of(page.text), "method": "va_bca", "amount": amount},
            follow_redirects=False,
        )
        assert response.status_code == 400, response.text
        assert "The amount to pay now must be between IDR 1 and IDR 600,000." in response.text
    assert dp_shop.head() == head

    fresh = create(dp_shop, reference_id="DP-2")
    page = dp_shop.open(fresh["code"], lang="id")
    response = dp_shop.client.post(
        f"/l/{fresh['code']}/pay",
        params={"lang": "id"},
        data={"csrf": csrf_of(page.text), "method": "va_bca", "amount": "299999"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "harus antara Rp 300.000 dan Rp 1.000.000" in response.text
    assert dp_shop.count("Payment.Initiated") == 1


def test_refunding_a_part_lowers_what_was_paid_and_a_completed_link_is_partially_paid_again(
    dp_shop: Shop,
) -> None:
    link = create(dp_shop)
    pay_part(dp_shop, link, 300_000)
    rest = pay_part(dp_shop, link, 700_000)
    assert read(dp_shop, link["id"])["status"] == "completed"

    response = dp_shop.client.post(
        f"/v1/payments/{rest}/refund",
        json={"amount": 200_000, "reason": "one cushion returned"},
        headers=dp_shop.headers(),
    )
    assert response.status_code == 201, response.text
    assert amounts(read(dp_shop, link["id"])) == ("partially_paid", 800_000, 200_000)
    assert listed(dp_shop, status="partially_paid") == [
        (link["id"], "partially_paid", 800_000, 200_000)
    ]
    [refunded] = events(dp_shop, "link.part_refunded")
    assert {k: refunded[k] for k in ("payment_id", "amount", "amount_paid", "amount_due")} == {
        "payment_id": str(rest),
        "amount": 200_000,
        "amount_paid": 800_000,
        "amount_due": 200_000,
    }
    assert refunded["status"] == "partially_paid"
    money = dp_shop.balances()
    assert (money["verified"], money["pending"], money["refunded"]) == (TOTAL, 800_000, 200_000)
    pay_part(dp_shop, link, 200_000)  # what is left can be paid again
    assert amounts(read(dp_shop, link["id"])) == ("completed", TOTAL, 0)


def test_the_expiry_policy_is_the_merchants_unless_the_link_says(
    dp_shop: Shop, clock: FakeClock
) -> None:
    response = dp_shop.client.put(
        "/v1/account/partial-expiry",
        json={"partial_expiry": "keep_open"},
        headers=dp_shop.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["partial_expiry"] == "keep_open"
    expires_at = (clock() + timedelta(hours=1)).isoformat()
    held = create(dp_shop, expires_at=expires_at)
    expiring = create(dp_shop, expires_at=expires_at, partial_expiry="expire")
    unpaid = create(dp_shop, expires_at=expires_at)
    assert [link["partial_expiry"] for link in (held, expiring, unpaid)] == [
        "keep_open",
        "expire",
        "keep_open",
    ]
    pay_part(dp_shop, held, 300_000)
    pay_part(dp_shop, expiring, 300_000)
    clock.advance(timedelta(hours=2))

    assert amounts(read(dp_shop, held["id"])) == ("partially_paid", 300_000, 700_000)
    assert amounts(read(dp_shop, expiring["id"])) == ("expired", 300_000, 700_000)
    assert read(dp_shop, unpaid["id"])["status"] == "expired"  # nothing paid holds nothing
    assert sorted(row[0] for row in listed(dp_shop, status="expired")) == sorted(
        [expiring["id"], unpaid["id"]]
    )
    service: ProjectionService = dp_shop.app.state.projections
    dp_shop.caught_up()
    assert expire_due(dp_shop.paylink, service.models) == 2
    dp_shop.caught_up()
    assert expire_due(dp_shop.paylink, service.models) == 0
    assert sorted(event["id"] for event in events(dp_shop, "link.expired")) == sorted(
        [expiring["id"], unpaid["id"]]
    )
    # The link held open still takes the rest, and then it is paid.
    pay_part(dp_shop, held, 700_000)
    assert amounts(read(dp_shop, held["id"])) == ("completed", TOTAL, 0)
    # What was paid on the expired link stays credited.
    assert dp_shop.balances()["pending"] == TOTAL + 300_000

    bad = dp_shop.client.put(
        "/v1/account/partial-expiry", json={"partial_expiry": "never"}, headers=dp_shop.headers()
    )
    assert_problem(bad, 422, "validation-error", field="partial_expiry")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": None, "amount_min": 10_000}, "allow_partial"),
        (
            {"amount": None, "line_items": [{"name": "Sofa", "quantity": 1, "unit_amount": TOTAL}]},
            "allow_partial",
        ),
        ({"usage_limit": None}, "usage_limit"),
        ({"usage_limit": 3}, "usage_limit"),
        ({"partial_min": None}, "partial_min"),
        ({"partial_min": TOTAL + 1}, "partial_min"),
        ({"allow_partial": False}, "partial_min"),
        ({"partial_expiry": "later"}, "partial_expiry"),
        ({"allow_partial": "yes"}, "allow_partial"),
    ],
)
def test_a_link_that_cannot_be_paid_in_parts_is_a_422_naming_the_field_and_stores_nothing(
    dp_shop: Shop, body: dict[str, Any], field: str
) -> None:
    head = dp_shop.head()
    response = dp_shop.client.post("/v1/links", json={**DP_LINK, **body}, headers=dp_shop.headers())
    assert_problem(response, 422, field=field)
    assert dp_shop.head() == head


def test_an_edit_turns_payment_in_parts_on_only_where_it_fits_and_never_after_money_came(
    dp_shop: Shop,
) -> None:
    open_amount = dp_shop.client.post(
        "/v1/links",
        json={"amount_min": 10_000, "description": "Donasi"},
        headers=dp_shop.headers(),
    ).json()
    head = dp_shop.head()

    def patch(link_id: str, body: dict[str, Any]) -> Any:
        return dp_shop.client.patch(f"/v1/links/{link_id}", json=body, headers=dp_shop.headers())

    refused = patch(open_amount["id"], {"allow_partial": True, "partial_min": 10_000})
    assert_problem(refused, 422, field="allow_partial")
    assert dp_shop.head() == head

    link = create(dp_shop)
    pay_part(dp_shop, link, 300_000)
    assert_problem(patch(link["id"], {"allow_partial": False}), 409, field="allow_partial")
    edited = patch(link["id"], {"partial_expiry": "keep_open", "partial_min": 100_000})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["partial_expiry"], body["partial_min"]) == ("keep_open", 100_000)
    assert amounts(body) == ("partially_paid", 300_000, 700_000)
    [updated] = events(dp_shop, "link.updated")
    assert updated["changed"] == ["partial_min", "partial_expiry"]
    assert (updated["allow_partial"], updated["partial_expiry"]) == (True, "keep_open")


def test_another_merchant_sees_nothing_of_a_link_paid_in_parts(dp_shop: Shop) -> None:
    link = create(dp_shop)
    down = pay_part(dp_shop, link, 300_000)
    other = dp_shop.paylink.merchants.register("Toko Lain", "lain@example.com")
    key = dp_shop.paylink.merchants.issue_key(other, "test")
    stranger = {"Authorization": f"Bearer {key.secret}"}

    response = dp_shop.client.get(f"/v1/links/{link['id']}", headers=stranger)
    assert_problem(response, 404, "not-found", field="link_id")
    assert listed(dp_shop, stranger) == []
    assert listed(dp_shop, stranger, status="partially_paid") == []
    assert events(dp_shop, "link.partially_paid", stranger) == []
    refund = dp_shop.client.post(
        f"/v1/payments/{down}/refund", json={"reason": "not mine"}, headers=stranger
    )
    assert refund.status_code == 404
    assert amounts(read(dp_shop, link["id"])) == ("partially_paid", 300_000, 700_000)
