"""Languages, the Jakarta time zone, and the one way each of money and instants is written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

from paylink_es.domain.clock import WIB
from paylink_es.domain.money import CURRENCY_EXPONENTS

Language = Literal["id", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("id", "en")
DEFAULT_LANGUAGE: Final[Language] = "id"


# Thousands separator and decimal point.
_SEPARATORS: Final[dict[Language, tuple[str, str]]] = {"id": (".", ","), "en": (",", ".")}
_MONTHS: Final[dict[Language, tuple[str, ...]]] = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
InstantStyle = Literal["long", "short", "seconds", "brief"]


def language_of(asked: str | None) -> Language:
    """``asked`` if it is a language we speak, else Bahasa Indonesia."""
    return "en" if asked == "en" else DEFAULT_LANGUAGE


def other_language(language: Language) -> Language:
    """The language a page's switch offers."""
    return "en" if language == "id" else "id"


def format_money(minor_units: int, currency: str, language: Language) -> str:
    """An amount of minor units as people write it: exact, by the currency's minor unit.

    IDR has no decimals (``Rp 150.000`` in Indonesian, ``IDR 150,000`` in English); other
    currencies show theirs (``USD 1.234,56`` / ``USD 1,234.56``). Other currencies keep
    their ISO code as the symbol. A negative amount has its minus sign first, before the
    symbol, as CLDR writes it for both languages: ``-Rp 150.000``, ``-USD 1.50``. It is an
    ASCII hyphen-minus, which every channel carries (an SMS alphabet has no U+2212).
    """
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    whole, fraction = divmod(abs(minor_units), 10**exponent)
    grouping, point = _SEPARATORS.get(language, _SEPARATORS["en"])
    number = f"{whole:,}".replace(",", grouping)
    if exponent:
        number += f"{point}{fraction:0{exponent}d}"
    symbol = "Rp" if currency == "IDR" and language == "id" else currency
    sign = "-" if minor_units < 0 else ""
    return f"{sign}{symbol} {number}"


# Whole units as people type them: "25000", "25.000", "25,000", "25 000", "1.000.000", each
# perhaps after "Rp" or "IDR", perhaps ending in zero cents written with the other mark
# ("Rp 25.000,00", "25,000.00").
_TYPED_WHOLE = re.compile(
    r"(?:rp\.?|idr)?\s*"
    r"(?P<whole>[0-9]+|[0-9]{1,3}(?P<group>[.,\s])[0-9]{3}(?:(?P=group)[0-9]{3})*)"
    r"(?P<cents>[.,]00?)?"
)


def read_amount(typed: str, currency: str) -> str:
    """An amount as a customer types it, as the digits of its minor units.

    For a currency with no minor unit (IDR), the ways people write whole amounts are read:
    thousands grouped by ``.`` (as in Indonesia), ``,`` or a space, with or without ``Rp``
    or ``IDR`` in front, and zero cents after the other mark. Anything else comes back
    trimmed but unchanged, so the check of the amount refuses it by name instead of
    guessing (``25.5`` is neither twenty-five thousand five hundred nor twenty-five and
    a half).
    """
    text = typed.strip()
    if CURRENCY_EXPONENTS.get(currency, 2) != 0:
        return text
    typed_whole = _TYPED_WHOLE.fullmatch(text.lower())
    if typed_whole is None:
        return text
    group, cents = typed_whole.group("group"), typed_whole.group("cents")
    if cents is not None and (group is None or cents[0] == group):
        return text  # "25.00" or "1.000.00": the same mark cannot group and end
    return re.sub(r"[.,\s]", "", typed_whole.group("whole"))


def format_digits(number: str, group: int = 4) -> str:
    """A number to be read off a screen and typed into a bank's app, in groups of four
    (``3901 7168 1041 133``), as the banks print virtual account numbers."""
    return " ".join(number[start : start + group] for start in range(0, len(number), group))


def format_link_amount(
    amount: int | None,
    amount_min: int | None,
    amount_max: int | None,
    currency: str,
    language: Language,
    words: Mapping[str, str],
) -> str:
    """A link's fixed amount, or the range an open-amount link accepts.

    ``words`` is the catalogue of the surface that shows it: its ``amount_range``
    (``{low}``, ``{high}``) and ``amount_from`` (``{low}``) say how.
    """
    if amount is not None:
        return format_money(amount, currency, language)
    low = format_money(amount_min or 1, currency, language)
    if amount_max is not None:
        high = format_money(amount_max, currency, language)
        return words["amount_range"].format(low=low, high=high)
    return words["amount_from"].format(low=low)


def format_instant(
    instant: datetime, language: Language = DEFAULT_LANGUAGE, style: InstantStyle = "long"
) -> str:
    """An instant as people in Jakarta read it, in WIB.

    - ``long`` (messages): ``1 Desember 2026 23.59 WIB`` / ``1 December 2026, 23:59 WIB``
    - ``short`` (the hosted page): ``01-12-2026 23:59 WIB``
    - ``seconds`` (the dashboard's tables): ``01-12-2026 23:59:59 WIB``
    - ``brief`` (the dashboard's timeline): ``5 Des 2026 14.03 WIB`` / ``5 Dec 2026 14:03 WIB``
    """
    local = instant.astimezone(WIB)
    if style == "brief":
        short_month = _MONTHS.get(language, _MONTHS["en"])[local.month - 1][:3]
        clock = f"{local:%H.%M}" if language == "id" else f"{local:%H:%M}"
        return f"{local.day} {short_month} {local.year} {clock} WIB"
    if style == "short":
        return local.strftime("%d-%m-%Y %H:%M WIB")
    if style == "seconds":
        return local.strftime("%d-%m-%Y %H:%M:%S WIB")
    month = _MONTHS.get(language, _MONTHS["en"])[local.month - 1]
    if language == "id":
        return f"{local.day} {month} {local.year} {local:%H.%M} WIB"
    return f"{local.day} {month} {local.year}, {local:%H:%M} WIB"
