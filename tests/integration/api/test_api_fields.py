"""Customer details and custom fields over the API, on SQLite and PostgreSQL.

A link names which customer details its page asks (each required or optional) and up to
three fields of its own; bad definitions are a 422 naming the exact field path and store
nothing; they change by PATCH only before the first payment. What a payer enters on the
hosted page is on the payment (``GET /v1/payments``) and on ``payment.initiated``, for
the link's merchant only.
"""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

import pytest

from api.schemas import FIELDS_LINK_EXAMPLE
from paylink_es.domain.money import Money
from tests.integration.api.support import UNKNOWN_ID, assert_problem
from tests.support.app import Api, Merchant
from tests.support.shop import PAYMENT_PATH, csrf_of

ANSWERS = {
    "customer.name": "Ani Lestari",
    "customer.email": "Ani@Example.CO.ID",
    "customer.phone": "+62 812-3456-7890",
    "custom_fields.student_id": "2027-0042",
    "custom_fields.class": "7B",
}
PAYER = {
    "name": "Ani Lestari",
    "email": "Ani@example.co.id",
    "phone": "+6281234567890",
    "address": None,
}


def _link(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(FIELDS_LINK_EXAMPLE), **changes}


def _custom(*fields: object) -> dict[str, Any]:
    return _link(custom_fields=list(fields))


TEXT = {"key": "student_id", "type": "text", "label": {"id": "NIS"}}
DROPDOWN = {"key": "class", "type": "dropdown", "label": {"id": "Kelas"}, "options": ["7A"]}
# A bad definition -> the exact field path its problem names.
BAD_DEFINITIONS: list[tuple[dict[str, Any], str]] = [
    (_custom(TEXT, DROPDOWN, {**TEXT, "key": "a"}, {**TEXT, "key": "b"}), "custom_fields"),
    (_custom(TEXT, {**TEXT, "label": {"id": "Lain"}}), "custom_fields[1].key"),
    (_custom({**TEXT, "key": "Student ID"}), "custom_fields[0].key"),
    (_custom({**TEXT, "key": "9lives"}), "custom_fields[0].key"),
    (_custom({**TEXT, "key": "k" * 5000}), "custom_fields[0].key"),
    (_custom({**TEXT, "key": "nis\x00"}), "custom_fields[0].key"),
    (_custom({**TEXT, "key": 42}), "custom_fields[0].key"),
    (_custom({**TEXT, "type": "date"}), "custom_fields[0].type"),
    (_custom(TEXT, {**DROPDOWN, "options": None}), "custom_fields[1].options"),
    (_custom(TEXT, {**DROPDOWN, "options": []}), "custom_fields[1].options"),
    (_custom(TEXT, {**DROPDOWN, "options": "7A,7B"}), "custom_fields[1].options"),
    (_custom(TEXT, {**DROPDOWN, "options": ["7A", "7A"]}), "custom_fields[1].options[1]"),
    (_custom(TEXT, {**DROPDOWN, "options": ["7A", "  "]}), "custom_fields[1].options[1]"),
    (_custom(TEXT, {**DROPDOWN, "options": ["x" * 101]}), "custom_fields[1].options[0]"),
    (_custom(TEXT, {**DROPDOWN, "options": ["7A\u202e"]}), "custom_fields[1].options[0]"),
    (_custom(TEXT, {**DROPDOWN, "options": [str(n) for n in range(21)]}),
     "custom_fields[1].options"),
    (_custom({**TEXT, "options": ["a"]}), "custom_fields[0].options"),
    (_custom({**TEXT, "label": {}}), "custom_fields[0].label"),
    (_custom({**TEXT, "label": {"id": "  ", "en": ""}}), "custom_fields[0].label"),
    (_custom({**TEXT, "label": {"id": "x" * 81}}), "custom_fields[0].label.id"),
    (_custom({**TEXT, "label": {"en": "Student\nID"}}), "custom_fields[0].label.en"),
    (_custom({**TEXT, "label": {"de": "Schüler"}}), "custom_fields[0].label.de"),
    (_custom({**TEXT, "label": "NIS"}), "custom_fields[0].label"),
    (_custom({**TEXT, "required": "yes"}), "custom_fields[0].required"),
    (_custom({**TEXT, "placeholder": "12345"}), "custom_fields[0].placeholder"),
    (_custom("student_id"), "custom_fields[0]"),
    (_link(custom_fields={"student_id": "text"}), "custom_fields"),
    (_link(customer_fields={"name": "yes"}), "customer_fields.name"),
    (_link(customer_fields={"nik": "required"}), "customer_fields.nik"),
    (_link(customer_fields="all"), "customer_fields"),
    (_link(customer_fields={"phone": True}), "customer_fields.phone"),
]  # fmt: skip


def _pay_on_the_page(api: Api, link: dict[str, Any], answers: dict[str, str]) -> str:
    """A customer opens the link's page and pays by QRIS with ``answers``; the payment id."""
    page = api.client.get(f"/l/{link['code']}")
    assert page.status_code == 200, page.text
    form = {"csrf": csrf_of(page.text), "method": "qris", **answers}
    paid = api.client.post(f"/l/{link['code']}/pay", data=form, follow_redirects=False)
    assert paid.status_code == 303, paid.text
    match = PAYMENT_PATH.search(paid.headers["location"])
    assert match is not None, paid.headers["location"]
    return match["payment"]


def _get(api: Api, merchant: Merchant, path: str, **params: Any) -> Any:
    api.catch_up()
    return api.client.get(path, params=params, headers=merchant.headers())


def test_a_link_asks_customer_details_and_its_own_fields(api: Api) -> None:
    merchant = api.merchant()
    created = api.client.post("/v1/links", json=_link(), headers=merchant.headers())
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["customer_fields"] == {"name": "required", "email": "optional", "phone": "required"}
    assert link["custom_fields"] == [
        {
            "key": "student_id",
            "type": "text",
            "label": {"id": "NIS", "en": "Student ID"},
            "required": True,
            "options": [],
        },
        {
            "key": "class",
            "type": "dropdown",
            "label": {"id": "Kelas", "en": "Class"},
            "required": True,
            "options": ["7A", "7B", "8A"],
        },
    ]
    read = _get(api, merchant, f"/v1/links/{link['id']}").json()
    (listed,) = _get(api, merchant, "/v1/links").json()["data"]
    for shown in (read, listed):
        assert shown["customer_fields"] == link["customer_fields"]
        assert shown["custom_fields"] == link["custom_fields"]
    plain = api.create_link(merchant)
    assert (plain["customer_fields"], plain["custom_fields"]) == ({}, [])


@pytest.mark.parametrize(("body", "field"), BAD_DEFINITIONS)
def test_a_bad_definition_is_refused_naming_the_field_and_nothing_is_stored(
    api: Api, body: dict[str, Any], field: str
) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant)
    head = api.head()
    created = api.client.post("/v1/links", json=body, headers=merchant.headers())
    assert_problem(created, 422, field=field)
    edited = api.client.patch(
        f"/v1/links/{link['id']}",
        json={name: body[name] for name in ("customer_fields", "custom_fields")},
        headers=merchant.headers(),
    )
    assert_problem(edited, 422, field=field)
    assert api.head() == head


def test_what_the_page_asks_changes_only_before_the_first_payment(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant, usage_limit=None)
    asks = {"customer_fields": {"phone": "required"}, "custom_fields": [TEXT]}
    edited = api.client.patch(f"/v1/links/{link['id']}", json=asks, headers=merchant.headers())
    assert edited.status_code == 200, edited.text
    assert edited.json()["customer_fields"] == {"phone": "required"}
    assert [field["key"] for field in edited.json()["custom_fields"]] == ["student_id"]
    (updated,) = _get(api, merchant, "/v1/events", type="link.updated").json()["data"]
    assert updated["data"]["changed"] == ["customer_fields", "custom_fields"]
    assert updated["data"]["previous"] == {"customer_fields": {}, "custom_fields": []}
    assert updated["data"]["customer_fields"] == {"phone": "required"}

    payment = _pay_on_the_page(
        api, link, {"customer.phone": "0812 3456 7890", "custom_fields.student_id": "77"}
    )
    api.paylink.payments.record(UUID(payment), "qr-1", Money(100000, "IDR"), api.clock())
    api.paylink.payments.verify(UUID(payment))
    head = api.head()
    for name, value in (("customer_fields", {"name": "required"}), ("custom_fields", [])):
        refused = api.client.patch(
            f"/v1/links/{link['id']}", json={name: value}, headers=merchant.headers()
        )
        assert_problem(refused, 409, "link-has-payments", field=name)
    assert api.head() == head
    same = api.client.patch(f"/v1/links/{link['id']}", json=asks, headers=merchant.headers())
    assert same.status_code == 200, same.text  # the same questions: nothing changes
    described = api.client.patch(
        f"/v1/links/{link['id']}", json={"description": "SPP"}, headers=merchant.headers()
    )
    assert described.status_code == 200, described.text


def test_what_the_payer_entered_is_on_the_payment_and_its_event_for_its_merchant_only(
    api: Api,
) -> None:
    merchant, other = api.merchant(), api.merchant("Toko Lain")
    link = api.create_link(merchant, **_link())
    payment = _pay_on_the_page(api, link, ANSWERS)

    read = _get(api, merchant, f"/v1/payments/{payment}")
    assert read.status_code == 200, read.text
    assert read.json()["customer"] == PAYER
    assert read.json()["custom_fields"] == {"student_id": "2027-0042", "class": "7B"}
    (listed,) = _get(api, merchant, "/v1/payments", link_id=link["id"]).json()["data"]
    assert (listed["customer"], listed["custom_fields"]) == (
        read.json()["customer"],
        read.json()["custom_fields"],
    )
    (initiated,) = _get(api, merchant, "/v1/events", type="payment.initiated").json()["data"]
    assert initiated["data"]["id"] == payment
    assert initiated["data"]["customer"] == PAYER
    assert initiated["data"]["custom_fields"] == {"student_id": "2027-0042", "class": "7B"}

    assert_problem(_get(api, other, f"/v1/payments/{payment}"), 404, "not-found")
    assert _get(api, other, "/v1/payments").json()["data"] == []
    assert _get(api, other, "/v1/events").json()["data"] == []
    assert _get(api, merchant, f"/v1/payments/{UNKNOWN_ID}").status_code == 404


def test_a_payment_of_a_link_that_asks_nothing_has_no_payer_details(api: Api) -> None:
    merchant = api.merchant()
    link = api.create_link(merchant)
    payment = _pay_on_the_page(api, link, {"customer.name": "Ani"})  # not asked: not read
    read = _get(api, merchant, f"/v1/payments/{payment}").json()
    assert (read["customer"], read["custom_fields"]) == (None, {})
    (initiated,) = _get(api, merchant, "/v1/events", type="payment.initiated").json()["data"]
    assert (initiated["data"]["customer"], initiated["data"]["custom_fields"]) == (None, {})
