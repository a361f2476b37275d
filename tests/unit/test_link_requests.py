"""A link request with any bad field is refused by name, and nothing is stored."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import (
    AmountInvalidError,
    AmountRangeInvalidError,
    CurrencyUnsupportedError,
    DomainError,
    ExpiryInvalidError,
    InvalidFieldError,
    PaymentMethodUnknownError,
    TextInvalidError,
    UsageLimitInvalidError,
)
from paylink_es.domain.fields import Customer
from paylink_es.domain.methods import DEFAULT_METHODS
from paylink_es.domain.terms import LineItem, LinkTerms
from tests.support.examples import scaled
from tests.unit.conftest import Refused

NOW = FakeClock()()  # the instant every FakeClock starts at
CONTROL_CHARACTERS = ["\x00", "\x1b", "\x7f", "\u200b", "\u202e", "\ufeff"]


def bad(
    error: type[DomainError], field: str, **overrides: Any
) -> Any:  # a pytest.param; pytest does not export its type
    """One bad request: the fields to replace, the error it must raise, the field it names."""
    name = f"{field}-{next(iter(overrides.values()))!r}"[:60]
    return pytest.param(overrides, error, field, id=name)


BAD_AMOUNTS = [
    bad(AmountInvalidError, "amount", amount=value)
    for value in [0, -1, -150_000, 1.5, 150_000.0, "1.5", "abc", "1e5", [], {}, True, 10**14]
]
BAD_RANGES = [
    bad(AmountInvalidError, "amount_min", amount=None, amount_min=0),
    bad(AmountInvalidError, "amount_min", amount=None, amount_min="1.5"),
    bad(AmountInvalidError, "amount_max", amount=None, amount_min=1_000, amount_max=-1),
    bad(AmountInvalidError, "amount_max", amount=None, amount_min=1_000, amount_max=10**14),
    bad(AmountInvalidError, "amount", amount=None),
    bad(AmountRangeInvalidError, "amount_min", amount=None, amount_max=50_000),
    bad(AmountRangeInvalidError, "amount_min", amount=None, amount_min=5_000, amount_max=1_000),
    bad(AmountRangeInvalidError, "amount", amount=10_000, amount_min=5_000),
]
BAD_CURRENCIES = [
    bad(CurrencyUnsupportedError, "currency", currency=value)
    for value in ["XXX", "idr", "Rp", "", None, 360]
]
BAD_EXPIRIES = [
    bad(ExpiryInvalidError, "expires_at", expires_at=value)
    for value in [
        NOW - timedelta(minutes=1),
        NOW,
        datetime(2026, 2, 1, 12, 0),  # noqa: DTZ001 - naive on purpose
        "2026-02-01T12:00:00",
        "2026-02-01",
        "tomorrow",
        "2026-13-01T00:00:00+07:00",
        NOW + timedelta(days=366, seconds=1),
        NOW + timedelta(days=3650),
        1_767_600_000,
    ]
]
BAD_USAGE_LIMITS = [
    bad(UsageLimitInvalidError, "usage_limit", usage_limit=value)
    for value in [0, -1, 1.5, True, False, "1", 10**7]
]
BAD_DESCRIPTIONS = [
    bad(TextInvalidError, "description", description=value)
    for value in ["", "   ", " \n\t ", "x" * 10_000, None, 42, ["Kaos"]]
    + [f"Kaos{char}hitam" for char in CONTROL_CHARACTERS]
]
BAD_REFERENCES = [
    bad(InvalidFieldError, "reference_id", reference_id=value)
    for value in ["", " INV-1", "INV 1", "-INV", "x" * 65, 42]
    + [f"INV{char}1" for char in CONTROL_CHARACTERS]
]
BAD_METHODS = [
    bad(PaymentMethodUnknownError, "methods[0]", methods=["bitcoin"]),
    bad(PaymentMethodUnknownError, "methods[1]", methods=["qris", "paypal"]),
    bad(PaymentMethodUnknownError, "methods[0]", methods=["QRIS"]),
    bad(PaymentMethodUnknownError, "methods[0]", methods=[None]),
    bad(PaymentMethodUnknownError, "methods", methods=[]),
    bad(PaymentMethodUnknownError, "methods", methods="qris"),
]
# Contact details a customer cannot be reached at, by part.
UNREACHABLE = {
    "email": ["budi", "budi@", "@example.com", "budi@example", "budi@@example.com", "a b@x.id"],
    "phone": ["12345", "0812", "+62 12", "0812abc45678", "+0812345678", "+62812345678901234"],
}
BAD_CUSTOMERS = [
    bad(InvalidFieldError, f"customer.{part}", customer={part: value})
    for part, values in UNREACHABLE.items()
    for value in values
] + [
    bad(TextInvalidError, "customer.name", customer={"name": "Bu\x00di"}),
    bad(TextInvalidError, "customer.name", customer={"name": "Bu\u200bdi"}),
    bad(TextInvalidError, "customer.email", customer={"email": 42}),
    bad(InvalidFieldError, "customer", customer={"nama": "Budi"}),
    bad(InvalidFieldError, "customer", customer="Budi"),
]
BAD_LINE_ITEMS = [
    bad(AmountInvalidError, "line_items", line_items=[{"name": "Kaos", "unit_amount": 100_000}]),
    bad(
        AmountInvalidError,
        "line_items",
        amount=150_001,
        line_items=[{"name": "Kaos", "quantity": 3, "unit_amount": 50_000}],
    ),
    bad(
        InvalidFieldError,
        "line_items[0].quantity",
        line_items=[{"name": "Kaos", "quantity": 0, "unit_amount": 150_000}],
    ),
    bad(
        InvalidFieldError,
        "line_items[0].quantity",
        line_items=[{"name": "Kaos", "quantity": 1.5, "unit_amount": 100_000}],
    ),
    bad(
        AmountInvalidError,
        "line_items[0].unit_amount",
        line_items=[{"name": "Kaos", "quantity": 1, "unit_amount": "150000.0"}],
    ),
    bad(
        TextInvalidError,
        "line_items[0].name",
        line_items=[{"name": "Ka\x1bos", "quantity": 1, "unit_amount": 150_000}],
    ),
    bad(InvalidFieldError, "line_items[0]", line_items=["Kaos"]),
    bad(InvalidFieldError, "line_items", line_items="Kaos"),
]
BAD_OTHERS = [
    bad(InvalidFieldError, "colour", colour="black"),
    bad(InvalidFieldError, "amount_minimum", amount_minimum=1),
    bad(InvalidFieldError, "success_url", success_url="javascript:alert(1)"),
    bad(InvalidFieldError, "failure_url", failure_url="/relative/path"),
    bad(InvalidFieldError, "metadata", metadata=["order", "42"]),
    bad(TextInvalidError, "metadata.order", metadata={"order": "4\x002"}),
    bad(InvalidFieldError, "mode", mode="production"),
]


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    BAD_AMOUNTS
    + BAD_RANGES
    + BAD_CURRENCIES
    + BAD_EXPIRIES
    + BAD_USAGE_LIMITS
    + BAD_DESCRIPTIONS
    + BAD_REFERENCES
    + BAD_METHODS
    + BAD_CUSTOMERS
    + BAD_LINE_ITEMS
    + BAD_OTHERS,
)
def test_refuses_a_bad_field_by_name_and_stores_nothing(
    new_link: Callable[..., UUID],
    refused: Refused,
    overrides: dict[str, Any],
    error: type[DomainError],
    field: str,
) -> None:
    raised = refused(DomainError, lambda: new_link(**overrides))
    assert type(raised) is error
    assert raised.field == field


@pytest.mark.parametrize("methods", [42, 1.5, True])
def test_refuses_methods_that_are_not_a_list(
    new_link: Callable[..., UUID], methods: object
) -> None:
    with pytest.raises(PaymentMethodUnknownError) as raised:
        new_link(methods=methods)
    assert raised.value.field == "methods"


@pytest.mark.parametrize(
    "email", ["budi@example..com", "budi@example-.com", "budi@toko.-example.com"]
)
def test_refuses_an_email_whose_domain_has_a_broken_label(
    new_link: Callable[..., UUID], email: str
) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        new_link(customer={"email": email})
    assert raised.value.field == "customer.email"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", TextInvalidError),
        ("   ", TextInvalidError),
        (None, TextInvalidError),
        ("x" * 201, TextInvalidError),
        ("Toko\nBudi", TextInvalidError),
    ]
    + [(f"Toko{char}Budi", TextInvalidError) for char in CONTROL_CHARACTERS],
)
def test_refuses_a_merchant_name_that_is_empty_too_long_or_has_control_characters(
    memory_app: Paylink, name: object, error: type[DomainError]
) -> None:
    with pytest.raises(DomainError) as raised:
        memory_app.merchants.register(name)  # type: ignore[arg-type]
    assert type(raised.value) is error
    assert raised.value.field == "name"
    assert memory_app.app.recorder.max_notification_id() is None


def test_refuses_a_merchant_email_that_is_not_an_address(memory_app: Paylink) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        memory_app.merchants.register("Toko Budi", "budi.example.com")
    assert raised.value.field == "email"
    assert memory_app.app.recorder.max_notification_id() is None


# -- what a good request becomes ------------------------------------------------------


def test_creates_a_fixed_amount_link_with_the_terms_asked_for(
    memory_app: Paylink, new_link: Callable[..., UUID], merchant_id: UUID
) -> None:
    expires_at = datetime.fromisoformat("2026-01-20T23:59:00+07:00")
    link = memory_app.links.get(
        new_link(expires_at=expires_at.isoformat(), reference_id="INV-2026-0042")
    )
    assert link.merchant_id == merchant_id
    assert link.status == "active"
    assert (link.amount, link.amount_min, link.amount_max) == (150_000, None, None)
    assert link.currency == "IDR"
    assert link.description == "Kaos polos hitam"
    assert link.methods == ["va_bca", "qris"]
    assert link.expires_at == expires_at
    assert link.expires_at is not None
    assert link.expires_at.utcoffset() == timedelta(hours=7)
    assert link.usage_limit == 1
    assert link.reference_id == "INV-2026-0042"
    assert (link.uses, link.collected) == (0, 0)
    assert memory_app.links.id_for_code(link.code) == link.id
    assert len(link.code) == 12


def test_creates_an_open_amount_link_within_min_and_max(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link = memory_app.links.get(new_link(amount=None, amount_min=10_000, amount_max=500_000))
    assert (link.amount, link.amount_min, link.amount_max) == (None, 10_000, 500_000)


def test_an_open_amount_is_asked_for_with_its_minimum(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link = memory_app.links.get(new_link(amount=None, amount_min=10_000))
    assert (link.amount, link.amount_min, link.amount_max) == (None, 10_000, None)


def test_line_items_give_the_amount_when_none_is_given(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    items = [
        {"name": "Kaos polos hitam", "quantity": 2, "unit_amount": 50_000},
        {"name": "Ongkos kirim", "unit_amount": 25_000},
    ]
    link = memory_app.links.get(new_link(amount=None, line_items=items))
    assert link.amount == 125_000
    assert link.line_items == [
        LineItem("Kaos polos hitam", 2, 50_000),
        LineItem("Ongkos kirim", 1, 25_000),
    ]


def test_line_items_that_match_the_amount_are_kept(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    items = [{"name": "Kaos", "quantity": 3, "unit_amount": 50_000}]
    link = memory_app.links.get(new_link(line_items=items))
    assert (link.amount, link.line_items) == (150_000, [LineItem("Kaos", 3, 50_000)])


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("0812-3456-7890", "+6281234567890"),
        ("0812 3456 7890", "+6281234567890"),
        ("62 812 3456 7890", "+6281234567890"),
        ("+62 (812) 3456-7890", "+6281234567890"),
        ("0062812345678", "+62812345678"),
        ("+14155550100", "+14155550100"),
    ],
)
def test_normalises_the_customer_phone_to_e164(
    memory_app: Paylink, new_link: Callable[..., UUID], given: str, stored: str
) -> None:
    link = memory_app.links.get(new_link(customer={"name": "Budi", "phone": given}))
    assert link.customer == Customer(name="Budi", email=None, phone=stored)


def test_lower_cases_only_the_domain_of_the_customer_email(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link = memory_app.links.get(new_link(customer={"email": " Budi.S@Example.CO.ID "}))
    assert link.customer == Customer(email="Budi.S@example.co.id")


def test_an_empty_customer_is_no_customer(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link = memory_app.links.get(new_link(customer={"name": "  ", "email": None}))
    assert link.customer is None


def test_keeps_line_breaks_and_trims_the_description(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link = memory_app.links.get(new_link(description="  Kaos polos hitam\n\tukuran L  \n"))
    assert link.description == "Kaos polos hitam\n\tukuran L"


def test_accepts_a_description_with_the_line_breaks_a_browser_sends(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link = memory_app.links.get(new_link(description="Kaos polos hitam\r\nukuran L"))
    assert link.description == "Kaos polos hitam\nukuran L"


def test_accepts_a_description_of_exactly_the_limit(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    assert len(memory_app.links.get(new_link(description="x" * 1000)).description) == 1000


def test_accepts_every_method_when_none_are_named_and_drops_repeats(
    memory_app: Paylink, new_link: Callable[..., UUID], link_request: dict[str, Any]
) -> None:
    repeated = memory_app.links.get(new_link(methods=["qris", "va_bca", "qris"]))
    assert repeated.methods == ["qris", "va_bca"]
    del link_request["methods"]
    every = memory_app.links.get(new_link())
    assert every.methods == list(DEFAULT_METHODS)


@pytest.mark.parametrize("limit", [1, 2, 1_000_000, None])
def test_keeps_the_usage_limit_asked_for(
    memory_app: Paylink, new_link: Callable[..., UUID], limit: int | None
) -> None:
    assert memory_app.links.get(new_link(usage_limit=limit)).usage_limit == limit


def test_a_link_is_single_use_unless_told_otherwise(
    memory_app: Paylink, new_link: Callable[..., UUID], link_request: dict[str, Any]
) -> None:
    del link_request["usage_limit"]
    assert memory_app.links.get(new_link()).usage_limit == 1


def test_accepts_an_expiry_exactly_366_days_ahead_in_any_offset(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    jakarta = timezone(timedelta(hours=7))
    last = (NOW + timedelta(days=366)).astimezone(jakarta)
    assert memory_app.links.get(new_link(expires_at=last.isoformat())).expires_at == last
    assert memory_app.links.get(new_link(expires_at=None)).expires_at is None


# -- anything at all ----------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=4),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
ITERABLE_JUNK = JUNK
FIELDS = sorted(LinkTerms.__dataclass_fields__)


@settings(max_examples=scaled(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    overrides=st.dictionaries(st.sampled_from(FIELDS), JUNK, min_size=1, max_size=2),
    methods=ITERABLE_JUNK,
    with_methods=st.booleans(),
)
@example(overrides={"allow_partial": True}, methods=None, with_methods=False)
def test_any_value_in_any_field_is_either_accepted_or_refused_by_name(
    overrides: dict[str, Any], methods: object, with_methods: bool
) -> None:
    clock = FakeClock()
    app = Paylink.open({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    merchant_id = app.merchants.register("Toko Budi")
    request: dict[str, Any] = {
        "amount": 150_000,
        "description": "Kaos",
        "expires_at": clock() + timedelta(days=1),
    }
    overrides.pop("methods", None)
    if with_methods:
        overrides["methods"] = methods
    request.update(overrides)
    stored = app.app.recorder.max_notification_id()
    result = create_or_refuse(app, merchant_id, request)
    if isinstance(result, DomainError):
        assert result.field is not None
        # A refusal names a field that was sent, or one the fields sent need and leave
        # out: the amount a link needs (amount, or amount_min beside an amount_max), the
        # least first part of a link paid in parts (partial_min beside allow_partial).
        needed = {"amount", "amount_min"} | (
            {"partial_min"} if "allow_partial" in overrides else set()
        )
        assert re.split(r"[.\[ ]", result.field)[0] in {*overrides, *needed}
        assert app.app.recorder.max_notification_id() == stored
    else:
        assert app.links.get(result).status == "active"
    app.close()


def create_or_refuse(
    app: Paylink, merchant_id: UUID, request: dict[str, Any]
) -> UUID | DomainError:
    """The new link's id, or the domain error that refused the request."""
    try:
        return app.links.create(merchant_id, **request)
    except DomainError as error:
        return error
