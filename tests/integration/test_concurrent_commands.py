"""Commands racing on real databases: conflicts are retried, money counted once, nothing escapes.

Each race runs three ways: through the app as ``open_paylink`` builds it (group commit: one
writer thread coalesces commands, a conflicting batch reruns command by command); with
group commit off, threads writing for themselves; and with group commit off in lockstep,
every thread held at its first save until all have read, so that the losers' retries
happen on every run rather than by luck.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.persistence import Recording

from paylink_es.application.details import PaymentOutcome
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
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


def lockstep_saves(app: Paylink, monkeypatch: pytest.MonkeyPatch, count: int) -> list[int]:
    """Hold each thread's first save until all ``count`` threads have read and want to save.

    Every thread then acts on the same stale state, so all but one must hit a write
    conflict and be retried: the race the test is about happens on every run, not by luck.
    Returns a one-item list counting the saves attempted.
    """
    barrier = threading.Barrier(count)
    first_try = threading.local()
    attempts = [0]
    counting = threading.Lock()
    save = app.app.save

    def save_in_lockstep(*objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        with counting:
            attempts[0] += 1
        if not getattr(first_try, "done", False):
            first_try.done = True
            barrier.wait(timeout=30)
        return save(*objs, **kwargs)

    monkeypatch.setattr(app.app, "save", save_in_lockstep)
    return attempts


WRITERS = ["group-commit", "threads", "lockstep"]


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest) -> str:
    """How concurrent commands reach the database (see the module docstring)."""
    mode: str = request.param
    return mode


@pytest.fixture
def app(backend_settings: Settings, clock: FakeClock, writer: str) -> Iterator[Paylink]:
    """The app on the test's database, with group commit on or off as ``writer`` says."""
    settings = backend_settings.model_copy(update={"group_commit": writer == "group-commit"})
    app = open_paylink(settings, clock=clock)
    assert (app.app.committer is not None) == (writer == "group-commit")
    try:
        yield app
    finally:
        app.close()


def hold_saves_if_lockstep(
    app: Paylink, monkeypatch: pytest.MonkeyPatch, writer: str, count: int
) -> list[int] | None:
    """Put ``app`` in lockstep for ``count`` threads when the writer mode asks for it."""
    return lockstep_saves(app, monkeypatch, count) if writer == "lockstep" else None


def single_use_link(app: Paylink, clock: FakeClock, **extra: object) -> tuple[UUID, UUID]:
    """A merchant and one of its single-use IDR 150,000 links."""
    merchant_id = app.merchants.register("Toko Budi")
    link_id = app.links.create(
        merchant_id,
        amount=150_000,
        description="Kaos polos hitam",
        expires_at=clock() + timedelta(days=1),
        usage_limit=1,
        **extra,
    )
    return merchant_id, link_id


@pytest.mark.parametrize("payers", [2, 8])
def test_concurrent_confirmations_complete_a_single_use_link_exactly_once(
    app: Paylink,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    writer: str,
    payers: int,
) -> None:
    _, link_id = single_use_link(app, clock)
    payments = [app.payments.start(link_id, "qris") for _ in range(payers)]
    # Every customer paid before any payment was confirmed: the link counts none yet.
    received = [
        app.payments.record(payments[i], f"QR-{i}", IDR_150K, clock()) for i in range(payers)
    ]
    assert [outcome.anomaly for outcome in received] == [None] * payers
    assert app.links.get(link_id).uses == 0
    saves = hold_saves_if_lockstep(app, monkeypatch, writer, payers)

    all_at_once(payers, lambda i: app.payments.verify(payments[i]))

    confirmed = [app.payments.get(p) for p in payments]
    assert [payment.status for payment in confirmed] == ["verified"] * payers
    accepted = [payment for payment in confirmed if payment.anomaly is None]
    refused = [payment for payment in confirmed if payment.anomaly is not None]
    assert len(accepted) == 1
    assert {payment.anomaly for payment in refused} == {"link_already_completed"}
    assert {payment.disposition for payment in refused} <= {"refund_due"}
    link = app.links.get(link_id)
    assert (link.status, link.uses, link.collected) == ("completed", 1, 150_000)
    assert accepted[0].disposition is None
    if saves is not None:  # every loser of the race really was retried
        assert saves[0] >= 2 * payers - 1


def test_concurrent_creates_with_one_reference_make_one_link(
    app: Paylink, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    merchant_id = app.merchants.register("Toko Budi")
    saves = hold_saves_if_lockstep(app, monkeypatch, writer, 8)

    def create(index: int) -> UUID:
        return app.links.create(
            merchant_id,
            amount=150_000,  # the same request eight times (another body would be refused)
            description="Kaos polos hitam",
            reference_id="INV-2026-0042",
        )

    ids = all_at_once(8, create)

    assert len(set(ids)) == 1
    created = [
        n
        for n in app.app.recorder.select_notifications(start=1, limit=1000)
        if n.topic == "paylink_es.domain.link:PaymentLink.Created"
    ]
    assert len(created) == 1
    code_indexes = [
        n
        for n in app.app.recorder.select_notifications(start=1, limit=1000)
        if n.topic == "paylink_es.domain.link:LinkCodeIndex.Indexed"
    ]
    assert len(code_indexes) == 1  # the losers left no orphan short code behind
    assert app.links.get(ids[0]).amount in range(150_000, 150_008)
    if saves is not None:
        assert saves[0] == 8  # the losers found the link on their retry and saved nothing


def test_concurrent_reports_of_one_channel_reference_count_the_money_once(
    app: Paylink, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    _, link_id = single_use_link(app, clock)
    payment_id = app.payments.start(link_id, "va_bca", channel="bca")
    saves = hold_saves_if_lockstep(app, monkeypatch, writer, 8)

    outcomes: list[PaymentOutcome] = all_at_once(
        8, lambda _: app.payments.record(payment_id, "BCA-0001", IDR_150K, clock())
    )

    assert sorted(outcome.duplicate for outcome in outcomes) == [False] + [True] * 7
    assert {outcome.payment_id for outcome in outcomes} == {payment_id}
    assert [o.anomaly for o in outcomes if not o.duplicate] == [None]
    received = [
        n
        for n in app.app.recorder.select_notifications(start=1, limit=1000)
        if n.topic == "paylink_es.domain.payment:Payment.Received"
    ]
    assert len(received) == 1
    if saves is not None:
        assert saves[0] == 8
    monkeypatch.undo()  # the race is over: confirm without lockstep
    app.payments.verify(payment_id)
    link = app.links.get(link_id)
    assert (link.status, link.uses, link.collected) == ("completed", 1, 150_000)


def test_concurrent_reports_on_one_payment_with_different_references_keep_all_the_money(
    app: Paylink, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    _, link_id = single_use_link(app, clock)
    payment_id = app.payments.start(link_id, "va_bca", channel="bca")
    hold_saves_if_lockstep(app, monkeypatch, writer, 4)

    outcomes = all_at_once(
        4, lambda i: app.payments.record(payment_id, f"BCA-{i}", IDR_150K, clock())
    )

    assert len({outcome.payment_id for outcome in outcomes}) == 4
    received = [app.payments.get(outcome.payment_id).received for outcome in outcomes]
    assert received == [IDR_150K] * 4
    monkeypatch.undo()  # the race is over: confirm without lockstep
    for outcome in outcomes:
        app.payments.verify(outcome.payment_id)
    assert sorted(str(app.payments.get(o.payment_id).anomaly) for o in outcomes) == [
        "None",
        "link_already_completed",
        "link_already_completed",
        "link_already_completed",
    ]
    assert app.links.get(link_id).collected == 150_000


def test_two_app_instances_racing_on_one_link_still_complete_it_once(
    backend_app: Paylink, backend_settings: Settings, clock: FakeClock
) -> None:
    """Two API workers on one database: each has its own pool, the database arbitrates."""
    _, link_id = single_use_link(backend_app, clock)
    payments = [backend_app.payments.start(link_id, "qris") for _ in range(8)]
    other = open_paylink(backend_settings, clock=clock)
    try:
        workers = [backend_app, other]

        def pay_and_confirm(i: int) -> None:
            worker = workers[i % 2]
            outcome = worker.payments.record(payments[i], f"QR-{i}", IDR_150K, clock())
            worker.payments.verify(outcome.payment_id)

        all_at_once(8, pay_and_confirm)
    finally:
        other.close()
    assert (
        sorted(str(backend_app.payments.get(p).anomaly) for p in payments)
        == ["None"] + ["link_already_completed"] * 7
    )
    link = backend_app.links.get(link_id)
    assert (link.status, link.uses, link.collected) == ("completed", 1, 150_000)
