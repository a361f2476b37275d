"""Money: an exact integer count of a currency's minor unit plus its ISO code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from paylink_es.domain.errors import (
    AmountInvalidError,
    CurrencyMismatchError,
    CurrencyUnsupportedError,
)

# Minor-unit exponents as the platform uses them. IDR is whole rupiah (exponent 0)
# even though ISO 4217 lists 2: no Indonesian rail moves sen.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {"IDR": 0, "USD": 2, "SGD": 2, "MYR": 2}

# Anything above this many minor units is a typo or an attack, not a payment: the bound
# of every amount that enters (a link, a payment a channel reports, a refund, a payout).
MAX_MINOR_UNITS: Final = 10**13
# No Money at all — a balance, a sum — holds more than this: every event and every read
# model's 64-bit integer column stays far from overflowing (2**63 is about 9.2 * 10**18),
# even summed over thousands of such amounts.
MAX_MONEY: Final = 10**15

_DIGITS = re.compile(r"[0-9]+")


def check_currency(code: object, field: str = "currency") -> str:
    """Return the currency code if the platform supports it, else raise naming the field."""
    if not isinstance(code, str) or code not in CURRENCY_EXPONENTS:
        supported = ", ".join(sorted(CURRENCY_EXPONENTS))
        raise CurrencyUnsupportedError(field, f"{code!r} is not supported (use one of {supported})")
    return code


def parse_minor_units(value: object, field: str = "amount") -> int:
    """Parse a positive whole number of minor units; reject floats, fractions and junk."""
    if isinstance(value, bool):
        raise AmountInvalidError(field, "must be a whole number, not a boolean")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= 20:
        amount = int(value)
    elif isinstance(value, float | str):
        raise AmountInvalidError(field, f"{value!r} is not a whole number of minor units")
    else:
        raise AmountInvalidError(field, f"must be an integer, got {type(value).__name__}")
    if amount <= 0:
        raise AmountInvalidError(field, f"must be greater than zero, got {amount}")
    if amount > MAX_MINOR_UNITS:
        raise AmountInvalidError(field, f"{amount} is above the limit of {MAX_MINOR_UNITS}")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    """An immutable, exact amount; arithmetic across currencies raises."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        # Exactly int (a bool is not an amount), within bounds, and a known code: one test
        # on the hot path. Stored events are decoded through here too, so no event can
        # carry an amount the read models cannot hold.
        if (
            type(self.amount) is int
            and -MAX_MONEY <= self.amount <= MAX_MONEY
            and type(self.currency) is str
            and self.currency in CURRENCY_EXPONENTS
        ):
            return
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise AmountInvalidError("amount", f"must be an integer, got {self.amount!r}")
        if not -MAX_MONEY <= self.amount <= MAX_MONEY:
            raise AmountInvalidError("amount", f"{self.amount} is beyond the limit of {MAX_MONEY}")
        check_currency(self.currency)

    @classmethod
    def of(cls, value: object, currency: object, field: str = "amount") -> Money:
        """Build a positive amount from user input, naming ``field`` in any error."""
        return cls(parse_minor_units(value, field), check_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """The zero amount of ``currency``."""
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} with {other.currency}", field="currency"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        """True when the amount is exactly zero."""
        return self.amount == 0

    def to_decimal_string(self) -> str:
        """Render in major units with the currency's exponent, e.g. IDR 10000 -> '10000'."""
        exponent = CURRENCY_EXPONENTS[self.currency]
        if exponent == 0:
            return str(self.amount)
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exponent)
        return f"{sign}{whole}.{frac:0{exponent}d}"

    def __str__(self) -> str:
        return f"{self.currency} {self.to_decimal_string()}"
