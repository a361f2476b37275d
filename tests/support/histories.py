"""Random histories of the link lifecycle, and what the views must say about them.

A history is a list of small operations drawn by Hypothesis; :class:`History` plays
them through the application's commands (an operation the domain refuses is simply
skipped). The checks compare the views with the aggregates themselves, an oracle that
owes nothing to the projection code.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import DomainError
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.money import Money
from paylink_es.domain.payment import PAID, SETTLED, VERIFIED, Payment
from paylink_es.domain.postings import postings_for
from projections.ledger import BALANCE_COLUMNS
from projections.queries.links import link_as_of
from projections.readmodel import iso
from projections.runner import ReadModels
from projections.sqlview import Row
from tests.support.examples import scaled
from tests.support.read_models import Snapshot

METHODS = ("qris", "va_bca", "ewallet_ovo")
Op = tuple[Any, ...]

_index = st.integers(0, 50)
# A payment's whole journey in one operation, so that short histories reach the paylink.
_JOURNEYS = st.tuples(
    st.just("journey"),
    _index,
    st.sampled_from(METHODS),
    st.sampled_from(["exact"] * 6 + ["over", "under", "fx"]),
    st.integers(0, 30),  # fee percent
    st.sampled_from(
        [
            "paid",
            "settled_then_refunded_in_full",  # available may go below zero
            "verified",
            "verified",
            "rejected",
            "settled",
            "settled",
            "refunded_first",
        ]
    ),
    st.sampled_from([None, None, 10, 50, 100]),  # refund percent
)
# Parts of a link paid in parts, each paid and verified; then perhaps one refunded.
_INSTALMENTS = st.tuples(
    st.just("instalments"),
    _index,
    st.sampled_from(METHODS),
    st.integers(1, 4),  # parts
    st.integers(1_000, 80_000),  # each part's offer
    st.booleans(),  # then a last part of all that is left
    st.sampled_from([None, None, 30, 100]),  # refund percent of the last part
)
OPERATIONS: st.SearchStrategy[Op] = st.one_of(
    _JOURNEYS,
    _JOURNEYS,
    _JOURNEYS,
    _JOURNEYS,
    _INSTALMENTS,
    _INSTALMENTS,
    # Everything available paid out: a refund of settled money then overdraws the balance.
    st.tuples(st.just("payout_all"), _index),
    st.tuples(st.just("merchant")),
    st.tuples(
        st.just("link"),
        _index,
        # partial: a fixed amount paid in parts (a down payment first).
        st.sampled_from(["fixed", "open", "partial"]),
        st.integers(1_000, 200_000),
        st.sampled_from([1, 2, 3, None]),
        st.sampled_from([None, 1, 6, 48]),  # hours to expiry
        st.sampled_from(["test", "live"]),
        st.sampled_from(["IDR", "IDR", "USD"]),
    ),
    st.tuples(st.just("send"), _index),
    st.tuples(st.just("open"), _index),
    st.tuples(st.just("cancel"), _index),
    st.tuples(st.just("expire"), _index),
    st.tuples(
        st.just("edit"),
        _index,
        st.sampled_from(
            [
                "description",
                "amount",
                "range",
                "methods",
                "expiry",
                "no_expiry",
                "customer",
                "partial",
                "whole",
                "keep_open",
            ]
        ),
        st.integers(5_000, 200_000),
        st.sampled_from([1, 6, 48]),  # hours to the new expiry
    ),
    st.tuples(st.just("deactivate"), _index, st.sampled_from([None, "Stok habis"])),
    st.tuples(st.just("reactivate"), _index),
    st.tuples(st.just("copy"), _index),
    st.tuples(st.just("start"), _index, st.sampled_from(METHODS), st.integers(1_000, 250_000)),
    st.tuples(st.just("pay"), _index, st.sampled_from(["exact", "exact", "over", "under", "fx"])),
    st.tuples(st.just("duplicate"), _index),
    st.tuples(st.just("verify"), _index, st.integers(0, 30)),
    st.tuples(st.just("reject"), _index),
    st.tuples(st.just("settle"), _index),
    st.tuples(st.just("refund"), _index, st.integers(1, 100)),
    st.tuples(st.just("advance"), st.sampled_from([1, 30, 90, 600, 1_500, 3_000])),
    # What refunds do to the fee of payments verified from now on.
    st.tuples(st.just("plan"), _index, st.sampled_from(["kept", "returned"])),
    # What links paid in part made from now on do at their expiry.
    st.tuples(st.just("partial_policy"), _index, st.sampled_from(["expire", "keep_open"])),
)
HISTORIES = st.lists(OPERATIONS, min_size=12, max_size=40)


def on_random_histories(test: Callable[[list[Op]], None]) -> Callable[[], None]:
    """Run ``test(operations)`` on random histories: 30 under the ci profile, scaled to
    the loaded one (played in memory, they are quick)."""
    checked: Callable[[], None] = settings(
        max_examples=scaled(30),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(given(operations=HISTORIES)(test))
    return checked


@contextmanager
def played_in_memory(operations: list[Op], clock: FakeClock) -> Iterator[tuple[Paylink, History]]:
    """The application on the in-memory store after ``operations``, and their history."""
    with Paylink.open({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock) as app:
        history = History(app, clock)
        history.play_all(operations)
        yield app, history


class History:
    """Plays operations through the application; remembers what it made."""

    def __init__(self, app: Paylink, clock: FakeClock) -> None:
        self.app = app
        self.clock = clock
        self.merchants: list[UUID] = []
        self.links: list[UUID] = []
        self.deactivated: list[UUID] = []  # links deactivated at some point
        self.partial: list[UUID] = []  # links created to be paid in parts
        self.attempts: list[UUID] = []  # payments started on a link
        self.payments: list[UUID] = []  # every payment that received money
        self.reports: list[tuple[UUID, str, Money]] = []  # (attempt, channel ref, amount)
        self.refunded_unverified: dict[UUID, int] = {}  # refunded before verification
        self.paid_out: defaultdict[tuple[str, ...], int] = defaultdict(int)  # per book
        self.applied = 0
        self._counter = 0
        self.play(("merchant",))
        self.play(("link", 0, "fixed", 25_000, 2, 48, "test", "IDR"))
        self.play(("link", 0, "open", 90_000, None, None, "test", "IDR"))
        self.play(("link", 0, "partial", 120_000, 1, 6, "test", "IDR"))

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def play_all(self, operations: list[Op]) -> None:
        """Play every operation in order."""
        for operation in operations:
            self.play(operation)

    def play(self, operation: Op) -> None:
        """Play one operation; one the domain refuses changes nothing and is skipped."""
        kind, *args = operation
        try:
            getattr(self, f"_{kind}")(*args)
        except (DomainError, _Skip):
            return
        self.applied += 1

    @staticmethod
    def _pick(items: list[UUID], index: int) -> UUID:
        if not items:
            raise _Skip
        return items[index % len(items)]

    def _journey(
        self,
        link: int,
        method: str,
        how: str,
        fee_percent: int,
        stage: str,
        refund_percent: int | None,
    ) -> None:
        before = len(self.attempts)
        self.play(("start", link, method, 40_000))
        if len(self.attempts) == before:
            raise _Skip
        self.play(("pay", -1, how))
        if stage == "refunded_first":  # some money goes back before the channel confirms
            self.play(("refund", -1, refund_percent or 40))
            self.play(("verify", -1, fee_percent))
            self.play(("settle", -1))
            return
        if stage == "settled_then_refunded_in_full":  # the gross, not only the net
            self.play(("verify", -1, fee_percent))
            self.play(("settle", -1))
            self.play(("refund", -1, 100))
            return
        if stage == "rejected":
            self.play(("reject", -1))
        elif stage != "paid":
            self.play(("verify", -1, fee_percent))
        if stage == "settled":
            self.play(("settle", -1))
        if refund_percent is not None:
            self.play(("refund", -1, refund_percent))

    def _instalments(
        self,
        link: int,
        method: str,
        parts: int,
        offer: int,
        finish: bool,
        refund_percent: int | None,
    ) -> None:
        index = self.links.index(self._pick(self.partial, link))
        for offered in [offer] * parts + [0] * finish:  # 0: all that is left
            before = len(self.attempts)
            self.play(("start", index, method, offered))
            if len(self.attempts) == before:
                break
            self.play(("pay", -1, "exact"))
            self.play(("verify", -1, 10))
        if refund_percent is not None:
            self.play(("refund", -1, refund_percent))

    def _merchant(self) -> None:
        if len(self.merchants) >= 3:
            raise _Skip
        number = self._next()
        self.merchants.append(self.app.merchants.register(f"Toko {number}", f"m{number}@ex.id"))

    def _link(
        self,
        merchant: int,
        kind: str,
        amount: int,
        usage_limit: int | None,
        hours: int | None,
        mode: str,
        currency: str,
    ) -> None:
        number = self._next()
        fields: dict[str, Any] = {
            "currency": currency,
            "description": f"Pesanan {number}",
            "methods": list(METHODS),
            "usage_limit": usage_limit,
            "mode": mode,
        }
        if kind == "open":
            fields["amount_min"], fields["amount_max"] = 1_000, amount
        else:
            fields["amount"] = amount
        if kind == "partial":  # one use, paid in parts: the first at least a third
            fields.update(usage_limit=1, allow_partial=True, partial_min=max(amount // 3, 1_000))
            if number % 3 == 0:
                fields["partial_expiry"] = "keep_open"
        if hours is not None:
            fields["expires_at"] = self.clock() + timedelta(hours=hours)
        if number % 2:
            fields["reference_id"] = f"INV-{number}"
        link_id = self.app.links.create(self._pick(self.merchants, merchant), **fields)
        self.links.append(link_id)
        if kind == "partial":
            self.partial.append(link_id)

    def _send(self, link: int) -> None:
        self.app.links.send(self._pick(self.links, link), "whatsapp", "+6281234567890")

    def _open(self, link: int) -> None:
        self.app.links.open(self._pick(self.links, link), f"visitor-{self._next()}")

    def _cancel(self, link: int) -> None:
        self.app.links.cancel(self._pick(self.links, link), "customer changed their mind")

    def _expire(self, link: int) -> None:
        self.app.links.expire(self._pick(self.links, link))

    def _edit(self, link: int, what: str, amount: int, hours: int) -> None:
        table: dict[str, dict[str, Any]] = {
            "description": {"description": f"Pesanan {self._next()} (diubah)"},
            "amount": {"amount": amount},
            "range": {"amount_min": 1_000, "amount_max": amount},
            "methods": {"methods": ["qris", "ewallet_ovo"]},
            "expiry": {"expires_at": self.clock() + timedelta(hours=hours)},
            "no_expiry": {"expires_at": None},
            "customer": {"customer": {"name": "Budi", "email": "budi@example.com"}},
            "partial": {"allow_partial": True, "partial_min": 1_000},
            "whole": {"allow_partial": False},
            "keep_open": {"partial_expiry": "keep_open"},
        }
        _, changed = self.app.links.edit(self._pick(self.links, link), "key-1", **table[what])
        if not changed:
            raise _Skip

    def _deactivate(self, link: int, message: str | None) -> None:
        link_id = self._pick(self.links, link)
        self.app.links.deactivate(link_id, message, "owner@toko.example")
        self.deactivated.append(link_id)

    def _reactivate(self, link: int) -> None:
        self.app.links.reactivate(self._pick(self.deactivated, link), "owner@toko.example")

    def _copy(self, link: int) -> None:
        copy = self.app.links.duplicate(self._pick(self.links, link), "key-1")
        self.links.append(copy.id)

    def _start(self, link: int, method: str, offer: int) -> None:
        link_id = self._pick(self.links, link)
        details = self.app.links.get(link_id)
        amount = None
        if details.amount is None:
            amount = max(details.amount_min or 1, min(offer, details.amount_max or offer))
        elif details.amount_due is not None and offer:  # a part: the first at least partial_min
            least = (details.partial_min or 1) if details.amount_paid == 0 else 1
            amount = min(max(offer, least), details.amount_due)
        self.attempts.append(self.app.payments.start(link_id, method, amount=amount))

    def _pay(self, attempt: int, how: str) -> None:
        attempt_id = self._pick(self.attempts, attempt)
        due = self.app.payments.get(attempt_id).amount
        amount = {
            "exact": due,
            "over": Money(due.amount + 500, due.currency),
            "under": Money(max(due.amount // 2, 1), due.currency),
            "fx": Money(due.amount, "SGD"),
        }[how]
        ref = f"ch-{self._next()}"
        outcome = self.app.payments.record(attempt_id, ref, amount, self.clock())
        assert not outcome.duplicate
        self.payments.append(outcome.payment_id)
        self.reports.append((attempt_id, ref, amount))

    def _duplicate(self, report: int) -> None:
        if not self.reports:
            raise _Skip
        attempt_id, ref, amount = self.reports[report % len(self.reports)]
        outcome = self.app.payments.record(attempt_id, ref, amount, self.clock())
        assert outcome.duplicate

    def _verify(self, payment: int, fee_percent: int) -> None:
        payment_id = self._pick(self.payments, payment)
        aggregate: object = self.app.app.repository.get(payment_id)
        assert isinstance(aggregate, Payment)
        credited = aggregate.refundable()  # what came in, less what went back already
        fee = Money(credited.amount * fee_percent // 100, credited.currency)
        self.app.payments.verify(payment_id, fee=fee, evidence={"inquiry": "ok"})

    def _reject(self, payment: int) -> None:
        self.app.payments.reject(self._pick(self.payments, payment), "channel did not confirm")

    def _settle(self, payment: int) -> None:
        batch = uuid5(NAMESPACE_URL, f"/batches/{self._next()}")
        self.app.money.settle_payment(
            self._pick(self.payments, payment), batch, self.clock().date()
        )

    def _refund(self, payment: int, percent: int) -> None:
        payment_id = self._pick(self.payments, payment)
        aggregate: object = self.app.app.repository.get(payment_id)
        assert isinstance(aggregate, Payment)
        left = aggregate.refundable()
        if left.amount <= 0:
            raise _Skip
        amount = Money(max(left.amount * percent // 100, 1), left.currency)
        self.app.money.refund(payment_id, amount, "customer asked")
        if aggregate.status == PAID:
            unverified = self.refunded_unverified.get(payment_id, 0) + amount.amount
            self.refunded_unverified[payment_id] = unverified

    def _plan(self, merchant: int, refund_fee: str) -> None:
        plan = FeePlan.from_dict({**DEFAULT_PLAN.to_dict(), "refund_fee": refund_fee})
        self.app.merchants.set_fee_plan(self._pick(self.merchants, merchant), plan)

    def _partial_policy(self, merchant: int, policy: str) -> None:
        self.app.merchants.set_partial_expiry(self._pick(self.merchants, merchant), policy)

    def _payout_all(self, merchant: int) -> None:
        merchant_id = self._pick(self.merchants, merchant)
        if self.app.merchants.get(merchant_id).bank_account is None:
            self.app.merchants.set_bank_account(merchant_id, "BCA", "1234567890", "Toko")
        available = self.app.money.available_funds(merchant_id, "test", "IDR")
        if available.amount <= 0:
            raise _Skip
        self.app.money.request_payout(merchant_id, "test", available)
        self.paid_out[(str(merchant_id), "test", "IDR")] += available.amount

    def _advance(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))


class _Skip(Exception):
    """The operation does not apply to the history as it stands."""


# -- what the views must say ---------------------------------------------------------------


def _link(app: Paylink, link_id: UUID) -> PaymentLink:
    link: object = app.app.repository.get(link_id)
    assert isinstance(link, PaymentLink)
    return link


def _payment(app: Paylink, payment_id: UUID) -> Payment:
    payment: object = app.app.repository.get(payment_id)
    assert isinstance(payment, Payment)
    return payment


def expected_balances(app: Paylink, history: History) -> dict[tuple[str, ...], Row]:
    """Each book's balance columns, worked out from the payments' own state (DESIGN §4).

    Money refunded before verification never reaches the merchant's books.
    """
    books: dict[tuple[str, ...], Row] = {}
    for payment_id in sorted(set(history.attempts) | set(history.payments)):
        p = _payment(app, payment_id)
        if p.status not in (VERIFIED, SETTLED) or p.received is None:
            continue
        key = (str(p.merchant_id), p.mode, p.received.currency)
        unverified = history.refunded_unverified.get(payment_id, 0)
        credited, refunded = p.received.amount - unverified, p.refunded.amount - unverified
        if credited == 0:
            continue  # all of it went back before verification: no postings at all
        book = books.setdefault(key, dict.fromkeys(BALANCE_COLUMNS, 0))
        book["verified"] += credited
        book["refunded"] += refunded
        if p.status == VERIFIED:
            bucket = {None: "pending", "needs_review": "held", "refund_due": "refund_due"}
            book[bucket[p.disposition]] += credited - refunded
        else:
            # A refund of settled money takes all of it from available (which may go
            # below zero), less the fee given back under a ``returned`` policy.
            after_settlement = p.refunded_after_settlement.amount
            fee_back = p.fee_returned_after_settlement.amount
            book["available"] += p.settled_net.amount - (after_settlement - fee_back)
            book["fees"] += p.settled_fee.amount - fee_back
    for paid_from, paid in history.paid_out.items():
        payer = books[paid_from]  # money was settled there before it was paid out
        payer["available"] -= paid
        payer["paid_out"] += paid
    return books


def check_views_against_aggregates(app: Paylink, history: History, tables: Snapshot) -> None:
    """The views say what the aggregates say: links, payments, balances, funnel, volume."""
    links = {row["link_id"]: row for row in tables["links"]}
    assert set(links) == {str(link_id) for link_id in history.links}
    funnel = {row["link_id"]: row for row in tables["stats_links"]}
    for link_id in history.links:
        link, row = _link(app, link_id), links[str(link_id)]
        assert (row["status"], row["merchant_id"], row["mode"]) == (
            link.status,
            str(link.merchant_id),
            link.mode,
        )
        assert (row["sent_count"], row["opened_count"]) == (link.sent_count, link.opened_count)
        assert (row["payment_count"], row["collected"]) == (link.uses, link.collected)
        assert row["amount_paid"] == (link.amount_paid if link.allow_partial else None)
        assert link.amount_paid == sum(link.parts.values())
        assert row["flagged_count"] == len(link.flagged_payments)
        check_link_terms(row, link)
        flags = funnel[str(link_id)]
        assert (flags["sent"], flags["opened"], flags["paid"]) == (
            int(link.sent_count > 0),
            int(link.opened_count > 0),
            int(link.uses > 0),
        )

    payment_ids = sorted(set(history.attempts) | set(history.payments))
    payments = {row["payment_id"]: row for row in tables["payments"]}
    assert set(payments) == {str(p) for p in payment_ids}
    for payment_id in payment_ids:
        p, row = _payment(app, payment_id), payments[str(payment_id)]
        assert (row["status"], row["link_id"], row["channel_ref"]) == (
            p.status,
            str(p.link_id),
            p.channel_ref,
        )
        assert row["received"] == (p.received.amount if p.received else None)
        assert (row["refunded"], row["anomaly"], row["disposition"]) == (
            p.refunded.amount,
            p.anomaly,
            p.disposition,
        )

    books = expected_balances(app, history)
    balances = {
        (row["merchant_id"], row["mode"], row["currency"]): {c: row[c] for c in BALANCE_COLUMNS}
        for row in tables["balances"]
    }
    assert balances == books
    volume: defaultdict[tuple[str, ...], int] = defaultdict(int)
    for row in tables["stats_daily"]:
        volume[(row["merchant_id"], row["mode"], row["currency"])] += row["volume"]
    # A payment refunded in full before verification is verified for zero.
    assert {key: total for key, total in volume.items() if total} == {
        key: book["verified"] for key, book in books.items()
    }


def check_link_terms(row: Row, link: PaymentLink) -> None:
    """A row of the links view (live, rebuilt or as of an instant) holds the link's terms."""
    assert (row["description"], row["currency"]) == (link.description, link.currency)
    assert (row["amount"], row["amount_min"], row["amount_max"]) == (
        link.amount,
        link.amount_min,
        link.amount_max,
    )
    assert row["expires_at"] == (iso(link.expires_at) if link.expires_at else None)
    terms = json.loads(row["terms"])
    assert terms["methods"] == link.methods
    assert terms["customer"] == (vars(link.customer) if link.customer else None)
    assert (terms["allow_partial"], terms["partial_min"]) == (link.allow_partial, link.partial_min)
    assert row["partial_expiry"] == link.partial_expiry


def check_links_as_of(app: Paylink, models: ReadModels, history: History, when: datetime) -> None:
    """Each link as of ``when`` (rebuilt from its timeline, later edits undone) is the
    aggregate as its events up to ``when`` make it: status and terms."""
    for link_id in history.links:
        versions = [
            event.originator_version
            for event in app.app.repository.event_store.get(link_id)
            if isinstance(event, PaymentLink.Event) and event.timestamp <= when
        ]
        if not versions:
            continue  # created later
        then: object = app.app.repository.get(link_id, version=versions[-1])
        assert isinstance(then, PaymentLink)
        row = link_as_of(models, then.merchant_id, then.mode, link_id, when)
        assert row is not None
        assert row["status"] == then.status_at(when), link_id
        assert row["amount_paid"] == (then.amount_paid if then.allow_partial else None)
        check_link_terms(cast(Row, row), then)


def check_positions(app: Paylink, tables: Snapshot) -> None:
    """No gaps, no duplicates: every table holds exactly the positions it should."""
    stored = app.app.recorder.select_notifications(0, 1_000_000, inclusive_of_start=False)
    assert [row["position"] for row in tables["audit_chain"]] == [n.id for n in stored]
    link_related = [
        n.id for n in stored if n.topic.split(":")[1].split(".")[0] in ("PaymentLink", "Payment")
    ]
    assert [row["position"] for row in tables["link_timeline"]] == link_related
    posted = {n.id: postings_for(app.app.mapper.to_domain_event(n)) for n in stored}
    lines = [(row["position"], row["seq"]) for row in tables["journal"]]
    assert len(lines) == len(set(lines))
    assert lines == [(p, seq) for p, postings in posted.items() for seq in range(len(postings))]
    check_journal_balances(tables["journal"])


def check_journal_balances(journal: list[Row]) -> None:
    """Every event's journal lines balance in each book and currency."""
    totals: defaultdict[tuple[Any, ...], int] = defaultdict(int)
    for row in journal:
        assert row["debit"] >= 0
        assert row["credit"] >= 0
        assert (row["debit"] == 0) != (row["credit"] == 0)
        totals[(row["position"], row["mode"], row["currency"])] += row["debit"] - row["credit"]
    assert {key: total for key, total in totals.items() if total} == {}
