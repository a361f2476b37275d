"""Indonesia's days off: national holidays and collective leave, 2026 and 2027.

Each year the Minister of Religious Affairs, the Minister of Manpower and the Minister of
Administrative and Bureaucratic Reform set the year's national holidays (*libur
nasional*) and collective leave days (*cuti bersama*) in a joint decree (*SKB 3
Menteri*). Banks and payment channels do not settle on either, so neither is a business
day for settlement (:mod:`paylink_es.domain.calendar`). Names are the decree's words.

Dates that follow a lunar or lunisolar calendar (the Hijri dates: Isra Mikraj, Idul
Fitri, Idul Adha, 1 Muharam, Maulid; Imlek; Nyepi; Waisak) are computed ahead by the
decree. The Hijri ones are a projection (hisab) that the government's *sidang isbat*
confirms only days before: when it moves a holiday, the decree is amended, and so must
this list be, or the setting ``PAYLINK_SETTLEMENT_HOLIDAYS`` be set, which replaces the
whole list. Entries marked "projection" below are such dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final, Literal

Kind = Literal["libur nasional", "cuti bersama"]


@dataclass(frozen=True, slots=True)
class Holiday:
    """A day off by decree: its date, its name (Indonesian) and whether it is leave."""

    day: date
    name: str
    kind: Kind = "libur nasional"


def _leave(day: date, name: str) -> Holiday:
    return Holiday(day, f"Cuti Bersama {name}", "cuti bersama")


# 2026: SKB Nomor 1497 Tahun 2025, Nomor 2 Tahun 2025, Nomor 5 Tahun 2025 (17 national
# holidays, 8 days of collective leave).
_2026: Final = (
    Holiday(date(2026, 1, 1), "Tahun Baru 2026 Masehi"),
    Holiday(date(2026, 1, 16), "Isra Mikraj Nabi Muhammad SAW"),
    _leave(date(2026, 2, 16), "Tahun Baru Imlek 2577 Kongzili"),
    Holiday(date(2026, 2, 17), "Tahun Baru Imlek 2577 Kongzili"),
    _leave(date(2026, 3, 18), "Hari Suci Nyepi (Tahun Baru Saka 1948)"),
    Holiday(date(2026, 3, 19), "Hari Suci Nyepi (Tahun Baru Saka 1948)"),
    _leave(date(2026, 3, 20), "Idul Fitri 1447 Hijriah"),
    Holiday(date(2026, 3, 21), "Idul Fitri 1447 Hijriah"),
    Holiday(date(2026, 3, 22), "Idul Fitri 1447 Hijriah (hari kedua)"),
    _leave(date(2026, 3, 23), "Idul Fitri 1447 Hijriah"),
    _leave(date(2026, 3, 24), "Idul Fitri 1447 Hijriah"),
    Holiday(date(2026, 4, 3), "Wafat Yesus Kristus"),
    Holiday(date(2026, 4, 5), "Kebangkitan Yesus Kristus (Paskah)"),
    Holiday(date(2026, 5, 1), "Hari Buruh Internasional"),
    Holiday(date(2026, 5, 14), "Kenaikan Yesus Kristus"),
    _leave(date(2026, 5, 15), "Kenaikan Yesus Kristus"),
    Holiday(date(2026, 5, 27), "Idul Adha 1447 Hijriah"),
    _leave(date(2026, 5, 28), "Idul Adha 1447 Hijriah"),
    Holiday(date(2026, 5, 31), "Hari Raya Waisak 2570 BE"),
    Holiday(date(2026, 6, 1), "Hari Lahir Pancasila"),
    Holiday(date(2026, 6, 16), "1 Muharam Tahun Baru Islam 1448 Hijriah"),
    Holiday(date(2026, 8, 17), "Proklamasi Kemerdekaan"),
    Holiday(date(2026, 8, 25), "Maulid Nabi Muhammad SAW"),
    _leave(date(2026, 12, 24), "Kelahiran Yesus Kristus"),
    Holiday(date(2026, 12, 25), "Kelahiran Yesus Kristus"),
)

# 2027: the joint decree announced in September 2026. 27 Rajab falls twice in 2027
# (1448 and 1449 Hijriah), so Isra Mikraj does too.
_2027: Final = (
    Holiday(date(2027, 1, 1), "Tahun Baru 2027 Masehi"),
    Holiday(date(2027, 1, 5), "Isra Mikraj Nabi Muhammad SAW"),  # projection (27 Rajab 1448)
    _leave(date(2027, 2, 5), "Tahun Baru Imlek 2578 Kongzili"),
    Holiday(date(2027, 2, 6), "Tahun Baru Imlek 2578 Kongzili"),
    Holiday(date(2027, 3, 8), "Hari Suci Nyepi (Tahun Baru Saka 1949)"),
    _leave(date(2027, 3, 9), "Idul Fitri 1448 Hijriah"),
    Holiday(date(2027, 3, 10), "Idul Fitri 1448 Hijriah"),  # projection (1 Syawal 1448)
    Holiday(date(2027, 3, 11), "Idul Fitri 1448 Hijriah (hari kedua)"),  # projection
    _leave(date(2027, 3, 12), "Idul Fitri 1448 Hijriah"),
    _leave(date(2027, 3, 15), "Idul Fitri 1448 Hijriah"),
    _leave(date(2027, 3, 25), "Wafat Yesus Kristus"),
    Holiday(date(2027, 3, 26), "Wafat Yesus Kristus"),
    Holiday(date(2027, 3, 28), "Kebangkitan Yesus Kristus (Paskah)"),
    Holiday(date(2027, 5, 1), "Hari Buruh Internasional"),
    Holiday(date(2027, 5, 6), "Kenaikan Yesus Kristus"),
    Holiday(date(2027, 5, 17), "Idul Adha 1448 Hijriah"),  # projection (10 Zulhijah 1448)
    _leave(date(2027, 5, 18), "Idul Adha 1448 Hijriah"),
    _leave(date(2027, 5, 19), "Hari Raya Waisak 2571 BE"),
    Holiday(date(2027, 5, 20), "Hari Raya Waisak 2571 BE"),
    Holiday(date(2027, 6, 1), "Hari Lahir Pancasila"),
    Holiday(date(2027, 6, 6), "1 Muharam Tahun Baru Islam 1449 Hijriah"),  # projection
    Holiday(date(2027, 8, 15), "Maulid Nabi Muhammad SAW"),  # projection (12 Rabiulawal 1449)
    Holiday(date(2027, 8, 17), "Proklamasi Kemerdekaan"),
    _leave(date(2027, 12, 24), "Kelahiran Yesus Kristus"),
    Holiday(date(2027, 12, 25), "Kelahiran Yesus Kristus"),
    Holiday(date(2027, 12, 26), "Isra Mikraj Nabi Muhammad SAW"),  # projection (27 Rajab 1449)
)

# The shipped days off by year, each year's oldest first.
HOLIDAYS_BY_YEAR: Final[Mapping[int, tuple[Holiday, ...]]] = MappingProxyType(
    {2026: _2026, 2027: _2027}
)
# Every shipped day off, oldest first.
INDONESIA_HOLIDAYS: Final[tuple[Holiday, ...]] = tuple(
    holiday for year in sorted(HOLIDAYS_BY_YEAR) for holiday in HOLIDAYS_BY_YEAR[year]
)
