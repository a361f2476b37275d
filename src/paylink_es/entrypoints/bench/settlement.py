"""Settlement: a day of verified payments settled in one run, beside one by one.

- ``settle_payments_per_s``: ``Paylink.settle`` over the day's payments;
- ``settle_one_by_one_per_s``: ``settle_payment`` for each, the baseline.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from uuid import uuid4

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.fees import DEFAULT_PLAN, fee_for
from paylink_es.domain.money import Money
from paylink_es.domain.payment import Payment
from paylink_es.entrypoints.bench.support import progress, scratch_settings
from paylink_es.settings import Settings


def seed_verified_payments(app: Paylink, count: int, chunk: int = 2_000) -> list[Any]:
    """``count`` verified VA payments of one merchant, saved a chunk per transaction."""
    merchant = app.merchants.register("Bench Settlement")
    paid_at = app.now() - timedelta(days=3)
    ids = []
    for start in range(0, count, chunk):
        payments = []
        for i in range(start, min(start + chunk, count)):
            amount = Money(50_000 + i % 1_000, "IDR")
            payment = Payment(
                id=uuid4(),
                merchant_id=merchant,
                mode="test",
                link_id=uuid4(),
                method="va_bca",
                channel="sandbox",
                amount=amount,
                instructions={},
                expires_at=None,
            )
            payment.receive(f"BENCH-{i}", amount, paid_at, paid_at)
            payment.verify(fee_for(DEFAULT_PLAN, "va_bca", amount), {})
            payments.append(payment)
            ids.append(payment.id)
        app.app.save(*payments)
    return ids


def bench_settlement(settings: Settings, count: int) -> dict[str, float]:
    """Settling a day of ``count`` verified payments, beside settling them one by one."""
    with scratch_settings(settings) as scratch, open_paylink(scratch) as app:
        progress(f"seeding {count:,} verified payments to settle...")
        ids = seed_verified_payments(app, count)
        sample = max(200, count // 50)
        day = app.now().date()
        progress(f"settling {count - sample:,} payments in one run...")
        started = time.perf_counter()
        run = app.money.settle(day, ids[sample:])
        bulk = run.settled / (time.perf_counter() - started)
        if run.settled != count - sample:
            msg = f"settled {run.settled} of {count - sample} payments"
            raise RuntimeError(msg)
        progress(f"baseline: {sample:,} payments settled one by one...")
        batch = uuid4()
        started = time.perf_counter()
        for payment_id in ids[:sample]:
            app.money.settle_payment(payment_id, batch, day)
        one_by_one = sample / (time.perf_counter() - started)
    return {"settle_payments_per_s": bulk, "settle_one_by_one_per_s": one_by_one}
