"""Links paid in parts in the dashboard: the create and edit forms, what the detail, the
list and the export say about what was paid and what is left, and only to their merchant."""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import UUID

import pytest

from tests.support.desk import OTHER_OWNER, Desk, field_errors, post

DP_FORM: dict[str, Any] = {
    "description": "Lemari jati",
    "amount_kind": "fixed",
    "amount": "2.000.000",
    "currency": "IDR",
    "reference_id": "DP-LEMARI",
    "methods": ["va_bca", "qris"],
    "usage": "single",
    "allow_partial": "on",
    "partial_min": "500.000",
    "partial_expiry": "keep_open",
}


def pay_part(desk: Desk, link_id: UUID, amount: int) -> UUID:
    """A customer pays ``amount`` now on the hosted page; the sandbox pays it."""
    code = desk.shop.paylink.links.get(link_id).code
    payment_id = desk.shop.choose(code, "va_bca", str(amount), client=desk.shop.visitor())
    assert desk.shop.sandbox_pay(payment_id).status_code == 200
    return payment_id


def test_a_link_made_on_the_form_is_paid_in_parts_and_its_pages_say_what_is_left(
    desk: Desk,
) -> None:
    owner = desk.signed_in()
    created = post(owner, "/dashboard/links", DP_FORM)
    assert created.status_code == 303, field_errors(created.text) or created.text
    link_id = desk.shop.paylink.links.find_by_reference(desk.merchant_id, "test", "DP-LEMARI")
    assert link_id is not None
    link = desk.shop.paylink.links.get(link_id)
    assert (link.amount, link.allow_partial, link.partial_min, link.partial_expiry) == (
        2_000_000,
        True,
        500_000,
        "keep_open",
    )

    pay_part(desk, link_id, 500_000)
    desk.catch_up()
    detail = owner.get(f"/dashboard/links/{link_id}").text
    assert 'data-testid="link-status">Dibayar sebagian<' in detail
    assert 'data-testid="link-amount-paid">Rp 500.000<' in detail
    assert 'data-testid="link-amount-due">Rp 1.500.000<' in detail
    assert "tetap terbuka sampai lunas" in detail
    listed = owner.get("/dashboard/links?status=partially_paid").text
    assert f'data-link="{link_id}" data-status="partially_paid"' in listed
    assert "Sisa tagihan Rp 1.500.000" in listed
    english = owner.get(f"/dashboard/links/{link_id}?lang=en").text
    assert 'data-testid="link-amount-due">IDR 1,500,000<' in english
    assert "Paid in part" in english  # the timeline's word for the part

    whole = desk.link(reference_id="WHOLE")
    desk.pay(whole)
    desk.catch_up()
    rows = list(csv.DictReader(io.StringIO(owner.get("/dashboard/exports/links.csv").text)))
    by_reference = {row["reference_id"]: row for row in rows}
    assert (by_reference["DP-LEMARI"]["amount_paid"], by_reference["DP-LEMARI"]["amount_due"]) == (
        "500000",
        "1500000",
    )
    assert by_reference["DP-LEMARI"]["status"] == "partially_paid"
    assert (by_reference["WHOLE"]["amount_paid"], by_reference["WHOLE"]["amount_due"]) == ("", "")


@pytest.mark.parametrize(
    ("changes", "field", "indonesian", "english"),
    [
        (
            {"amount_kind": "open", "amount_min": "10000", "amount": ""},
            "allow_partial",
            "hanya untuk jumlah tetap",
            "needs a fixed amount",
        ),
        ({"usage": "many", "usage_limit": "3"}, "usage_limit", "hanya sekali pakai", "single use"),
        ({"partial_min": ""}, "partial_min", "wajib diisi", "is required"),
        ({"partial_min": "lima"}, "partial_min", "bilangan bulat", "whole number"),
        (
            {"partial_min": "2.500.000"},
            "partial_min",
            "tidak boleh lebih dari jumlah tautan",
            "cannot be more than the amount of the link",
        ),
        (
            {"item_name_0": "Lemari", "item_qty_0": "1", "item_unit_0": "2000000"},
            "allow_partial",
            "tanpa rincian barang",
            "without line items",
        ),
    ],
)
def test_terms_that_cannot_be_paid_in_parts_are_named_in_the_dashboards_language(
    desk: Desk, changes: dict[str, Any], field: str, indonesian: str, english: str
) -> None:
    owner = desk.signed_in()
    head = desk.shop.head()
    for lang, words in (("id", indonesian), ("en", english)):
        response = post(owner, f"/dashboard/links?lang={lang}", {**DP_FORM, **changes})
        assert response.status_code == 422, response.text
        errors = field_errors(response.text)
        assert words in errors.get(field, ""), errors
    assert desk.shop.head() == head


def test_the_edit_form_turns_payment_in_parts_on_and_shows_it_prefilled(desk: Desk) -> None:
    owner = desk.signed_in()
    link_id = desk.link(amount=300_000, description="Kursi")
    form = {
        "description": "Kursi",
        "amount_kind": "fixed",
        "amount": "300000",
        "currency": "IDR",
        "methods": ["va_bca", "qris"],
        "allow_partial": "on",
        "partial_min": "100000",
        "partial_expiry": "",
    }
    saved = post(owner, f"/dashboard/links/{link_id}/edit", form)
    assert saved.status_code == 303, field_errors(saved.text) or saved.text
    link = desk.shop.paylink.links.get(link_id)
    assert (link.allow_partial, link.partial_min, link.partial_expiry) == (True, 100_000, "expire")
    page = owner.get(f"/dashboard/links/{link_id}/edit").text
    assert 'name="allow_partial" value="on" checked' in page
    assert 'name="partial_min" type="text" inputmode="numeric" value="100000"' in page
    pay_part(desk, link_id, 100_000)
    refused = post(owner, f"/dashboard/links/{link_id}/edit", {**form, "allow_partial": ""})
    assert refused.status_code == 409, refused.text
    assert desk.shop.paylink.links.get(link_id).allow_partial is True


def test_another_merchant_sees_nothing_of_a_link_paid_in_parts(desk: Desk) -> None:
    link_id = desk.link(
        amount=1_000_000, allow_partial=True, partial_min=250_000, reference_id="DP-A"
    )
    pay_part(desk, link_id, 250_000)
    desk.catch_up()
    other = desk.signed_in(OTHER_OWNER)
    assert other.get(f"/dashboard/links/{link_id}").status_code == 404
    assert str(link_id) not in other.get("/dashboard/links?status=partially_paid").text
    assert "DP-A" not in other.get("/dashboard/exports/links.csv").text
