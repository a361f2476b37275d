"""Settlement dates count business days on the Jakarta calendar, skipping weekends and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink_es.domain.calendar import (
    DEFAULT_SETTLEMENT_RULES,
    INDONESIA,
    HolidayInvalidError,
    PaidAtInvalidError,
    SettlementCalendar,
    SettlementRuleInvalidError,
    SettlementRules,
    parse_holidays,
)
from paylink_es.domain.errors import PaymentMethodUnknownError
from paylink_es.domain.methods import PAYMENT_METHODS
from paylink_es.locale import WIB

CALENDAR = SettlementCalendar(INDONESIA)
T_PLUS_0 = SettlementRules(days_by_family={"virtual_account": 0})

days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))
holiday_sets = st.frozensets(days, max_size=40)
counts = st.integers(0, 40)


def wib(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=WIB)


def test_weekdays_are_business_days_and_weekends_and_holidays_are_not() -> None:
    assert CALENDAR.is_business_day(date(2026, 8, 14))  # Friday
    assert not CALENDAR.is_business_day(date(2026, 8, 15))  # Saturday
    assert not CALENDAR.is_business_day(date(2026, 8, 16))  # Sunday
    assert not CALENDAR.is_business_day(date(2026, 8, 17))  # Independence Day, a Monday
    assert SettlementCalendar().is_business_day(date(2026, 8, 17))


@pytest.mark.parametrize(
    ("method", "paid_on", "settles_on"),
    [
        ("va_bca", date(2026, 3, 2), date(2026, 3, 3)),  # Mon -> Tue
        ("qris", date(2026, 3, 2), date(2026, 3, 4)),
        ("ewallet_dana", date(2026, 3, 5), date(2026, 3, 9)),  # Thu -> Mon over the weekend
        ("card", date(2026, 3, 2), date(2026, 3, 9)),
        ("retail_indomaret", date(2026, 3, 6), date(2026, 3, 13)),
    ],
)
def test_each_family_settles_at_the_top_of_its_published_range(
    method: str, paid_on: date, settles_on: date
) -> None:
    paid_at = wib(paid_on.year, paid_on.month, paid_on.day)
    assert CALENDAR.settlement_date(paid_at, method) == settles_on


def test_a_va_paid_the_friday_before_independence_day_settles_on_tuesday() -> None:
    assert CALENDAR.settlement_date(wib(2026, 8, 14), "va_mandiri") == date(2026, 8, 18)


def test_a_va_paid_on_christmas_eve_counts_from_the_monday_after_christmas() -> None:
    # 24 December 2026 is collective leave, the 25th Christmas, then a weekend: T is the
    # 28th and T+1 the 29th.
    assert CALENDAR.settlement_date(wib(2026, 12, 24), "va_bri") == date(2026, 12, 29)


def test_t_plus_0_on_a_saturday_lands_on_monday() -> None:
    assert CALENDAR.settlement_date(wib(2026, 3, 7), "va_bca", T_PLUS_0) == date(2026, 3, 9)
    assert CALENDAR.settlement_date(wib(2026, 3, 4), "va_bca", T_PLUS_0) == date(2026, 3, 4)


def test_a_payment_made_on_a_weekend_counts_from_the_next_business_day() -> None:
    # Saturday -> T is Monday -> T+1 is Tuesday.
    assert CALENDAR.settlement_date(wib(2026, 3, 7), "va_bca") == date(2026, 3, 10)


def test_the_jakarta_day_ends_at_17_00_utc() -> None:
    last_second = datetime(2026, 3, 5, 16, 59, 59, tzinfo=UTC)  # Thu 23:59:59 WIB
    next_day = datetime(2026, 3, 5, 17, 0, 0, tzinfo=UTC)  # Fri 00:00:00 WIB
    assert CALENDAR.settlement_date(last_second, "va_bca") == date(2026, 3, 6)
    assert CALENDAR.settlement_date(next_day, "va_bca") == date(2026, 3, 9)


def test_any_time_zone_gives_the_same_answer_for_the_same_instant() -> None:
    instant = datetime(2026, 3, 5, 17, 30, tzinfo=UTC)
    new_york = instant.astimezone(timezone(timedelta(hours=-5)))
    assert CALENDAR.settlement_date(new_york, "qris") == CALENDAR.settlement_date(instant, "qris")


def test_a_payment_time_without_a_time_zone_is_refused() -> None:
    with pytest.raises(PaidAtInvalidError) as raised:
        CALENDAR.settlement_date(datetime(2026, 3, 5, 10), "va_bca")  # noqa: DTZ001
    assert raised.value.field == "paid_at"


def test_a_method_override_beats_its_family_and_unknown_methods_are_refused() -> None:
    rules = SettlementRules(days_by_family={"virtual_account": 1}, days_by_method={"va_bca": 0})
    assert CALENDAR.settlement_date(wib(2026, 3, 2), "va_bca", rules) == date(2026, 3, 2)
    assert CALENDAR.settlement_date(wib(2026, 3, 2), "va_bni", rules) == date(2026, 3, 3)
    with pytest.raises(SettlementRuleInvalidError, match="qris"):
        CALENDAR.settlement_date(wib(2026, 3, 2), "qris", rules)
    with pytest.raises(PaymentMethodUnknownError):
        CALENDAR.settlement_date(wib(2026, 3, 2), "cash", DEFAULT_SETTLEMENT_RULES)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"days_by_family": {"virtual_account": -1}}, "days_by_family.virtual_account"),
        ({"days_by_family": {"card": 31}}, "days_by_family.card"),
        ({"days_by_family": {"card": True}}, "days_by_family.card"),
        ({"days_by_family": {"crypto": 1}}, "days_by_family.crypto"),
        ({"days_by_family": {}, "days_by_method": {"va_xyz": 1}}, "days_by_method.va_xyz"),
    ],
)
def test_impossible_settlement_rules_are_refused_naming_the_entry(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(SettlementRuleInvalidError) as raised:
        SettlementRules(**fields)
    assert raised.value.field == field


def test_a_holiday_list_parses_from_iso_strings() -> None:
    assert parse_holidays(["2026-08-17", "2026-12-25", "2026-08-17"]) == {
        date(2026, 8, 17),
        date(2026, 12, 25),
    }
    assert date(2026, 8, 17) in INDONESIA


@pytest.mark.parametrize(
    "bad", ["2026-02-30", "17/08/2026", "2026-8-17", "20260817", " 2026-08-17", 20260817, None]
)
def test_a_bad_holiday_entry_is_named_with_its_index(bad: object) -> None:
    with pytest.raises(HolidayInvalidError) as raised:
        parse_holidays(["2026-01-01", bad], field="holidays")
    assert raised.value.field == "holidays[1]"
    assert repr(bad) in raised.value.message


def test_a_single_string_is_not_mistaken_for_a_list_of_holidays() -> None:
    with pytest.raises(HolidayInvalidError):
        parse_holidays("2026-08-17")


@given(holidays=holiday_sets, day=days, count=st.integers(1, 40))
def test_stepping_business_days_lands_on_a_business_day(
    holidays: frozenset[date], day: date, count: int
) -> None:
    calendar = SettlementCalendar(holidays)
    assert calendar.is_business_day(calendar.add_business_days(day, count))
    assert calendar.is_business_day(calendar.add_business_days(day, -count))
    assert calendar.add_business_days(day, count) >= day + timedelta(days=count)


@given(holidays=holiday_sets, day=days, count=counts)
def test_stepping_back_undoes_stepping_forward_from_a_business_day(
    holidays: frozenset[date], day: date, count: int
) -> None:
    calendar = SettlementCalendar(holidays)
    start = calendar.next_business_day_from(day)
    assert calendar.add_business_days(calendar.add_business_days(start, count), -count) == start


@given(holidays=holiday_sets, day=days, first=counts, second=counts)
def test_two_steps_add_up_to_one(
    holidays: frozenset[date], day: date, first: int, second: int
) -> None:
    calendar = SettlementCalendar(holidays)
    two_steps = calendar.add_business_days(calendar.add_business_days(day, first), second)
    assert two_steps == calendar.add_business_days(day, first + second)


@given(
    holidays=holiday_sets,
    paid_at=st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    method=st.sampled_from(sorted(PAYMENT_METHODS)),
)
def test_a_settlement_date_is_a_business_day_no_earlier_than_t_plus_n(
    holidays: frozenset[date], paid_at: datetime, method: str
) -> None:
    calendar = SettlementCalendar(holidays)
    settles_on = calendar.settlement_date(paid_at, method)
    assert calendar.is_business_day(settles_on)
    jakarta_day = paid_at.astimezone(WIB).date()
    assert settles_on >= jakarta_day + timedelta(days=DEFAULT_SETTLEMENT_RULES.days_for(method))
