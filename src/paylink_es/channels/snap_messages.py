"""SNAP messages on the wire: JSON bodies, amounts and date-times.

Bodies are sent (and hashed for signatures) as minified JSON. Amounts cross the wire as
``{"value": "10000.00", "currency": "IDR"}`` and become :class:`Money` at this edge,
exactly or not at all; timestamps are seconds in Jakarta time with an offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from paylink_es.domain.errors import AmountInvalidError, InvalidFieldError
from paylink_es.domain.money import CURRENCY_EXPONENTS, Money, check_currency
from paylink_es.locale import WIB


def minify(payload: Mapping[str, Any]) -> bytes:
    """The JSON bytes to send and to hash: no whitespace between tokens."""
    return json.dumps(payload, separators=(",", ":")).encode()


# Winpay sends amounts both as "10000.00" and as "10000" (Winpay's own VA example).
_WIRE_VALUE = re.compile(r"(0|[1-9][0-9]{0,15})(\.[0-9]{2})?")
# Seconds, optionally with a fraction (Winpay's examples have none; some senders add
# milliseconds), and an offset or Z.
_WIRE_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([+-][0-9]{2}:[0-9]{2}|Z)"
)


def money_to_snap(amount: Money, field: str = "amount") -> dict[str, str]:
    """``Money(10000, "IDR")`` -> ``{"value": "10000.00", "currency": "IDR"}``."""
    if amount.amount <= 0:
        raise AmountInvalidError(field, f"must be greater than zero, got {amount}")
    hundredths = amount.amount * 10 ** (2 - CURRENCY_EXPONENTS[amount.currency])
    whole, cents = divmod(hundredths, 100)
    return {"value": f"{whole}.{cents:02d}", "currency": amount.currency}


def money_from_snap(wire: object, field: str = "amount") -> Money:
    """A SNAP amount object as Money, refusing anything that does not convert exactly."""
    if not isinstance(wire, dict):
        raise AmountInvalidError(field, "must be an object with value and currency")
    value = wire.get("value")
    if not isinstance(value, str) or not _WIRE_VALUE.fullmatch(value):
        raise AmountInvalidError(f"{field}.value", f"{value!r} is not an amount like '10000.00'")
    currency = check_currency(wire.get("currency"), f"{field}.currency")
    whole, _, cents = value.partition(".")
    hundredths = int(whole) * 100 + int(cents or "0")
    minor, rest = divmod(hundredths, 10 ** (2 - CURRENCY_EXPONENTS[currency]))
    if rest:
        raise AmountInvalidError(
            f"{field}.value", f"{value!r} is not a whole number of {currency} minor units"
        )
    return Money.of(minor, currency, f"{field}.value")


def snap_timestamp(moment: datetime) -> str:
    """``2024-01-11T08:57:55+07:00``: seconds, Jakarta time."""
    if moment.tzinfo is None:
        raise ValueError("a SNAP timestamp needs an aware datetime")
    return moment.astimezone(WIB).isoformat(timespec="seconds")


def parse_snap_datetime(value: object, field: str) -> datetime:
    """An aware datetime from ``YYYY-MM-DDTHH:mm:ss[.fff]+07:00`` (or ``Z``).

    Anything else is an InvalidFieldError naming ``field``.
    """
    if not isinstance(value, str) or not _WIRE_DATETIME.fullmatch(value):
        raise InvalidFieldError(field, f"{value!r} is not like 2024-01-11T08:57:55+07:00")
    try:
        return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError as error:
        raise InvalidFieldError(field, f"{value!r} is not a real date and time") from error
