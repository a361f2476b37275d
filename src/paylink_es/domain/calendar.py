"""Settlement dates: T+N business days on the Jakarta calendar.

A payment belongs to the calendar day it was made on in Asia/Jakarta (WIB, UTC+7, no
daylight saving): 16:59:59Z is still that day, 17:00:00Z is the next. That day counts
as T, and when it is not a business day (a weekend or a listed holiday) T moves to the
next business day, so T+0 on a Saturday settles on Monday. N is per method family,
taken from the upper end of each range on the channel price list (conservative: a
merchant told "T+1" is never paid late), and may be overridden per method.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Final

from paylink_es.domain.clock import WIB
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.holidays import INDONESIA_HOLIDAYS
from paylink_es.domain.methods import PAYMENT_METHODS, check_method, method_family

FAMILIES: Final[frozenset[str]] = frozenset(family for family, _ in PAYMENT_METHODS.values())
# Longer than any rail settles; a bigger number is a typo.
MAX_SETTLEMENT_DAYS: Final = 30
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class HolidayInvalidError(InvalidFieldError):
    """An entry of a holiday list is not a calendar date written as YYYY-MM-DD."""

    type = "holiday-invalid"


class SettlementRuleInvalidError(InvalidFieldError):
    """A settlement rule names an unknown method or family, or an impossible day count."""

    type = "settlement-rule-invalid"


class PaidAtInvalidError(InvalidFieldError):
    """A payment time has no time zone, so its Jakarta day is unknowable."""

    type = "paid-at-invalid"


def parse_holidays(values: Iterable[object], field: str = "holidays") -> frozenset[date]:
    """Parse ``["2026-08-17", ...]`` into dates; an error names the bad entry and its index."""
    if isinstance(values, str):
        raise HolidayInvalidError(field, "must be a list of dates, not a single string")
    parsed: set[date] = set()
    for index, value in enumerate(values):
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise HolidayInvalidError(f"{field}[{index}]", f"{value!r} is not a YYYY-MM-DD date")
        try:
            parsed.add(date.fromisoformat(value))
        except ValueError:
            raise HolidayInvalidError(
                f"{field}[{index}]", f"{value!r} is not a day of the calendar"
            ) from None
    return frozenset(parsed)


def _check_days(rules: Mapping[str, int], known: Iterable[str], path: str) -> Mapping[str, int]:
    allowed = set(known)
    for key, days in rules.items():
        if key not in allowed:
            raise SettlementRuleInvalidError(f"{path}.{key}", f"{key!r} is not known here")
        if isinstance(days, bool) or not isinstance(days, int):
            raise SettlementRuleInvalidError(f"{path}.{key}", f"must be an integer, got {days!r}")
        if not 0 <= days <= MAX_SETTLEMENT_DAYS:
            raise SettlementRuleInvalidError(
                f"{path}.{key}", f"must be 0 to {MAX_SETTLEMENT_DAYS} business days, got {days}"
            )
    return MappingProxyType(dict(rules))


@dataclass(frozen=True)
class SettlementRules:
    """Business days from payment to settlement, per method family, overridable per method."""

    days_by_family: Mapping[str, int]
    days_by_method: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_family = _check_days(self.days_by_family, FAMILIES, "days_by_family")
        object.__setattr__(self, "days_by_family", by_family)
        by_method = _check_days(self.days_by_method, PAYMENT_METHODS, "days_by_method")
        object.__setattr__(self, "days_by_method", by_method)

    def days_for(self, method: str) -> int:
        """N in T+N for ``method``."""
        check_method(method)
        if method in self.days_by_method:
            return self.days_by_method[method]
        family = method_family(method)
        if family not in self.days_by_family:
            raise SettlementRuleInvalidError("method", f"no settlement rule for {method!r}")
        return self.days_by_family[family]


DEFAULT_SETTLEMENT_RULES: Final = SettlementRules(
    days_by_family={"virtual_account": 1, "qris": 2, "ewallet": 2, "card": 5, "retail": 5}
)


@dataclass(frozen=True, slots=True)
class SettlementCalendar:
    """Business days: Monday to Friday, minus a configurable list of holidays."""

    holidays: frozenset[date] = frozenset()

    def is_business_day(self, day: date) -> bool:
        """True on a weekday that is not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def next_business_day_from(self, day: date) -> date:
        """``day`` itself when it is a business day, else the first business day after it."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def add_business_days(self, day: date, count: int) -> date:
        """Step ``count`` business days forward (backward when negative); 0 returns ``day``."""
        step = timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_business_day(day):
                remaining -= 1
        return day

    def settlement_date(
        self,
        paid_at: datetime,
        method: str,
        rules: SettlementRules = DEFAULT_SETTLEMENT_RULES,
    ) -> date:
        """The day a payment made at ``paid_at`` with ``method`` settles (T+N, see module)."""
        if paid_at.tzinfo is None or paid_at.utcoffset() is None:
            raise PaidAtInvalidError("paid_at", "must carry a time zone")
        trade_day = self.next_business_day_from(paid_at.astimezone(WIB).date())
        return self.add_business_days(trade_day, rules.days_for(method))


# The days off Indonesia's joint decrees set for 2026 and 2027, national holidays and
# collective leave alike (see :mod:`paylink_es.domain.holidays`: names, and which dates are
# projections of a lunar calendar). The setting ``settlement_holidays`` replaces the list.
INDONESIA: Final = frozenset(holiday.day for holiday in INDONESIA_HOLIDAYS)
