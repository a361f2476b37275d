"""Managing a link over the API: edit before the first payment, deactivate with a message
and reactivate, duplicate; every change an event naming the key that made it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from paylink_es.domain.clock import WIB
from paylink_es.domain.errors import LinkNotPayableError
from paylink_es.domain.money import Money
from paylink_es.domain.webhooks import EVENT_DATA, EVENT_TYPES
from tests.integration.api.support import FULL_LINK, UNKNOWN_ID, assert_problem, instant
from tests.support.app import Api, Merchant
from workers.expiry import expire_due


def _patch(api: Api, merchant: Merchant, link_id: str, body: object) -> Any:
    return api.client.patch(f"/v1/links/{link_id}", json=body, headers=merchant.headers())


def _post(
    api: Api, merchant: Merchant, link_id: str, action: str, body: object = None, **headers: str
) -> Any:
    return api.client.post(
        f"/v1/links/{link_id}/{action}", json=body, headers=merchant.headers(**headers)
    )


def _read(api: Api, merchant: Merchant, link_id: str) -> dict[str, Any]:
    return api.read(merchant, f"/v1/links/{link_id}")


def _listed(api: Api, merchant: Merchant, **params: Any) -> list[dict[str, Any]]:
    return api.listed(merchant, "/v1/links", **params)


def _events(api: Api, merchant: Merchant, kind: str) -> list[dict[str, Any]]:
    return api.listed(merchant, "/v1/events", type=kind)


def _pay(api: Api, link_id: str, amount: int, ref: str) -> UUID:
    """Money for the link by QRIS, recorded and (when it matches) verified."""
    payment = api.paylink.payments.start(UUID(link_id), "qris", amount=amount)
    api.paylink.payments.record(payment, ref, Money(amount, "IDR"), api.clock())
    api.paylink.payments.verify(payment)
    return payment


def _key(merchant: Merchant) -> str:
    return str(merchant.test_key.key_id)


def test_an_edit_changes_the_link_everywhere_and_records_one_event_naming_the_key(
    api: Api,
) -> None:
    merchant = api.merchant()
    link = api.create_link(
        merchant,
        description="Kaos polos",
        amount=100000,
        methods=["va_bca", "qris"],
        customer={"name": "Budi"},
        reference_id="INV-EDIT-1",
    )
    expiry = (api.clock() + timedelta(days=3)).astimezone(WIB)

    edited = _patch(
        api,
        merchant,
        link["id"],
        {
            "description": "Kaos polos hitam XL",
            "amount": 175000,
            "methods": ["qris", "ewallet_ovo"],
            "expires_at": expiry.isoformat(),
            "customer": {"name": "Siti", "email": "siti@example.com"},
        },
    )

    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["description"], body["amount"], body["methods"]) == (
        "Kaos polos hitam XL",
        175000,
        ["qris", "ewallet_ovo"],
    )
    assert instant(body["expires_at"]) == expiry
    assert body["customer"] == {
        "name": "Siti",
        "email": "siti@example.com",
        "phone": None,
        "address": None,
    }
    assert (body["code"], body["reference_id"], body["status"]) == (
        link["code"],
        "INV-EDIT-1",
        "active",
    )
    assert api.count("PaymentLink.Edited") == 1

    read = _read(api, merchant, link["id"])
    for name in ("description", "amount", "methods", "customer"):
        assert read[name] == body[name], name
    last = read["timeline"][-1]
    assert last["event"] == "Edited"
    assert last["detail"]["by"] == _key(merchant)
    assert last["detail"]["changed"] == [
        "description",
        "amount",
        "methods",
        "expires_at",
        "customer",
    ]
    assert last["detail"]["from"]["amount"] == 100000
    assert last["detail"]["to"]["amount"] == 175000
    assert last["detail"]["from"]["expires_at"] is None
    assert last["detail"]["from"]["customer"] == {
        "name": "Budi",
        "email": None,
        "phone": None,
        "address": None,
    }

    (listed,) = _listed(api, merchant)
    for name in ("description", "amount", "methods", "customer"):
        assert listed[name] == body[name], name
    assert instant(read["expires_at"]) == instant(listed["expires_at"]) == expiry
    assert [row["id"] for row in _listed(api, merchant, q="hitam xl")] == [link["id"]]
    assert _listed(api, merchant, q="kaos polos hitam xl", reference_id="INV-EDIT-1")


def test_an_edit_that_changes_nothing_answers_the_link_and_records_nothing(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, description="Kaos", amount=100000)
    head = api.head()

    same = _patch(api, merchant, link["id"], {"description": " Kaos ", "amount": 100000})

    assert same.status_code == 200, same.text
    assert same.json()["description"] == "Kaos"
    assert api.head() == head


@pytest.mark.parametrize(
    ("body", "slug", "field"),
    [
        ({}, "invalid-field", "body"),
        ({"reference_id": "INV-9"}, "validation-error", "reference_id"),
        ({"usage_limit": 3}, "validation-error", "usage_limit"),
        ({"description": ""}, "text-invalid", "description"),
        ({"description": None}, "text-invalid", "description"),
        ({"amount": 0}, "amount-invalid", "amount"),
        ({"amount_min": 50000, "amount_max": 20000}, "amount-range-invalid", "amount_min"),
        ({"amount_max": 20000}, "amount-range-invalid", "amount_min"),
        ({"expires_at": "2020-01-01T00:00:00+07:00"}, "expiry-invalid", "expires_at"),
        ({"methods": ["va_bca", "bitcoin"]}, "payment-method-unknown", "methods[1]"),
        ({"amount": 5000, "methods": ["qris", "va_bca"]}, "method-unavailable", "methods[1]"),
        ({"currency": "USD", "methods": ["qris"]}, "method-unavailable", "methods[0]"),
        ({"customer": {"email": "not-an-address"}}, "invalid-field", "customer.email"),
    ],
    ids=[
        "empty",
        "reference",
        "usage-limit",
        "blank-description",
        "null-description",
        "zero",
        "min-above-max",
        "max-alone",
        "past-expiry",
        "unknown-method",
        "method-minimum",
        "rupiah-rail-in-usd",
        "bad-email",
    ],
)
def test_an_edit_is_checked_as_a_create_is_and_a_refused_one_stores_nothing(
    api: Api, body: dict[str, Any], slug: str, field: str
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, amount=100000, methods=["va_bca", "qris"])
    head = api.head()

    refused = _patch(api, merchant, link["id"], body)

    assert_problem(refused, 422, slug, field=field)
    assert api.head() == head


def test_any_amount_field_replaces_the_fixed_amount_or_range_whole(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, amount=100000, methods=["qris"])

    opened = _patch(api, merchant, link["id"], {"amount_min": 10000, "amount_max": 50000})
    assert opened.status_code == 200, opened.text
    assert (opened.json()["amount"], opened.json()["amount_min"]) == (None, 10000)
    assert opened.json()["amount_max"] == 50000
    fixed = _patch(api, merchant, link["id"], {"amount": 25000})
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["amount"], fixed.json()["amount_min"], fixed.json()["amount_max"]) == (
        25000,
        None,
        None,
    )
    (listed,) = _listed(api, merchant)
    assert (listed["amount"], listed["amount_min"], listed["amount_max"]) == (25000, None, None)


def test_a_new_amount_keeps_only_the_methods_that_can_take_it_unless_they_are_named(
    api: Api,
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, amount=100000, methods=["va_bca", "qris", "ewallet_ovo"])

    cheaper = _patch(api, merchant, link["id"], {"amount": 5000})

    assert cheaper.status_code == 200, cheaper.text
    assert cheaper.json()["methods"] == ["qris", "ewallet_ovo"]  # a VA takes Rp 10.000 up
    named = _patch(api, merchant, link["id"], {"methods": ["va_bca"]})
    assert_problem(named, 422, "method-unavailable", field="methods[0]")


def test_a_link_with_payments_keeps_what_was_paid_for_and_may_change_the_rest(
    api: Api,
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, amount=100000, usage_limit=None, methods=["qris", "va_bca"])
    _pay(api, link["id"], 100000, "QR-1")
    head = api.head()

    for body, field in (
        ({"amount": 120000}, "amount"),
        ({"amount_min": 10000}, "amount"),
        ({"currency": "USD", "methods": ["card"]}, "currency"),
    ):
        refused = _patch(api, merchant, link["id"], body)
        problem = assert_problem(refused, 409, "link-has-payments", field=field)
        assert "has payments" in problem["detail"]
    assert api.head() == head

    later = (api.clock() + timedelta(days=1)).astimezone(WIB)
    allowed = _patch(
        api,
        merchant,
        link["id"],
        {
            "description": "Kaos, edisi 2",
            "expires_at": later.isoformat(),
            "methods": ["qris"],
            "amount": 100000,  # the same amount is no change
        },
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["methods"] == ["qris"]
    assert _read(api, merchant, link["id"])["timeline"][-1]["detail"]["changed"] == [
        "description",
        "methods",
        "expires_at",
    ]


def test_flagged_money_counts_as_a_payment_too(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, amount=100000, methods=["qris"])
    payment = api.paylink.payments.start(UUID(link["id"]), "qris")
    outcome = api.paylink.payments.record(payment, "QR-9", Money(90000, "IDR"), api.clock())
    assert outcome.anomaly == "underpaid"

    refused = _patch(api, merchant, link["id"], {"amount": 90000})

    assert_problem(refused, 409, "link-has-payments", field="amount")


def test_a_closed_link_cannot_be_edited(api: Api) -> None:
    merchant = api.merchant()
    cancelled = api.create_link(merchant)
    assert _post(api, merchant, cancelled["id"], "cancel").status_code == 200
    expiring = api.create_link(
        merchant, expires_at=(api.clock() + timedelta(hours=1)).astimezone(WIB).isoformat()
    )
    paid = api.create_link(merchant, amount=100000, methods=["qris"])
    _pay(api, paid["id"], 100000, "QR-2")
    api.clock.advance(timedelta(hours=2))
    head = api.head()

    for link, status in ((cancelled, "cancelled"), (expiring, "expired"), (paid, "completed")):
        refused = _patch(api, merchant, link["id"], {"description": "Baru"})
        problem = assert_problem(refused, 409, "link-closed", field="link")
        assert status in problem["detail"]
    assert api.head() == head


def test_deactivating_stops_payments_and_shows_the_message_until_reactivated(
    api: Api,
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, description="Kaos", methods=["qris", "va_bca"])
    other = api.create_link(merchant, description="Topi")

    off = _post(api, merchant, link["id"], "deactivate", {"message": "Stok habis sampai Senin."})

    assert off.status_code == 200, off.text
    assert (off.json()["status"], off.json()["inactive_message"]) == (
        "inactive",
        "Stok habis sampai Senin.",
    )
    read = _read(api, merchant, link["id"])
    assert read["status"] == "inactive"
    assert read["timeline"][-1] == {
        **read["timeline"][-1],
        "event": "Deactivated",
        "detail": {"message": "Stok habis sampai Senin.", "by": _key(merchant)},
    }
    assert [row["id"] for row in _listed(api, merchant, status="inactive")] == [link["id"]]
    assert [row["id"] for row in _listed(api, merchant, status="active")] == [other["id"]]
    page = api.client.get(f"/l/{link['code']}")
    assert page.status_code == 200
    assert "Stok habis sampai Senin." in page.text
    assert 'name="method"' not in page.text
    with pytest.raises(LinkNotPayableError):
        api.paylink.payments.start(UUID(link["id"]), "qris")
    again = _post(api, merchant, link["id"], "deactivate", {"message": "lagi"})
    assert_problem(again, 409, "transition-invalid", field="link")

    on = _post(api, merchant, link["id"], "reactivate")

    assert on.status_code == 200, on.text
    assert (on.json()["status"], on.json()["inactive_message"]) == ("active", None)
    read = _read(api, merchant, link["id"])
    assert read["status"] == "active"
    assert read["timeline"][-1]["event"] == "Reactivated"
    assert read["timeline"][-1]["detail"] == {"by": _key(merchant)}
    assert 'name="method"' in api.client.get(f"/l/{link['code']}").text
    api.paylink.payments.start(UUID(link["id"]), "qris")
    assert_problem(_post(api, merchant, link["id"], "reactivate"), 409, "transition-invalid")


def test_an_inactive_link_can_be_edited_and_cancelled(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant)
    assert _post(api, merchant, link["id"], "deactivate").status_code == 200

    edited = _patch(api, merchant, link["id"], {"description": "Kaos (pre-order)"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["inactive_message"]) == ("inactive", None)
    cancelled = _post(api, merchant, link["id"], "cancel", {"reason": "tidak jadi"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    timeline = _read(api, merchant, link["id"])["timeline"]
    assert timeline[-1]["detail"] == {"reason": "tidak jadi", "by": _key(merchant)}


def test_an_inactive_link_past_its_expiry_is_expired_and_the_scheduler_records_it(
    api: Api,
) -> None:
    merchant = api.merchant()
    expires = api.clock() + timedelta(hours=1)
    link = api.create_link(merchant, expires_at=expires.astimezone(WIB).isoformat())
    assert _post(api, merchant, link["id"], "deactivate", {"message": "Tutup"}).status_code == 200
    api.clock.advance(timedelta(hours=1))

    assert _read(api, merchant, link["id"])["status"] == "expired"
    assert [row["id"] for row in _listed(api, merchant, status="expired")] == [link["id"]]
    assert _listed(api, merchant, status="inactive") == []
    assert_problem(_post(api, merchant, link["id"], "reactivate"), 409, "link-closed")

    assert expire_due(api.paylink, api.app.state.projections.models) == 1
    api.catch_up()
    assert expire_due(api.paylink, api.app.state.projections.models) == 0
    assert api.count("PaymentLink.Expired") == 1
    assert [event["data"]["id"] for event in _events(api, merchant, "link.expired")] == [link["id"]]


def test_a_duplicate_has_the_same_terms_without_reference_or_slug_and_the_same_duration(
    api: Api,
) -> None:
    merchant = api.merchant()
    created_at = api.clock()
    original = api.create_link(
        merchant,
        **{
            **FULL_LINK,
            "expires_at": (created_at + timedelta(hours=2)).astimezone(WIB).isoformat(),
            "slug": "kaos-hitam",
            "usage_limit": 3,
        },
    )
    api.clock.advance(timedelta(minutes=30))

    copy = _post(api, merchant, original["id"], "duplicate")

    assert copy.status_code == 201, copy.text
    new = copy.json()
    assert new["id"] != original["id"]
    assert new["code"] != original["code"]
    assert (new["reference_id"], new["slug"]) == (None, None)
    assert new["url"].endswith(f"/l/{new['code']}")
    assert instant(new["expires_at"]) == api.clock() + timedelta(hours=2)
    for name in (
        "description",
        "amount",
        "currency",
        "methods",
        "usage_limit",
        "line_items",
        "customer",
        "success_url",
        "failure_url",
        "metadata",
    ):
        assert new[name] == original[name], name
    assert (new["status"], new["counts"]["payments"]) == ("active", 0)
    created = _read(api, merchant, new["id"])["timeline"][0]
    assert created["event"] == "Created"
    assert created["detail"] == {"duplicate_of": original["id"], "by": _key(merchant)}
    assert _read(api, merchant, original["id"])["reference_id"] == FULL_LINK["reference_id"]


def test_a_closed_link_without_expiry_can_be_duplicated(api: Api) -> None:
    merchant = api.merchant()
    original = api.create_link(merchant, amount=100000, methods=["qris"])
    assert _post(api, merchant, original["id"], "cancel").status_code == 200

    copy = _post(api, merchant, original["id"], "duplicate")

    assert copy.status_code == 201, copy.text
    assert (copy.json()["status"], copy.json()["expires_at"]) == ("active", None)


def test_the_post_routes_replay_their_first_answer_for_an_idempotency_key(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant)

    first = _post(api, merchant, link["id"], "duplicate", **{"Idempotency-Key": "dup-1"})
    again = _post(api, merchant, link["id"], "duplicate", **{"Idempotency-Key": "dup-1"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert api.count("PaymentLink.Created") == 2

    for action, body in (("deactivate", {"message": "Libur"}), ("reactivate", None)):
        key = {"Idempotency-Key": f"{action}-1"}
        done = _post(api, merchant, link["id"], action, body, **key)
        replayed = _post(api, merchant, link["id"], action, body, **key)
        assert done.status_code == replayed.status_code == 200, replayed.text
        assert replayed.content == done.content
        assert replayed.headers["idempotent-replayed"] == "true"
    assert api.count("PaymentLink.Deactivated") == api.count("PaymentLink.Reactivated") == 1


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("PATCH", "", {"description": "x"}),
        ("POST", "/duplicate", None),
        ("POST", "/deactivate", None),
        ("POST", "/reactivate", None),
    ],
)
def test_another_merchants_link_or_an_unknown_one_is_a_404(
    api: Api, method: str, action: str, body: object
) -> None:
    owner, stranger = api.merchant(), api.merchant("Toko Lain")
    link = api.create_link(owner)
    head = api.head()

    for link_id in (link["id"], UNKNOWN_ID):
        response = api.client.request(
            method, f"/v1/links/{link_id}{action}", json=body, headers=stranger.headers()
        )
        assert_problem(response, 404, "not-found", field="link_id")
    assert api.head() == head


def test_changes_reach_the_feed_as_public_events_with_who_made_them(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, amount=100000, methods=["qris"])
    _patch(api, merchant, link["id"], {"amount": 150000, "description": "Sepatu"})
    _post(api, merchant, link["id"], "deactivate", {"message": "Habis"})
    _post(api, merchant, link["id"], "reactivate")

    (updated,) = _events(api, merchant, "link.updated")
    assert updated["data"] == {
        "object": "payment_link",
        "id": link["id"],
        "changed": ["description", "amount"],
        "by": _key(merchant),
        "previous": {"description": "Kaos", "amount": 100000},
        "description": "Sepatu",
        "currency": "IDR",
        "amount": 150000,
        "amount_min": None,
        "amount_max": None,
        "methods": ["qris"],
        "expires_at": None,
        "customer": None,
        "customer_fields": {},
        "custom_fields": [],
        "allow_partial": False,
        "partial_min": None,
        "partial_expiry": None,
    }
    (deactivated,) = _events(api, merchant, "link.deactivated")
    assert deactivated["data"] == {
        "object": "payment_link",
        "id": link["id"],
        "message": "Habis",
        "by": _key(merchant),
    }
    (reactivated,) = _events(api, merchant, "link.reactivated")
    assert reactivated["data"] == {"object": "payment_link", "id": link["id"], "by": _key(merchant)}
    (created,) = _events(api, merchant, "link.created")
    assert created["data"]["by"] == _key(merchant)
    for kind in ("link.updated", "link.deactivated", "link.reactivated"):
        assert kind in EVENT_TYPES
        assert kind in EVENT_DATA
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["PublicEvent"]
    assert "`link.updated`" in schema["description"]


def test_links_as_of_an_instant_before_an_edit_show_the_terms_of_then(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, description="Kaos", amount=100000, methods=["qris"])
    api.clock.advance(timedelta(minutes=5))
    before = api.clock()
    api.clock.advance(timedelta(minutes=5))
    assert _patch(api, merchant, link["id"], {"description": "Sepatu", "amount": 250000}).is_success
    assert _post(api, merchant, link["id"], "deactivate").status_code == 200
    api.catch_up()

    def as_of(when: Any) -> dict[str, Any]:
        response = api.client.get(
            "/v1/links", params={"as_of": when.isoformat()}, headers=merchant.headers()
        )
        assert response.status_code == 200, response.text
        (row,) = response.json()["data"]
        return {name: row[name] for name in ("description", "amount", "status")}

    assert as_of(before) == {"description": "Kaos", "amount": 100000, "status": "active"}
    assert as_of(api.clock()) == {"description": "Sepatu", "amount": 250000, "status": "inactive"}
    # Like a status filter, the text filter reads the link as it is now.
    assert _listed(api, merchant, q="kaos", as_of=before.isoformat()) == []
    (found,) = _listed(api, merchant, q="sepatu", as_of=before.isoformat())
    assert (found["id"], found["description"]) == (link["id"], "Kaos")
