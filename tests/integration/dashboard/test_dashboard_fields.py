"""What a link asks payers, in the dashboard: chosen on the new-link and edit-link forms,
shown on the link, and what payers entered shown with their payments and exported.

On SQLite and PostgreSQL; merchant B's staff never see merchant A's payers.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from uuid import UUID

from api.dashboard.exports import PAYMENT_COLUMNS
from tests.support.desk import OTHER_OWNER, Desk, field_errors, form_inputs, post
from tests.support.shop import SCHOOL_LINK

SCHOOL_FORM: dict[str, Any] = {
    "description": "SPP Januari",
    "amount_kind": "fixed",
    "amount": "350.000",
    "currency": "IDR",
    "methods": ["qris"],
    "usage": "unlimited",
    "ask_name": "required",
    "ask_phone": "optional",
    "ask_address": "",
    "cf_key_0": "student_id",
    "cf_type_0": "text",
    "cf_label_id_0": "NIS",
    "cf_label_en_0": "Student ID",
    "cf_required_0": "on",
    # row 1 left empty: not sent
    "cf_key_2": "class",
    "cf_type_2": "dropdown",
    "cf_label_id_2": "Kelas",
    "cf_options_2": "7A\r\n 7B \r\n\r\n8A",
}
ANSWERS = {
    "customer.name": "Ani Lestari",
    "customer.email": "ani@example.com",
    "customer.phone": "0812-3456-7890",
    "custom_fields.student_id": "=1+1",  # a formula: quoted in the export
    "custom_fields.class": "7B",
}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _pay(desk: Desk, link_id: UUID, answers: dict[str, str]) -> UUID:
    """A customer pays the link on its page with ``answers``; the sandbox confirms it."""
    code = desk.shop.paylink.links.get(link_id).code
    payment_id = desk.shop.choose(code, "qris", client=desk.shop.visitor(), answers=answers)
    paid = desk.shop.sandbox_pay(payment_id)
    assert paid.status_code == 200, paid.text
    return payment_id


def test_the_new_link_form_chooses_what_the_page_asks(desk: Desk) -> None:
    owner = desk.signed_in()
    form = owner.get("/dashboard/links/new").text
    for name in ("ask_name", "ask_email", "ask_phone", "ask_address", "cf_key_2", "cf_options_0"):
        assert f'name="{name}"' in form, name
    created = post(owner, "/dashboard/links", SCHOOL_FORM)
    assert created.status_code == 303, field_errors(created.text) or created.text
    link_id = UUID(created.headers["location"].split("/")[3].split("?")[0])
    link = desk.shop.paylink.links.get(link_id)
    assert link.customer_fields == {"name": "required", "phone": "optional"}
    assert [(f.key, f.type, f.label, f.required, f.options) for f in link.custom_fields] == [
        ("student_id", "text", {"id": "NIS", "en": "Student ID"}, True, []),
        ("class", "dropdown", {"id": "Kelas"}, False, ["7A", "7B", "8A"]),
    ]
    detail = owner.get(f"/dashboard/links/{link_id}").text
    assert "Nama (wajib); Telepon (opsional); NIS [student_id] (teks, wajib)" in detail
    assert "Kelas [class] (pilihan: 7A, 7B, 8A)" in detail


# A bad field on the form -> the input it is named beside, and what is said there.
BAD_FIELDS: dict[str, tuple[dict[str, str], str]] = {
    "cf_options_2": ({"cf_options_2": ""}, "jenis Pilihan memerlukan 1-20 pilihan"),
    "cf_key_2": ({"cf_key_2": "student_id"}, "sudah menjadi kunci kolom tambahan lain"),
    "cf_label_id_0": (
        {"cf_label_id_0": "", "cf_label_en_0": ""},
        "isi label dalam Bahasa Indonesia, Inggris, atau keduanya",
    ),
    "cf_label_en_0": ({"cf_label_en_0": "x" * 81}, "terlalu panjang: paling banyak 80 karakter"),
    "cf_options_0": ({"cf_options_0": "a"}, "hanya jenis Pilihan yang memiliki pilihan"),
    "ask_phone": ({"ask_phone": "sometimes"}, "pilih Tidak ditanyakan, Opsional atau Wajib"),
}


def test_a_bad_field_is_named_beside_its_input_in_the_pages_language(desk: Desk) -> None:
    owner = desk.signed_in()
    for name, (change, said) in BAD_FIELDS.items():
        before = desk.shop.head()
        response = post(owner, "/dashboard/links", {**SCHOOL_FORM, **change})
        assert response.status_code == 422, name
        errors = field_errors(response.text)
        assert list(errors) == [name], errors
        assert errors[name].endswith(f": {said}"), errors
        assert desk.shop.head() == before
        # what was typed comes back to correct
        assert 'value="student_id"' in response.text
    english = post(owner, "/dashboard/links?lang=en", {**SCHOOL_FORM, "cf_key_2": "Kelas Siswa"})
    assert field_errors(english.text) == {
        "cf_key_2": "Key (e.g. student_id): must be 1-40 lower-case letters, digits or _, "
        "starting with a letter"
    }


def test_the_edit_form_changes_the_questions_until_the_first_payment(desk: Desk) -> None:
    owner = desk.signed_in()
    link_id = desk.link(**SCHOOL_LINK)
    page = owner.get(f"/dashboard/links/{link_id}/edit").text
    form = form_inputs(page)
    asks = (form["ask_name"], form["ask_email"], form["ask_address"])
    assert asks == ("required", "optional", "")
    assert (form["cf_key_0"], form["cf_label_id_0"], form["cf_required_0"]) == (
        "student_id",
        "NIS",
        ["on"],
    )
    assert (form["cf_type_1"], form["cf_options_1"]) == ("dropdown", "7A\n7B\n8A")
    assert (form["cf_type_2"], form["cf_label_id_2"], "cf_required_2" in form) == (
        "number",
        "Jumlah saudara",
        False,
    )
    unchanged = post(owner, f"/dashboard/links/{link_id}/edit", form)
    assert unchanged.headers["location"].endswith("notice=nothing_changed")

    changed = {**form, "ask_address": "optional", "cf_options_1": "7A\n7B\n8A\n9A"}
    saved = post(owner, f"/dashboard/links/{link_id}/edit", changed)
    assert saved.status_code == 303, field_errors(saved.text) or saved.text
    link = desk.shop.paylink.links.get(link_id)
    assert link.customer_fields["address"] == "optional"
    assert link.custom_fields[1].options == ["7A", "7B", "8A", "9A"]

    _pay(desk, link_id, ANSWERS)
    form = form_inputs(owner.get(f"/dashboard/links/{link_id}/edit").text)
    before = desk.shop.head()
    refused = post(owner, f"/dashboard/links/{link_id}/edit", {**form, "cf_options_1": "7A"})
    assert refused.status_code == 409
    said = field_errors(refused.text)["form"]
    assert "sudah menerima pembayaran, jadi custom_fields tidak dapat diubah lagi" in said
    assert desk.shop.head() == before
    renamed = post(owner, f"/dashboard/links/{link_id}/edit", {**form, "description": "SPP"})
    assert renamed.headers["location"].endswith("notice=edited_ok")


def test_payers_details_are_shown_and_exported_to_their_merchant_only(desk: Desk) -> None:
    link_id = desk.link(**SCHOOL_LINK)
    payment_id = _pay(desk, link_id, ANSWERS)
    plain = desk.link(description="Kaos")
    _pay(desk, plain, {})
    desk.catch_up()
    owner = desk.signed_in()
    for path in ("/dashboard/payments", f"/dashboard/links/{link_id}"):
        page = owner.get(path).text
        assert "Ani Lestari<br>ani@example.com<br>+6281234567890" in page, path
        assert "student_id: =1+1<br>class: 7B" in page, path

    rows = _rows(owner.get("/dashboard/exports/payments.csv").text)
    assert list(rows[0]) == list(PAYMENT_COLUMNS)
    paid = next(row for row in rows if row["payment_id"] == str(payment_id))
    assert (paid["customer_name"], paid["customer_email"], paid["customer_phone"]) == (
        "Ani Lestari",
        "ani@example.com",
        "'+6281234567890",  # quoted: a spreadsheet keeps it as text, not a sum
    )
    assert paid["customer_address"] == ""
    assert json.loads(paid["custom_fields"]) == {"student_id": "=1+1", "class": "7B"}
    other = next(row for row in rows if row["payment_id"] != str(payment_id))
    assert (other["customer_name"], other["custom_fields"]) == ("", "")

    detail = owner.get(f"/dashboard/links/{link_id}").text
    assert f'href="/dashboard/exports/payments.csv?link={link_id}"' in detail
    (only,) = _rows(owner.get(f"/dashboard/exports/payments.csv?link={link_id}").text)
    assert list(only)[-3:] == [
        "custom_fields.student_id",
        "custom_fields.class",
        "custom_fields.siblings",
    ]
    assert "custom_fields" not in only
    assert only["payment_id"] == str(payment_id)
    assert only["custom_fields.student_id"] == "'=1+1"  # not run as a formula
    assert only["custom_fields.class"] == "7B"
    assert only["custom_fields.siblings"] == ""  # optional, left empty

    stranger = desk.signed_in(OTHER_OWNER)
    assert "Ani Lestari" not in stranger.get("/dashboard/payments").text
    assert _rows(stranger.get("/dashboard/exports/payments.csv").text) == []
    foreign = stranger.get(f"/dashboard/exports/payments.csv?link={link_id}")
    assert foreign.status_code == 404
    assert "Ani Lestari" not in foreign.text
