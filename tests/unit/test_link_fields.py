"""What a link asks payers: phone numbers to E.164, field definitions, and the answers.

Definitions are refused naming the exact place (``custom_fields[1].options[0]``), hostile
values included (huge strings, control characters, wrong types), without echoing a huge
value back; answers are refused naming their kind of problem, which the page says in the
payer's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_es.domain.errors import AnswerInvalidError, DomainError, InvalidFieldError
from paylink_es.domain.fields import (
    Customer,
    CustomField,
    check_answers,
    check_custom_fields,
    check_customer,
    check_customer_fields,
)
from paylink_es.domain.validation import normalise_phone
from tests.support.examples import scaled

T = TypeVar("T")
CONTROL_CHARACTERS = ["\x00", "\x07", "\x1b", "\x7f", "\u200b", "\u202e", "\ufeff"]
HUGE = "x" * 100_000
TEXT: dict[str, Any] = {"key": "student_id", "type": "text", "label": {"id": "NIS"}}
DROPDOWN: dict[str, Any] = {
    "key": "class",
    "type": "dropdown",
    "label": {"id": "Kelas", "en": "Class"},
    "required": True,
    "options": ["7A", "7B"],
}


@pytest.mark.parametrize(
    ("given_phone", "stored"),
    [
        ("08123456789", "+628123456789"),
        ("0812-3456-7890", "+6281234567890"),
        ("0812 3456 7890", "+6281234567890"),
        (" (0812) 3456.7890 ", "+6281234567890"),
        ("\u00a00812\u00a03456\u00a07890", "+6281234567890"),  # no-break spaces
        ("62 812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("+62 0812 3456 7890", "+6281234567890"),  # the trunk 0 kept after +62
        ("0062 812 3456 7890", "+6281234567890"),
        ("021 5550 1234", "+622155501234"),  # a Jakarta landline
        ("+1 415 555 0100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_a_phone_number_is_normalised_to_e164(given_phone: str, stored: str) -> None:
    assert normalise_phone(given_phone, "phone") == stored


@pytest.mark.parametrize(
    "value",
    [
        "12345",
        "0812",
        "+62 12",
        "+62 0",
        "+620123",
        "08123abc456",
        "+0812345678",
        "+62812345678901234",
        "++628123456789",
        "0812/3456/789",
        "\uff10\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",  # full-width digits
        "\u0660\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic
        "9" * 40,
        HUGE,
        812345678,
        ["08123456789"],
        {"phone": "08123456789"},
    ]
    + [f"0812{char}3456789" for char in CONTROL_CHARACTERS],
)
def test_what_is_not_a_phone_number_is_refused_by_name(value: object) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        normalise_phone(value, "customer.phone")
    assert refused.value.field == "customer.phone"
    assert len(refused.value.message) < 200  # a huge value is not echoed back


def test_customer_fields_are_kept_in_their_order_and_null_is_not_asked() -> None:
    asked = {"phone": "optional", "name": "required", "email": None, "address": "required"}
    assert list(check_customer_fields(asked).items()) == [
        ("name", "required"),
        ("phone", "optional"),
        ("address", "required"),
    ]
    assert check_customer_fields(None) == {}
    assert check_customer_fields({}) == {}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("all", "customer_fields"),
        (["name"], "customer_fields"),
        (42, "customer_fields"),
        ({"nik": "required"}, "customer_fields"),
        ({HUGE: "required"}, "customer_fields"),
        ({"name": "Required"}, "customer_fields.name"),
        ({"name": True}, "customer_fields.name"),
        ({"phone": 1}, "customer_fields.phone"),
        ({"email": ["required"]}, "customer_fields.email"),
        ({"address": "wajib"}, "customer_fields.address"),
        ({"address": "required\x00"}, "customer_fields.address"),
    ],
)
def test_a_bad_customer_fields_is_refused_naming_the_place(value: object, field: str) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        check_customer_fields(value)
    assert refused.value.field == field
    assert len(refused.value.message) < 200


def test_custom_fields_are_trimmed_and_given_their_defaults() -> None:
    checked = check_custom_fields(
        [
            {"key": "student_id", "type": "text", "label": {"id": " NIS ", "en": ""}},
            {**DROPDOWN, "options": [" 7A ", "7B"]},
            {"key": "siblings", "type": "number", "label": {"en": "Siblings"}, "options": []},
        ]
    )
    assert checked == [
        CustomField("student_id", "text", {"id": "NIS"}, False, []),
        CustomField("class", "dropdown", {"id": "Kelas", "en": "Class"}, True, ["7A", "7B"]),
        CustomField("siblings", "number", {"en": "Siblings"}, False, []),
    ]
    assert check_custom_fields(checked) == checked  # definitions as stored check again
    assert check_custom_fields(None) == []
    assert checked[2].label_in("id") == "Siblings"  # only in English: shown in English


def _fields(*definitions: object) -> list[object]:
    return list(definitions)


BAD_DEFINITIONS: list[tuple[Any, str]] = [
    ("student_id", "custom_fields"),
    ({"key": "student_id"}, "custom_fields"),
    (_fields(TEXT, DROPDOWN, {**TEXT, "key": "a"}, {**TEXT, "key": "b"}), "custom_fields"),
    ([TEXT] * 1000, "custom_fields"),
    (_fields(None), "custom_fields[0]"),
    (_fields(["key", "student_id"]), "custom_fields[0]"),
    (_fields({**TEXT, "help": "Nomor Induk"}), "custom_fields[0]"),
    (_fields({**TEXT, HUGE: 1}), "custom_fields[0]"),
    (_fields(TEXT, {**TEXT, "label": {"id": "Lain"}}), "custom_fields[1].key"),
    (_fields({**TEXT, "key": None}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": 7}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": ""}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": "Student_ID"}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": "_id"}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": "student-id"}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": "k" * 41}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": HUGE}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": "nis\n"}), "custom_fields[0].key"),
    (_fields({**TEXT, "key": "n\u0131s"}), "custom_fields[0].key"),  # a dotless i
    (_fields({**TEXT, "type": "Text"}), "custom_fields[0].type"),
    (_fields({**TEXT, "type": ["text"]}), "custom_fields[0].type"),
    (_fields({**TEXT, "type": None}), "custom_fields[0].type"),
    (_fields({**TEXT, "required": 1}), "custom_fields[0].required"),
    (_fields({**TEXT, "required": "true"}), "custom_fields[0].required"),
    (_fields({**TEXT, "required": None}), "custom_fields[0].required"),
    (_fields({**TEXT, "label": "NIS"}), "custom_fields[0].label"),
    (_fields({**TEXT, "label": None}), "custom_fields[0].label"),
    (_fields({**TEXT, "label": ["NIS"]}), "custom_fields[0].label"),
    (_fields({**TEXT, "label": {}}), "custom_fields[0].label"),
    (_fields({**TEXT, "label": {"id": " ", "en": None}}), "custom_fields[0].label"),
    (_fields({**TEXT, "label": {"fr": "Élève"}}), "custom_fields[0].label"),
    (_fields({**TEXT, "label": {"id": 12}}), "custom_fields[0].label.id"),
    (_fields({**TEXT, "label": {"id": "x" * 81}}), "custom_fields[0].label.id"),
    (_fields({**TEXT, "label": {"en": HUGE}}), "custom_fields[0].label.en"),
    (_fields({**TEXT, "options": ["a"]}), "custom_fields[0].options"),
    (_fields({**TEXT, "type": "number", "options": "a"}), "custom_fields[0].options"),
    (_fields({**DROPDOWN, "options": None}), "custom_fields[0].options"),
    (_fields({**DROPDOWN, "options": []}), "custom_fields[0].options"),
    (_fields({**DROPDOWN, "options": "7A"}), "custom_fields[0].options"),
    (_fields({**DROPDOWN, "options": {"7A": 1}}), "custom_fields[0].options"),
    (_fields({**DROPDOWN, "options": [str(n) for n in range(21)]}), "custom_fields[0].options"),
    (_fields({**DROPDOWN, "options": ["7A", 7]}), "custom_fields[0].options[1]"),
    (_fields({**DROPDOWN, "options": ["7A", ""]}), "custom_fields[0].options[1]"),
    (_fields({**DROPDOWN, "options": ["7A", " 7A "]}), "custom_fields[0].options[1]"),
    (_fields({**DROPDOWN, "options": ["x" * 101]}), "custom_fields[0].options[0]"),
    (_fields({**DROPDOWN, "options": ["7A", "7B\n7C"]}), "custom_fields[0].options[1]"),
] + [
    (_fields({**TEXT, "label": {"id": f"N{char}IS"}}), "custom_fields[0].label.id")
    for char in CONTROL_CHARACTERS
] + [
    (_fields({**DROPDOWN, "options": [f"7{char}A"]}), "custom_fields[0].options[0]")
    for char in CONTROL_CHARACTERS
]  # fmt: skip


@pytest.mark.parametrize(("value", "field"), BAD_DEFINITIONS)
def test_a_bad_definition_is_refused_naming_the_exact_place(value: object, field: str) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        check_custom_fields(value)
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}: ")
    assert len(refused.value.message) < 300  # a huge value is not echoed back


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["key", "type", "label", "required", "options", "id", "en"])
            | st.text(max_size=10),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def _outcome(check: Callable[..., T], *args: object) -> tuple[T | None, DomainError | None]:
    """What ``check(*args)`` gave: its answer, or the domain error it raised."""
    try:
        return check(*args), None
    except DomainError as refused:
        return None, refused


def _named(refused: DomainError, *prefixes: str) -> None:
    assert isinstance(refused, InvalidFieldError), refused
    assert refused.field is not None
    assert refused.field.startswith(prefixes), refused.field


def _custom_fields_hold(checked: list[CustomField]) -> None:
    assert len(checked) <= 3
    assert len({definition.key for definition in checked}) == len(checked)


def _customer_fields_hold(asked: dict[str, str]) -> None:
    assert set(asked) <= {"name", "email", "phone", "address"}
    assert set(asked.values()) <= {"required", "optional"}


@pytest.mark.parametrize(
    ("check", "where", "holds"),
    [
        (check_custom_fields, "custom_fields", _custom_fields_hold),
        (check_customer_fields, "customer_fields", _customer_fields_hold),
    ],
)
@settings(max_examples=scaled(300))
@given(value=st.lists(json_values, max_size=4) | json_values)
def test_any_definition_is_either_checked_or_refused_by_name(
    check: Callable[[object], Any], where: str, holds: Callable[[Any], None], value: object
) -> None:
    checked, refused = _outcome(check, value)
    if refused is not None:
        _named(refused, where)
    else:
        holds(checked)


class Asking:
    """A link's questions, as check_answers reads them."""

    def __init__(self, customer_fields: dict[str, str], custom_fields: list[Any]) -> None:
        self.customer_fields = check_customer_fields(customer_fields)
        self.custom_fields = check_custom_fields(custom_fields)


SCHOOL = Asking(
    {"name": "required", "email": "optional", "phone": "required", "address": "optional"},
    [
        {**TEXT, "required": True},
        DROPDOWN,
        {"key": "siblings", "type": "number", "label": {"id": "Jumlah saudara"}},
    ],
)
GOOD_CUSTOMER = {"name": " Ani ", "email": "", "phone": "0812 3456 7890", "address": None}
GOOD_CUSTOM = {"student_id": "2027-0042", "class": "7B", "siblings": ""}


def test_answers_are_checked_normalised_and_empty_optional_ones_left_out() -> None:
    customer, custom = check_answers(SCHOOL, GOOD_CUSTOMER, GOOD_CUSTOM)
    assert customer == Customer(name="Ani", phone="+6281234567890")
    assert custom == {"student_id": "2027-0042", "class": "7B"}
    address = {**GOOD_CUSTOMER, "address": "Jl. Merdeka 1\r\nBandung"}
    numbers = {**GOOD_CUSTOM, "siblings": "-2.5"}
    customer, custom = check_answers(SCHOOL, address, numbers)
    assert customer is not None
    assert customer.address == "Jl. Merdeka 1\nBandung"
    assert custom["siblings"] == "-2.5"
    assert check_answers(Asking({}, []), None, None) == (None, {})


@pytest.mark.parametrize(
    ("customer", "custom", "field", "kind"),
    [
        ({"name": "  "}, {}, "customer.name", "required"),
        ({"name": None}, {}, "customer.name", "required"),
        ({"phone": None}, {}, "customer.phone", "required"),
        ({"phone": "12345"}, {}, "customer.phone", "phone"),
        ({"phone": "0812\x003456789"}, {}, "customer.phone", "control"),
        ({"phone": "9" * 33}, {}, "customer.phone", "too_long"),
        ({"email": "ani@"}, {}, "customer.email", "email"),
        ({"email": 42}, {}, "customer.email", "not_text"),
        ({"name": "A\u202eni"}, {}, "customer.name", "control"),
        ({"name": ["Ani"]}, {}, "customer.name", "not_text"),
        ({"name": HUGE}, {}, "customer.name", "too_long"),
        ({"address": "x" * 501}, {}, "customer.address", "too_long"),
        ({}, {"student_id": ""}, "custom_fields.student_id", "required"),
        ({}, {"student_id": "20\n27"}, "custom_fields.student_id", "control"),
        ({}, {"student_id": HUGE}, "custom_fields.student_id", "too_long"),
        ({}, {"student_id": 2027}, "custom_fields.student_id", "not_text"),
        ({}, {"class": "9Z"}, "custom_fields.class", "option"),
        ({}, {"class": "7a"}, "custom_fields.class", "option"),
        ({}, {"class": None}, "custom_fields.class", "required"),
        ({}, {"siblings": "dua"}, "custom_fields.siblings", "number"),
        ({}, {"siblings": "1e3"}, "custom_fields.siblings", "number"),
        ({}, {"siblings": "1,5"}, "custom_fields.siblings", "number"),
        ({}, {"siblings": "9" * 25}, "custom_fields.siblings", "too_long"),
    ],
)
def test_a_bad_answer_is_refused_naming_its_problem(
    customer: dict[str, object], custom: dict[str, object], field: str, kind: str
) -> None:
    with pytest.raises(AnswerInvalidError) as refused:
        check_answers(SCHOOL, {**GOOD_CUSTOMER, **customer}, {**GOOD_CUSTOM, **custom})
    assert (refused.value.field, refused.value.kind) == (field, kind)
    if kind == "too_long":
        assert refused.value.params["limit"] is not None
    assert len(refused.value.message) < 300


def test_an_answer_to_what_the_link_does_not_ask_is_refused() -> None:
    asks = Asking({"name": "optional"}, [TEXT])
    with pytest.raises(InvalidFieldError) as customer:
        check_answers(asks, {"phone": "08123456789"}, {})
    assert customer.value.field == "customer"
    with pytest.raises(InvalidFieldError) as custom:
        check_answers(asks, {}, {HUGE: "x"})
    assert custom.value.field == "custom_fields"
    assert len(custom.value.message) < 200


@settings(max_examples=scaled(300))
@given(
    st.dictionaries(st.sampled_from(["name", "email", "phone", "address"]), json_values),
    st.dictionaries(st.sampled_from(["student_id", "class", "siblings"]), json_values),
)
def test_any_answer_is_either_taken_or_refused_by_name(
    customer: dict[str, object], custom: dict[str, object]
) -> None:
    taken, refused = _outcome(check_answers, SCHOOL, customer, custom)
    if refused is not None:
        assert isinstance(refused, AnswerInvalidError), refused
        _named(refused, "customer.", "custom_fields.")
    else:
        assert taken is not None
        payer, answers = taken
        assert payer is not None
        assert payer.name
        assert payer.phone
        assert payer.phone.startswith("+")
        assert set(answers) >= {"student_id", "class"}
        assert answers["class"] in ("7A", "7B")


def test_the_link_customer_takes_an_address_and_refuses_unknown_parts() -> None:
    assert check_customer({"address": " Jl. Merdeka 1 "}) == Customer(address="Jl. Merdeka 1")
    with pytest.raises(InvalidFieldError) as refused:
        check_customer({"nik": "3201", HUGE: 1})
    assert refused.value.field == "customer"
    assert len(refused.value.message) < 200
