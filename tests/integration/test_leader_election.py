"""One leader per background worker among nodes on one PostgreSQL, and the fence that stops
an old leader's writes once another node took its worker over.

Two electors stand for two nodes. A node "dies" the way PostgreSQL sees a dead node: its
lease session ends (``pg_terminate_backend``), and with it every advisory lock it held.
The old leader's own elector has not noticed yet, so its terms still look current to it —
a paused or cut-off node — and every kind of write its workers make is tried with them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import Tracking
from psycopg import sql
from psycopg.rows import dict_row

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from paylink_es.store.leases import (
    EXPIRY,
    PROJECTIONS,
    WEBHOOKS,
    Claims,
    Elector,
    LeaseLostError,
    LocalLeases,
    Term,
    claims_for,
    fenced,
    leadership,
    leases_for,
    run_elected,
)
from paylink_es.store.postgres import settings_for
from projections.queries.outbox import due_deliveries
from projections.runner import CatchUp, ProjectionService, ReadModels, up_to_date
from tests.support.leases import lock_holders
from tests.support.read_models import another_store, positions
from tests.support.webhooks import webhook_receiver
from workers.webhook_sender import CLAIM_TTL_S, DeliveryWorker

WAIT_S = 30.0  # a bound for what takes a moment (a session to end); no speed is asserted


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    base = Settings(database_url=pg_url, data_dir=tmp_path / "var", postgres_pool_size=2)
    with another_store(base, tmp_path) as settings:
        yield settings


@pytest.fixture
def admin(pg_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def nodes(pg_settings: Settings) -> Iterator[Callable[[str], Elector]]:
    """Electors for nodes of this test (names no other test uses), closed at the end."""
    made: list[Elector] = []
    suffix = uuid.uuid4().hex[:8]

    def node(name: str) -> Elector:
        elector = Elector(
            settings_for(pg_settings),
            pg_settings.database_schema or "public",
            f"{name}-{suffix}",
        )
        made.append(elector)
        return elector

    yield node
    for elector in made:
        elector.close()


def first_leads(nodes: Callable[[str], Elector], *workers: str) -> tuple[Elector, Elector]:
    """Two nodes that want ``workers``; the first has taken them all."""
    first, second = nodes("first"), nodes("second")
    for node in (first, second):
        for worker in workers:
            node.lease(worker)
    first.elect_once()
    return first, second


def end_session(admin: psycopg.Connection[dict[str, Any]], node: Elector) -> None:
    """The node's lease session ends, as when its process is killed or cut off."""
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (node.connection.application_name,),
    )


def until_leads(node: Elector, worker: str) -> Term:
    deadline = time.monotonic() + WAIT_S
    while worker not in node.terms():
        assert time.monotonic() < deadline, f"{node.node} never took {worker} over"
        time.sleep(0.05)
        node.elect_once()
    return node.terms()[worker]


@pytest.mark.postgres
def test_one_node_leads_each_worker_and_another_takes_over_when_its_session_ends(
    pg_settings: Settings, admin: psycopg.Connection[dict[str, Any]], nodes: Any
) -> None:
    schema = pg_settings.database_schema or "public"
    first, second = first_leads(nodes, PROJECTIONS, WEBHOOKS)
    second.elect_once()
    assert set(first.terms()) == {PROJECTIONS, WEBHOOKS}
    assert second.terms() == {}
    holders = lock_holders(admin, schema)
    assert holders[PROJECTIONS] == holders[WEBHOOKS] == [first.connection.application_name]
    status = {row.worker: row for row in leadership(pg_settings)}
    assert (status[PROJECTIONS].node, status[PROJECTIONS].epoch) == (first.node, 1)
    assert status[PROJECTIONS].led
    assert status[EXPIRY].node is None
    assert not status[EXPIRY].led

    old = first.terms()[PROJECTIONS]
    end_session(admin, first)
    new = until_leads(second, PROJECTIONS)
    until_leads(second, WEBHOOKS)
    assert new.fence is not None
    assert old.fence is not None
    assert (new.fence.node, new.fence.epoch) == (second.node, 2)
    assert not old.ended.is_set()  # the old leader has not noticed yet: it could still write

    first.elect_once()  # now it notices: its connection is gone, and every term with it
    assert old.ended.is_set()
    assert first.terms() == {}
    first.elect_once()  # a new connection: the locks are the other node's now
    assert first.terms() == {}
    holders = lock_holders(admin, schema)
    assert holders[PROJECTIONS] == holders[WEBHOOKS] == [second.connection.application_name]
    status = {row.worker: row for row in leadership(pg_settings)}
    assert (status[WEBHOOKS].node, status[WEBHOOKS].epoch) == (second.node, 2)


@pytest.mark.postgres
def test_the_old_leaders_writes_are_refused_once_another_node_took_over(
    pg_settings: Settings, admin: psycopg.Connection[dict[str, Any]], nodes: Any
) -> None:
    first, second = first_leads(nodes, PROJECTIONS, WEBHOOKS, EXPIRY)
    stale = first.terms()
    end_session(admin, first)
    for worker in (PROJECTIONS, WEBHOOKS, EXPIRY):
        until_leads(second, worker)
    current = second.terms()

    with open_paylink(pg_settings) as paylink:
        paylink.merchants.register("Toko Dulu")
        head = paylink.app.recorder.max_notification_id()
        models = ReadModels(pg_settings, ["links", "audit"])
        try:
            views_refused(paylink, models, stale[PROJECTIONS], current[PROJECTIONS])
        finally:
            models.close()

        # Events a scheduler saves: refused whole, nothing stored.
        with fenced(stale[EXPIRY].fence), pytest.raises(LeaseLostError, match="no longer leads"):
            paylink.merchants.register("Toko Basi")
        assert paylink.app.recorder.max_notification_id() == head
        with fenced(current[EXPIRY].fence):
            paylink.merchants.register("Toko Baru")
        assert paylink.app.recorder.max_notification_id() == (head or 0) + 1

        # The webhook sender's claim of a try: the old term cannot claim it, the new one can.
        claims = Claims(paylink.app.recorder.datastore, WEBHOOKS, ttl_s=60.0)  # type: ignore[attr-defined]
        with fenced(stale[WEBHOOKS].fence), pytest.raises(LeaseLostError):
            claims.claim("delivery-1#1")
        with fenced(current[WEBHOOKS].fence):
            assert claims.claim("delivery-1#1")
            assert claims.claim("delivery-1#1")  # the same term again: its record failed


def views_refused(paylink: Paylink, models: ReadModels, stale: Term, current: Term) -> None:
    """The old term moves no view (rows or position); the new one feeds them."""
    head = paylink.app.recorder.max_notification_id() or 0
    links = models["links"].view
    with fenced(stale.fence):
        with pytest.raises(LeaseLostError):
            CatchUp(paylink.app, list(models.models.values())).run_once()
        with pytest.raises(LeaseLostError):
            links.apply([], Tracking(paylink.app.name, head))
        with pytest.raises(LeaseLostError):
            links.record_failure(head, "a failure the old leader saw", "2026-01-01T00:00:00Z")
    assert links.max_tracking_id(paylink.app.name) is None
    assert links.failure() is None
    with fenced(current.fence):
        CatchUp(paylink.app, list(models.models.values())).run_once()
    assert {m.view.max_tracking_id(paylink.app.name) for m in models.models.values()} == {head}


@pytest.mark.postgres
def test_a_takeover_waits_for_the_old_leaders_write_under_way(
    pg_settings: Settings, admin: psycopg.Connection[dict[str, Any]], nodes: Any
) -> None:
    first, second = first_leads(nodes, PROJECTIONS)
    term = first.terms()[PROJECTIONS]
    assert term.fence is not None
    with open_paylink(pg_settings) as paylink:
        datastore = paylink.app.recorder.datastore  # type: ignore[attr-defined]
        with datastore.transaction(commit=True) as curs:
            term.fence.check(curs)  # the write under way holds the lease row
            end_session(admin, first)
            taking = threading.Thread(target=until_leads, args=(second, PROJECTIONS))
            taking.start()
            waiting_on_lock(admin, second)
            assert PROJECTIONS not in second.terms()
        taking.join(timeout=WAIT_S)
    assert not taking.is_alive()
    fence = second.terms()[PROJECTIONS].fence
    assert fence is not None
    assert fence.epoch == 2


def waiting_on_lock(admin: psycopg.Connection[dict[str, Any]], node: Elector) -> None:
    """Wait until ``node``'s lease session waits for a row lock (its takeover)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        row = admin.execute(
            "SELECT count(*) AS n FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            (node.connection.application_name,),
        ).fetchone()
        if row is not None and row["n"] == 1:
            return
        assert time.monotonic() < deadline, "the takeover never waited for the write"
        time.sleep(0.05)


def test_on_sqlite_every_process_leads_its_workers_and_nothing_is_fenced(
    tmp_path: Path,
) -> None:
    leases = leases_for(Settings(data_dir=tmp_path / "var"))
    assert isinstance(leases, LocalLeases)
    lease = leases.lease(PROJECTIONS)
    leases.start()
    stopping = threading.Event()
    terms: list[Term] = []

    def body(ended: threading.Event) -> None:
        term = lease.current()
        assert term is not None
        terms.append(term)
        lease.resign()  # as the worker's stop does
        assert ended.is_set()

    run_elected(lease, stopping, body)
    leases.close()
    assert [(term.worker, term.fence) for term in terms] == [(PROJECTIONS, None)]
    assert lease.current() is None


@pytest.mark.postgres
def test_two_nodes_that_both_believe_they_lead_the_webhooks_post_each_try_once(
    pg_settings: Settings, admin: psycopg.Connection[dict[str, Any]], nodes: Any
) -> None:
    first, second = first_leads(nodes, WEBHOOKS)
    stale = first.terms()[WEBHOOKS]
    with webhook_receiver() as endpoint, open_paylink(pg_settings) as paylink:
        merchant = paylink.merchants.register("Toko Dua Pemimpin")
        url = f"{endpoint.url}/hooks"
        paylink.webhooks.create_endpoint(merchant, "test", url, None, allow_private=True)
        paylink.links.create(merchant, amount=10_000, description="Sekali saja", usage_limit=None)
        models = ReadModels(pg_settings, ["outbox"])
        try:
            CatchUp(paylink.app, [models["outbox"]]).run_once()
            datastore = paylink.app.recorder.datastore  # type: ignore[attr-defined]
            claims = claims_for(datastore, WEBHOOKS, CLAIM_TTL_S)
            senders = [
                DeliveryWorker(paylink, models.outbox(), allow_private=True, claims=claims)
                for _ in range(2)
            ]
            # The old leader claimed the try, then was cut off (its post may be under way).
            (due,) = due_deliveries(models.outbox(), paylink.now(), 10)
            with fenced(stale.fence):
                assert claims is not None
                assert claims.claim(f"{due['delivery_id']}#1")
            end_session(admin, first)
            current = until_leads(second, WEBHOOKS)
            with fenced(current.fence):
                assert senders[1].run_once() == 0  # the claim is the old term's: no post
            with fenced(stale.fence), pytest.raises(LeaseLostError):
                senders[0].run_once()  # the old node cannot claim anything any more
            assert endpoint.events() == []
            # Once the old claim is past its time, the new leader makes the try, once.
            senders[1].claims = claims_for(datastore, WEBHOOKS, 0.0)
            with fenced(current.fence):
                assert senders[1].run_once() == 1
                CatchUp(paylink.app, [models["outbox"]]).run_once()
                assert senders[1].run_once() == 0
            for sender in senders:
                sender.close()
        finally:
            models.close()
        assert len(endpoint.events()) == 1
    # The try was recorded, and its claim let go.
    claims_table = sql.Identifier(pg_settings.database_schema or "public", "worker_claims")
    left = admin.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(claims_table))
    assert left.fetchone() == {"n": 0}


@pytest.mark.postgres
def test_a_one_off_command_catches_up_alone_or_waits_for_the_node_that_leads(
    pg_settings: Settings, nodes: Any
) -> None:
    with open_paylink(pg_settings) as paylink:
        paylink.merchants.register("Toko Sekali")
        head = paylink.app.recorder.max_notification_id()
        models = ReadModels(pg_settings, ["links", "payments"])
        try:
            views = list(models.models.values())
            # Nobody leads the projections: the command feeds the views itself, in a term.
            up_to_date(pg_settings, paylink.app, views)
            assert set(positions(models).values()) == {head}
            assert [row.led for row in leadership(pg_settings, [PROJECTIONS])] == [False]

            paylink.merchants.register("Toko Kedua")
            newer = paylink.app.recorder.max_notification_id()
            leader = nodes("leader")
            leader.lease(PROJECTIONS)
            leader.elect_once()
            term = leader.terms()[PROJECTIONS]
            # A node leads them: the command does not write, it waits for the leader.
            with pytest.raises(TimeoutError):
                up_to_date(pg_settings, paylink.app, views, wait_s=0.3)
            assert set(positions(models).values()) == {head}
            with fenced(term.fence):
                CatchUp(paylink.app, views).run_once()
            up_to_date(pg_settings, paylink.app, views, wait_s=0.3)
            assert set(positions(models).values()) == {newer}
        finally:
            models.close()


@pytest.mark.postgres
def test_a_node_whose_lease_session_ends_stops_feeding_the_views_and_another_goes_on(
    pg_settings: Settings, admin: psycopg.Connection[dict[str, Any]]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    electors = [
        Elector(
            settings_for(pg_settings),
            pg_settings.database_schema or "public",
            f"{name}-{suffix}",
            retry_s=0.1,
        )
        for name in ("first", "second")
    ]
    with open_paylink(pg_settings) as paylink:
        paylink.merchants.register("Toko Bergilir")
        services = []
        for elector in electors:
            models = ReadModels(pg_settings, ["links", "audit"])
            services.append(
                ProjectionService(
                    pg_settings, paylink.app, models, lease=elector.lease(PROJECTIONS)
                )
            )
        first, second = services
        try:
            for elector, service in zip(electors, services, strict=True):
                elector.start()
                service.start()
            assert PROJECTIONS in electors[0].terms()
            first.wait_until(paylink.app.recorder.max_notification_id() or 0, timeout=WAIT_S)

            end_session(admin, electors[0])
            until_leads(electors[1], PROJECTIONS)
            paylink.merchants.register("Toko Penerus")
            head = paylink.app.recorder.max_notification_id() or 0
            second.wait_until(head, timeout=WAIT_S)
            deadline = time.monotonic() + WAIT_S
            while first.thread.lease.current() is not None:  # its elector notices the loss
                assert time.monotonic() < deadline, "the old leader never noticed"
                time.sleep(0.05)
            assert first.thread.is_alive()  # cold now, waiting for a term of its own again
            assert second.thread.lease.current() is not None
        finally:
            for service, elector in zip(services, electors, strict=True):
                service.stop()
                service.models.close()
                elector.close()
    assert not any(service.thread.is_alive() for service in services)
