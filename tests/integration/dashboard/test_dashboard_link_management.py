"""Managing a link from the dashboard: the edit form (prefilled, messages beside the fields
as on the create form), deactivate with a message and reactivate, duplicate; owners only,
and every change names the signed-in user."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from paylink_es.locale import WIB
from tests.support.desk import OWNER, VIEWER, Desk, assert_named_beside, field_errors, post

EXPIRY = datetime(2026, 1, 7, 10, 30, 15, tzinfo=WIB)  # seconds a datetime-local drops


def _form(page: str) -> dict[str, Any]:
    """What the edit form would submit as served: its inputs' values, checked boxes."""
    values: dict[str, Any] = {
        "methods": re.findall(r'name="methods" value="([^"]+)" checked', page)
    }
    for name, value in re.findall(
        r'<input id="(\w+)" name="\w+" type="(?:text|datetime-local)"'
        r'[^>]*value="([^"]*)"',
        page,
    ):
        values[name] = value
    description = re.search(r'<textarea id="description"[^>]*>([^<]*)</textarea>', page)
    assert description is not None
    values["description"] = description.group(1)
    kind = re.search(r'name="amount_kind" value="(\w+)" checked', page)
    assert kind is not None
    values["amount_kind"] = kind.group(1)
    currency = re.search(r'<option value="(\w+)" selected>', page)
    assert currency is not None
    values["currency"] = currency.group(1)
    return values


def _last_event(desk: Desk, link_id: UUID) -> tuple[str, dict[str, Any]]:
    desk.catch_up()
    detail = desk.shop.client.get(f"/v1/links/{link_id}", headers=desk.shop.headers()).json()
    last = detail["timeline"][-1]
    return last["event"], last["detail"]


def test_the_edit_form_is_prefilled_and_saves_only_what_changed(desk: Desk) -> None:
    link_id = desk.link(
        description="Kaos polos",
        methods=["qris", "va_bca"],
        customer={"name": "Budi"},
        expires_at=EXPIRY,
    )
    owner = desk.signed_in()
    detail = owner.get(f"/dashboard/links/{link_id}").text
    assert f'href="/dashboard/links/{link_id}/edit"' in detail

    page = owner.get(f"/dashboard/links/{link_id}/edit")

    assert page.status_code == 200
    form = _form(page.text)
    assert form["description"] == "Kaos polos"
    assert (form["amount_kind"], form["amount"], form["currency"]) == ("fixed", "150000", "IDR")
    assert sorted(form["methods"]) == ["qris", "va_bca"]
    assert form["expires_at"] == "2026-01-07T10:30"
    assert form["customer_name"] == "Budi"

    saved = post(
        owner,
        f"/dashboard/links/{link_id}/edit",
        {**form, "description": "Kaos polos hitam", "amount": "175.000"},
    )

    assert saved.status_code == 303, field_errors(saved.text) or saved.text
    assert saved.headers["location"] == f"/dashboard/links/{link_id}?notice=edited_ok"
    link = desk.shop.paylink.links.get(link_id)
    assert (link.description, link.amount, link.expires_at) == ("Kaos polos hitam", 175000, EXPIRY)
    assert link.methods == ["qris", "va_bca"]  # the same set, in the link's own order
    event, what = _last_event(desk, link_id)
    assert event == "Edited"
    assert what["by"] == OWNER
    assert what["changed"] == ["description", "amount"]
    shown = owner.get(f"/dashboard/links/{link_id}?notice=edited_ok").text
    assert "Perubahan disimpan." in shown
    assert 'data-event="Edited"' in shown
    assert (
        f"Tautan diubah oleh {OWNER}: description Kaos polos → Kaos polos hitam;"
        " amount Rp 150.000 → Rp 175.000." in shown
    )


def test_the_form_sent_back_unchanged_records_nothing(desk: Desk) -> None:
    link_id = desk.link(expires_at=EXPIRY, customer={"phone": "0812 3456 7890"})
    owner = desk.signed_in()
    form = _form(owner.get(f"/dashboard/links/{link_id}/edit").text)
    head = desk.shop.head()

    same = post(owner, f"/dashboard/links/{link_id}/edit", form)

    assert same.status_code == 303, field_errors(same.text) or same.text
    assert same.headers["location"].endswith("?notice=nothing_changed")
    assert desk.shop.head() == head


def test_an_open_amount_and_the_customer_can_be_changed_and_cleared(desk: Desk) -> None:
    link_id = desk.link(customer={"name": "Budi"}, expires_at=EXPIRY)
    owner = desk.signed_in()
    form = _form(owner.get(f"/dashboard/links/{link_id}/edit").text)

    saved = post(
        owner,
        f"/dashboard/links/{link_id}/edit",
        {
            **form,
            "amount_kind": "open",
            "amount_min": "10.000",
            "amount_max": "",
            "customer_name": "",
            "expires_at": "",
        },
    )

    assert saved.status_code == 303, field_errors(saved.text) or saved.text
    link = desk.shop.paylink.links.get(link_id)
    assert (link.amount, link.amount_min, link.amount_max) == (None, 10000, None)
    assert (link.customer, link.expires_at) == (None, None)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"description": ""}, "description", "Deskripsi: wajib diisi"),
        ({"amount": "12,5"}, "amount", "Jumlah: harus berupa bilangan bulat rupiah"),
        ({"amount": "0"}, "amount", "Jumlah harus bilangan bulat lebih dari nol"),
        ({"methods": []}, "methods", "Metode pembayaran: wajib diisi"),
        (
            {"amount": "5000", "methods": ["va_bca"]},
            "methods",
            "Metode pembayaran ini tidak dapat dipakai",
        ),
        ({"expires_at": "kemarin"}, "expires_at", "bukan tanggal"),
        ({"expires_at": "2025-12-31T10:00"}, "expires_at", "Waktu kedaluwarsa tidak sah"),
        ({"customer_email": "budi@"}, "customer_email", "bukan alamat e-mail"),
        (
            {"amount_kind": "open", "amount_min": "9000", "amount_max": "100"},
            "amount_min",
            "Rentang jumlah tidak sah",
        ),
        ({"currency": "USD"}, "currency", "Metode pembayaran ini tidak dapat dipakai"),
    ],
)
def test_bad_input_is_named_beside_its_field_as_on_the_create_form_and_nothing_is_stored(
    desk: Desk, changes: dict[str, Any], field: str, message: str
) -> None:
    link_id = desk.link(methods=["qris", "va_bca"])
    owner = desk.signed_in()
    form = _form(owner.get(f"/dashboard/links/{link_id}/edit").text)
    head = desk.shop.head()

    response = post(owner, f"/dashboard/links/{link_id}/edit", {**form, **changes})

    assert_named_beside(response, field, message)
    assert desk.shop.head() == head


def test_a_link_with_payments_keeps_its_amount_and_says_why(desk: Desk) -> None:
    link_id = desk.link(usage_limit=None, methods=["qris"])
    desk.pay(link_id)
    owner = desk.signed_in()
    page = owner.get(f"/dashboard/links/{link_id}/edit").text
    assert 'data-testid="edit-has-payments"' in page
    form = _form(page)
    head = desk.shop.head()

    refused = post(owner, f"/dashboard/links/{link_id}/edit", {**form, "amount": "99000"})

    assert refused.status_code == 409, refused.text
    assert "sudah menerima pembayaran, jadi amount tidak" in field_errors(refused.text)["amount"]
    assert desk.shop.head() == head
    renamed = post(owner, f"/dashboard/links/{link_id}/edit", {**form, "description": "Kaos v2"})
    assert renamed.status_code == 303, field_errors(renamed.text) or renamed.text
    assert desk.shop.paylink.links.get(link_id).description == "Kaos v2"


def test_a_closed_link_offers_no_edit_only_a_duplicate(desk: Desk) -> None:
    link_id = desk.link()
    owner = desk.signed_in()
    form = _form(owner.get(f"/dashboard/links/{link_id}/edit").text)
    desk.shop.paylink.links.cancel(link_id)

    detail = owner.get(f"/dashboard/links/{link_id}").text
    assert 'data-testid="edit-link"' not in detail
    assert 'data-testid="duplicate-link"' in detail
    assert 'data-testid="deactivate-link"' not in detail
    assert 'data-testid="cancel-link"' not in detail
    closed = owner.get(f"/dashboard/links/{link_id}/edit")
    assert closed.status_code == 409
    assert "tidak bisa diubah" in closed.text
    late = post(owner, f"/dashboard/links/{link_id}/edit", {**form, "description": "Baru"})
    assert late.status_code == 409
    assert "Tautan ini sudah ditutup." in field_errors(late.text)["form"]


def test_deactivate_with_a_message_then_reactivate(desk: Desk) -> None:
    link_id = desk.link(reference_id="PAUSE-1")
    code = desk.shop.paylink.links.get(link_id).code
    owner = desk.signed_in()

    off = post(owner, f"/dashboard/links/{link_id}/deactivate", {"message": "Libur Lebaran"})

    assert off.status_code == 303, off.text
    assert off.headers["location"] == f"/dashboard/links/{link_id}?notice=deactivated_ok"
    assert desk.shop.paylink.links.get(link_id).status == "inactive"
    desk.catch_up()
    page = owner.get(off.headers["location"]).text
    assert "Tautan dinonaktifkan." in page
    assert 'data-testid="link-status">Nonaktif<' in page
    assert 'data-testid="inactive-message">Libur Lebaran<' in page
    assert 'data-testid="reactivate-link"' in page
    assert 'data-testid="deactivate-link"' not in page
    assert 'data-testid="cancel-link"' in page, "an inactive link can still be cancelled"
    assert f"Tautan dinonaktifkan oleh {OWNER}. Pesan untuk pelanggan: “Libur Lebaran”." in page
    listed = owner.get("/dashboard/links?status=inactive").text
    assert re.findall(r'<tr data-link="([^"]+)"', listed) == [str(link_id)]
    assert "Libur Lebaran" in desk.client().get(f"/l/{code}").text

    on = post(owner, f"/dashboard/links/{link_id}/reactivate")

    assert on.status_code == 303, on.text
    assert desk.shop.paylink.links.get(link_id).status == "active"
    assert _last_event(desk, link_id) == ("Reactivated", {"by": OWNER})
    again = post(owner, f"/dashboard/links/{link_id}/reactivate")
    assert again.status_code == 409
    assert "Perubahan ini tidak dapat dilakukan pada keadaan sekarang." in again.text


def test_duplicate_opens_the_new_link(desk: Desk) -> None:
    link_id = desk.link(reference_id="DUP-1", slug="kaos-dup", metadata={"order": "7"})
    owner = desk.signed_in()

    copied = post(owner, f"/dashboard/links/{link_id}/duplicate")

    assert copied.status_code == 303, copied.text
    location = copied.headers["location"]
    match = re.fullmatch(r"/dashboard/links/([0-9a-f-]+)\?notice=duplicated_ok", location)
    assert match is not None, location
    new_id = UUID(match.group(1))
    assert new_id != link_id
    new = desk.shop.paylink.links.get(new_id)
    old = desk.shop.paylink.links.get(link_id)
    assert (new.description, new.amount, new.methods, new.metadata) == (
        old.description,
        old.amount,
        old.methods,
        old.metadata,
    )
    assert (new.reference_id, new.slug) == (None, None)
    desk.catch_up()
    assert "Tautan diduplikasi." in owner.get(location).text
    detail = desk.shop.client.get(f"/v1/links/{new_id}", headers=desk.shop.headers()).json()
    assert detail["timeline"][0]["detail"] == {"duplicate_of": str(link_id), "by": OWNER}


def test_a_viewer_sees_no_actions_and_cannot_open_the_edit_form(desk: Desk) -> None:
    link_id = desk.link()
    viewer = desk.signed_in(VIEWER)

    page = viewer.get(f"/dashboard/links/{link_id}").text

    assert 'data-testid="link-actions"' not in page
    assert viewer.get(f"/dashboard/links/{link_id}/edit").status_code == 403
    other = desk.link(merchant=desk.other_merchant)
    owner = desk.signed_in()
    assert owner.get(f"/dashboard/links/{other}/edit").status_code == 404
    head = desk.shop.head()
    for action in ("edit", "deactivate", "reactivate", "duplicate"):
        assert post(owner, f"/dashboard/links/{other}/{action}").status_code == 404, action
    assert desk.shop.head() == head
