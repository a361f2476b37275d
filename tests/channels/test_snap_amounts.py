"""Amounts at the SNAP edge: Money <-> {"value": "10000.00", "currency": "IDR"}, exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_es.channels.snap import money_from_snap, money_to_snap
from paylink_es.errors import AmountInvalidError, CurrencyUnsupportedError
from paylink_es.money import MAX_MINOR_UNITS, Money


def test_rupiah_go_out_with_two_zero_decimals_and_come_back() -> None:
    wire = money_to_snap(Money(10_000, "IDR"))
    assert wire == {"value": "10000.00", "currency": "IDR"}
    assert money_from_snap(wire) == Money(10_000, "IDR")


def test_cents_currencies_keep_their_cents() -> None:
    assert money_to_snap(Money(1_234, "USD")) == {"value": "12.34", "currency": "USD"}
    assert money_from_snap({"value": "0.05", "currency": "USD"}) == Money(5, "USD")


@pytest.mark.parametrize(
    "value",
    [
        "10000.50",
        "1e4",
        "-5.00",
        "10,000.00",
        "10000",
        "10000.0",
        "10000.000",
        " 10000.00",
        "010000.00",
        "0.00",
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


@settings(max_examples=50)
@given(
    amount=st.integers(min_value=1, max_value=MAX_MINOR_UNITS),
    currency=st.sampled_from(["IDR", "USD"]),
)
def test_any_positive_amount_round_trips(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert money_from_snap(money_to_snap(money)) == money
