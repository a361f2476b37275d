"""The dashboard's words cover what the domain can say: a sentence for every event on a
link's timeline, a message for every domain error's type and kind, in both languages;
instants in the timeline's style and days as the filters take them."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import api.app
import paylink_es
from api.dashboard.dates import shown_day, typed_day
from paylink_es.domain.errors import (
    BrandingInvalidError,
    DomainError,
    InvalidFieldError,
    LinkHasPaymentsError,
)
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.payment import Payment
from paylink_es.domain.settlement import InsufficientFundsError
from paylink_es.locale import LANGUAGES, Language, error_message, format_instant
from paylink_es.locale.dashboard import DASHBOARD_TEXT, timeline_sentence
from projections.links import timeline_event
from projections.queries.paging import QueryError

DOMAIN = Path(paylink_es.__file__).parent / "domain"


def timeline_events() -> set[str]:
    """What a link's timeline calls each event of a link and of its payments."""
    return {
        timeline_event(value)
        for aggregate in (PaymentLink, Payment)
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, aggregate.Event) and name != "Event"
    }


def every_error() -> Iterator[type[DomainError]]:
    """Every domain error class the app can raise (every module of the package loaded)."""
    assert api.app  # the app's own errors (channels) are loaded with it
    for module in pkgutil.walk_packages(paylink_es.__path__, "paylink_es."):
        if not module.name.endswith("__main__"):  # runs the CLI when imported
            importlib.import_module(module.name)
    todo = [DomainError]
    while todo:
        cls = todo.pop()
        yield cls
        todo.extend(cls.__subclasses__())


def domain_kinds() -> set[str]:
    """The kinds the domain gives its InvalidFieldErrors by name (``kind="too_long"``);
    a branding error's kind is worded per field by the branding page instead."""
    kinds = set()
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if called == BrandingInvalidError.__name__:
                continue
            for keyword in node.keywords:
                if keyword.arg == "kind" and isinstance(keyword.value, ast.Constant):
                    kinds.add(str(keyword.value.value))
    return kinds


def test_the_timeline_events_are_found() -> None:
    assert {"Created", "Sent", "Opened", "Completed", "PartiallyPaid", "Expired"} <= (
        timeline_events()
    )
    assert {"Cancelled", "RemindersScheduled", "PaymentVerified", "PaymentRefunded"} <= (
        timeline_events()
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_event_on_a_links_timeline_has_a_sentence(language: Language) -> None:
    words = DASHBOARD_TEXT[language]
    missing = {event for event in timeline_events() if f"tl_{event}" not in words}
    assert missing == set(), f"{language}: no sentence for {sorted(missing)}"
    for event in sorted(timeline_events()):
        names = {name for _, name, _, _ in string.Formatter().parse(words[f"tl_{event}"]) if name}
        full = {
            name: 1 if name.startswith(("amount", "gross", "fee", "net")) else "x" for name in names
        }
        said = timeline_sentence(language, event, full, "IDR")
        assert "{" not in said, (event, said)
        assert "—" not in said, (event, said)
        assert said.endswith("."), said
        timeline_sentence(language, event, {}, "IDR")  # an old event's bare detail reads too


def test_the_sentences_say_who_why_and_how_much_in_the_users_language() -> None:
    cancelled = {"by": "budi@toko.example", "reason": "salah harga"}
    assert timeline_sentence("id", "Cancelled", cancelled, "IDR") == (
        "Tautan dibatalkan oleh budi@toko.example. Alasan: salah harga."
    )
    assert timeline_sentence("en", "Cancelled", cancelled, "IDR") == (
        "Link cancelled by budi@toko.example. Reason: salah harga."
    )
    part = {
        "payment_id": "p",
        "amount": 50_000,
        "currency": "IDR",
        "amount_paid": 50_000,
        "amount_due": 100_000,
        "status": "partially_paid",
    }
    assert timeline_sentence("id", "PartiallyPaid", part, "IDR") == (
        "Dibayar sebagian Rp 50.000: sudah dibayar Rp 50.000, sisa Rp 100.000."
    )
    edited = {
        "changed": ["description", "amount"],
        "by": "o@x",
        "from": {"description": "A", "amount": 100_000},
        "to": {"amount": 150_000, "description": "B"},
    }
    assert timeline_sentence("en", "Edited", edited, "IDR") == (
        "Link edited by o@x: description A → B; amount IDR 100,000 → IDR 150,000."
    )
    assert timeline_sentence("id", "RemindersScheduled", {"reminders": []}, "IDR") == (
        "Pengingat dihapus."
    )
    assert (
        timeline_sentence("id", "Reactivated", {"by": "o@x", "status": "partially_paid"}, "IDR")
        == "Tautan diaktifkan lagi (kembali dibayar sebagian) oleh o@x."
    )


def test_the_timelines_instants_are_in_wib_briefly() -> None:
    instant = datetime(2026, 12, 5, 7, 3, tzinfo=UTC)
    assert format_instant(instant, "id", "brief") == "5 Des 2026 14.03 WIB"
    assert format_instant(instant, "en", "brief") == "5 Dec 2026 14:03 WIB"


def test_every_domain_errors_type_has_a_message_in_both_languages() -> None:
    errors = list(every_error())
    assert InsufficientFundsError in errors
    codes = {cls.type.replace("-", "_") for cls in errors}
    for language in LANGUAGES:
        words = DASHBOARD_TEXT[language]
        missing = {code for code in codes if f"err_{code}" not in words}
        assert missing == set(), f"{language}: no message for {sorted(missing)}"


def test_every_kind_the_domain_names_has_a_message_in_both_languages() -> None:
    kinds = domain_kinds()
    assert {"too_long", "required", "email", "phone", "partial_above"} <= kinds
    for language in LANGUAGES:
        missing = {kind for kind in kinds if f"why_{kind}" not in DASHBOARD_TEXT[language]}
        assert missing == set(), f"{language}: no message for {sorted(missing)}"


def test_a_domain_error_reads_in_the_users_language() -> None:
    funds = InsufficientFundsError("the available balance is IDR 5")
    assert error_message("id", funds) == "Saldo tersedia tidak cukup untuk penarikan ini."
    assert error_message("en", funds) == (
        "The available balance is not enough for this payout — the available balance is IDR 5"
    )
    paid = LinkHasPaymentsError("amount: the link has payments", field="amount")
    assert "jadi amount tidak dapat diubah lagi" in error_message("id", paid)
    long = InvalidFieldError("description", "is too long", kind="too_long", limit=200)
    assert error_message("id", long) == "description: terlalu panjang: paling banyak 200 karakter"
    slug = InvalidFieldError("slug", "'dashboard' is reserved; choose another")
    assert error_message("id", slug).startswith("slug: pakai 3-64 huruf")
    assert not re.search(r"[A-Za-z]+ is reserved", error_message("id", slug))


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("31/01/2026", date(2026, 1, 31)),
        ("5/2/2026", date(2026, 2, 5)),
        (" 05/02/2026 ", date(2026, 2, 5)),
        ("05-02-2026", date(2026, 2, 5)),  # as the dashboard's tables write a day
        ("5.2.2026", date(2026, 2, 5)),
        ("2026-02-05", date(2026, 2, 5)),  # ISO, as links written before carry it
        ("", None),
    ],
)
def test_a_day_is_read_as_the_page_shows_it(typed: str, day: date | None) -> None:
    assert typed_day(typed, "from", DASHBOARD_TEXT["id"]) == day
    if day is not None:
        assert shown_day(typed, "from", DASHBOARD_TEXT["id"]) == day.strftime("%d/%m/%Y")


@pytest.mark.parametrize(
    ("typed", "language", "said"),
    [
        ("31/02/2026", "id", "tanggal 31/02/2026 tidak ada di kalender."),
        ("2026/01/31", "id", "“2026/01/31” bukan tanggal. Tulis hh/bb/tttt, mis. 31/01/2026."),
        ("01-31-2026", "en", "01-31-2026 is not a day of the calendar."),  # month first
        ("0", "en", "“0” is not a date. Write dd/mm/yyyy, e.g. 31/01/2026."),
        ("05/02-2026", "en", "“05/02-2026” is not a date. Write dd/mm/yyyy, e.g. 31/01/2026."),
    ],
)
def test_a_wrong_day_is_said_in_the_users_language(
    typed: str, language: Language, said: str
) -> None:
    with pytest.raises(QueryError) as refused:
        typed_day(typed, "to", DASHBOARD_TEXT[language])
    assert (refused.value.field, refused.value.message) == ("to", said)
