"""Balances and links as of an earlier instant are exactly what the views showed then."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.queries.ledger import Balances, balances
from projections.queries.links import LinkDetail, link_as_of, link_detail, links_as_of
from projections.readmodel import iso
from projections.runner import ReadModels
from tests.support.read_models import catch_up, paylink, recorded

# flagged_count has a test of its own below (it is counted twice as of an instant).
COMPARED = ("status", "sent_count", "opened_count", "payment_count", "collected", "timeline")


@dataclass(frozen=True)
class Seen:
    """What the views showed at one instant."""

    at: datetime
    balances: Balances
    links: dict[UUID, LinkDetail | None]


class Shop:
    """One merchant's day of business, with a look at the views after each step."""

    def __init__(self, app: Paylink, clock: FakeClock, views: ReadModels) -> None:
        self.app, self.clock, self.views = app, clock, views
        self.merchant = app.merchants.register("Toko Waktu")
        self.links: list[UUID] = []

    def pay(self, link: UUID, ref: str, amount: int, fee: int, offer: int | None = None) -> UUID:
        payment = self.app.payments.start(link, "qris", amount=offer)
        self.app.payments.record(payment, ref, Money(amount, "IDR"), self.clock())
        self.app.payments.verify(payment, fee=Money(fee, "IDR"))
        return payment

    def look(self) -> Seen:
        catch_up(self.app, self.views)
        now = self.clock()
        return Seen(
            now,
            balances(self.views, self.merchant, "test"),
            {
                link: link_detail(self.views, self.merchant, "test", link, now)
                for link in self.links
            },
        )


def status(seen: Seen, link: UUID) -> str | None:
    """The link's status as the views showed it then (None: it did not exist yet)."""
    shown = seen.links.get(link)
    return None if shown is None else str(shown["status"])


def test_balances_and_links_as_of_an_earlier_instant_are_what_the_views_showed_then(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    before_anything = clock() - timedelta(minutes=1)
    with open_paylink(backend_settings, clock=clock) as app:
        shop = Shop(app, clock, views)
        neighbour = app.merchants.register("Toko Sebelah")
        theirs = app.links.create(neighbour, amount=77_000, description="Not ours")
        shop.links.append(
            fixed := app.links.create(
                shop.merchant,
                amount=10_000,
                description="Kaos",
                usage_limit=2,
                expires_at=clock() + timedelta(days=3),
            )
        )
        shop.links.append(
            open_amount := app.links.create(
                shop.merchant,
                amount_min=1_000,
                amount_max=50_000,
                description="Donasi",
                usage_limit=None,
                expires_at=clock() + timedelta(hours=2),
            )
        )
        app.links.send(fixed, "email", "budi@example.com")
        app.links.open(fixed, "visitor-1")
        app.links.open(fixed, "visitor-2")
        first = shop.pay(fixed, "t1-a", 10_000, 150)
        shop.pay(theirs, "t1-theirs", 77_000, 700)
        seen = [shop.look()]

        clock.advance(timedelta(hours=1))
        second = shop.pay(fixed, "t2-a", 10_000, 150)  # the second use completes the link
        app.money.settle_payment(first, uuid4(), date(2026, 1, 5))
        gift = shop.pay(open_amount, "t2-b", 30_000, 300, offer=30_000)
        app.money.refund(gift, Money(5_000, "IDR"), "partly returned")
        shop.links.append(
            cancelled := app.links.create(shop.merchant, amount=20_000, description="Batal")
        )
        app.links.cancel(cancelled, "made by mistake")
        seen.append(shop.look())

        clock.advance(timedelta(hours=3))  # the open-amount link is past its expiry now
        app.money.settle_payment(second, uuid4(), date(2026, 1, 5))
        app.money.refund(first, Money(1_000, "IDR"), "damaged")
        extra = app.payments.record(first, "t3-extra", Money(10_000, "IDR"), clock())
        assert extra.anomaly == "link_already_completed"
        app.payments.verify(extra.payment_id)
        seen.append(shop.look())

        clock.advance(timedelta(days=1))
        app.money.settle_payment(gift, uuid4(), date(2026, 1, 6))
        app.money.refund(second, Money(2_500, "IDR"), "later change")
        app.links.open(open_amount, "visitor-late")
        catch_up(app, views)

        assert balances(views, shop.merchant, "test", as_of=before_anything) == {}
        assert link_as_of(views, shop.merchant, "test", fixed, before_anything) is None
        quiet = seen[0].at + timedelta(minutes=30)  # nothing happened between t1 and t2
        for at, then in [*((s.at, s) for s in seen), (quiet, seen[0])]:
            assert balances(views, shop.merchant, "test", as_of=at) == then.balances
            for link in shop.links:
                shown = then.links.get(link)
                past = link_as_of(views, shop.merchant, "test", link, at)
                if shown is None:
                    assert past is None
                    continue
                assert past is not None
                past_fields, shown_fields = dict(past), dict(shown)
                assert {k: past_fields[k] for k in COMPARED} == {
                    k: shown_fields[k] for k in COMPARED
                }
            # A page of links as of the instant: each link as it is rebuilt alone, and
            # every link that existed then (one created at that very instant too).
            page = links_as_of(views, shop.merchant, "test", at, limit=100)
            alone = [
                link_as_of(views, shop.merchant, "test", UUID(row["link_id"]), at)
                for row in page.items
            ]
            assert page.items == alone
            assert {UUID(row["link_id"]) for row in page.items} == {
                link for link in shop.links if then.links.get(link) is not None
            }
        assert [status(s, fixed) for s in seen] == ["active", "completed", "completed"]
        assert [status(s, open_amount) for s in seen] == ["active", "active", "expired"]
        assert [status(s, cancelled) for s in seen] == [None, "cancelled", "cancelled"]
        assert seen[0].balances != seen[1].balances != seen[2].balances

        for then, merchant_flag in ((seen[0], True), (seen[2], False)):
            extra_args = ["--merchant", str(shop.merchant)] if merchant_flag else []
            result = paylink(
                backend_settings,
                "audit",
                "replay",
                "--as-of",
                iso(then.at),
                "--format",
                "json",
                *extra_args,
            )
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            assert report["differences"] == []
            assert report["as_of"] == iso(then.at)
            key = ("merchant_id", "mode", "currency")
            books = {tuple(row[k] for k in key): row for row in report["balances"]}
            ours = {
                currency: {c: v for c, v in row.items() if c not in key}
                for (merchant, mode, currency), row in books.items()
                if merchant == str(shop.merchant) and mode == "test"
            }
            assert ours == then.balances
            others = {merchant for merchant, _, _ in books} - {str(shop.merchant)}
            assert others == (set() if merchant_flag else {str(neighbour)})


def test_a_flagged_payment_counts_once_in_a_link_as_of_an_instant(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Kurang")
        link, payment = recorded(app, clock, merchant, "qris", 10_000, received=4_000)
        assert app.payments.get(payment).anomaly == "underpaid"
        catch_up(app, views)
        now = link_detail(views, merchant, "test", link, clock())
        then = link_as_of(views, merchant, "test", link, clock())
    assert now is not None
    assert then is not None
    assert now["flagged_count"] == 1
    assert then["flagged_count"] == now["flagged_count"]
