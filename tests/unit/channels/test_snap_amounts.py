"""Amounts and instants at the SNAP edge: Money <-> {"value": "10000.00", "currency": "IDR"},
exactly; Winpay's "10000" as well as "10000.00"; timestamps with or without milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_es.channels.snap_messages import money_from_snap, money_to_snap, parse_snap_datetime
from paylink_es.domain.errors import AmountInvalidError, CurrencyUnsupportedError, InvalidFieldError
from paylink_es.domain.money import MAX_MINOR_UNITS, Money
from paylink_es.locale import WIB
from tests.support.examples import scaled


def test_rupiah_go_out_with_two_zero_decimals_and_come_back() -> None:
    wire = money_to_snap(Money(10_000, "IDR"))
    assert wire == {"value": "10000.00", "currency": "IDR"}
    assert money_from_snap(wire) == Money(10_000, "IDR")


@pytest.mark.parametrize("value", ["10000", "10000.00"])
def test_winpay_amounts_come_with_or_without_decimals(value: str) -> None:
    assert money_from_snap({"value": value, "currency": "IDR"}, "paidAmount") == Money(
        10_000, "IDR"
    )


def test_cents_currencies_keep_their_cents() -> None:
    assert money_to_snap(Money(1_234, "USD")) == {"value": "12.34", "currency": "USD"}
    assert money_from_snap({"value": "0.05", "currency": "USD"}) == Money(5, "USD")
    assert money_from_snap({"value": "12", "currency": "USD"}) == Money(1_200, "USD")


@pytest.mark.parametrize(
    "value",
    [
        "10000.50",
        "1e4",
        "-5.00",
        "10,000.00",
        "10000.0",
        "10000.000",
        "10000.",
        ".50",
        " 10000.00",
        "10000 ",
        "010000.00",
        "010000",
        "0.00",
        "0",
        "",
        "\uff11\uff10\uff10\uff10\uff10",  # fullwidth digits
        10000,
        10000.0,
        None,
        True,
    ],
)
def test_what_does_not_convert_exactly_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(AmountInvalidError) as caught:
        money_from_snap({"value": value, "currency": "IDR"}, "paidAmount")
    assert caught.value.field == "paidAmount.value"


def test_an_unknown_currency_is_refused_naming_the_field() -> None:
    with pytest.raises(CurrencyUnsupportedError) as caught:
        money_from_snap({"value": "1.00", "currency": "XYZ"}, "totalAmount")
    assert caught.value.field == "totalAmount.currency"


def test_an_amount_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(AmountInvalidError) as caught:
        money_from_snap("10000.00", "paidAmount")
    assert caught.value.field == "paidAmount"


def test_zero_or_negative_money_is_not_sent() -> None:
    with pytest.raises(AmountInvalidError):
        money_to_snap(Money.zero("IDR"), "totalAmount")


@settings(max_examples=scaled(50))
@given(
    amount=st.integers(min_value=1, max_value=MAX_MINOR_UNITS),
    currency=st.sampled_from(["IDR", "USD"]),
)
def test_any_positive_amount_round_trips(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert money_from_snap(money_to_snap(money)) == money


@settings(max_examples=scaled(50))
@given(rupiah=st.integers(min_value=1, max_value=MAX_MINOR_UNITS))
def test_any_whole_rupiah_reads_the_same_with_and_without_decimals(rupiah: int) -> None:
    plain = money_from_snap({"value": str(rupiah), "currency": "IDR"})
    decimal = money_from_snap({"value": f"{rupiah}.00", "currency": "IDR"})
    assert plain == decimal == Money(rupiah, "IDR")


# -- instants -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-01-11T08:57:55+07:00", datetime(2024, 1, 11, 8, 57, 55, tzinfo=WIB)),
        (
            "2024-01-11T08:57:55.123+07:00",
            datetime(2024, 1, 11, 8, 57, 55, 123_000, tzinfo=WIB),
        ),
        (
            "2024-01-11T08:57:55.123456+07:00",
            datetime(2024, 1, 11, 8, 57, 55, 123_456, tzinfo=WIB),
        ),
        ("2024-02-26T19:04:51+00:00", datetime(2024, 2, 26, 19, 4, 51, tzinfo=UTC)),
        ("2024-01-11T01:57:55Z", datetime(2024, 1, 11, 1, 57, 55, tzinfo=UTC)),
        ("2024-01-11T01:57:55.5Z", datetime(2024, 1, 11, 1, 57, 55, 500_000, tzinfo=UTC)),
    ],
)
def test_timestamps_read_with_or_without_milliseconds_and_with_z(
    text: str, moment: datetime
) -> None:
    parsed = parse_snap_datetime(text, "trxDateTime")
    assert parsed == moment
    assert parsed.utcoffset() is not None


def test_the_offset_is_kept() -> None:
    parsed = parse_snap_datetime("2024-01-11T08:57:55+07:00", "trxDateTime")
    assert parsed.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-11T08:57:55",  # no offset
        "2024-01-11 08:57:55+07:00",
        "2024-01-11T08:57+07:00",
        "2024-01-11T08:57:55.+07:00",
        "2024-01-11T08:57:55.1234567+07:00",
        "2024-01-11T08:57:55+0700",
        "2024-02-30T08:57:55+07:00",  # no such day
        "2024-01-11T25:57:55+07:00",
        "11/01/2024 08:57:55",
        "",
        None,
        1704938275,
    ],
)
def test_anything_else_is_refused_naming_the_field(text: object) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        parse_snap_datetime(text, "trxDateTime")
    assert caught.value.field == "trxDateTime"
