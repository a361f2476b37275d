"""The queries the API and dashboard use: scoped to a merchant and a mode, filtered, paged."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.queries.ledger import balances
from projections.queries.links import link_detail, links_by_id, list_links
from projections.queries.paging import Page, QueryError, encode_cursor
from projections.queries.payments import list_payments, payment_detail
from projections.queries.stats import stats
from projections.runner import ReadModels
from tests.support.read_models import catch_up


@dataclass
class Catalogue:
    """Two merchants' links and payments, in test and live mode, made at known instants."""

    app: Paylink
    clock: FakeClock
    start: datetime
    ours: UUID
    theirs: UUID
    links: dict[str, UUID] = field(default_factory=dict)  # our test-mode links by name
    payments: dict[str, UUID] = field(default_factory=dict)

    def link(self, name: str, merchant: UUID | None = None, **fields: Any) -> UUID:
        fields.setdefault("amount", 50_000)
        fields.setdefault("description", name)
        link_id = self.app.links.create(merchant or self.ours, **fields)
        if merchant is None and fields.get("mode", "test") == "test":
            self.links[name] = link_id
        return link_id

    def pay(self, name: str, link: UUID, ref: str, amount: int = 50_000) -> UUID:
        payment = self.app.payments.start(link, "qris")
        self.app.payments.record(payment, ref, Money(amount, "IDR"), self.clock())
        self.app.payments.verify(payment, fee=Money(amount // 100, "IDR"))
        self.payments[name] = payment
        return payment


@pytest.fixture
def shop(backend_settings: Settings, clock: FakeClock, views: ReadModels) -> Iterator[Catalogue]:
    """Ten test-mode links of ours at four instants, one live link, and a neighbour's."""
    with open_paylink(backend_settings, clock=clock) as app:
        ours, theirs = app.merchants.register("Toko Satu"), app.merchants.register("Toko Dua")
        c = Catalogue(app, clock, clock(), ours, theirs)
        kaos = c.link("Kaos Polos Hitam", reference_id="INV-001")
        c.link("Kopi Susu", reference_id="INV-002", usage_limit=None)
        c.link("Sepatu Lari")
        app.links.send(kaos, "email", "budi@example.com")
        app.links.open(kaos, "visitor-1")
        c.pay("kaos", kaos, "pay-kaos")  # single use: the link completes
        live = c.link("Kaos Polos Hitam", reference_id="INV-001", mode="live", amount=70_000)
        c.pay("live", live, "pay-live", 70_000)
        other = c.link("Kaos Polos Hitam", merchant=theirs, reference_id="INV-001", amount=90_000)
        c.pay("theirs", other, "pay-theirs", 90_000)

        clock.advance(timedelta(hours=1))
        c.link("Topi", expires_at=clock() + timedelta(hours=2))  # expired by query time
        tas = c.link("Tas Kulit", expires_at=clock() + timedelta(minutes=30))
        clock.advance(timedelta(hours=1))
        assert app.links.expire(tas)
        app.links.cancel(c.link("Jaket"), "out of stock")

        clock.advance(timedelta(hours=1))
        buku = c.link("Buku Tulis", reference_id="inv-007-besar", usage_limit=None, amount=10_000)
        for number in range(1, 4):
            c.link(f"Pulpen {number}")
        app.links.send(buku, "whatsapp", "+6281234567890")
        for number in range(3):  # same instant: pages must break the tie
            c.pay(f"buku-{number}", buku, f"pay-buku-{number}", 10_000)
        clock.advance(timedelta(hours=2))
        catch_up(app, views)
        yield c


def ids(page: Page[Any], key: str = "link_id") -> list[str]:
    return [row[key] for row in page.items]


def names(shop: Catalogue, *wanted: str) -> set[str]:
    return {str(shop.links[name]) for name in wanted}


def all_pages(
    fetch: Callable[[str | None], Page[Any]], limit: int, key: str = "link_id"
) -> list[list[str]]:
    """Follow the cursors to the end; the ids of each page."""
    pages, cursor = [], None
    while True:
        page = fetch(cursor)
        pages.append(ids(page, key))
        assert len(pages[-1]) <= limit
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_another_merchants_links_and_payments_are_never_seen(
    shop: Catalogue, views: ReadModels
) -> None:
    now, theirs = shop.clock(), shop.theirs
    their_link = list_links(views, theirs, "test", now).items[0]["link_id"]
    assert link_detail(views, shop.ours, "test", UUID(their_link), now) is None
    assert link_detail(views, theirs, "test", shop.links["Kaos Polos Hitam"], now) is None
    assert payment_detail(views, shop.ours, "test", shop.payments["theirs"]) is None
    assert payment_detail(views, theirs, "test", shop.payments["kaos"]) is None
    assert payment_detail(views, theirs, "test", shop.payments["theirs"]) is not None
    both = [str(shop.links["Kaos Polos Hitam"]), their_link]
    assert list(links_by_id(views, shop.ours, "test", both)) == [both[0]]
    assert list(links_by_id(views, theirs, "test", both)) == [their_link]
    assert links_by_id(views, shop.ours, "live", both) == {}
    assert links_by_id(views, shop.ours, "test", []) == {}

    listed = ids(list_links(views, shop.ours, "test", now, limit=100))
    assert set(listed) == {str(link) for link in shop.links.values()}
    same_reference = list_links(views, shop.ours, "test", now, reference="INV-001")
    assert ids(same_reference) == [str(shop.links["Kaos Polos Hitam"])]
    ours = ids(list_payments(views, shop.ours, "test", limit=100), "payment_id")
    assert set(ours) == {str(p) for n, p in shop.payments.items() if n not in ("live", "theirs")}
    assert ids(list_payments(views, theirs, "test"), "payment_id") == [str(shop.payments["theirs"])]
    assert balances(views, shop.ours, "test")["IDR"]["verified"] == 50_000 + 30_000
    assert balances(views, theirs, "test")["IDR"]["verified"] == 90_000
    assert stats(views, theirs, "test")["funnel"] == {
        "created": 1,
        "sent": 0,
        "opened": 0,
        "paid": 1,
    }


def test_test_mode_and_live_mode_never_mix(shop: Catalogue, views: ReadModels) -> None:
    now = shop.clock()
    [live_link] = ids(list_links(views, shop.ours, "live", now))
    assert live_link not in {str(link) for link in shop.links.values()}
    assert link_detail(views, shop.ours, "live", shop.links["Kaos Polos Hitam"], now) is None
    assert link_detail(views, shop.ours, "test", UUID(live_link), now) is None
    assert ids(list_payments(views, shop.ours, "live"), "payment_id") == [
        str(shop.payments["live"])
    ]
    assert payment_detail(views, shop.ours, "test", shop.payments["live"]) is None
    assert balances(views, shop.ours, "live")["IDR"]["verified"] == 70_000
    assert balances(views, shop.ours, "live", as_of=now)["IDR"]["verified"] == 70_000
    assert balances(views, shop.ours, "test", as_of=now)["IDR"]["verified"] == 80_000
    assert stats(views, shop.ours, "live")["funnel"]["created"] == 1
    funnel = stats(views, shop.ours, "test")
    assert funnel["funnel"] == {"created": 10, "sent": 2, "opened": 1, "paid": 2}
    assert [(d["method"], d["count"], d["volume"]) for d in funnel["daily"]] == [
        ("qris", 4, 80_000)
    ]


def test_links_filter_by_effective_status_creation_time_reference_and_text(
    shop: Catalogue, views: ReadModels
) -> None:
    now, start = shop.clock(), shop.start

    def find(**filters: Any) -> set[str]:
        page = list_links(views, shop.ours, "test", now, limit=100, **filters)
        if "status" in filters:
            assert {row["status"] for row in page.items} <= {filters["status"]}
        return set(ids(page))

    pulpen = ("Pulpen 1", "Pulpen 2", "Pulpen 3")
    assert find(status="active") == names(shop, "Kopi Susu", "Sepatu Lari", "Buku Tulis", *pulpen)
    assert find(status="expired") == names(shop, "Topi", "Tas Kulit")
    assert find(status="completed") == names(shop, "Kaos Polos Hitam")
    assert find(status="cancelled") == names(shop, "Jaket")
    # Before the hat's expiry it is active, whatever the stored status says.
    earlier = list_links(views, shop.ours, "test", start + timedelta(hours=2), status="active")
    assert str(shop.links["Topi"]) in ids(earlier)

    hour = timedelta(hours=1)
    assert find(created_from=start + hour, created_to=start + 3 * hour) == names(
        shop, "Topi", "Tas Kulit", "Jaket"
    )
    assert find(created_from=start + 3 * hour) == names(shop, "Buku Tulis", *pulpen)
    assert find(created_to=start) == set()
    assert find(created_to=start + timedelta(microseconds=1)) == names(
        shop, "Kaos Polos Hitam", "Kopi Susu", "Sepatu Lari"
    )

    assert find(reference="INV-002") == names(shop, "Kopi Susu")
    assert find(reference="INV-404") == set()
    assert find(text="kaos") == names(shop, "Kaos Polos Hitam")
    assert find(text="KOPI susu") == names(shop, "Kopi Susu")
    assert find(text="INV-007") == names(shop, "Buku Tulis")  # the reference, any case
    assert find(text="inv-00") == names(shop, "Kaos Polos Hitam", "Kopi Susu", "Buku Tulis")
    assert find(text="tidak ada") == set()
    assert find(status="active", text="pulpen") == names(shop, *pulpen)


@pytest.mark.parametrize("limit", [1, 2, 7])
def test_cursor_pages_visit_every_link_once_newest_first(
    shop: Catalogue, views: ReadModels, limit: int
) -> None:
    now = shop.clock()
    made = {str(link): shop.app.links.get(link).created_at for link in shop.links.values()}
    expected = sorted(made, key=lambda link: (made[link], link), reverse=True)
    assert len(expected) == 10

    pages = all_pages(
        lambda cursor: list_links(views, shop.ours, "test", now, limit=limit, cursor=cursor),
        limit,
    )
    visited = [link for page in pages for link in page]
    assert visited == expected
    assert len(pages) == math.ceil(len(expected) / limit)

    active = all_pages(
        lambda cursor: list_links(
            views, shop.ours, "test", now, status="active", limit=limit, cursor=cursor
        ),
        limit,
    )
    still_active = names(shop, "Kopi Susu", "Sepatu Lari", "Buku Tulis", "Pulpen 1", "Pulpen 2")
    still_active |= names(shop, "Pulpen 3")
    assert [link for page in active for link in page] == [
        link for link in expected if link in still_active
    ]

    payments = all_pages(
        lambda cursor: list_payments(views, shop.ours, "test", limit=limit, cursor=cursor),
        limit,
        "payment_id",
    )
    paid = [payment for page in payments for payment in page]
    assert len(paid) == len(set(paid)) == 4
    assert paid[-1] == str(shop.payments["kaos"])  # the oldest comes last


def test_malformed_query_parameters_are_refused_naming_the_field(
    shop: Catalogue, views: ReadModels
) -> None:
    now, ours = shop.clock(), shop.ours
    bad: list[tuple[str, Callable[[], object]]] = [
        ("cursor", lambda: list_links(views, ours, "test", now, cursor="not a cursor!")),
        ("cursor", lambda: list_links(views, ours, "test", now, cursor=encode_cursor("x"))),
        ("cursor", lambda: list_links(views, ours, "test", now, cursor="e30")),  # {}
        ("cursor", lambda: list_payments(views, ours, "test", cursor="%%%")),
        ("limit", lambda: list_links(views, ours, "test", now, limit=0)),
        ("limit", lambda: list_links(views, ours, "test", now, limit=101)),
        ("limit", lambda: list_payments(views, ours, "test", limit=-1)),
        ("status", lambda: list_links(views, ours, "test", now, status="paid")),
        ("status", lambda: list_links(views, ours, "test", now, status="ACTIVE")),
    ]
    for name, call in bad:
        with pytest.raises(QueryError) as raised:
            call()
        assert raised.value.field == name
        assert str(raised.value).startswith(f"{name}: ")
    assert len(list_links(views, ours, "test", now, limit=100).items) == 10


def test_a_forged_cursor_with_numbers_in_it_is_refused_naming_the_cursor(
    shop: Catalogue, views: ReadModels
) -> None:
    with pytest.raises(QueryError) as raised:
        list_links(views, shop.ours, "test", shop.clock(), cursor=encode_cursor(1, 2))
    assert raised.value.field == "cursor"


def test_text_search_finds_underscores_and_percent_signs_literally(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Simbol")
        order = app.links.create(
            merchant, amount=1_000, description="Pesanan", reference_id="PO_77"
        )
        sale = app.links.create(merchant, amount=1_000, description="Diskon 50% hari ini")
        app.links.create(merchant, amount=1_000, description="Kopi 500 gram")
        catch_up(app, views)
    now = clock()
    assert ids(list_links(views, merchant, "test", now, text="po_77")) == [str(order)]
    assert ids(list_links(views, merchant, "test", now, text="50%")) == [str(sale)]


def test_text_search_ignores_case_beyond_ascii(
    backend_settings: Settings, clock: FakeClock, views: ReadModels, request: pytest.FixtureRequest
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Roti")
        eclair = app.links.create(merchant, amount=1_000, description="ÉCLAIR Cokelat")
        catch_up(app, views)
    assert ids(list_links(views, merchant, "test", clock(), text="éclair")) == [str(eclair)]
