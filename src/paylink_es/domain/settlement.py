"""Money leaving the pending stage: settlement batches, the funds guard, and payouts.

A :class:`SettlementBatch` groups the payments of one merchant, mode and settlement day;
its id is name-based, so running settlement for a day twice finds the same batch, and a
payment already settled is skipped (its own history refuses a second ``Settled``).

:class:`Funds` is the write-side guard of a merchant's available balance per mode and
currency. Settlement credits it, payouts and refunds of settled money debit it, in the
same save as the event that moves the money. Two concurrent payouts both load version
*n*; one saves version *n+1*, the other conflicts, retries, and sees the smaller balance:
no interleaving can pay out more than is available.

A refund is the one debit that may take the balance below zero: the payer gets their
money back even when the merchant's available balance has already been paid out. A
negative balance refuses every payout, and the next settlements credit it first (they
add to the same balance), so it is recovered before anything is paid out again.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.errors import DomainError, TransitionInvalidError
from paylink_es.domain.money import Money

REQUESTED, PAID_OUT, FAILED = "requested", "paid_out", "failed"
# The sandbox payout channel fails transfers to account numbers ending in these digits,
# so that a failed payout (money back to available) can be tried end to end.
SANDBOX_FAILING_SUFFIX: Final = "0000"


class InsufficientFundsError(TransitionInvalidError):
    """Asked to move more than the merchant's available balance holds."""

    type = "insufficient-funds"


class BankAccountMissingError(DomainError):
    """A payout needs the merchant's settlement bank account, and none is set."""

    type = "bank-account-missing"


class SettlementBatch(PaylinkAggregate):
    """The payments of one merchant, mode and settlement day, with their totals."""

    @staticmethod
    def create_id(merchant_id: UUID, mode: str, settlement_date: str) -> UUID:
        """The batch id of a merchant's settlement day, ISO date (the same on every run)."""
        return stable_id(f"/settlements/{merchant_id}/{mode}/{settlement_date}")

    @event("Opened")
    def __init__(self, merchant_id: UUID, mode: str, settlement_date: str) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.settlement_date = settlement_date
        self.count = 0
        self.totals: dict[str, dict[str, int]] = {}

    def add(self, count: int, gross: Money, fee: Money, net: Money) -> None:
        """Record a run's payments in this batch (one event per run and currency)."""
        if count > 0:
            self._added(
                merchant_id=self.merchant_id,
                mode=self.mode,
                settlement_date=self.settlement_date,
                count=count,
                gross=gross,
                fee=fee,
                net=net,
            )

    @event("PaymentsAdded")
    def _added(
        self,
        merchant_id: UUID,
        mode: str,
        settlement_date: str,
        count: int,
        gross: Money,
        fee: Money,
        net: Money,
    ) -> None:
        self.count += count
        total = self.totals.setdefault(gross.currency, {"gross": 0, "fee": 0, "net": 0})
        total["gross"] += gross.amount
        total["fee"] += fee.amount
        total["net"] += net.amount


class Funds(PaylinkAggregate):
    """A merchant's available balance in one mode and currency, as the write side knows it."""

    @staticmethod
    def create_id(merchant_id: UUID, mode: str, currency: str) -> UUID:
        """The guard's id for a merchant, mode and currency."""
        return stable_id(f"/funds/{merchant_id}/{mode}/{currency}")

    @event("Opened")
    def __init__(self, merchant_id: UUID, mode: str, currency: str) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.currency = currency
        self.available = 0

    def credit(self, amount: Money, reason: str, reference: UUID) -> None:
        """Money became available (settlement, a failed payout returning)."""
        self._check(amount)
        if amount.amount:
            self._credited(amount=amount, reason=reason, reference=reference)

    @event("Credited")
    def _credited(self, amount: Money, reason: str, reference: UUID) -> None:
        self.available += amount.amount

    def debit(self, amount: Money, reason: str, reference: UUID) -> None:
        """Money leaves available (a payout); never more than is available, and nothing
        while the balance is negative."""
        self._check(amount)
        if self.available < 0:
            raise InsufficientFundsError(
                f"the available balance is {self.balance()}: refunds took more than was"
                " available, and the next settlements make that good before anything"
                " can be paid out",
                field="amount",
            )
        if amount.amount > self.available:
            raise InsufficientFundsError(
                f"{amount} is more than the available {self.balance()}", field="amount"
            )
        if amount.amount:
            self._debited(amount=amount, reason=reason, reference=reference)

    def refund(self, amount: Money, reference: UUID) -> None:
        """Settled money goes back to a payer: taken from available even below zero."""
        self._check(amount)
        if amount.amount:
            self._debited(amount=amount, reason="refund", reference=reference)

    @event("Debited")
    def _debited(self, amount: Money, reason: str, reference: UUID) -> None:
        self.available -= amount.amount

    def balance(self) -> Money:
        """What is available now."""
        return Money(self.available, self.currency)

    def _check(self, amount: Money) -> None:
        if amount.currency != self.currency or amount.amount < 0:
            msg = f"{amount} does not fit funds in {self.currency}"
            raise InsufficientFundsError(msg, field="amount")


class Payout(PaylinkAggregate):
    """Money sent from a merchant's available balance to its bank account."""

    @event("Requested")
    def __init__(
        self,
        id: UUID,  # the library passes the aggregate's id to __init__ by this name
        merchant_id: UUID,
        mode: str,
        amount: Money,
        bank_account: dict[str, str],
        description: str | None,
    ) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.amount = amount
        self.bank_account = bank_account
        self.description = description
        self.status = REQUESTED
        self.channel_ref: str | None = None
        self.failure: str | None = None

    def complete(self, channel_ref: str) -> None:
        """The bank transfer went through."""
        self._require_requested()
        self._paid_out(channel_ref=channel_ref)

    @event("PaidOut")
    def _paid_out(self, channel_ref: str) -> None:
        self.status = PAID_OUT
        self.channel_ref = channel_ref

    def fail(self, reason: str) -> None:
        """The transfer failed: the money returns to the merchant's available balance."""
        self._require_requested()
        self._failed(
            merchant_id=self.merchant_id, mode=self.mode, amount=self.amount, reason=reason
        )

    @event("Failed")
    def _failed(self, merchant_id: UUID, mode: str, amount: Money, reason: str) -> None:
        self.status = FAILED
        self.failure = reason

    def _require_requested(self) -> None:
        if self.status != REQUESTED:
            msg = f"the payout is already {self.status}"
            raise TransitionInvalidError(msg, field="payout")


def sandbox_transfer(payout_id: UUID, bank_account: dict[str, str]) -> tuple[bool, str]:
    """The sandbox payout channel: (transferred, reference or reason)."""
    if bank_account["account_number"].endswith(SANDBOX_FAILING_SUFFIX):
        return False, "the bank rejected the account (sandbox: number ends in 0000)"
    return True, f"SBXPO-{payout_id.hex[:16].upper()}"
