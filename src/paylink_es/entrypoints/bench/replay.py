"""Reading the log: whole payment lifecycles to read, then the log read back.

- ``replay_events_per_s``: reading and decoding the whole log in pages of 1,000;
- ``raw_read_events_per_s``: the same pages without decoding, the read limit.

Both read a log that was read once before (untimed), so neither pays for being first,
and each is the median of :data:`ROUNDS` passes taken in turn (replay, raw read, replay…):
one pass over the quick bench's log takes a tenth of a second, where a single pass
swings with whatever else the machine does.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from paylink_es.application.services import Paylink
from paylink_es.domain.money import Money

PAGE = 1000
ROUNDS = 5


def seed_lifecycles(
    app: Paylink, count: int, *, merchant: UUID | None = None, threads: int = 1
) -> UUID:
    """Whole payment lifecycles (link, payment, receipt, verification, settlement) of
    ``merchant`` (a new one if None), from ``threads`` threads at once (their saves then
    share commits); returns the merchant."""
    if merchant is None:
        merchant = app.merchants.register("Bench Lifecycles")
    owner = merchant
    today = app.now().date()
    batch = app.app.new_id()

    def lifecycle(i: int) -> None:
        link = app.links.create(
            owner, amount=50_000 + i, description="Paket data", methods=["qris", "va_bri"]
        )
        payment = app.payments.start(link, "qris")
        app.payments.record(
            payment, f"bench-{batch.hex[:8]}-{i}", Money(50_000 + i, "IDR"), app.now()
        )
        app.payments.verify(payment, fee=Money(350, "IDR"))
        app.money.settle_payment(payment, batch, today)

    if threads <= 1:
        for i in range(count):
            lifecycle(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lifecycle, range(count)))
    return merchant


def bench_reads(app: Paylink, rounds: int = ROUNDS) -> tuple[int, float, float]:
    """(events, replay events/s, raw read events/s): medians of ``rounds`` passes each,
    in turn, after one untimed raw read."""
    bench_raw_read(app)
    replays: list[float] = []
    raw_reads: list[float] = []
    events = 0
    for _ in range(rounds):
        events, rate = bench_replay(app)
        replays.append(rate)
        raw_reads.append(bench_raw_read(app))
    return events, statistics.median(replays), statistics.median(raw_reads)


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
