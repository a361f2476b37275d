"""A link's expiry becomes an event: on time, once, with several schedulers running."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from uuid import UUID

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.queries import feed as feed_queries
from projections.runner import ReadModels
from tests.support.read_models import catch_up
from workers.expiry import ExpiryScheduler, expire_due

EXPIRED_TOPIC = "paylink_es.domain.link:PaymentLink.Expired"


def expired_events(paylink: Paylink, link_id: UUID) -> int:
    return sum(
        1
        for n in paylink.app.recorder.select_notifications(start=1, limit=10_000)
        if n.topic == EXPIRED_TOPIC and n.originator_id == link_id
    )


def link_expiring_in(paylink: Paylink, clock: FakeClock, minutes: int) -> tuple[UUID, UUID]:
    merchant = paylink.merchants.register("Toko Kilat")
    link = paylink.links.create(
        merchant,
        amount=25_000,
        description="Flash sale",
        expires_at=clock() + timedelta(minutes=minutes),
    )
    return merchant, link


def test_an_expired_link_gets_its_event_once_and_the_feed_says_link_expired(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as paylink:
        merchant, link = link_expiring_in(paylink, clock, 30)
        later = paylink.links.create(
            merchant,
            amount=25_000,
            description="Later",
            expires_at=clock() + timedelta(hours=2),
        )
        catch_up(paylink, views)
        assert expire_due(paylink, views) == 0  # nothing is due yet
        clock.advance(timedelta(minutes=30))
        # Before the event lands the link already reads as expired.
        assert paylink.links.get(link).status == "expired"
        assert expire_due(paylink, views) == 1
        catch_up(paylink, views)
        assert expire_due(paylink, views) == 0  # once
        assert expired_events(paylink, link) == 1
        assert expired_events(paylink, later) == 0
        page = feed_queries.events(views, merchant, "test", after=None, limit=50)
        kinds = [json.loads(row["payload"])["type"] for row in page.items]
        assert kinds.count("link.expired") == 1


def test_schedulers_in_several_processes_expire_a_link_exactly_once(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with (
        open_paylink(backend_settings, clock=clock) as first,
        open_paylink(backend_settings, clock=clock) as second,
    ):
        _, link = link_expiring_in(first, clock, 5)
        catch_up(first, views)
        clock.advance(timedelta(minutes=5))
        barrier = threading.Barrier(4)
        counts: list[int] = []

        def run(paylink: Paylink) -> None:
            barrier.wait(timeout=30)
            counts.append(expire_due(paylink, views))

        threads = [threading.Thread(target=run, args=(p,)) for p in (first, second) * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sum(counts) == 1
        assert expired_events(first, link) == 1


def test_the_scheduler_thread_expires_links_as_their_time_comes(
    backend_settings: Settings, clock: FakeClock, views: ReadModels
) -> None:
    with open_paylink(backend_settings, clock=clock) as paylink:
        _, link = link_expiring_in(paylink, clock, 1)
        catch_up(paylink, views)
        clock.advance(timedelta(minutes=1))
        scheduler = ExpiryScheduler(paylink, views, every_s=0.05)
        scheduler.start()
        try:
            for _ in range(400):
                if expired_events(paylink, link):
                    break
                scheduler.stopping.wait(0.05)
        finally:
            scheduler.stop()
        assert expired_events(paylink, link) == 1
        assert not scheduler.is_alive()
