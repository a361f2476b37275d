"""The one locale module: catalogues, money, instants and the WIB zone — pure, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink_es import locale
from paylink_es.domain.money import CURRENCY_EXPONENTS, MAX_MONEY

CATALOGUES = {
    "page": locale.PAGE_TEXT,
    "dashboard": locale.DASHBOARD_TEXT,
    "messages": locale.MESSAGE_TEXT,
}


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_catalogue_says_the_same_things_in_both_languages(name: str) -> None:
    catalogue = CATALOGUES[name]
    assert set(catalogue) == set(locale.LANGUAGES)
    indonesian, english = catalogue["id"], catalogue["en"]
    assert set(indonesian) == set(english)
    for key in indonesian:
        placeholders = re.findall(r"{\w+}", indonesian[key])
        assert sorted(placeholders) == sorted(re.findall(r"{\w+}", english[key])), (name, key)


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_catalogue_can_show_a_links_amount(name: str) -> None:
    for language in locale.LANGUAGES:
        words = CATALOGUES[name][language]
        assert "{low}" in words["amount_range"]
        assert "{high}" in words["amount_range"]
        assert "{low}" in words["amount_from"]


@pytest.mark.parametrize(
    ("minor", "currency", "language", "shown"),
    [
        (150000, "IDR", "id", "Rp 150.000"),
        (150000, "IDR", "en", "IDR 150,000"),
        (1234567890, "IDR", "id", "Rp 1.234.567.890"),
        (500, "IDR", "en", "IDR 500"),
        (0, "IDR", "id", "Rp 0"),
        (123456, "USD", "en", "USD 1,234.56"),
        (123456, "USD", "id", "USD 1.234,56"),
        (5, "USD", "en", "USD 0.05"),
        (100, "SGD", "en", "SGD 1.00"),
        (-150000, "IDR", "id", "-Rp 150.000"),
        (-150000, "IDR", "en", "-IDR 150,000"),
        (-150, "USD", "en", "-USD 1.50"),
        (-150, "USD", "id", "-USD 1,50"),
        (-5, "USD", "en", "-USD 0.05"),
        (-123456, "MYR", "en", "-MYR 1,234.56"),
    ],
)
def test_money_is_written_the_way_each_language_writes_it(
    minor: int, currency: str, language: locale.Language, shown: str
) -> None:
    assert locale.format_money(minor, currency, language) == shown


def test_a_negative_amount_with_cents_is_not_rounded_away_from_zero() -> None:
    # divmod(-150, 100) is (-2, 50): formatting the parts of a negative amount gave
    # "USD -2.50" for minus one dollar fifty.
    assert locale.format_money(-150, "USD", "en") == "-USD 1.50"
    assert locale.format_money(-1, "USD", "en") == "-USD 0.01"
    assert locale.format_money(-99, "USD", "id") == "-USD 0,99"


@given(
    minor=st.integers(min_value=-MAX_MONEY, max_value=MAX_MONEY),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    language=st.sampled_from(locale.LANGUAGES),
)
def test_the_written_amount_reads_back_exactly(
    minor: int, currency: str, language: locale.Language
) -> None:
    shown = locale.format_money(minor, currency, language)
    sign, _, number = shown.partition(" ")
    negative = sign.startswith("-")
    assert negative == (minor < 0)
    grouping, point = (".", ",") if language == "id" else (",", ".")
    digits = number.replace(grouping, "").replace(point, ".")
    exponent = CURRENCY_EXPONENTS[currency]
    assert digits.count(".") == (1 if exponent else 0)
    value = Decimal(digits) * 10**exponent * (-1 if negative else 1)
    assert value == minor


@given(
    whole=st.integers(min_value=0, max_value=10**15),
    language=st.sampled_from(locale.LANGUAGES),
    with_symbol=st.booleans(),
)
def test_a_rupiah_amount_as_it_is_written_is_read_back_as_typed(
    whole: int, language: locale.Language, with_symbol: bool
) -> None:
    shown = locale.format_money(whole, "IDR", language)
    typed = shown if with_symbol else shown.partition(" ")[2]
    assert locale.read_amount(typed, "IDR") == str(whole)


@pytest.mark.parametrize(
    "typed", ["25.5", "25.00", "1.00.000", "1.000,000", "1,000.000", "-5", "abc", "2 5", "1e5"]
)
def test_an_amount_that_could_mean_two_things_is_left_for_the_check_to_refuse(
    typed: str,
) -> None:
    assert locale.read_amount(typed, "IDR") == typed


def test_amounts_in_a_currency_with_cents_are_not_reinterpreted() -> None:
    assert locale.read_amount(" 1,000.50 ", "USD") == "1,000.50"


def test_a_va_number_is_shown_in_fours_as_banks_print_it() -> None:
    assert locale.format_digits("3901716810411330") == "3901 7168 1041 1330"
    assert locale.format_digits("390171681041133") == "3901 7168 1041 133"
    assert locale.format_digits("") == ""


def test_a_link_shows_its_amount_or_its_range_in_the_words_of_where_it_is_shown() -> None:
    page, dashboard = locale.PAGE_TEXT["id"], locale.DASHBOARD_TEXT["en"]
    assert locale.format_link_amount(150000, None, None, "IDR", "id", page) == "Rp 150.000"
    assert (
        locale.format_link_amount(None, 10000, 50000, "IDR", "id", page)
        == "antara Rp 10.000 dan Rp 50.000"
    )
    assert locale.format_link_amount(None, None, None, "IDR", "id", page) == "minimal Rp 1"
    assert (
        locale.format_link_amount(None, 100, 2500, "USD", "en", dashboard)
        == "USD 1.00 to USD 25.00"
    )
    assert locale.format_link_amount(None, 10000, None, "IDR", "en", dashboard) == "from IDR 10,000"


def test_instants_are_written_in_wib_in_each_style() -> None:
    instant = datetime(2026, 12, 1, 16, 59, 5, tzinfo=UTC)
    assert locale.format_instant(instant, "id") == "1 Desember 2026 23.59 WIB"
    assert locale.format_instant(instant, "en") == "1 December 2026, 23:59 WIB"
    assert locale.format_instant(instant, style="short") == "01-12-2026 23:59 WIB"
    assert locale.format_instant(instant, "en", style="short") == "01-12-2026 23:59 WIB"
    assert locale.format_instant(instant, style="seconds") == "01-12-2026 23:59:05 WIB"


def test_seventeen_hundred_utc_is_already_the_next_day_in_jakarta() -> None:
    instant = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert locale.format_instant(instant, "en") == "1 January 2027, 00:00 WIB"
    assert instant.astimezone(locale.WIB).date().isoformat() == "2027-01-01"


def test_wib_is_utc_plus_seven_all_year() -> None:
    for month in (1, 7):
        moment = datetime(2026, month, 1, tzinfo=locale.WIB)
        assert moment.utcoffset() == timedelta(hours=7)
        assert moment.tzname() == "WIB"


def test_languages_default_to_indonesian() -> None:
    assert locale.language_of("en") == "en"
    assert locale.language_of("id") == "id"
    assert locale.language_of("fr") == "id"
    assert locale.language_of(None) == "id"
    assert locale.other_language("id") == "en"
    assert locale.other_language("en") == "id"
