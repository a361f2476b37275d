"""The PaymentLink aggregate: created, edited, sent, opened, deactivated and reactivated,
paid (whole, or in parts), expired, cancelled, completed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.errors import (
    AmountInvalidError,
    InvalidFieldError,
    LinkClosedError,
    LinkHasPaymentsError,
    LinkNotPayableError,
    PaymentMethodUnknownError,
    TransitionInvalidError,
)
from paylink_es.domain.fields import Customer, CustomField
from paylink_es.domain.money import Money, parse_minor_units
from paylink_es.domain.reminders import due_reminder
from paylink_es.domain.terms import KEEP_OPEN, LineItem, LinkTerms

# Why money that arrived was not simply counted; each is recorded, never dropped.
PAID_AFTER_EXPIRY = "paid_after_expiry"
OVERPAID = "overpaid"
UNDERPAID = "underpaid"
LINK_ALREADY_COMPLETED = "link_already_completed"
LINK_CANCELLED = "link_cancelled"
CURRENCY_MISMATCH = "currency_mismatch"

# Money for a link that can take no more is owed back; the rest a person decides.
REFUND_DUE = "refund_due"
NEEDS_REVIEW = "needs_review"
DISPOSITIONS = {
    PAID_AFTER_EXPIRY: NEEDS_REVIEW,
    OVERPAID: NEEDS_REVIEW,
    UNDERPAID: NEEDS_REVIEW,
    LINK_ALREADY_COMPLETED: REFUND_DUE,
    LINK_CANCELLED: REFUND_DUE,
    CURRENCY_MISMATCH: NEEDS_REVIEW,
}
# A merchant's anomaly policy decides per anomaly; these are the platform's defaults.
DECISION_DISPOSITION: dict[str, str | None] = {
    "accept": None,
    "hold": NEEDS_REVIEW,
    "refund": REFUND_DUE,
}
DEFAULT_DECISIONS = {
    anomaly: {NEEDS_REVIEW: "hold", REFUND_DUE: "refund"}[disposition]
    for anomaly, disposition in DISPOSITIONS.items()
}

ACTIVE, COMPLETED, EXPIRED, CANCELLED = "active", "completed", "expired", "cancelled"
# Deactivated by the merchant: not payable, shows the merchant's message; not closed (it
# can be reactivated, edited, cancelled, and it still expires).
INACTIVE = "inactive"
# A link paid in parts after its first verified part, until it is paid in full.
PARTIALLY_PAID = "partially_paid"
OPEN_STATUSES = (ACTIVE, INACTIVE, PARTIALLY_PAID)
PAYABLE_STATUSES = (ACTIVE, PARTIALLY_PAID)
# The channels a receipt goes by (a number given for SMS may not be on WhatsApp).
RECEIPT_CHANNELS = ("email", "whatsapp")

# What an edit may change, and which of those say what a payment paid for.
EDITABLE: tuple[str, ...] = (
    "description",
    "currency",
    "amount",
    "amount_min",
    "amount_max",
    "methods",
    "expires_at",
    "customer",
    "customer_fields",
    "custom_fields",
    "allow_partial",
    "partial_min",
    "partial_expiry",
)
PAID_FOR = frozenset({"currency", "amount", "amount_min", "amount_max", "allow_partial"})
# What the page asks payers: once a payment answered it, the questions stay as they were.
ASKED = frozenset({"customer_fields", "custom_fields"})
PARTIAL_TERMS = ("allow_partial", "partial_min", "partial_expiry")


def link_id_for_reference(merchant_id: UUID, mode: str, reference_id: str) -> UUID:
    """The id a link with this merchant reference always has: a repeat create finds it."""
    return stable_id(f"/merchants/{merchant_id}/{mode}/links/{reference_id}")


class AmountTerms(Protocol):
    """What a link says about its amount: fixed (perhaps paid in parts), or the payer's
    choice within a range."""

    @property
    def amount(self) -> int | None: ...
    @property
    def amount_min(self) -> int | None: ...
    @property
    def amount_max(self) -> int | None: ...
    @property
    def currency(self) -> str: ...
    @property
    def allow_partial(self) -> bool: ...
    @property
    def partial_min(self) -> int | None: ...
    @property
    def amount_paid(self) -> int: ...


def amount_due(terms: AmountTerms, offered: object | None) -> Money:
    """The amount to pay under ``terms``: the fixed amount, or the customer's offer within
    min/max, or a part of a link paid in parts (a link, or a snapshot of one checked before
    any remote call)."""
    if terms.allow_partial and terms.amount is not None:
        return _part_due(terms, terms.amount, offered)
    if terms.amount is not None:
        if offered is not None and parse_minor_units(offered, "amount") != terms.amount:
            raise AmountInvalidError("amount", f"this link is for exactly {terms.amount}")
        return Money(terms.amount, terms.currency)
    if offered is None:
        raise AmountInvalidError("amount", "this link lets the payer choose; give an amount")
    value = parse_minor_units(offered, "amount")
    low, high = terms.amount_min or 1, terms.amount_max
    if value < low or (high is not None and value > high):
        upper = f" and {high}" if high is not None else ""
        raise AmountInvalidError("amount", f"must be between {low}{upper}, got {value}")
    return Money(value, terms.currency)


def _part_due(terms: AmountTerms, amount: int, offered: object | None) -> Money:
    """A part of a link paid in parts: what is left when no amount is offered; an offer is
    at least ``partial_min`` for the first part (later ones at least the method's minimum,
    checked by the method) and never more than what is left."""
    left = amount - terms.amount_paid
    if offered is None:
        return Money(left, terms.currency)
    value = parse_minor_units(offered, "amount")
    if value > left:
        raise AmountInvalidError("amount", f"{value} is more than the {left} left to pay")
    least = terms.partial_min if terms.amount_paid == 0 else None
    if least is not None and value < least:
        raise AmountInvalidError(
            "amount", f"the first payment must be at least {least}, got {value}"
        )
    return Money(value, terms.currency)


def mask_recipient(recipient: str) -> str:
    """Keep enough of an address or number to recognise it, not to use it."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{recipient[:4]}***{recipient[-3:]}" if len(recipient) > 7 else "***"


def term_fields(source: LinkTerms | PaymentLink) -> dict[str, Any]:
    """Every term of ``source`` by name, as the ``Created`` and ``Edited`` events carry them."""
    return {name: getattr(source, name) for name in LinkTerms.__dataclass_fields__}


def terms_of(link: PaymentLink) -> LinkTerms:
    """The terms a link was created on (to tell a repeated request from a different one)."""
    return LinkTerms(**term_fields(link))


class PaymentLink(PaylinkAggregate):
    """A merchant's request for money, reachable by an unguessable short code."""

    @event("Created")
    def __init__(
        self,
        id: UUID,  # the library passes the aggregate's id to __init__ by this name
        merchant_id: UUID,
        code: str,
        mode: str,
        currency: str,
        description: str,
        amount: int | None,
        amount_min: int | None,
        amount_max: int | None,
        reference_id: str | None,
        methods: list[str],
        expires_at: datetime | None,
        usage_limit: int | None,
        line_items: list[LineItem],
        customer: Customer | None,
        success_url: str | None,
        failure_url: str | None,
        metadata: dict[str, str],
        slug: str | None = None,  # links created before slugs have none
        by: str | None = None,  # who created it (links created before say nobody)
        duplicate_of: UUID | None = None,  # the link this one was duplicated from
        # What the page asks payers (links created before ask nothing).
        customer_fields: dict[str, str] | None = None,
        custom_fields: list[CustomField] | None = None,
        # Paid in parts (links stored before links could be paid in parts carry none).
        allow_partial: bool = False,
        partial_min: int | None = None,
        partial_expiry: str | None = None,
    ) -> None:
        self.merchant_id = merchant_id
        self.code = code
        self.slug = slug
        self.mode = mode
        self.currency = currency
        self.description = description
        self.amount = amount
        self.amount_min = amount_min
        self.amount_max = amount_max
        self.reference_id = reference_id
        self.methods = methods
        self.expires_at = expires_at
        self.usage_limit = usage_limit
        self.line_items = line_items
        self.customer = customer
        self.success_url = success_url
        self.failure_url = failure_url
        self.metadata = metadata
        self.customer_fields = dict(customer_fields or {})
        self.custom_fields = list(custom_fields or [])
        self.allow_partial = allow_partial
        self.partial_min = partial_min
        self.partial_expiry = partial_expiry
        self.status = ACTIVE
        self.sent_count = 0
        self.opened_count = 0
        self.uses = 0
        self.collected = 0
        self.accepted_payments: list[UUID] = []
        self.flagged_payments: list[UUID] = []
        self.inactive_message: str | None = None
        # Messages to the customer: where the link was sent (channel -> address and
        # language), its reminders before expiry (None: none decided yet) and those sent
        # or passed over, and the payments whose receipt went out.
        self.contacts: dict[str, tuple[str, str]] = {}
        self.reminders: list[int] | None = None
        self.reminders_done: list[int] = []
        self.receipts: list[UUID] = []
        # A link paid in parts: what counts toward its amount, in all and per payment.
        self.amount_paid = 0
        self.parts: dict[UUID, int] = {}

    @classmethod
    def create(
        cls,
        link_id: UUID,
        merchant_id: UUID,
        code: str,
        terms: LinkTerms,
        *,
        by: str | None = None,
        duplicate_of: UUID | None = None,
    ) -> PaymentLink:
        """Open a new link on validated terms."""
        fields = term_fields(terms)
        if by is not None:
            fields["by"] = by
        if duplicate_of is not None:
            fields["duplicate_of"] = duplicate_of
        return cls(id=link_id, merchant_id=merchant_id, code=code, **fields)

    # -- reading -------------------------------------------------------------------

    def status_at(self, now: datetime) -> str:
        """The status a customer sees at ``now``: an open link (active, inactive, partially
        paid) past its expiry is expired, unless its expiry is held open."""
        if self.status in OPEN_STATUSES and self.past_expiry(now):
            return EXPIRED
        return self.status

    def held_open(self) -> bool:
        """Whether the expiry is held: a link paid in part whose policy is ``keep_open``
        does not expire until it is paid in full or cancelled."""
        return self.partial_expiry == KEEP_OPEN and self.amount_paid > 0

    def past_expiry(self, instant: datetime) -> bool:
        """Whether the link's expiry has passed at ``instant`` (and is not held open)."""
        return self.expires_at is not None and instant >= self.expires_at and not self.held_open()

    def payable_until(self) -> datetime | None:
        """Until when a payment started now may be paid: the link's expiry, none while a
        part paid holds the link open past it."""
        return None if self.held_open() else self.expires_at

    def left_to_pay(self) -> int | None:
        """What is left to pay on a link paid in parts; None for a link paid whole."""
        if not self.allow_partial or self.amount is None:
            return None
        return self.amount - self.amount_paid

    @property
    def has_payments(self) -> bool:
        """Whether money was taken on the link: accepted, or flagged for review or refund."""
        return bool(self.accepted_payments or self.flagged_payments)

    def amount_due(self, offered: object | None) -> Money:
        """The amount to pay: the fixed amount, or the customer's offer within min/max."""
        return amount_due(self, offered)

    def check_payable(self, method: str, now: datetime) -> None:
        """Raise unless a customer may start paying by ``method`` at ``now``."""
        status = self.status_at(now)
        if status not in PAYABLE_STATUSES:
            raise LinkNotPayableError(f"link is {status}; it takes no new payments", field="link")
        if method not in self.methods:
            raise PaymentMethodUnknownError(
                "method", f"{method!r} is not accepted by this link ({', '.join(self.methods)})"
            )

    def assess_payment(self, paid: Money, expected: Money, paid_at: datetime) -> str | None:
        """Why money that arrived cannot simply count as a use of this link, or None."""
        if self.status == CANCELLED:
            return LINK_CANCELLED
        if self.status == COMPLETED:
            return LINK_ALREADY_COMPLETED
        if self.past_expiry(paid_at):
            return PAID_AFTER_EXPIRY
        if paid.currency != expected.currency:
            return CURRENCY_MISMATCH
        if paid.amount > expected.amount:
            return OVERPAID
        if paid.amount < expected.amount:
            return UNDERPAID
        return None

    # -- commands ------------------------------------------------------------------

    def send(
        self,
        channel: str,
        recipient: str,
        now: datetime,
        *,
        language: str | None = None,
        reminders: Sequence[int] | None = None,
    ) -> None:
        """Record that the link was sent; a closed or expired link is not sent.

        The event keeps the recipient masked (what the timeline and the feed show) and,
        for reminders and receipts, the address and the language it went in. A link
        without reminders of its own takes ``reminders`` (the merchant's default).
        """
        status = self.status_at(now)
        if status not in PAYABLE_STATUSES:
            raise LinkClosedError(f"link is {status}; it cannot be sent", field="link")
        self._sent(
            channel=channel, recipient=mask_recipient(recipient), to=recipient, language=language
        )
        if reminders is not None and self.reminders is None:
            self.schedule_reminders(reminders, by=None)

    @event("Sent")
    def _sent(
        self,
        channel: str,
        recipient: str,
        to: str | None = None,  # links sent before reminders kept the masked recipient only
        language: str | None = None,
    ) -> None:
        self.sent_count += 1
        if to is not None:
            self.contacts[channel] = (to, language or "id")

    def record_send_failure(self, channel: str, recipient: str, reason: str) -> None:
        """Record an attempt to send the link that failed; the recipient is stored masked."""
        self._send_failed(channel=channel, recipient=mask_recipient(recipient), reason=reason)

    @event("SendFailed")
    def _send_failed(self, channel: str, recipient: str, reason: str) -> None:
        """Nothing changes on the link: the attempt is on its timeline, that is all."""

    def open(self, visitor: str) -> None:
        """Record a customer opening the hosted page (once per visitor session upstream)."""
        self._opened(visitor=visitor)

    @event("Opened")
    def _opened(self, visitor: str) -> None:
        self.opened_count += 1

    def expire(self, now: datetime) -> bool:
        """Record the expiry if it has passed; returns whether anything changed."""
        if self.status in OPEN_STATUSES and self.past_expiry(now):
            self._expired()
            return True
        return False

    @event("Expired")
    def _expired(self) -> None:
        self.status = EXPIRED

    def cancel(self, reason: str | None, by: str | None = None) -> None:
        """Close the link to new payments (an inactive one too); cancelling a closed link
        is an error."""
        if self.status not in OPEN_STATUSES:
            raise LinkClosedError(f"link is already {self.status}", field="link")
        self._cancelled(reason=reason, by=by)

    @event("Cancelled")
    def _cancelled(self, reason: str | None, by: str | None = None) -> None:
        self.status = CANCELLED

    def check_editable(self, now: datetime) -> None:
        """Raise unless the link may still change: a closed link (cancelled, completed,
        expired, or past its expiry) cannot."""
        status = self.status_at(now)
        if status not in OPEN_STATUSES:
            raise LinkClosedError(f"link is {status}; a closed link cannot be edited", field="link")

    def changes(self, terms: LinkTerms) -> list[str]:
        """The editable fields ``terms`` changes, in :data:`EDITABLE` order; raises naming a
        field an edit may not change, and naming a field of what was paid for (amount,
        range, currency) on a link that has payments."""
        current = terms_of(self)
        for name in LinkTerms.__dataclass_fields__:
            if name not in EDITABLE and getattr(terms, name) != getattr(current, name):
                raise InvalidFieldError(name, "cannot be changed by an edit")
        changed = [name for name in EDITABLE if getattr(terms, name) != getattr(current, name)]
        if self.has_payments:
            for name in changed:
                if name in PAID_FOR or name in ASKED:
                    what = (
                        "what they paid for" if name in PAID_FOR else "what their payers answered"
                    )
                    raise LinkHasPaymentsError(
                        f"{name}: the link has payments, and its {name} is {what}; it "
                        "cannot change (description, expiry, methods, customer, partial_min "
                        "and partial_expiry can). Duplicate the link for new terms",
                        field=name,
                    )
        return changed

    def edit(self, terms: LinkTerms, by: str, now: datetime) -> list[str]:
        """Change the link to ``terms`` (validated by the caller: ``link_terms`` and the
        methods that can take it); returns the fields that changed. An edit that changes
        nothing records nothing."""
        self.check_editable(now)
        changed = self.changes(terms)
        if changed:
            self._edited(
                changed=changed,
                previous={name: getattr(self, name) for name in changed},
                by=by,
                **term_fields(terms),
            )
        return changed

    @event("Edited")
    def _edited(
        self,
        changed: list[str],
        previous: dict[str, Any],
        by: str,
        currency: str,
        description: str,
        amount: int | None,
        amount_min: int | None,
        amount_max: int | None,
        reference_id: str | None,
        methods: list[str],
        expires_at: datetime | None,
        usage_limit: int | None,
        line_items: list[LineItem],
        customer: Customer | None,
        success_url: str | None,
        failure_url: str | None,
        metadata: dict[str, str],
        mode: str,
        slug: str | None,
        customer_fields: dict[str, str] | None = None,  # edits stored before asked nothing
        custom_fields: list[CustomField] | None = None,
        allow_partial: bool = False,
        partial_min: int | None = None,
        partial_expiry: str | None = None,
    ) -> None:
        """The full terms after the edit: a read model rewrites the link from this alone."""
        self.currency = currency
        self.description = description
        self.amount = amount
        self.amount_min = amount_min
        self.amount_max = amount_max
        self.reference_id = reference_id
        self.methods = methods
        self.expires_at = expires_at
        self.usage_limit = usage_limit
        self.line_items = line_items
        self.customer = customer
        self.success_url = success_url
        self.failure_url = failure_url
        self.metadata = metadata
        self.mode = mode
        self.slug = slug
        self.customer_fields = dict(customer_fields or {})
        self.custom_fields = list(custom_fields or [])
        self.allow_partial = allow_partial
        self.partial_min = partial_min
        self.partial_expiry = partial_expiry

    def deactivate(self, message: str | None, by: str, now: datetime) -> None:
        """Stop taking payments for now; the page shows ``message`` instead of the methods."""
        status = self.status_at(now)
        if status == INACTIVE:
            raise TransitionInvalidError("link is already inactive", field="link")
        if status not in PAYABLE_STATUSES:
            raise LinkClosedError(f"link is {status}; it cannot be deactivated", field="link")
        self._deactivated(message=message, by=by)

    @event("Deactivated")
    def _deactivated(self, message: str | None, by: str) -> None:
        self.status = INACTIVE
        self.inactive_message = message

    def reactivate(self, by: str, now: datetime) -> None:
        """Take payments again; only an inactive link (not past its expiry) can. A link
        paid in part is partially paid again."""
        status = self.status_at(now)
        if status in PAYABLE_STATUSES:
            raise TransitionInvalidError(
                f"link is {status}; only an inactive link can be reactivated", field="link"
            )
        if status != INACTIVE:
            raise LinkClosedError(f"link is {status}; it cannot be reactivated", field="link")
        self._reactivated(by=by, status=PARTIALLY_PAID if self.amount_paid > 0 else ACTIVE)

    @event("Reactivated")
    def _reactivated(self, by: str, status: str = ACTIVE) -> None:
        self.status = status
        self.inactive_message = None

    def uses_left(self) -> bool:
        """Whether another confirmed payment may count as a use (a link cancelled after
        its last use was taken has none left, though it never completed); a link paid in
        parts takes parts until it is paid in full."""
        if self.status == COMPLETED:
            return False
        if self.allow_partial and self.amount is not None:
            return self.amount_paid < self.amount
        return self.usage_limit is None or self.uses < self.usage_limit

    def acceptance_anomaly(self, part: Money) -> str | None:
        """Why a confirmed payment of which ``part`` counts toward the link cannot count
        now: every use taken, or more than is left to pay on a link paid in parts."""
        if not self.uses_left():
            return LINK_ALREADY_COMPLETED
        left = self.left_to_pay()
        if left is not None and part.amount > left:
            return OVERPAID
        return None

    def accept_payment(self, payment_id: UUID, amount: Money, part: Money | None = None) -> None:
        """Count a confirmed payment as one use; the last allowed use completes an active
        or inactive link (one cancelled while the payment was being confirmed stays
        cancelled).

        On a link paid in parts, ``part`` (``amount`` unless given: without the fee the
        payer paid on top) counts toward the link's amount: the link is partially paid
        until the parts reach the amount, and then completed.
        """
        if self.allow_partial and self.amount is not None:
            counted = part or amount
            self._payment_accepted(payment_id=payment_id, amount=amount, part=counted)
            left = self.amount - self.amount_paid
            if left > 0:
                self._partially_paid(
                    payment_id=payment_id,
                    amount=counted,
                    amount_paid=self.amount_paid,
                    amount_due=left,
                    status=PARTIALLY_PAID if self.status in PAYABLE_STATUSES else self.status,
                )
            elif self.status in OPEN_STATUSES:
                self._completed()
            return
        self._payment_accepted(payment_id=payment_id, amount=amount)
        if (
            self.usage_limit is not None
            and self.uses >= self.usage_limit
            and self.status in OPEN_STATUSES
        ):
            self._completed()

    @event("PaymentAccepted")
    def _payment_accepted(self, payment_id: UUID, amount: Money, part: Money | None = None) -> None:
        self.uses += 1
        self.collected += amount.amount
        self.accepted_payments.append(payment_id)
        if part is not None:  # what counts toward a link paid in parts
            self.amount_paid += part.amount
            self.parts[payment_id] = part.amount

    @event("PartiallyPaid")
    def _partially_paid(
        self, payment_id: UUID, amount: Money, amount_paid: int, amount_due: int, status: str
    ) -> None:
        """A part was paid and some is left: an open link is partially paid now (one
        inactive, cancelled or expired keeps its status)."""
        self.status = status

    def recount(self, payment_id: UUID, refund_id: UUID, left: Money) -> None:
        """A refund of ``payment_id`` left ``left`` of it: a link paid in parts counts no
        more of that payment than is left (the fee the payer paid on top goes back first).
        A completed link is partially paid again (active, once nothing is paid)."""
        counted = self.parts.get(payment_id)
        if counted is None or counted <= left.amount:
            return
        paid = self.amount_paid - (counted - left.amount)
        status = self.status
        if status in (COMPLETED, PARTIALLY_PAID):
            status = PARTIALLY_PAID if paid > 0 else ACTIVE
        self._part_refunded(
            payment_id=payment_id,
            refund_id=refund_id,
            amount=Money(counted - left.amount, self.currency),
            amount_paid=paid,
            amount_due=(self.amount or 0) - paid,
            status=status,
        )

    @event("PartRefunded")
    def _part_refunded(
        self,
        payment_id: UUID,
        refund_id: UUID,
        amount: Money,
        amount_paid: int,
        amount_due: int,
        status: str,
    ) -> None:
        self.parts[payment_id] -= amount.amount
        self.amount_paid = amount_paid
        self.status = status

    @event("Completed")
    def _completed(self) -> None:
        self.status = COMPLETED

    @event("PaymentFlagged")
    def flag_payment(self, payment_id: UUID, amount: Money, anomaly: str) -> None:
        """Note on the link's timeline that money arrived that did not count as a use."""
        self.flagged_payments.append(payment_id)

    # -- messages to the customer: reminders and receipts ---------------------------

    def schedule_reminders(self, reminders: Sequence[int], by: str | None) -> None:
        """Remind the customer this long (seconds) before the expiry (checked by the
        caller: ``reminders.check_reminders``); ``by`` None: the merchant's default."""
        schedule = sorted(set(reminders), reverse=True)
        if schedule != self.reminders:
            self._reminders_scheduled(reminders=schedule, by=by)

    @event("RemindersScheduled")
    def _reminders_scheduled(self, reminders: list[int], by: str | None) -> None:
        self.reminders = list(reminders)

    def remind(self, now: datetime) -> int | None:
        """Record the reminder due at ``now`` (and those passed over), returning how long
        before the expiry it is; None when none is due. None is due unless the link is
        active, took no payment, was sent to someone, and one of its reminders has come."""
        if self.status_at(now) != ACTIVE or self.has_payments or not self.contacts:
            return None
        due = due_reminder(
            self.reminders or [], self.reminders_done, self.expires_at, self.created_on, now
        )
        if due is None:
            return None
        self._reminded(before_s=due[0], passed=due[1])
        return due[0]

    @event("Reminded")
    def _reminded(self, before_s: int, passed: list[int]) -> None:
        self.reminders_done.extend([before_s, *passed])

    def receipt(self, payment_id: UUID) -> bool:
        """Record that the receipt of a payment counted on this link is due now; False
        (nothing recorded) for another payment, or one whose receipt was recorded."""
        if payment_id not in self.accepted_payments or payment_id in self.receipts:
            return False
        self._receipted(payment_id=payment_id)
        return True

    @event("Receipted")
    def _receipted(self, payment_id: UUID) -> None:
        self.receipts.append(payment_id)

    def receipt_contacts(self) -> list[tuple[str, str, str]]:
        """(channel, address, language) a receipt goes to: the e-mail and WhatsApp the
        link was sent to, else the customer's e-mail and phone (WhatsApp)."""
        sent = [
            (channel, to, language)
            for channel, (to, language) in sorted(self.contacts.items())
            if channel in RECEIPT_CHANNELS
        ]
        if sent or self.customer is None:
            return sent
        found = []
        if self.customer.email:
            found.append(("email", self.customer.email, "id"))
        if self.customer.phone:
            found.append(("whatsapp", self.customer.phone, "id"))
        return found

    def record_message(
        self, kind: str, about: str, channel: str, recipient: str, reason: str | None
    ) -> None:
        """Record how a reminder or receipt (``kind``) went by ``channel``: sent, or
        failed for ``reason``. ``about`` says which (a reminder's time, a payment's id)."""
        masked = mask_recipient(recipient)
        if reason is None:
            self._message_sent(kind=kind, about=about, channel=channel, recipient=masked)
        else:
            self._message_failed(
                kind=kind, about=about, channel=channel, recipient=masked, reason=reason
            )

    @event("MessageSent")
    def _message_sent(self, kind: str, about: str, channel: str, recipient: str) -> None:
        """On the timeline; nothing changes on the link."""

    @event("MessageFailed")
    def _message_failed(
        self, kind: str, about: str, channel: str, recipient: str, reason: str
    ) -> None:
        """On the timeline; nothing changes on the link."""


class LinkCodeIndex(PaylinkAggregate):
    """Finds a link by its short code; saved with the link, so codes never collide."""

    @staticmethod
    def create_id(code: str) -> UUID:
        """The index id for a short code (the library calls it when one is created)."""
        return stable_id(f"/link-codes/{code}")

    @event("Indexed")
    def __init__(self, link_id: UUID, code: str = "") -> None:
        # code: what the id is made from ("" in indexes stored before it was kept)
        self.link_id = link_id
