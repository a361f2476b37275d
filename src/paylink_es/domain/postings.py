"""Posting rules: one pure function from an event to balanced double-entry postings.

The live balance projection and the audit replay both call :func:`postings_for`, so
the books finance replays are the books merchants see.

Accounts (DESIGN §4): ``channel:<name>:receivable`` (what a channel owes us),
``channel:<name>:refunds`` (refunds we owe payers through that channel),
``merchant:<id>:pending|available|held|refund_due`` (what we owe the merchant, by
stage), ``platform:fees`` and ``platform:bank`` (what left for merchants' banks: payouts).
The channels' own settlements to the platform (Dr bank / Cr receivable) wait for a
channel settlement report event; until then receivables stay open per channel.
Merchant accounts are credit-normal: their balance is credits minus debits and must
never go below zero, with one exception: a refund of settled money may take
``available`` below zero (:data:`OVERDRAWING_EVENTS`); the payer is repaid first, and
the merchant's next settlements make the balance good.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from paylink_es.domain.aggregate import event_type
from paylink_es.domain.money import Money
from paylink_es.domain.payment import Payment
from paylink_es.domain.settlement import Payout

MERCHANT_BUCKETS = ("pending", "available", "held", "refund_due")
DISPOSITION_BUCKET = {None: "pending", "needs_review": "held", "refund_due": "refund_due"}


@dataclass(frozen=True)
class Posting:
    """One side of a journal entry; exactly one of debit and credit is non-zero."""

    account: str
    merchant_id: UUID | None
    mode: str  # "test" or "live": the two books never mix
    currency: str
    debit: int
    credit: int


class UnbalancedPostingsError(Exception):
    """An event's postings do not balance in some currency: the ledger refuses them."""


def _pair(debit: str, credit: str, e: dict[str, Any], amount: Money) -> list[Posting]:
    if amount.amount == 0:
        return []
    m, mode = e["merchant_id"], e["mode"]
    return [
        Posting(debit, m, mode, amount.currency, amount.amount, 0),
        Posting(credit, m, mode, amount.currency, 0, amount.amount),
    ]


def _verified(e: dict[str, Any]) -> list[Posting]:
    m: UUID = e["merchant_id"]
    bucket = DISPOSITION_BUCKET[e["disposition"]]
    return _pair(f"channel:{e['channel']}:receivable", f"merchant:{m}:{bucket}", e, e["gross"])


def _settled(e: dict[str, Any]) -> list[Posting]:
    m: UUID = e["merchant_id"]
    mode: str = e["mode"]
    gross: Money = e["gross"]
    net: Money = e["net"]
    fee: Money = e["fee"]
    postings = [Posting(f"merchant:{m}:pending", m, mode, gross.currency, gross.amount, 0)]
    if net.amount:
        postings.append(Posting(f"merchant:{m}:available", m, mode, net.currency, 0, net.amount))
    if fee.amount:
        postings.append(Posting("platform:fees", m, mode, fee.currency, 0, fee.amount))
    return postings if gross.amount else []


def _refunded(e: dict[str, Any]) -> list[Posting]:
    source = e["source"]
    if source is None:  # never credited to the merchant: nothing to take back
        return []
    m: UUID = e["merchant_id"]
    amount: Money = e["amount"]
    # Refunds stored before refund fee policies existed carry no fee_returned: kept.
    fee_back: Money | None = e.get("fee_returned")
    refunds = f"channel:{e['channel']}:refunds"
    if source != "available" or fee_back is None or fee_back.amount == 0:
        # Before settlement no fee was taken yet: a returned share is simply not taken
        # at settlement (the Settled event's smaller fee shows it).
        return _pair(f"merchant:{m}:{source}", refunds, e, amount)
    # The fee was taken at settlement: its share comes back out of the platform's fees,
    # so the merchant's available balance pays only the rest of the refund.
    mode, currency = e["mode"], amount.currency
    postings = [Posting("platform:fees", m, mode, currency, fee_back.amount, 0)]
    if amount.amount > fee_back.amount:
        rest = amount.amount - fee_back.amount
        postings.append(Posting(f"merchant:{m}:available", m, mode, currency, rest, 0))
    postings.append(Posting(refunds, m, mode, currency, 0, amount.amount))
    return postings


def _reviewed(e: dict[str, Any]) -> list[Posting]:
    moved: Money | None = e["moved"]
    if moved is None:  # decided before verification: nothing was credited yet
        return []
    m: UUID = e["merchant_id"]
    target = DISPOSITION_BUCKET[e["disposition"]]
    return _pair(f"merchant:{m}:held", f"merchant:{m}:{target}", e, moved)


def _payout_requested(e: dict[str, Any]) -> list[Posting]:
    return _pair(f"merchant:{e['merchant_id']}:available", "platform:bank", e, e["amount"])


def _payout_failed(e: dict[str, Any]) -> list[Posting]:
    return _pair("platform:bank", f"merchant:{e['merchant_id']}:available", e, e["amount"])


# The rules, keyed by the event classes themselves.
_RULES: dict[type, Callable[[dict[str, Any]], list[Posting]]] = {
    event_type(Payment, "Verified"): _verified,
    event_type(Payment, "Settled"): _settled,
    event_type(Payment, "Refunded"): _refunded,
    event_type(Payment, "Reviewed"): _reviewed,
    event_type(Payout, "Requested"): _payout_requested,
    event_type(Payout, "Failed"): _payout_failed,
}
# The events that post anything: readers that only want postings can skip the rest.
POSTING_EVENTS: frozenset[type] = frozenset(_RULES)
# The events that may take a merchant's ``available`` below zero: a refund of settled
# money (the payer is repaid even when the balance was paid out). Nothing else may —
# a payout never does — and money credited later (settlement) makes it good.
OVERDRAWING_EVENTS: frozenset[type] = frozenset({event_type(Payment, "Refunded")})


def postings_for(event: object) -> list[Posting]:
    """The balanced postings an event makes; most events make none."""
    rule = _RULES.get(type(event))
    if rule is None:
        return []
    postings = rule(vars(event))
    check_balanced(postings)
    return postings


def check_balanced(postings: list[Posting]) -> None:
    """Raise :class:`UnbalancedPostingsError` unless Σdebit = Σcredit per book and currency."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for posting in postings:
        if posting.debit < 0 or posting.credit < 0 or (posting.debit and posting.credit):
            msg = f"malformed posting {posting}"
            raise UnbalancedPostingsError(msg)
        totals[(posting.mode, posting.currency)] += posting.debit - posting.credit
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        msg = f"postings do not balance: {unbalanced} ({postings})"
        raise UnbalancedPostingsError(msg)


def merchant_bucket(account: str) -> str | None:
    """``pending`` for ``merchant:<id>:pending`` and so on; None for other accounts."""
    parts = account.split(":")
    if len(parts) == 3 and parts[0] == "merchant" and parts[2] in MERCHANT_BUCKETS:
        return parts[2]
    return None


BalanceKey = tuple[UUID, str, str, str]  # merchant, mode, currency, column


def balance_effects(postings: list[Posting]) -> dict[BalanceKey, int]:
    """How each merchant's balance columns move: (merchant, mode, currency, column) -> delta.

    Columns are the merchant buckets plus ``fees`` (platform fees charged to the
    merchant) and ``refunded`` (money returned to payers), so that every verified
    rupiah sits in exactly one of them; ``verified`` is the total that came in.
    """
    effects: dict[BalanceKey, int] = defaultdict(int)
    for p in postings:
        if p.merchant_id is None:
            continue
        bucket = merchant_bucket(p.account)
        if bucket is not None:
            column = bucket
        elif p.account == "platform:fees":
            column = "fees"
        elif p.account.endswith(":refunds"):
            column = "refunded"
        elif p.account == "platform:bank":
            column = "paid_out"
        elif p.account.endswith(":receivable"):
            effects[(p.merchant_id, p.mode, p.currency, "verified")] += p.debit - p.credit
            continue
        else:
            continue
        effects[(p.merchant_id, p.mode, p.currency, column)] += p.credit - p.debit
    return dict(effects)
