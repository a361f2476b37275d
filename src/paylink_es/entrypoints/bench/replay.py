"""Reading the log: whole payment lifecycles to read, then the log read back.

- ``replay_events_per_s``: reading and decoding the whole log in pages of 1,000;
- ``raw_read_events_per_s``: the same pages without decoding, the read limit.
"""

from __future__ import annotations

import time

from paylink_es.application.services import Paylink
from paylink_es.domain.money import Money

PAGE = 1000


def seed_lifecycles(app: Paylink, count: int) -> None:
    """Whole payment lifecycles (link, payment, receipt, verification, settlement)."""
    merchant = app.merchants.register("Bench Lifecycles")
    today = app.now().date()
    batch = app.app.new_id()
    for i in range(count):
        link = app.links.create(
            merchant, amount=50_000 + i, description="Paket data", methods=["qris", "va_bri"]
        )
        payment = app.payments.start(link, "qris")
        app.payments.record(payment, f"bench-{i}", Money(50_000 + i, "IDR"), app.now())
        app.payments.verify(payment, fee=Money(350, "IDR"))
        app.money.settle_payment(payment, batch, today)


def bench_replay(app: Paylink) -> tuple[int, float]:
    """Read and decode the whole notification log in pages; return (events, events/s)."""
    started = time.perf_counter()
    events = 0
    last = 0
    while True:
        page = app.app.recorder.select_notifications(last, PAGE, inclusive_of_start=False)
        for notification in page:
            app.app.mapper.to_domain_event(notification)
        events += len(page)
        if len(page) < PAGE:
            break
        last = page[-1].id
    return events, events / (time.perf_counter() - started)


def bench_raw_read(app: Paylink) -> float:
    """``select_notifications`` over the whole log without decoding: the read limit."""
    started = time.perf_counter()
    events, last = 0, 0
    while True:
        page = app.app.recorder.select_notifications(last, PAGE, inclusive_of_start=False)
        events += len(page)
        if len(page) < PAGE:
            break
        last = page[-1].id
    return events / (time.perf_counter() - started)
