"""The shipped holidays: Indonesia's national holidays and collective leave, 2026 and 2027."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest

from paylink_es.bootstrap import settlement_calendar
from paylink_es.domain.calendar import INDONESIA, SettlementCalendar
from paylink_es.domain.holidays import HOLIDAYS_BY_YEAR, INDONESIA_HOLIDAYS
from paylink_es.locale import WIB
from paylink_es.settings import Settings

YEARS = (2026, 2027)


def test_both_years_are_shipped_and_each_entry_lies_in_its_year() -> None:
    assert set(YEARS) <= set(HOLIDAYS_BY_YEAR)
    for year, holidays in HOLIDAYS_BY_YEAR.items():
        assert len(holidays) >= 17, f"{year} lists only {len(holidays)} days"
        assert all(holiday.day.year == year for holiday in holidays), year
        assert [h.day for h in holidays] == sorted(h.day for h in holidays), year


def test_no_day_is_listed_twice_and_every_name_is_written_out() -> None:
    twice = [day for day, count in Counter(h.day for h in INDONESIA_HOLIDAYS).items() if count > 1]
    assert twice == []
    for holiday in INDONESIA_HOLIDAYS:
        assert holiday.name.strip() == holiday.name != "", holiday
        assert holiday.kind in {"libur nasional", "cuti bersama"}, holiday
        assert (holiday.kind == "cuti bersama") == holiday.name.startswith("Cuti Bersama"), holiday
    assert {holiday.day for holiday in INDONESIA_HOLIDAYS} == INDONESIA


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize(
    ("month", "day", "word"),
    [
        (1, 1, "Tahun Baru"),
        (5, 1, "Hari Buruh"),
        (6, 1, "Pancasila"),
        (8, 17, "Kemerdekaan"),
        (12, 25, "Kelahiran Yesus Kristus"),
    ],
)
def test_the_fixed_national_holidays_are_there_every_year(
    year: int, month: int, day: int, word: str
) -> None:
    [holiday] = [h for h in HOLIDAYS_BY_YEAR[year] if h.day == date(year, month, day)]
    assert word in holiday.name
    assert holiday.kind == "libur nasional"


@pytest.mark.parametrize(
    ("day", "word"),
    [
        (date(2026, 3, 21), "Idul Fitri 1447"),
        (date(2026, 3, 23), "Cuti Bersama Idul Fitri"),
        (date(2026, 4, 3), "Wafat Yesus Kristus"),
        (date(2026, 12, 24), "Cuti Bersama"),
        (date(2027, 2, 6), "Imlek"),
        (date(2027, 3, 8), "Nyepi"),
        (date(2027, 3, 10), "Idul Fitri 1448"),
        (date(2027, 3, 26), "Wafat Yesus Kristus"),
        (date(2027, 5, 6), "Kenaikan Yesus Kristus"),
        (date(2027, 5, 20), "Waisak"),
    ],
)
def test_the_movable_feasts_fall_where_the_decrees_put_them(day: date, word: str) -> None:
    [holiday] = [h for h in INDONESIA_HOLIDAYS if h.day == day]
    assert word in holiday.name


def test_settlement_skips_the_2027_nyepi_and_idul_fitri_days_off() -> None:
    calendar, rules = settlement_calendar(Settings())
    # Friday 5 March 2027 -> T+1 jumps Nyepi (8th), leave (9th), Idul Fitri (10th, 11th),
    # leave (12th), a weekend and leave again (15th): Tuesday the 16th.
    paid = datetime(2027, 3, 5, 10, tzinfo=WIB)
    assert calendar.settlement_date(paid, "va_bca", rules) == date(2027, 3, 16)
    assert SettlementCalendar().settlement_date(paid, "va_bca", rules) == date(2027, 3, 8)


def test_the_setting_replaces_the_shipped_list() -> None:
    calendar, _ = settlement_calendar(Settings(settlement_holidays=["2027-03-09"]))
    assert calendar.holidays == {date(2027, 3, 9)}
    assert calendar.is_business_day(date(2027, 3, 8))  # Nyepi is no longer listed
    assert not calendar.is_business_day(date(2027, 3, 9))
    empty, _ = settlement_calendar(Settings(settlement_holidays=[]))
    assert empty.is_business_day(date(2027, 8, 17))
    shipped, _ = settlement_calendar(Settings())
    assert shipped.holidays == INDONESIA
