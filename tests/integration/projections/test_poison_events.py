"""One event a read model cannot apply stops that read model alone, visibly, until a fix.

Every entry bounds amounts now, so such an event can only be planted: here a payment's
``Received`` carrying 10**16 rupiah, beyond what any Money may hold, is written past the
bound straight into the store. The read models that read it stop at it and say so in
``projections status``; the others move on; once the code can read it (here: the bound
raised back), the stopped ones resume from where they stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

import pytest

from paylink_es.application import payments as application_module
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain import money as money_module
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import AmountInvalidError
from paylink_es.domain.money import MAX_MINOR_UNITS, MAX_MONEY, Money
from paylink_es.settings import Settings
from projections import runner as runner_module
from projections.readmodel import reader_for
from projections.runner import ProjectionService, ReadModels, status
from tests.support.read_models import paylink

HUGE = 10**16


def _until(condition: Callable[[], bool], what: Callable[[], str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.05)


def test_no_entry_lets_an_amount_past_the_bound() -> None:
    with pytest.raises(AmountInvalidError):
        Money(MAX_MONEY + 1, "IDR")
    with pytest.raises(AmountInvalidError):
        Money(-(2**63), "IDR")
    with pytest.raises(AmountInvalidError):
        Money.of(MAX_MINOR_UNITS + 1, "IDR")
    assert Money(MAX_MONEY, "IDR").amount == MAX_MONEY


def test_a_payment_beyond_the_limit_is_refused_and_nothing_is_stored(
    memory_app: Paylink,
) -> None:
    merchant = memory_app.merchants.register("Toko")
    link = memory_app.links.create(
        merchant, amount=5000, description="x", methods=["qris"], usage_limit=None
    )
    payment = memory_app.payments.start(link, "qris")
    head = memory_app.app.recorder.max_notification_id()
    with pytest.raises(AmountInvalidError):
        memory_app.payments.record(
            payment, "QR-X", Money(MAX_MINOR_UNITS + 1, "IDR"), memory_app.now()
        )
    assert memory_app.app.recorder.max_notification_id() == head


def test_a_planted_event_stops_only_the_read_models_that_read_it_until_a_fix(
    backend_settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "RETRY_FIRST_S", 0.2)
    monkeypatch.setattr(runner_module, "RETRY_MAX_S", 1.0)
    app = open_paylink(backend_settings, clock=clock)
    models = ReadModels(backend_settings)
    service = ProjectionService(backend_settings, app.app, models)
    try:
        merchant = app.merchants.register("Toko Poison")
        link = app.links.create(
            merchant, amount=5000, description="x", methods=["qris"], usage_limit=None
        )
        payment = app.payments.start(link, "qris")
        with monkeypatch.context() as planting:  # what no entry allows any more
            planting.setattr(money_module, "MAX_MONEY", 10**18)
            planting.setattr(application_module, "MAX_MINOR_UNITS", 10**18)
            app.payments.record(payment, "QR-HUGE", Money(HUGE, "IDR"), clock())
        poisoned = app.app.recorder.max_notification_id() or 0
        poison_at = next(
            n.id
            for n in app.app.recorder.select_notifications(0, 1000)
            if n.topic.endswith("Payment.Received")
        )
        # Planted while no read model ran (they decode in this process).
        service.start()
        # Another merchant carries on.
        other = app.merchants.register("Toko Lain")
        app.links.create(other, amount=7000, description="y", methods=["qris"])
        head = app.app.recorder.max_notification_id() or 0
        assert head > poisoned

        # The events that carry the amount: the payment's receipt and its flag (overpaid).
        carrying = {"Payment.Received", "Payment.Flagged", "PaymentLink.PaymentFlagged"}
        readers = {
            name
            for name, model in models.models.items()
            if name != "audit" and any(reader_for(type(model))(topic) for topic in carrying)
        }
        assert {"links", "payments"} <= readers
        assert "stats" not in readers

        def settled() -> bool:
            rows = status(app.app, models)
            return all((row.failure is not None) == (row.name in readers) for row in rows) and all(
                row.position == head for row in rows if row.name not in readers
            )

        _until(
            settled,
            lambda: (
                f"expected {sorted(readers)} stopped, the rest at {head}: {status(app.app, models)}"
            ),
        )
        rows = {row.name: row for row in status(app.app, models)}
        for name in readers:
            failure = rows[name].failure
            assert failure is not None
            failed_at = int(failure.split(":")[0].removeprefix("at "))
            assert failed_at >= poison_at, failure
            assert rows[name].position < failed_at, name
            assert "beyond the limit of" in failure, failure
        assert rows["stats"].position == head  # the other merchant's link is counted
        shown = paylink(backend_settings, "projections", "status")
        assert shown.returncode == 1, shown.stdout + shown.stderr
        assert "cannot apply the event at" in shown.stdout
        assert "beyond the limit of" in shown.stdout

        # The fix: code that can read the event (here, the bound raised back).
        monkeypatch.setattr(money_module, "MAX_MONEY", 10**18)
        _until(
            lambda: all(
                row.position == head and row.failure is None for row in status(app.app, models)
            ),
            lambda: f"the stopped read models did not resume: {status(app.app, models)}",
        )
        linked = models["payments"].view.query(
            "SELECT received FROM {s}payments WHERE payment_id = ?", (str(UUID(str(payment))),)
        )
        assert linked == [{"received": HUGE}]
    finally:
        service.stop()
        models.close()
        app.close()
