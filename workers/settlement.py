"""Settlement runs as operators and the server's scheduler start them.

The candidates come from the payments view (verified, unflagged); the money service checks each
again and settles the ones due by the day into that day's batches. Running it twice for
a day settles nothing twice.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from datetime import date
from uuid import UUID

from paylink_es.application.money import SettlementRun
from paylink_es.application.services import Paylink
from paylink_es.domain.clock import WIB
from paylink_es.store.leases import (
    SETTLEMENT,
)
from projections.queries.payments import SettledPaymentRow, settlement_candidates
from projections.runner import ReadModels, up_to_date
from workers.periodic import Periodic

log = logging.getLogger(__name__)
REPORT_COLUMNS = (
    "settlement_date",
    "settlement_batch",
    "payment_id",
    "link_id",
    "method",
    "channel",
    "channel_ref",
    "currency",
    "received",
    "refunded",
    "fee",
    "net",
    "paid_at",
)


def today_in_jakarta(paylink: Paylink) -> date:
    """The settlement day it is now (Asia/Jakarta), by the application's clock."""
    return paylink.now().astimezone(WIB).date()


def settle_day(
    paylink: Paylink,
    models: ReadModels,
    day: date,
    *,
    merchant_id: UUID | None = None,
    catch_up: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SettlementRun:
    """Settle every payment due by ``day`` (one merchant's, if given)."""
    if catch_up:
        try:
            up_to_date(models.settings, paylink.app, [models["payments"]])
        except Exception as error:
            log.warning("payments view not caught up (%s); settling what it shows", error)
    candidates = settlement_candidates(models, merchant_id)
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, len(candidates))

    return paylink.money.settle(day, candidates, progress=step)


class SettlementScheduler(Periodic):
    """Inside ``paylink serve``: settle today's due payments every ``every_s`` seconds;
    with a ``lease``, only while this node leads the settlement scheduler."""

    thread_name, worker, what = "settlement-scheduler", SETTLEMENT, "settlement run"
    runs = 0  # runs this scheduler made

    def tick(self) -> None:
        """Settle what is due today."""
        result = settle_day(self.paylink, self.models, today_in_jakarta(self.paylink))
        self.runs += 1
        if result.settled:
            log.info("settlement: %s", result.as_dict())


def report_csv(rows: list[SettledPaymentRow]) -> Iterator[str]:
    """The settlement report as CSV lines (header first)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow([row.get(column) for column in REPORT_COLUMNS])
        if out.tell() > 64 * 1024:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
