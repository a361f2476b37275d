"""Money is exact, immutable, and loud about mixing currencies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from paylink_es.domain.errors import (
    AmountInvalidError,
    CurrencyMismatchError,
    CurrencyUnsupportedError,
)
from paylink_es.domain.money import MAX_MINOR_UNITS, MAX_MONEY, Money


def test_adds_and_subtracts_exactly_in_minor_units() -> None:
    assert Money(150_000, "IDR") + Money(2_500, "IDR") == Money(152_500, "IDR")
    assert Money(150_000, "IDR") - Money(200_000, "IDR") == Money(-50_000, "IDR")
    assert -Money(7, "USD") == Money(-7, "USD")


def test_ten_dimes_make_exactly_one_dollar() -> None:
    total = Money.zero("USD")
    for _ in range(10):
        total = total + Money(10, "USD")
    assert total == Money(100, "USD")
    assert total.to_decimal_string() == "1.00"


def test_stays_an_exact_integer_up_to_its_bound_and_refuses_to_go_beyond() -> None:
    big = Money(MAX_MONEY - 1, "IDR") + Money(1, "IDR")
    assert big.amount == MAX_MONEY
    assert type(big.amount) is int
    with pytest.raises(AmountInvalidError):
        big + Money(1, "IDR")
    with pytest.raises(AmountInvalidError):
        Money(-MAX_MONEY, "IDR") - Money(1, "IDR")


def test_compares_amounts_of_one_currency() -> None:
    assert Money(1, "IDR") < Money(2, "IDR") <= Money(2, "IDR")
    assert Money(3, "IDR") > Money(2, "IDR") >= Money(2, "IDR")
    assert Money.zero("IDR").is_zero
    assert not Money(1, "IDR").is_zero


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "subtract", "lt", "le", "gt", "ge"],
)
def test_refuses_to_combine_rupiah_with_dollars(combine: Callable[[Money, Money], object]) -> None:
    with pytest.raises(CurrencyMismatchError) as raised:
        combine(Money(100, "IDR"), Money(100, "USD"))
    assert raised.value.field == "currency"


def test_amounts_in_different_currencies_are_never_equal() -> None:
    assert Money(100, "IDR") != Money(100, "USD")


def test_renders_rupiah_as_whole_units() -> None:
    assert Money(150_000, "IDR").to_decimal_string() == "150000"
    assert str(Money(150_000, "IDR")) == "IDR 150000"


@pytest.mark.parametrize(
    ("minor", "rendered"),
    [(1050, "10.50"), (5, "0.05"), (100, "1.00"), (0, "0.00"), (-5, "-0.05"), (-1050, "-10.50")],
)
def test_renders_dollars_with_cents(minor: int, rendered: str) -> None:
    assert Money(minor, "USD").to_decimal_string() == rendered
    assert str(Money(minor, "USD")) == f"USD {rendered}"


@pytest.mark.parametrize("amount", [10.0, 1.5, Decimal("10"), "10", True, None])
def test_holds_only_integer_minor_units(amount: object) -> None:
    with pytest.raises(AmountInvalidError) as raised:
        Money(amount, "IDR")  # type: ignore[arg-type]
    assert raised.value.field == "amount"


@pytest.mark.parametrize("currency", ["XXX", "idr", "", "Rp", None])
def test_knows_only_the_currencies_the_platform_settles(currency: object) -> None:
    with pytest.raises(CurrencyUnsupportedError) as raised:
        Money(100, currency)  # type: ignore[arg-type]
    assert raised.value.field == "currency"


def test_parses_user_input_of_whole_minor_units() -> None:
    assert Money.of(150_000, "IDR") == Money(150_000, "IDR")
    assert Money.of("150000", "IDR") == Money(150_000, "IDR")
    assert Money.of(MAX_MINOR_UNITS, "IDR").amount == MAX_MINOR_UNITS


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        1.5,
        10.0,
        "1.5",
        "10.00",
        "1e5",
        " 100",
        "abc",
        "",
        None,
        [],
        True,
        False,
        Decimal("100"),
        MAX_MINOR_UNITS + 1,
        10**14,
    ],
)
def test_rejects_user_input_that_is_not_a_positive_whole_amount(value: object) -> None:
    with pytest.raises(AmountInvalidError) as raised:
        Money.of(value, "IDR", field="amount_max")
    assert raised.value.field == "amount_max"


def test_cannot_be_changed_after_it_is_made() -> None:
    money = Money(100, "IDR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = 200  # type: ignore[misc]
    assert money == Money(100, "IDR")
