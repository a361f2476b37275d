"""What-if fees: the verified payments of a period re-priced under another fee plan,
beside the fees they were charged, per merchant, mode, method and currency.

A payment's fee is priced when it is verified and carried by its ``Payment.Verified``
event. The what-if reads the store with the audit replay's reader
(:func:`projections.replay.stored_events`: only ``Payment.Initiated``, for the method,
and ``Payment.Verified`` are decoded) and, for each verified payment of the period:

- *as it was*: the gross the posting rules credit the merchant for that event
  (:func:`paylink_es.domain.postings.postings_for`, the ledger's own rule), and the fee
  and net the event recorded;
- *as it would have been*: the same gross priced by the other plan with
  :func:`paylink_es.domain.fees.fee_at_verification`, the function the application
  prices every verification with; net = gross - fee.

The gross stays as paid: a plan that passes a fee on to the payer is priced on the
same gross (what payers would have paid instead is not guessed). Nothing is written to
the store or to any read model: the store is only read, no view is opened. The period
is the verification instant's day in Asia/Jakarta, both ends included. The CLI
(``paylink audit what-if``) and the dashboard's audit page both call :func:`what_if`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from paylink_es.application.app import PaylinkApp
from paylink_es.domain.clock import WIB
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.fees import (
    FeePlan,
    FeePlanInvalidError,
    FeeRuleMissingError,
    fee_at_verification,
)
from paylink_es.domain.methods import PAYMENT_METHODS, method_family
from paylink_es.domain.money import Money
from paylink_es.domain.postings import balance_effects, postings_for
from paylink_es.heap import collection_paused
from projections.events import PAYMENT_INITIATED, PAYMENT_VERIFIED
from projections.replay import Progress, stored_events

# The most a pasted or uploaded plan may hold: a full plan with every method is ~5 KiB.
MAX_PLAN_BYTES = 64 * 1024
GroupKey = tuple[str, str, str, str]  # merchant, mode, method, currency
CSV_COLUMNS = (
    "merchant_id",
    "mode",
    "method",
    "currency",
    "count",
    "gross",
    "fees_were",
    "fees_would_be",
    "fees_difference",
    "net_were",
    "net_would_be",
    "net_difference",
)


def plan_from_json(text: str | bytes) -> FeePlan:
    """A fee plan from its JSON (what ``paylink merchants fee-plan`` prints), validated.

    Raises :class:`FeePlanInvalidError` naming the field that is wrong (``plan`` when
    the text is no JSON object at all).
    """
    if len(text) > MAX_PLAN_BYTES:
        raise FeePlanInvalidError("plan", f"is larger than {MAX_PLAN_BYTES // 1024} KiB")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise FeePlanInvalidError("plan", "is not UTF-8 text") from None
    if not text.strip():
        raise FeePlanInvalidError("plan", "is empty; give a fee plan as JSON")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise FeePlanInvalidError("plan", f"is not valid JSON ({error})") from None
    return FeePlan.from_dict(data)


def period(
    first_day: date | None, last_day: date | None
) -> tuple[datetime | None, datetime | None]:
    """[start, end): from the start of ``first_day`` to the end of ``last_day`` in Jakarta.

    None on either side: no bound there. A last day before the first is refused, naming
    ``to``.
    """
    if first_day is not None and last_day is not None and last_day < first_day:
        raise InvalidFieldError("to", f"{last_day} is before the first day {first_day}")
    start = datetime.combine(first_day, time(), WIB) if first_day is not None else None
    end = (
        datetime.combine(last_day + timedelta(days=1), time(), WIB)
        if last_day is not None
        else None
    )
    return start, end


@dataclass(frozen=True)
class Figures:
    """Verified payments summed: how many, their gross, the fees and what the merchant nets."""

    count: int = 0
    gross: int = 0
    fees: int = 0
    net: int = 0

    def plus(self, gross: int, fee: int, net: int) -> Figures:
        """These figures with one more payment."""
        return Figures(self.count + 1, self.gross + gross, self.fees + fee, self.net + net)

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.count + other.count,
            self.gross + other.gross,
            self.fees + other.fees,
            self.net + other.net,
        )

    def as_dict(self) -> dict[str, int]:
        """The four numbers by name."""
        return {"count": self.count, "gross": self.gross, "fees": self.fees, "net": self.net}


@dataclass(frozen=True)
class Comparison:
    """The same payments as they were and as they would have been under the plan."""

    mode: str
    currency: str
    were: Figures
    would_be: Figures

    @property
    def fees_difference(self) -> int:
        """What the plan would have charged more (negative: less)."""
        return self.would_be.fees - self.were.fees

    @property
    def net_difference(self) -> int:
        """What the merchant would have netted more (negative: less)."""
        return self.would_be.net - self.were.net

    def as_dict(self) -> dict[str, Any]:
        """Both sides and the differences, for JSON."""
        return {
            "mode": self.mode,
            "currency": self.currency,
            "were": self.were.as_dict(),
            "would_be": self.would_be.as_dict(),
            "difference": {"fees": self.fees_difference, "net": self.net_difference},
        }


@dataclass(frozen=True)
class WhatIfRow(Comparison):
    """One merchant's payments by one method in one mode and currency."""

    merchant_id: str = ""
    method: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The row for JSON: its keys, both sides and the differences."""
        return {"merchant_id": self.merchant_id, "method": self.method, **super().as_dict()}

    def as_line(self) -> dict[str, object]:
        """The row flat, by :data:`CSV_COLUMNS`."""
        return {
            "merchant_id": self.merchant_id,
            "mode": self.mode,
            "method": self.method,
            "currency": self.currency,
            "count": self.were.count,
            "gross": self.were.gross,
            "fees_were": self.were.fees,
            "fees_would_be": self.would_be.fees,
            "fees_difference": self.fees_difference,
            "net_were": self.were.net,
            "net_would_be": self.would_be.net,
            "net_difference": self.net_difference,
        }


@dataclass
class WhatIfResult:
    """Every row of the what-if, and what it read."""

    plan: FeePlan
    first_day: date | None
    last_day: date | None
    position: int  # the store's position the reading stopped at
    events: int = 0  # events decoded (payments started and verified)
    rows: list[WhatIfRow] = field(default_factory=list)

    def totals(self) -> list[Comparison]:
        """The rows summed per mode and currency."""
        sums: dict[tuple[str, str], tuple[Figures, Figures]] = {}
        for row in self.rows:
            were, would_be = sums.get((row.mode, row.currency), (Figures(), Figures()))
            sums[(row.mode, row.currency)] = (were + row.were, would_be + row.would_be)
        return [
            Comparison(mode, currency, were, would_be)
            for (mode, currency), (were, would_be) in sorted(sums.items())
        ]

    def as_dict(self) -> dict[str, Any]:
        """The whole result for JSON."""
        return {
            "plan": self.plan.to_dict(),
            "from": self.first_day.isoformat() if self.first_day else None,
            "to": self.last_day.isoformat() if self.last_day else None,
            "position": self.position,
            "events": self.events,
            "rows": [row.as_dict() for row in self.rows],
            "totals": [total.as_dict() for total in self.totals()],
        }


def _credited(event: object, merchant: UUID, mode: str, currency: str) -> int:
    """The gross the posting rules credit the merchant's books for a ``Verified`` event."""
    effects = balance_effects(postings_for(event))
    return effects.get((merchant, mode, currency, "verified"), 0)


def _repriced(plan: FeePlan, method: str, gross: Money) -> Money:
    try:
        return fee_at_verification(plan, method, gross)
    except FeeRuleMissingError:
        family = method_family(method) if method in PAYMENT_METHODS else method
        raise FeePlanInvalidError(
            f"families.{family}",
            f"plan {plan.name!r} has no fee for {method!r}, a method of verified payments",
        ) from None


@collection_paused()
def what_if(
    app: PaylinkApp,
    plan: FeePlan,
    *,
    merchant: UUID | None = None,
    mode: str | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
    progress: Progress | None = None,
) -> WhatIfResult:
    """Re-price the verified payments of the period (days in Jakarta, both included) under
    ``plan``; only ``merchant``'s and ``mode``'s when given. Reads the store up to its
    head when called; writes nothing."""
    start, end = period(first_day, last_day)
    head = app.recorder.max_notification_id() or 0
    result = WhatIfResult(plan=plan, first_day=first_day, last_day=last_day, position=head)
    methods: dict[UUID, str] = {}  # payment -> method, until it is verified
    sums: dict[GroupKey, tuple[Figures, Figures]] = {}
    reading = stored_events(
        app, head, only=(PAYMENT_INITIATED, PAYMENT_VERIFIED), progress=progress
    )
    for _, event in reading:
        result.events += 1
        e: Mapping[str, Any] = vars(event)
        if type(event) is PAYMENT_INITIATED:
            if (merchant is None or e["merchant_id"] == merchant) and mode in (None, e["mode"]):
                methods[e["originator_id"]] = e["method"]
            continue
        method = methods.pop(e["originator_id"], None)
        if method is None:  # another merchant's or mode's (or verified twice: never)
            continue
        at: datetime = e["timestamp"]
        if (start is not None and at < start) or (end is not None and at >= end):
            continue
        recorded: Money = e["gross"]
        gross = _credited(event, e["merchant_id"], e["mode"], recorded.currency)
        fee_was: Money = e["fee"]
        net_was: Money = e["net"]
        fee = _repriced(plan, method, Money(gross, recorded.currency)).amount
        key = (str(e["merchant_id"]), e["mode"], method, recorded.currency)
        were, would_be = sums.get(key, (Figures(), Figures()))
        sums[key] = (
            were.plus(gross, fee_was.amount, net_was.amount),
            would_be.plus(gross, fee, gross - fee),
        )
    result.rows = [
        WhatIfRow(
            mode=book_mode,
            currency=currency,
            were=were,
            would_be=would_be,
            merchant_id=merchant_id,
            method=method,
        )
        for (merchant_id, book_mode, method, currency), (were, would_be) in sorted(sums.items())
    ]
    return result
