"""Commands racing on real databases: conflicts are retried, money counted once, nothing escapes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.persistence import Recording

from paylink_es.application import PaylinkApp
from paylink_es.bootstrap import open_app
from paylink_es.clock import FakeClock
from paylink_es.details import PaymentOutcome
from paylink_es.money import Money
from paylink_es.settings import Settings

T = TypeVar("T")
IDR_150K = Money(150_000, "IDR")


def all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..count-1)`` in threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:  # reported below, in the test thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a command hung"
    if failures:
        raise failures[0]
    return [results[index] for index in range(count)]


def lockstep_saves(app: PaylinkApp, monkeypatch: pytest.MonkeyPatch, count: int) -> list[int]:
    """Hold each thread's first save until all ``count`` threads have read and want to save.

    Every thread then acts on the same stale state, so all but one must hit a write
    conflict and be retried: the race the test is about happens on every run, not by luck.
    Returns a one-item list counting the saves attempted.
    """
    barrier = threading.Barrier(count)
    first_try = threading.local()
    attempts = [0]
    counting = threading.Lock()
    save = app.save

    def save_in_lockstep(*objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        with counting:
            attempts[0] += 1
        if not getattr(first_try, "done", False):
            first_try.done = True
            barrier.wait(timeout=30)
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", save_in_lockstep)
    return attempts


def single_use_link(app: PaylinkApp, clock: FakeClock, **extra: object) -> tuple[UUID, UUID]:
    """A merchant and one of its single-use IDR 150,000 links."""
    merchant_id = app.register_merchant("Toko Budi")
    link_id = app.create_link(
        merchant_id,
        amount=150_000,
        description="Kaos polos hitam",
        expires_at=clock() + timedelta(days=1),
        usage_limit=1,
        **extra,
    )
    return merchant_id, link_id


LOCKSTEP = pytest.mark.parametrize("lockstep", [False, True], ids=["free", "lockstep"])


@LOCKSTEP
@pytest.mark.parametrize("payers", [2, 8])
def test_concurrent_payments_complete_a_single_use_link_exactly_once(
    backend_app: PaylinkApp,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    payers: int,
    lockstep: bool,
) -> None:
    _, link_id = single_use_link(backend_app, clock)
    payments = [backend_app.start_payment(link_id, "qris") for _ in range(payers)]
    saves = lockstep_saves(backend_app, monkeypatch, payers) if lockstep else None

    outcomes = all_at_once(
        payers,
        lambda i: backend_app.record_payment(payments[i], f"QR-{i}", IDR_150K, clock()),
    )

    assert [outcome.duplicate for outcome in outcomes] == [False] * payers
    accepted = [outcome for outcome in outcomes if outcome.anomaly is None]
    refused = [outcome for outcome in outcomes if outcome.anomaly is not None]
    assert len(accepted) == 1
    assert {outcome.anomaly for outcome in refused} == {"link_already_completed"}
    link = backend_app.link(link_id)
    assert (link.status, link.uses, link.collected) == ("completed", 1, 150_000)
    for outcome in refused:
        payment = backend_app.payment(outcome.payment_id)
        assert (payment.received, payment.disposition) == (IDR_150K, "refund_due")
    assert backend_app.payment(accepted[0].payment_id).disposition is None
    received = [backend_app.payment(p).received for p in payments]
    assert received == [IDR_150K] * payers
    if saves is not None:  # every loser of the race really was retried
        assert saves[0] >= 2 * payers - 1


@LOCKSTEP
def test_concurrent_creates_with_one_reference_make_one_link(
    backend_app: PaylinkApp, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, lockstep: bool
) -> None:
    merchant_id = backend_app.register_merchant("Toko Budi")
    saves = lockstep_saves(backend_app, monkeypatch, 8) if lockstep else None

    def create(index: int) -> UUID:
        return backend_app.create_link(
            merchant_id,
            amount=150_000 + index,  # a retried request may differ; the first one wins
            description="Kaos polos hitam",
            reference_id="INV-2026-0042",
        )

    ids = all_at_once(8, create)

    assert len(set(ids)) == 1
    created = [
        n
        for n in backend_app.recorder.select_notifications(start=1, limit=1000)
        if n.topic == "paylink_es.link:PaymentLink.Created"
    ]
    assert len(created) == 1
    code_indexes = [
        n
        for n in backend_app.recorder.select_notifications(start=1, limit=1000)
        if n.topic == "paylink_es.link:LinkCodeIndex.Indexed"
    ]
    assert len(code_indexes) == 1  # the losers left no orphan short code behind
    assert backend_app.link(ids[0]).amount in range(150_000, 150_008)
    if saves is not None:
        assert saves[0] == 8  # the losers found the link on their retry and saved nothing


@LOCKSTEP
def test_concurrent_reports_of_one_channel_reference_count_the_money_once(
    backend_app: PaylinkApp, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, lockstep: bool
) -> None:
    _, link_id = single_use_link(backend_app, clock)
    payment_id = backend_app.start_payment(link_id, "va_bca", channel="bca")
    saves = lockstep_saves(backend_app, monkeypatch, 8) if lockstep else None

    outcomes: list[PaymentOutcome] = all_at_once(
        8, lambda _: backend_app.record_payment(payment_id, "BCA-0001", IDR_150K, clock())
    )

    assert sorted(outcome.duplicate for outcome in outcomes) == [False] + [True] * 7
    assert {outcome.payment_id for outcome in outcomes} == {payment_id}
    assert [o.anomaly for o in outcomes if not o.duplicate] == [None]
    link = backend_app.link(link_id)
    assert (link.status, link.uses, link.collected) == ("completed", 1, 150_000)
    received = [
        n
        for n in backend_app.recorder.select_notifications(start=1, limit=1000)
        if n.topic == "paylink_es.payment:Payment.Received"
    ]
    assert len(received) == 1
    if saves is not None:
        assert saves[0] == 8


@LOCKSTEP
def test_concurrent_reports_on_one_payment_with_different_references_keep_all_the_money(
    backend_app: PaylinkApp, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, lockstep: bool
) -> None:
    _, link_id = single_use_link(backend_app, clock)
    payment_id = backend_app.start_payment(link_id, "va_bca", channel="bca")
    if lockstep:
        lockstep_saves(backend_app, monkeypatch, 4)

    outcomes = all_at_once(
        4, lambda i: backend_app.record_payment(payment_id, f"BCA-{i}", IDR_150K, clock())
    )

    assert len({outcome.payment_id for outcome in outcomes}) == 4
    assert sorted(str(outcome.anomaly) for outcome in outcomes) == [
        "None",
        "link_already_completed",
        "link_already_completed",
        "link_already_completed",
    ]
    received = [backend_app.payment(outcome.payment_id).received for outcome in outcomes]
    assert received == [IDR_150K] * 4
    assert backend_app.link(link_id).collected == 150_000


def test_two_app_instances_racing_on_one_link_still_complete_it_once(
    backend_app: PaylinkApp, backend_settings: Settings, clock: FakeClock
) -> None:
    """Two API workers on one database: each has its own pool, the database arbitrates."""
    _, link_id = single_use_link(backend_app, clock)
    payments = [backend_app.start_payment(link_id, "qris") for _ in range(8)]
    other = open_app(backend_settings, clock=clock)
    try:
        workers = [backend_app, other]
        outcomes = all_at_once(
            8,
            lambda i: workers[i % 2].record_payment(payments[i], f"QR-{i}", IDR_150K, clock()),
        )
    finally:
        other.close()
    assert (
        sorted(str(outcome.anomaly) for outcome in outcomes)
        == ["None"] + ["link_already_completed"] * 7
    )
    link = backend_app.link(link_id)
    assert (link.status, link.uses, link.collected) == ("completed", 1, 150_000)
