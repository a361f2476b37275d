"""Settlement runs, payouts and refunds: the application services that move money on.

Each command changes the money's
aggregate and the :class:`~paylink_es.domain.settlement.Funds` guard in one save, so the write
side can never pay out more than the merchant's available balance. A refund of settled
money is the one debit that may take that balance below zero (the payer is repaid first);
the next settlements credit it back, and no payout is made while it is negative.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from paylink_es.application.app import PaylinkApp
from paylink_es.application.channel_port import ChannelPort
from paylink_es.domain.calendar import (
    DEFAULT_SETTLEMENT_RULES,
    SettlementCalendar,
    SettlementRules,
)
from paylink_es.domain.errors import AmountInvalidError, DomainError, NotFoundError
from paylink_es.domain.idempotency import deriving_ids
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.merchant import Merchant
from paylink_es.domain.money import Money
from paylink_es.domain.payment import REFUND_FAILED, SETTLED, VERIFIED, Payment
from paylink_es.domain.settlement import (
    BankAccountMissingError,
    Funds,
    Payout,
    SettlementBatch,
    sandbox_transfer,
)
from paylink_es.domain.validation import check_text, require_text

if TYPE_CHECKING:
    from paylink_es.domain.aggregate import PaylinkAggregate

log = logging.getLogger(__name__)
SETTLE_CHUNK = 1000


class ChannelRefusedError(DomainError):
    """The channel would not do what was asked (a refund it refused): recorded as a failed
    refund (``Payment.RefundFailed``, the channel's words), and no money moved."""

    type = "channel-refused"

    @classmethod
    def of_refund(cls, channel: str, failure: str) -> ChannelRefusedError:
        """The error a refused refund answers with, now and when its request runs again."""
        return cls(f"the {channel} channel refused the refund: {failure}", field="payment")


@dataclass
class SettlementRun:
    """What one settlement run did."""

    day: date
    considered: int = 0
    settled: int = 0
    not_due: int = 0
    skipped: int = 0  # no longer verified and unflagged when the run reached it
    batches: set[UUID] = field(default_factory=set)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # currency -> sums

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON and the CLI."""
        return {
            "date": self.day.isoformat(),
            "considered": self.considered,
            "settled": self.settled,
            "not_due": self.not_due,
            "skipped": self.skipped,
            "batches": len(self.batches),
            "totals": self.totals,
        }


@dataclass(frozen=True)
class PayoutDetails:
    """A payout as the API shows it."""

    id: UUID
    merchant_id: UUID
    mode: str
    amount: Money
    status: str
    bank_account: dict[str, str]
    description: str | None
    channel_ref: str | None
    failure: str | None
    created_at: datetime

    @classmethod
    def of(cls, payout: Payout) -> PayoutDetails:
        """Read the details off the aggregate."""
        return cls(
            id=payout.id,
            merchant_id=payout.merchant_id,
            mode=payout.mode,
            amount=payout.amount,
            status=payout.status,
            bank_account=dict(payout.bank_account),
            description=payout.description,
            channel_ref=payout.channel_ref,
            failure=payout.failure,
            created_at=payout.created_on,
        )


@dataclass(frozen=True)
class RefundDetails:
    """A refund as the API shows it, read off its payment."""

    id: UUID
    payment_id: UUID
    status: str  # requested, succeeded or failed
    channel_ref: str | None
    failure: str | None
    fee_returned: Money

    @classmethod
    def of(cls, payment: Payment, refund_id: UUID) -> RefundDetails:
        """Read refund ``refund_id`` off ``payment``."""
        outcome = payment.refund_outcome(refund_id)
        if outcome is None:
            raise NotFoundError(f"payment {payment.id} has no refund {refund_id}", field="refund")
        status, detail = outcome
        currency = (payment.received or payment.amount).currency
        return cls(
            id=refund_id,
            payment_id=payment.id,
            status=status,
            channel_ref=detail if status != REFUND_FAILED else None,
            failure=detail if status == REFUND_FAILED else None,
            fee_returned=payment.refund_fees_so_far().get(refund_id, Money.zero(currency)),
        )


def mask_account(number: str) -> str:
    """An account number with all but its last four digits hidden."""
    return "•" * max(0, len(number) - 4) + number[-4:]


class MoneyService:
    """Settle, pay out, refund: money moving on from a verified payment."""

    def __init__(
        self,
        app: PaylinkApp,
        *,
        calendar: SettlementCalendar | None = None,
        settlement_rules: SettlementRules | None = None,
    ) -> None:
        self.app = app
        self.calendar = calendar or SettlementCalendar()
        self.settlement_rules = settlement_rules or DEFAULT_SETTLEMENT_RULES
        self._funds_cache: dict[UUID, Funds] = {}

    # -- settlement ----------------------------------------------------------------

    def settlement_date_of(self, payment: Payment) -> date | None:
        """The day a verified payment becomes due for settlement (T+N business days)."""
        if payment.paid_at is None:
            return None
        return self.calendar.settlement_date(payment.paid_at, payment.method, self.settlement_rules)

    def settle(
        self,
        day: date,
        candidates: Iterable[UUID],
        *,
        chunk: int = SETTLE_CHUNK,
        progress: Callable[[int], None] | None = None,
    ) -> SettlementRun:
        """Settle every candidate payment due on or before ``day`` into the day's batches.

        Candidates are usually the payments the read model shows verified; each is
        checked again on the write side (still verified, unflagged, due), so a stale or
        repeated candidate list settles nothing twice. Payments are settled in chunks of
        ``chunk``, each chunk one save with its batches and funds.
        """
        run = SettlementRun(day)
        ids = list(dict.fromkeys(candidates))
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]

            def command(part: Sequence[UUID] = part) -> None:
                self._settle_chunk(day, part, run)

            self.app.run_alone(command)
            if progress is not None:
                progress(len(part))
        return run

    def _settle_chunk(self, day: date, ids: Sequence[UUID], run: SettlementRun) -> None:
        # Counted into a scratch run first: a conflicting save is retried from scratch.
        scratch = SettlementRun(day)
        batches: dict[tuple[UUID, str], SettlementBatch] = {}
        funds: dict[tuple[UUID, str, str], Funds] = {}
        sums: dict[tuple[UUID, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        payments: list[Payment] = []
        loaded = self.app.load_many(ids)  # one query for the chunk where the store allows
        for payment_id in ids:
            scratch.considered += 1
            payment = loaded.get(payment_id)
            if not isinstance(payment, Payment):
                scratch.skipped += 1
                continue
            if payment.status != VERIFIED or payment.disposition is not None:
                scratch.skipped += 1
                continue
            due = self.settlement_date_of(payment)
            if due is None or due > day:
                scratch.not_due += 1
                continue
            key = (payment.merchant_id, payment.mode)
            batch = batches.get(key)
            if batch is None:
                batch = batches[key] = self._batch(payment.merchant_id, payment.mode, day)
            payment.settle(batch.id, day)
            event: Any = payment.pending_events[-1]
            gross: Money = event.gross
            fee: Money = event.fee
            net: Money = event.net
            totals = sums[(payment.merchant_id, payment.mode, gross.currency)]
            totals[0] += 1
            totals[1] += gross.amount
            totals[2] += fee.amount
            totals[3] += net.amount
            payments.append(payment)
        changed: list[PaylinkAggregate] = list(payments)
        for (merchant_id, mode, currency), (count, gross_sum, fee_sum, net_sum) in sums.items():
            batch = batches[(merchant_id, mode)]
            batch.add(
                count,
                Money(gross_sum, currency),
                Money(fee_sum, currency),
                Money(net_sum, currency),
            )
            guard = funds.get((merchant_id, mode, currency))
            if guard is None:
                guard = funds[(merchant_id, mode, currency)] = self._funds(
                    merchant_id, mode, currency
                )
            guard.credit(Money(net_sum, currency), "settlement", batch.id)
            total = scratch.totals.setdefault(currency, {"gross": 0, "fee": 0, "net": 0})
            total["gross"] += gross_sum
            total["fee"] += fee_sum
            total["net"] += net_sum
            scratch.settled += count
            scratch.batches.add(batch.id)
        changed.extend(batches.values())
        changed.extend(funds.values())
        if payments:
            self.app.save(*changed)
        run.considered += scratch.considered
        run.settled += scratch.settled
        run.not_due += scratch.not_due
        run.skipped += scratch.skipped
        run.batches |= scratch.batches
        for currency, total in scratch.totals.items():
            into = run.totals.setdefault(currency, {"gross": 0, "fee": 0, "net": 0})
            for name, value in total.items():
                into[name] += value

    def _batch(self, merchant_id: UUID, mode: str, day: date) -> SettlementBatch:
        batch_id = SettlementBatch.create_id(merchant_id, mode, day.isoformat())
        try:
            found: object = self.app.repository.get(batch_id)
        except AggregateNotFoundError:
            return SettlementBatch(
                merchant_id=merchant_id, mode=mode, settlement_date=day.isoformat()
            )
        assert isinstance(found, SettlementBatch)  # noqa: S101 - ids are name-based
        return found

    def _funds(self, merchant_id: UUID, mode: str, currency: str) -> Funds:
        """The funds guard, fast-forwarded from this process's last copy of it.

        A guard gains an event per settlement run, payout and refund for ever; loading
        it from zero each time would grow without bound. The last copy loaded is kept
        (before any command changes it) and only the events after it are read.
        """
        funds_id = Funds.create_id(merchant_id, mode, currency)
        cache = self._funds_cache
        cached = cache.get(funds_id)
        if cached is not None:
            found: Any = deepcopy(cached)
            newer: list[Any] = list(self.app.events.get(funds_id, gt=found.version))
            for stored in newer:
                found = stored.mutate(found)
        else:
            try:
                found = self.app.repository.get(funds_id)
            except AggregateNotFoundError:
                return Funds(merchant_id=merchant_id, mode=mode, currency=currency)
        assert isinstance(found, Funds)  # noqa: S101 - ids are name-based
        cache[funds_id] = deepcopy(found)
        return found

    def available_funds(self, merchant_id: UUID, mode: str, currency: str) -> Money:
        """The write side's available balance (what a payout may take now)."""
        return self._funds(merchant_id, mode, currency).balance()

    def settle_payment(self, payment_id: UUID, batch_id: UUID, settlement_date: date) -> None:
        """Settle one verified payment in a given batch (settlement runs use :meth:`settle`)."""

        def command() -> None:
            payment = self.app.get(Payment, payment_id, "payment")
            payment.settle(batch_id, settlement_date)
            net = payment.settled_net
            funds = self._funds(payment.merchant_id, payment.mode, net.currency)
            funds.credit(net, "settlement", batch_id)
            self.app.save(payment, funds)

        self.app.run(command)

    # -- payouts ---------------------------------------------------------------------

    def request_payout(
        self,
        merchant_id: UUID,
        mode: str,
        amount: Money,
        description: str | None = None,
        *,
        payout_id: UUID | None = None,
    ) -> PayoutDetails:
        """Pay ``amount`` of the available balance out to the merchant's bank account.

        The funds are taken in the same save that records the payout; then the transfer
        goes through the payout channel (the sandbox's in test mode). A failed transfer
        gives the money back to available. In live mode no transfer channel is wired:
        the payout stays ``requested`` until finance completes it (``paylink payouts``).
        """
        if not isinstance(amount, Money) or amount.amount <= 0:
            raise AmountInvalidError("amount", "a payout must be a positive amount")
        note = check_text(description, "description", max_length=200, required=False)
        new_id = payout_id or self.app.new_id()
        derived = payout_id is None and deriving_ids()

        def command() -> PayoutDetails:
            if derived and new_id in self.app.repository:
                # This idempotent request ran before and died before answering.
                return PayoutDetails.of(self.app.get(Payout, new_id, "payout"))
            merchant = self.app.get(Merchant, merchant_id, "merchant")
            if merchant.bank_account is None:
                raise BankAccountMissingError(
                    "set the merchant's settlement bank account before paying out",
                    field="bank_account",
                )
            funds = self._funds(merchant_id, mode, amount.currency)
            funds.debit(amount, "payout", new_id)
            payout = Payout(
                id=new_id,
                merchant_id=merchant_id,
                mode=mode,
                amount=amount,
                bank_account=dict(merchant.bank_account),
                description=note,
            )
            self.app.save(payout, funds)
            return PayoutDetails.of(payout)

        requested: PayoutDetails = self.app.run(command)
        if mode != "test" or requested.status != "requested":
            return requested
        transferred, detail = sandbox_transfer(requested.id, requested.bank_account)
        if transferred:
            return self.complete_payout(requested.id, detail)
        return self.fail_payout(requested.id, detail)

    def complete_payout(self, payout_id: UUID, channel_ref: str) -> PayoutDetails:
        """Record that the bank transfer of a payout went through."""
        ref = require_text(channel_ref, "channel_ref", max_length=128)

        def command() -> PayoutDetails:
            payout = self.app.get(Payout, payout_id, "payout")
            payout.complete(ref)
            self.app.save(payout)
            return PayoutDetails.of(payout)

        result: PayoutDetails = self.app.run(command)
        return result

    def fail_payout(self, payout_id: UUID, reason: str) -> PayoutDetails:
        """Record a failed transfer; the money goes back to the available balance."""
        why = require_text(reason, "reason", max_length=500)

        def command() -> PayoutDetails:
            payout = self.app.get(Payout, payout_id, "payout")
            payout.fail(why)
            funds = self._funds(payout.merchant_id, payout.mode, payout.amount.currency)
            funds.credit(payout.amount, "payout failed", payout.id)
            self.app.save(payout, funds)
            return PayoutDetails.of(payout)

        result: PayoutDetails = self.app.run(command)
        return result

    def refund_details(self, payment_id: UUID, refund_id: UUID) -> RefundDetails:
        """A refund of a payment as it stands now."""
        return RefundDetails.of(self.app.get(Payment, payment_id, "payment"), refund_id)

    def payout(self, payout_id: UUID) -> PayoutDetails:
        """A payout as it stands now."""
        return PayoutDetails.of(self.app.get(Payout, payout_id, "payout"))

    # -- refunds ---------------------------------------------------------------------

    def refund(
        self,
        payment_id: UUID,
        amount: Money,
        reason: str,
        channel: ChannelPort | None = None,
    ) -> UUID:
        """Refund some or all of a payment; returns the refund id.

        The amount is checked (what the payer paid, less what went back already: settled
        money too, in full), then the channel (when given) is asked, outside any write.
        Its answer is recorded with the request in one save:

        - accepted: ``RefundRequested``, ``Refunded`` (the money moves: settled money out
          of the available balance through the funds guard, below zero if need be, less
          the fee given back under a ``returned`` refund fee policy) and
          ``RefundSucceeded`` with the channel's reference; a part of a link paid in
          parts counts for less on the link (``PaymentLink.PartRefunded``), and a
          completed link is partially paid again;
        - refused: ``RefundRequested`` and ``RefundFailed`` with the channel's words; no
          money moves, and :class:`ChannelRefusedError` is raised once it is recorded.

        Run again by the same idempotent request (ids derived from its key), the refund
        is found on the payment and answered as it ended, never made twice.
        """
        why = require_text(reason, "reason", max_length=500)
        refund_id = self.app.new_id()
        current = self.app.get(Payment, payment_id, "payment")
        if deriving_ids():
            outcome = current.refund_outcome(refund_id)
            if outcome is not None:  # this idempotent request ran before and died before answering
                status, detail = outcome
                if status == REFUND_FAILED:
                    raise ChannelRefusedError.of_refund(current.channel, detail or "")
                return refund_id
        # The checks the aggregate makes, before the channel moves any money.
        current.check_refund(refund_id, amount)
        channel_ref: str | None = None
        failure: str | None = None
        if channel is not None:
            result = channel.refund(current.channel_ref or "", payment_id, refund_id, amount)
            channel_ref = result.channel_ref
            if not result.accepted:
                failure = result.detail or "no reason given"

        def command() -> None:
            payment = self.app.get(Payment, payment_id, "payment")
            if failure is not None:
                payment.refund_refused(refund_id, amount, why, failure)
                self.app.save(payment)
                return
            settled = payment.status == SETTLED
            fee_back = payment.fee_share_of(amount)
            payment.refund(refund_id, amount, why, channel_ref)
            changed: list[Any] = [payment]
            link = self.app.get(PaymentLink, payment.link_id, "link")
            if link.allow_partial:  # a part refunded: less is paid toward the link
                link.recount(payment.id, refund_id, payment.refundable())
                changed.append(link)
            if settled:
                taken = amount - fee_back if fee_back is not None else amount
                funds = self._funds(payment.merchant_id, payment.mode, amount.currency)
                funds.refund(taken, refund_id)
                changed.append(funds)
            self.app.save(*changed)

        self.app.run(command)
        if failure is not None:
            raise ChannelRefusedError.of_refund(current.channel, failure)
        return refund_id


def masked(account: dict[str, str]) -> dict[str, str]:
    """A bank account fit to show: the number masked."""
    return {**account, "account_number": mask_account(account.get("account_number", ""))}
