"""The audit chain: an untouched store verifies; any change to a stored event is named."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from projections.audit import hex_uuid_text, verify_chain
from tests.support.read_models import StoredEvents, StoredRow, catch_up, head, opened_views, paylink

DIGEST = re.compile(r"(\d+) ([0-9a-f]{64})")


def record_some_business(app: Paylink, clock: FakeClock) -> UUID:
    """A merchant, a key and a few links and payments: about thirty events."""
    merchant = app.merchants.register("Toko Audit", "audit@example.com")
    app.merchants.issue_key(merchant)
    for number in range(3):
        link = app.links.create(
            merchant, amount=20_000 + number, description=f"Audit {number}", usage_limit=None
        )
        app.links.send(link, "email", "buyer@example.com")
        clock.advance(timedelta(minutes=5))
        payment = app.payments.start(link, "qris")
        app.payments.record(payment, f"audit-{number}", Money(20_000 + number, "IDR"), clock())
        app.payments.verify(payment, fee=Money(200, "IDR"))
        if number:
            app.money.settle_payment(payment, uuid4(), date(2026, 1, 6))
    return merchant


def recomputed_digest(rows: list[StoredRow]) -> str:
    """The chain as an outside auditor computes it from the events table alone."""
    digest = "0" * 64
    for row in rows:
        head_bytes = (
            f"{row.position}|{UUID(row.originator_id)}|{row.originator_version}|{row.topic}|"
        )
        digest = hashlib.sha256(bytes.fromhex(digest) + head_bytes.encode() + row.state).hexdigest()
    return digest


def test_an_untouched_store_verifies_and_the_digest_moves_with_each_new_event(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = record_some_business(app, clock)
        with opened_views(backend_settings, ["audit"]) as models:
            catch_up(app, models)
            result = verify_chain(app.app.recorder, models.chain())
        assert result.ok
        assert (result.checked, result.head_position) == (head(app), head(app))
        assert result.problem_position is None
        assert result.head_hash == recomputed_digest(StoredEvents(backend_settings).rows())

        verified = paylink(backend_settings, "audit", "verify")
        assert verified.returncode == 0, verified.stderr
        assert f"OK: {head(app)} events verified; head {head(app)} {result.head_hash}" in (
            verified.stdout
        )
        digest = paylink(backend_settings, "audit", "digest")
        assert digest.returncode == 0, digest.stderr
        assert digest.stdout.strip() == f"{head(app)} {result.head_hash}"

        app.links.open(app.links.create(merchant, amount=1_000, description="One more"), "v")
        moved = paylink(backend_settings, "audit", "digest")
        assert moved.returncode == 0, moved.stderr
        found = DIGEST.fullmatch(moved.stdout.strip())
        assert found, moved.stdout
        assert int(found.group(1)) == head(app)
        assert found.group(2) != result.head_hash
        assert found.group(2) == recomputed_digest(StoredEvents(backend_settings).rows())


def _other_digit(state: bytes) -> bytes:
    """The same bytes with one ASCII digit changed (the JSON stays well formed)."""
    at = next(i for i, byte in enumerate(state) if chr(byte).isdigit())
    changed = b"1" if state[at : at + 1] != b"1" else b"2"
    return state[:at] + changed + state[at + 1 :]


@pytest.mark.parametrize(
    "tamper", ["one_byte_of_state", "deleted_event", "deleted_head_event", "swapped_events"]
)
def test_tampering_with_a_stored_event_is_named_at_its_exact_position(
    backend_settings: Settings, clock: FakeClock, tamper: str
) -> None:
    stored = StoredEvents(backend_settings)
    with open_paylink(backend_settings, clock=clock) as app:
        record_some_business(app, clock)
        with opened_views(backend_settings, ["audit"]) as models:
            catch_up(app, models)
            rows = stored.rows()
            victim = rows[-1] if tamper == "deleted_head_event" else rows[len(rows) // 2]
            other = next(r for r in rows[len(rows) // 2 :] if r.topic != victim.topic)
            if tamper == "one_byte_of_state":
                stored.rewrite(victim.position, victim.topic, _other_digit(victim.state))
                problem = "modified"
            elif tamper == "swapped_events":
                stored.rewrite(victim.position, other.topic, other.state)
                stored.rewrite(other.position, victim.topic, victim.state)
                problem = "modified or reordered"
            else:
                stored.delete(victim.position)
                problem = "missing (deleted)"

            result = verify_chain(app.app.recorder, models.chain())
            assert not result.ok
            assert result.problem_position == victim.position
            assert result.problem is not None
            assert problem in result.problem
            assert result.checked == victim.position - 1
            cli = paylink(backend_settings, "audit", "verify")
            assert cli.returncode == 1
            assert "TAMPERED" in cli.stderr
            assert f"first bad position {victim.position};" in cli.stderr

            if tamper.startswith("deleted"):
                stored.restore(victim)
            else:
                stored.rewrite(victim.position, victim.topic, victim.state)
                stored.rewrite(other.position, other.topic, other.state)
            assert stored.rows() == rows
            assert verify_chain(app.app.recorder, models.chain()).ok
        assert paylink(backend_settings, "audit", "verify").returncode == 0


def test_an_event_moved_to_another_aggregate_is_named(
    backend_settings: Settings, clock: FakeClock
) -> None:
    stored = StoredEvents(backend_settings)
    moves = [uuid4().hex]
    if backend_settings.database_url is None:
        moves.append("not-an-id!")  # SQLite's text column holds anything; PostgreSQL's uuid not
    with open_paylink(backend_settings, clock=clock) as app:
        record_some_business(app, clock)
        with opened_views(backend_settings, ["audit"]) as models:
            catch_up(app, models)
            victim = stored.rows()[7]
            for moved in moves:
                stored.reassign(victim.position, moved)

                result = verify_chain(app.app.recorder, models.chain())
                assert not result.ok
                assert result.problem_position == victim.position
                assert result.problem is not None
                assert "modified" in result.problem

                stored.reassign(victim.position, victim.originator_id)
                assert verify_chain(app.app.recorder, models.chain()).ok


@given(st.uuids())
def test_the_stored_id_is_covered_in_its_canonical_text(value: UUID) -> None:
    assert hex_uuid_text(value.hex) == str(value)
    assert hex_uuid_text(value.hex.upper()) == str(value)  # as the read side takes it
    assert hex_uuid_text(str(value)) == str(value)


@pytest.mark.parametrize("text", ["", "not-an-id!", "g" * 32, "0" * 31])
def test_what_is_no_id_is_covered_as_stored(text: str) -> None:
    assert hex_uuid_text(text) == text
