"""Links in the dashboard: the create form (every field, messages per field), list, detail."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from paylink_es.locale import WIB
from tests.support.app import outbox_messages
from tests.support.desk import Desk, assert_named_beside, field_errors, post

FULL_FORM: dict[str, Any] = {
    "description": "Kaos polos hitam\r\nukuran L",
    "amount_kind": "fixed",
    "amount": "150.000",
    "currency": "IDR",
    "reference_id": "INV-FORM-1",
    "methods": ["va_bca", "qris"],
    "expires_at": "2026-02-01T23:59",
    "usage": "many",
    "usage_limit": "3",
    "item_name_0": "Kaos polos hitam",
    "item_qty_0": "2",
    "item_unit_0": "50000",
    "item_name_2": "Ongkos kirim",
    "item_qty_2": "1",
    "item_unit_2": "50.000",
    "customer_name": "Budi",
    "customer_email": "budi@example.com",
    "customer_phone": "0812 3456 7890",
    "success_url": "https://toko.example/terima-kasih",
    "failure_url": "https://toko.example/gagal",
    "metadata": "order=42\r\nchannel = instagram\r\n",
}
NO_ITEMS = {f"item_{part}_{row}": "" for part in ("name", "qty", "unit") for row in (0, 2)}


def test_every_field_of_the_form_reaches_the_link(desk: Desk) -> None:
    owner = desk.signed_in()
    response = post(owner, "/dashboard/links", FULL_FORM)
    assert response.status_code == 303, field_errors(response.text) or response.text
    location = response.headers["location"]
    link_id = desk.shop.paylink.links.find_by_reference(desk.merchant_id, "test", "INV-FORM-1")
    assert location == f"/dashboard/links/{link_id}?notice=created_ok"
    assert link_id is not None
    link = desk.shop.paylink.links.get(link_id)
    assert link.description == "Kaos polos hitam\nukuran L"
    assert link.amount == 150000
    assert link.currency == "IDR"
    assert link.methods == ["va_bca", "qris"]
    assert link.expires_at == datetime(2026, 2, 1, 23, 59, tzinfo=WIB)
    assert link.usage_limit == 3
    assert [(i.name, i.quantity, i.unit_amount) for i in link.line_items] == [
        ("Kaos polos hitam", 2, 50000),
        ("Ongkos kirim", 1, 50000),
    ]
    assert link.customer is not None
    assert (link.customer.name, link.customer.email, link.customer.phone) == (
        "Budi",
        "budi@example.com",
        "+6281234567890",
    )
    assert link.success_url == "https://toko.example/terima-kasih"
    assert link.failure_url == "https://toko.example/gagal"
    assert link.metadata == {"order": "42", "channel": "instagram"}
    page = owner.get(location)
    assert page.status_code == 200
    assert "Tautan dibuat." in page.text
    assert "Rp 150.000" in page.text
    assert f"/l/{link.code}" in page.text


def test_an_open_amount_and_an_unlimited_link(desk: Desk) -> None:
    owner = desk.signed_in()
    form = {
        "description": "Donasi",
        "amount_kind": "open",
        "amount_min": "10000",
        "amount_max": "5.000.000",
        "methods": ["qris"],
        "usage": "unlimited",
    }
    assert post(owner, "/dashboard/links", form).status_code == 303
    desk.catch_up()
    page = owner.get("/dashboard/links").text
    assert "Rp 10.000 sampai Rp 5.000.000" in page


def test_a_slug_from_the_form_gives_the_link_its_address_and_a_taken_one_is_named(
    desk: Desk,
) -> None:
    owner = desk.signed_in()
    created = post(owner, "/dashboard/links", {**FULL_FORM, "slug": "Kaos-Hitam"})
    assert created.status_code == 303, created.text
    assert desk.shop.client.get("/l/kaos-hitam").status_code == 200
    head = desk.shop.head()
    again = post(owner, "/dashboard/links", {**FULL_FORM, "slug": "kaos-hitam", "reference_id": ""})
    assert again.status_code == 422, again.text
    assert "Slug ini sudah dipakai tautan lain." in field_errors(again.text)["slug"]
    assert desk.shop.head() == head


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"description": ""}, "description", "Deskripsi: wajib diisi"),
        ({"amount": "12,5"}, "amount", "Jumlah: harus berupa bilangan bulat rupiah"),
        (
            {"amount": "0", **NO_ITEMS},
            "amount",
            "Jumlah: Jumlah harus bilangan bulat lebih dari nol",
        ),
        ({"methods": []}, "methods", "Metode pembayaran: wajib diisi"),
        ({"expires_at": "kemarin"}, "expires_at", "Berlaku sampai (WIB): bukan tanggal"),
        ({"expires_at": "2025-12-31T10:00"}, "expires_at", "Waktu kedaluwarsa tidak sah"),
        ({"usage_limit": "0"}, "usage_limit", "Batas pemakaian harus bilangan bulat"),
        ({"item_unit_2": "lima"}, "item_unit_2", "harus berupa bilangan bulat"),
        ({"amount": "160000"}, "item_name_0", "total rincian barang harus sama"),
        ({"customer_email": "budi@"}, "customer_email", "bukan alamat e-mail"),
        ({"customer_phone": "12"}, "customer_phone", "bukan nomor telepon"),
        (
            {"success_url": "javascript:alert(1)"},
            "success_url",
            "harus alamat lengkap yang diawali http://",
        ),
        ({"reference_id": "bad ref!"}, "reference_id", "pakai 1-64 huruf"),
        ({"slug": "dashboard"}, "slug", "bukan kata yang dicadangkan"),
        ({"slug": "a b"}, "slug", "pakai 3-64 huruf, angka atau tanda hubung"),
        (
            {"currency": "USD", "amount": "150000", **NO_ITEMS, "methods": ["va_bca"]},
            "methods",
            "Metode pembayaran ini tidak dapat dipakai untuk tautan ini",
        ),
        ({"metadata": "tanpa tanda sama dengan"}, "metadata", "baris 1 harus berbentuk"),
        (
            {"amount_kind": "open", "amount_min": "9000", "amount_max": "100"},
            "amount_min",
            "Rentang jumlah tidak sah",
        ),
        (
            {"currency": "XYZ", "amount": "150000", **NO_ITEMS},
            "currency",
            "Mata uang ini tidak didukung.",
        ),
    ],
)
def test_bad_input_is_named_beside_its_field_and_nothing_is_stored(
    desk: Desk, changes: dict[str, Any], field: str, message: str
) -> None:
    owner = desk.signed_in()
    head = desk.shop.head()
    response = post(owner, "/dashboard/links", {**FULL_FORM, **changes})
    assert_named_beside(response, field, message)
    assert desk.shop.head() == head
    # What was typed is still there.
    assert "budi@" in response.text or changes.get("customer_email") != "budi@"


def test_the_list_filters_searches_and_pages(desk: Desk) -> None:
    for n in range(25):
        desk.link(reference_id=f"LIST-{n:02d}", description=f"Barang nomor {n:02d}")
        desk.shop.clock.advance(timedelta(seconds=1))
    cancelled = desk.link(reference_id="CANCEL-1", description="Barang batal")
    desk.shop.paylink.links.cancel(cancelled)
    desk.shop.clock.advance(timedelta(seconds=1))
    paid = desk.link(reference_id="PAID-1", description="Barang lunas")
    desk.pay(paid)
    desk.catch_up()
    owner = desk.signed_in()

    first = owner.get("/dashboard/links").text
    rows = re.findall(r'<tr data-link="([^"]+)" data-status="([^"]+)"', first)
    assert len(rows) == 20
    assert rows[0] == (str(paid), "completed")
    more = re.search(r'href="/dashboard/links\?(cursor=[^"]+)" rel="next"', first)
    assert more is not None
    second = owner.get(f"/dashboard/links?{more.group(1).replace('&amp;', '&')}").text
    second_rows = re.findall(r'<tr data-link="([^"]+)"', second)
    assert len(second_rows) == 7
    assert not set(second_rows) & {link for link, _ in rows}

    only_cancelled = owner.get("/dashboard/links?status=cancelled").text
    assert re.findall(r'<tr data-link="([^"]+)"', only_cancelled) == [str(cancelled)]
    assert 'aria-current="true" data-testid="chip-cancelled"' in only_cancelled
    found = owner.get("/dashboard/links", params={"q": "NOMOR 07"}).text
    assert re.findall(r"Barang nomor \d\d", found) == ["Barang nomor 07"]
    nothing = owner.get("/dashboard/links", params={"from": "2030-01-01"}).text
    assert "Tidak ada tautan yang cocok." in nothing
    bad = owner.get("/dashboard/links", params={"status": "lost"})
    assert bad.status_code == 400
    assert "status: must be one of" in bad.text


def test_the_detail_shows_the_timeline_and_the_payments(desk: Desk) -> None:
    link_id = desk.link(reference_id="DETAIL-1")
    desk.pay(link_id, "va_bri")
    desk.catch_up()
    page = desk.signed_in().get(f"/dashboard/links/{link_id}").text
    events = re.findall(r'<li data-event="([^"]+)">', page)
    assert events[0] == "Created"
    for expected in ("Opened", "PaymentInitiated", "PaymentAccepted", "PaymentVerified"):
        assert expected in events, events
    assert "Pembayaran Rp 150.000 terverifikasi: biaya Rp " in page
    assert "BRI Virtual Account" in page
    assert 'data-testid="link-status">Lunas<' in page


def test_send_again_and_cancel(desk: Desk) -> None:
    link_id = desk.link(reference_id="SEND-1")
    owner = desk.signed_in()
    sent = post(
        owner, f"/dashboard/links/{link_id}/send", {"channel": "whatsapp", "to": "0812-3456-7890"}
    )
    assert sent.status_code == 303, sent.text
    assert desk.shop.paylink.links.get(link_id).sent_count == 1
    assert outbox_messages(desk.shop.settings)[-1]["to"] == "+6281234567890"
    wrong = post(owner, f"/dashboard/links/{link_id}/send", {"channel": "email", "to": "nope"})
    assert wrong.status_code == 422
    assert "bukan alamat e-mail" in wrong.text
    assert 'data-testid="cancel-link"' in wrong.text, "the active link's page offers a cancel"
    cancelled = post(owner, f"/dashboard/links/{link_id}/cancel", {"reason": "salah harga"})
    assert cancelled.status_code == 303
    assert desk.shop.paylink.links.get(link_id).status == "cancelled"
    again = post(owner, f"/dashboard/links/{link_id}/cancel")
    assert again.status_code == 409
