"""Amounts and dates for people, in Indonesian (the default) and English."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from paylink_es.money import CURRENCY_EXPONENTS

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")
# Links are read in Indonesia: expiries are shown in Western Indonesia Time.
WIB = timezone(timedelta(hours=7), "WIB")
MONTHS: dict[Language, tuple[str, ...]] = {
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


def format_amount(minor_units: int, currency: str, language: Language) -> str:
    """``150000 IDR`` → ``Rp 150.000`` (id) or ``IDR 150,000`` (en); USD keeps its cents."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    whole, fraction = divmod(abs(minor_units), 10**exponent)
    grouping, decimal = (".", ",") if language == "id" else (",", ".")
    number = f"{whole:,}".replace(",", grouping)
    if exponent:
        number += f"{decimal}{fraction:0{exponent}d}"
    sign = "-" if minor_units < 0 else ""
    symbol = "Rp" if currency == "IDR" and language == "id" else currency
    return f"{symbol} {sign}{number}"


def format_link_amount(
    amount: int | None,
    amount_min: int | None,
    amount_max: int | None,
    currency: str,
    language: Language,
) -> str:
    """A fixed amount, or the range an open-amount link accepts."""
    if amount is not None:
        return format_amount(amount, currency, language)
    low = format_amount(amount_min or 1, currency, language)
    if amount_max is not None:
        return f"{low} \u2013 {format_amount(amount_max, currency, language)}"
    return f"min. {low}" if language == "id" else f"from {low}"


def format_instant(instant: datetime, language: Language) -> str:
    """``2026-12-01T16:59Z`` → ``1 Desember 2026 23.59 WIB`` / ``1 December 2026, 23:59 WIB``."""
    local = instant.astimezone(WIB)
    month = MONTHS[language][local.month - 1]
    if language == "id":
        return f"{local.day} {month} {local.year} {local:%H.%M} WIB"
    return f"{local.day} {month} {local.year}, {local:%H:%M} WIB"


def one_line(text: str, limit: int) -> str:
    """Text on one line (for subjects and SMS), cut at ``limit`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
