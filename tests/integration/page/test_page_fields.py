"""What a link asks payers on its page: customer details and the merchant's own fields.

The page shows the fields the link asks for in its language, with the browser's own
checks as HTML attributes; the server checks what is entered again, and a bad answer
comes back as a 400 page naming the field in the page's language, with nothing stored.
What is entered is kept on the payment's ``Initiated`` event, the phone in E.164.
"""

from __future__ import annotations

import re

import pytest

from tests.support.shop import SCHOOL_LINK, Reply, Shop, csrf_of

GOOD: dict[str, str] = {
    "customer.name": "  Ani Lestari ",
    "customer.email": "",
    "customer.phone": "0812-3456-7890",
    "custom_fields.student_id": "2027-0042",
    "custom_fields.class": "7B",
    "custom_fields.siblings": "",
}
FIELD_ERROR = re.compile(r'data-error-for="([^"]+)">([^<]*)<')

# A bad answer -> the input it is about, and what the page says, in Indonesian and English.
BAD_ANSWERS: list[tuple[dict[str, str], str, str, str]] = [
    ({"customer.name": "   "}, "customer.name", "Nama wajib diisi.", "Name is required."),
    (
        {"customer.phone": "12345"},
        "customer.phone",
        "Nomor telepon harus berupa nomor telepon",
        "Phone number must be a phone number",
    ),
    (
        {"customer.phone": "+62 0 12"},
        "customer.phone",
        "Nomor telepon harus berupa nomor telepon",
        "Phone number must be a phone number",
    ),
    (
        {"customer.email": "ani@"},
        "customer.email",
        "Email harus berupa alamat email",
        "Email must be an e-mail address",
    ),
    ({"custom_fields.student_id": ""}, "custom_fields.student_id", "NIS wajib diisi.",
     "Student ID is required."),
    (
        {"custom_fields.student_id": "x" * 5000},
        "custom_fields.student_id",
        "NIS terlalu panjang: paling banyak 200 karakter.",
        "Student ID is too long: at most 200 characters.",
    ),
    (
        {"custom_fields.student_id": "20\x0027"},
        "custom_fields.student_id",
        "NIS berisi karakter yang tidak diizinkan.",
        "Student ID contains characters that are not allowed.",
    ),
    ({"custom_fields.class": "9Z"}, "custom_fields.class", "Pilih salah satu pilihan Kelas.",
     "Choose one of the options for Class."),
    (
        {"custom_fields.siblings": "dua"},
        "custom_fields.siblings",
        "Jumlah saudara harus berupa angka",
        "Jumlah saudara must be a number",  # no English label: the Indonesian one
    ),
]  # fmt: skip


def _refused(shop: Shop, code: str, answers: dict[str, str], lang: str = "id") -> Reply:
    """Open the page, post the form with ``answers``: a 400 page, and nothing stored."""
    csrf = csrf_of(shop.open(code, lang=lang).text)
    before = shop.head()
    form = {"csrf": csrf, "method": "qris", **answers}
    response = shop.client.post(
        f"/l/{code}/pay", params={"lang": lang}, data=form, follow_redirects=False
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert shop.head() == before, "a refused answer recorded something"
    return response


def test_the_page_asks_the_fields_in_its_language_with_the_browsers_checks(
    page_shop: Shop,
) -> None:
    link = page_shop.link(SCHOOL_LINK)
    html = page_shop.open(link.code).text
    assert "Data Anda" in html
    for label in ("Nama", "Email", "Nomor telepon", "NIS", "Kelas", "Jumlah saudara"):
        assert f">{label}" in html, label
    assert "Alamat" not in html  # not asked
    assert re.search(r'id="customer-name" name="customer.name" required', html)
    assert re.search(r'name="customer.email"[^>]*type="email"', html)
    assert re.search(r'name="customer.email" type', html)  # optional: not required
    assert re.search(r'name="customer.phone" required[^>]*type="tel"[^>]*pattern=', html)
    assert re.search(r'name="custom_fields.siblings" type="number"', html)
    assert '<option value="">Pilih…</option>' in html
    for option in ("7A", "7B", "8A"):
        assert f"<option>{option}</option>" in html
    english = page_shop.open(link.code, lang="en").text
    for label in ("Your details", "Name", "Phone number", "Student ID", "Class"):
        assert f">{label}" in english, label
    assert ">Jumlah saudara" in english  # given in Indonesian only: shown as given


def test_a_link_that_asks_nothing_shows_no_fields(page_shop: Shop) -> None:
    link = page_shop.link({**SCHOOL_LINK, "customer_fields": None, "custom_fields": None})
    html = page_shop.open(link.code).text
    assert "Data Anda" not in html
    assert 'name="customer.' not in html


def test_what_the_payer_enters_is_kept_on_the_payment(backend_shop: Shop) -> None:
    shop = backend_shop
    link = shop.link(SCHOOL_LINK)
    payment_id = shop.choose(link.code, "qris", answers=GOOD)
    payment = shop.payment(payment_id)
    assert payment.customer is not None
    assert (payment.customer.name, payment.customer.email, payment.customer.phone) == (
        "Ani Lestari",
        None,  # optional, left empty
        "+6281234567890",  # E.164
    )
    assert payment.customer.address is None  # not asked
    assert payment.custom_fields == {"student_id": "2027-0042", "class": "7B"}
    (state,) = [state for topic, state in shop.states() if topic.endswith("Payment.Initiated")]
    assert b"+6281234567890" in state
    assert b"2027-0042" in state


def test_inputs_the_link_does_not_ask_are_not_read(page_shop: Shop) -> None:
    link = page_shop.link(SCHOOL_LINK)
    extra = {**GOOD, "customer.address": "Jl. Rahasia 1", "custom_fields.other": "x"}
    payment = page_shop.payment(page_shop.choose(link.code, "qris", answers=extra))
    assert payment.customer is not None
    assert payment.customer.address is None
    assert "other" not in payment.custom_fields


@pytest.mark.parametrize(("change", "name", "in_id", "in_en"), BAD_ANSWERS)
def test_a_bad_answer_is_named_in_the_pages_language_and_nothing_is_stored(
    page_shop: Shop, change: dict[str, str], name: str, in_id: str, in_en: str
) -> None:
    link = page_shop.link(SCHOOL_LINK)
    for lang, expected in (("id", in_id), ("en", in_en)):
        response = _refused(page_shop, link.code, {**GOOD, **change}, lang)
        errors = dict(FIELD_ERROR.findall(response.text))
        assert list(errors) == [name]
        assert errors[name].startswith(expected), errors
        # The field is marked, the form comes back with what was typed, to try again.
        field_id = name.replace(".", "-")
        assert f'aria-describedby="{field_id}-error"' in response.text
        assert 'value="2027-0042"' in response.text or name == "custom_fields.student_id"
        assert 'name="csrf"' in response.text
    assert page_shop.count("Payment.Initiated") == 0


def test_a_required_answer_missing_from_the_form_is_refused(backend_shop: Shop) -> None:
    link = backend_shop.link(SCHOOL_LINK)
    answers = {key: value for key, value in GOOD.items() if key != "customer.phone"}
    response = _refused(backend_shop, link.code, answers)
    assert dict(FIELD_ERROR.findall(response.text)) == {
        "customer.phone": "Nomor telepon wajib diisi."
    }
    assert backend_shop.count("Payment.Initiated") == 0


def test_the_receipt_echoes_what_the_payer_entered_in_the_pages_language(
    page_shop: Shop,
) -> None:
    link = page_shop.link(SCHOOL_LINK)
    payment_id = page_shop.choose(link.code, "qris", answers=GOOD)
    assert page_shop.sandbox_pay(payment_id).status_code == 200
    path = f"/l/{link.code}/p/{payment_id}"

    def rows(lang: str) -> list[tuple[str, str]]:
        html = page_shop.client.get(path, params={"lang": lang}).text
        found = re.findall(
            r'<tr data-testid="receipt-answer"><td class="muted">([^<]*)</td>'
            r'<td class="r">([^<]*)</td></tr>',
            html,
        )
        return [(label, answer) for label, answer in found]

    assert rows("id") == [
        ("Nama", "Ani Lestari"),
        ("Nomor telepon", "+6281234567890"),
        ("NIS", "2027-0042"),
        ("Kelas", "7B"),
    ]  # the e-mail and the number of siblings were left blank: not shown
    assert [label for label, _ in rows("en")] == ["Name", "Phone number", "Student ID", "Class"]
