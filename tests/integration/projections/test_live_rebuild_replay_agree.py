"""Random histories: the live views, a rebuild from zero and the audit replay all agree.

The live views are fed while the commands run (the live catch-up thread, woken by the
store's doorbell: a datagram socket on SQLite, LISTEN on PostgreSQL). The rebuild reads
the same store into views in another database (batched catch-up). Both must hold the
same rows in every table, and say what the aggregates themselves say.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.audit import verify_chain
from projections.ledger import BALANCE_COLUMNS
from projections.queries.ledger import balances
from projections.replay import replay
from projections.runner import ProjectionService, ReadModels
from tests.support.examples import scaled
from tests.support.histories import (
    HISTORIES,
    History,
    Op,
    check_links_as_of,
    check_positions,
    check_views_against_aggregates,
)
from tests.support.read_models import (
    LISTENING,
    MODEL_NAMES,
    Snapshot,
    another_store,
    head,
    positions,
    rebuilt_elsewhere,
    snapshot,
    wait_for_listeners,
)

EXAMPLES = {"sqlite": scaled(15), "postgres": scaled(8)}


def test_live_views_equal_a_rebuild_from_zero_and_the_audit_replay(
    backend_settings: Settings, tmp_path: Path
) -> None:
    examples = iter(range(1_000_000))

    @settings(
        max_examples=EXAMPLES[backend_settings.backend],
        deadline=None,
        database=None,
        # Shrinking a history that runs on a database takes minutes; the failing
        # example is printed as drawn.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(operations=HISTORIES, midpoint=st.floats(0.2, 0.8))
    def agree(operations: list[Op], midpoint: float) -> None:
        folder = tmp_path / f"example{next(examples)}"
        with another_store(backend_settings, folder) as store:
            check_history(store, folder, operations, midpoint)

    agree()


def check_history(store: Settings, folder: Path, operations: list[Op], midpoint: float) -> None:
    clock = FakeClock()
    with open_paylink(store, clock=clock) as app:
        service = ProjectionService(store, app.app)
        service.start()
        try:
            wait_for_listeners(store, LISTENING)
            history = History(app, clock)
            cut = int(len(operations) * midpoint)
            history.play_all(operations[:cut])
            middle = clock()
            clock.advance(timedelta(seconds=1))
            history.play_all(operations[cut:])
            service.wait_until(head(app), timeout=30)
            live = snapshot(service.models)
            assert positions(service.models) == dict.fromkeys(MODEL_NAMES, head(app))
            check_views_against_aggregates(app, history, live)
            check_positions(app, live)
            check_audit(app, service.models, history, live, middle)
            check_links_as_of(app, service.models, history, middle)
        finally:
            service.stop()
        rebuilt = rebuilt_elsewhere(app, store, folder / "rebuild")
    assert live.keys() == rebuilt.keys()
    for table, rows in live.items():
        assert rows == rebuilt[table], f"{table}: live and rebuilt views differ"


def check_audit(
    app: Paylink, models: ReadModels, history: History, live: Snapshot, middle: datetime
) -> None:
    """The hash chain verifies; the replay equals the live balances, now and at ``middle``."""
    chain = verify_chain(app.app.recorder, models.chain())
    assert chain.ok, chain.problem
    assert chain.checked == head(app)

    later = replay(app.app, models, app.app.clock() + timedelta(days=1))
    assert later.differences == []
    assert later.live_source == "balances"
    assert later.replayed == {
        (row["merchant_id"], row["mode"], row["currency"]): {c: row[c] for c in BALANCE_COLUMNS}
        for row in live["balances"]
    }
    then = replay(app.app, models, middle)
    assert then.differences == []
    for merchant in history.merchants:
        for mode in ("test", "live"):
            assert balances(models, merchant, mode, as_of=middle) == {
                currency: columns
                for (m, book_mode, currency), columns in then.replayed.items()
                if m == str(merchant) and book_mode == mode
            }
