"""Application services: every command of the link lifecycle, idempotent and retried."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    JSONTranscoder,
    OperationalError,
    RecordConflictError,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType

from paylink_es.application.details import (
    IssuedKey,
    KeyOwner,
    LinkDetails,
    PaymentDetails,
    PaymentOutcome,
)
from paylink_es.application.groupcommit import GroupCommitter
from paylink_es.application.money import BulkLoader, MoneyServices
from paylink_es.application.webhooks import WebhookServices
from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.calendar import DEFAULT_SETTLEMENT_RULES, SettlementCalendar, SettlementRules
from paylink_es.domain.clock import Clock, system_clock, using_clock
from paylink_es.domain.errors import (
    AmountInvalidError,
    ApiKeyInvalidError,
    ConcurrencyConflictError,
    InvalidFieldError,
    NotFoundError,
)
from paylink_es.domain.fees import FeePlan, amount_with_fee_on_customer, fee_for
from paylink_es.domain.idempotency import (
    OUTCOME_GRACE,
    IdempotentRequest,
    derived_id,
    first_derived_id,
)
from paylink_es.domain.link import (
    LINK_ALREADY_COMPLETED,
    LinkCodeIndex,
    PaymentLink,
    link_id_for_reference,
)
from paylink_es.domain.merchant import ApiKeyIndex, Merchant, hash_secret, key_mode, random_base62
from paylink_es.domain.methods import check_method
from paylink_es.domain.money import MAX_MINOR_UNITS, Money
from paylink_es.domain.payment import INITIATED, ChannelPaymentIndex, Payment
from paylink_es.domain.terms import Mode, link_terms
from paylink_es.domain.validation import check_expiry, check_text, require_text
from paylink_es.domain.webhooks import Resolver
from paylink_es.retry import conflict_waits, retry
from paylink_es.store.topics import register_moved_modules
from paylink_es.store.transcodings import FastJSONTranscoder, register_domain_transcodings

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A", bound=PaylinkAggregate)
LINK_CODE_LENGTH = 12
AUTH_CACHE_S = 1.0


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply stored events in order: the library's projector, minus a per-event
    ``isinstance`` check against a runtime protocol that cost a quarter of a load."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class PaylinkApp(Application[UUID], WebhookServices, MoneyServices):
    """The event-sourced ledger of merchants, links and payments."""

    name = "Paylink"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = system_clock,
        new_id: Callable[[], UUID] = uuid4,
        retries: int = 20,
        group_commit: bool = False,
        calendar: SettlementCalendar | None = None,
        settlement_rules: SettlementRules | None = None,
        bulk_loader: BulkLoader | None = None,
        webhook_resolver: Resolver | None = None,
    ) -> None:
        self.clock = clock
        self.calendar = calendar or SettlementCalendar()
        self.settlement_rules = settlement_rules or DEFAULT_SETTLEMENT_RULES
        self.bulk_loader = bulk_loader
        self.webhook_resolver = webhook_resolver
        self._draw_id = new_id
        self.retries = retries
        self._collecting = threading.local()
        self._known_merchants: set[UUID] = set()
        self._auth_cache: dict[str, tuple[KeyOwner, float]] = {}
        super().__init__(env)
        self.committer: GroupCommitter | None = None
        if group_commit:
            self.committer = GroupCommitter(
                self._run_alone, self._run_collecting, self._write_collected
            )

    def close(self) -> None:
        """Let queued commands finish, then close the store."""
        if getattr(self, "committer", None) is not None and self.committer is not None:
            self.committer.close()
            self.committer = None
        super().close()

    def new_id(self) -> UUID:
        """A new aggregate id: derived from the Idempotency-Key while an idempotent
        request runs (so running it again draws the same ids), else a fresh one."""
        return derived_id() or self._draw_id()

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        """Save aggregates; inside a group-commit batch, collect them for one write."""
        collected: list[Any] | None = getattr(self._collecting, "objs", None)
        if collected is not None:
            collected.extend(obj for obj in objs if obj is not None)
            return []
        return self._store(objs, kwargs)

    def _store(self, objs: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        """The library's ``save``, with our own aggregates' events collected directly.

        ``ProcessingEvent.collect_events`` asks two runtime-checkable protocols about each
        object (``isinstance`` on a Protocol walks its attributes): about 30 µs per
        aggregate, a sixth of settling a payment. Our aggregates are known to be
        aggregates; anything else still goes through the library's own collection.
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        others = []
        for obj in objs:
            if isinstance(obj, PaylinkAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                others.append(obj)
        processing_event.collect_events(*others, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the environment given (built from Settings), never the process's.

        The library would merge ``os.environ`` and look up ``PAYLINK_<KEY>`` before
        ``<KEY>`` (the app is named Paylink): a stray variable must not steer the store.
        """
        return Environment(name, dict(env or {}))

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoding, read with orjson (``FastJSONTranscoder``); events
        stored under the domain's old module names still decode."""
        register_moved_modules()
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Add the domain's value types to the library's defaults."""
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # -- plumbing ------------------------------------------------------------------

    def _run(self, command: Callable[[], T]) -> T:
        """Run a command: through the group committer when there is one, else alone."""
        committer = self.committer
        if committer is None or committer.in_writer:
            return self._run_alone(command)
        return committer.submit(command)

    async def _run_async(self, command: Callable[[], T]) -> T:
        """Like :meth:`_run`, awaitable: the caller's event loop is not blocked."""
        committer = self.committer
        if committer is None:
            return await asyncio.to_thread(self._run_alone, command)
        return await committer.submit_async(command)

    def _run_collecting(self, command: Callable[[], T]) -> tuple[T, list[Any]]:
        """Run a command once with ``save`` collecting; return its result and aggregates."""
        collected: list[Any] = []
        self._collecting.objs = collected
        try:
            with using_clock(self.clock):
                return command(), collected
        finally:
            self._collecting.objs = None

    def _write_collected(self, objs: list[Any]) -> None:
        with using_clock(self.clock):
            self._store(objs, {})

    def _run_alone(self, command: Callable[[], T]) -> T:
        """Run a command under the app's clock, retrying optimistic-concurrency conflicts
        (``retries`` tries in all, jittered waits between them)."""

        def attempt() -> T:
            with using_clock(self.clock):
                return command()

        def noted(attempt: int, error: BaseException, _delay: float) -> None:
            log.debug("retrying after %s (attempt %d)", type(error).__name__, attempt)

        try:
            return retry(
                attempt,
                delays=conflict_waits(self.retries - 1),
                retry_on=(RecordConflictError, OperationalError),
                on_retry=noted,
            )
        except RecordConflictError as error:
            msg = f"gave up after {self.retries} conflicting attempts"
            raise ConcurrencyConflictError(msg) from error

    def _get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id, projector_func=_project)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {what} {aggregate_id}", field=f"{what}_id") from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"no {what} {aggregate_id}", field=f"{what}_id")
        return aggregate

    def now(self) -> datetime:
        """The application's current instant."""
        return self.clock()

    # -- merchants and keys ----------------------------------------------------------

    def register_merchant(
        self, name: str, email: str | None = None, *, merchant_id: UUID | None = None
    ) -> UUID:
        """Register a merchant; returns its id (``merchant_id`` fixes it, e.g. for the demo)."""
        from paylink_es.domain.validation import check_email

        merchant_name = require_text(name, "name", max_length=200)
        merchant_email = check_email(email, "email")

        def command() -> UUID:
            merchant = Merchant(
                id=merchant_id or self.new_id(),
                name=merchant_name,
                email=merchant_email,
            )
            self.save(merchant)
            return merchant.id

        return self._run(command)

    def issue_api_key(self, merchant_id: UUID, mode: Mode = "test") -> IssuedKey:
        """Issue a secret key for the merchant; the secret is returned only here."""

        def command() -> IssuedKey:
            merchant = self._get(Merchant, merchant_id, "merchant")
            key_id = self.new_id()
            secret = merchant.issue_key(key_id, mode)
            index = ApiKeyIndex(
                merchant_id=merchant_id, key_id=key_id, secret_hash=hash_secret(secret)
            )
            self.save(merchant, index)
            return IssuedKey(key_id=key_id, secret=secret, mode=mode)

        return self._run(command)

    def revoke_api_key(self, merchant_id: UUID, key_id: UUID) -> None:
        """Revoke one of the merchant's keys; it stops authenticating at once."""

        def command() -> None:
            merchant = self._get(Merchant, merchant_id, "merchant")
            merchant.revoke_key(key_id)
            self.save(merchant)

        self._run(command)
        self._auth_cache.clear()

    def cached_owner(self, secret: str) -> KeyOwner | None:
        """The owner of a key if it was authenticated within the last second (no I/O)."""
        cached = self._auth_cache.get(hash_secret(secret))
        if cached is not None and time.monotonic() - cached[1] < AUTH_CACHE_S:
            return cached[0]
        return None

    def authenticate(self, secret: str) -> KeyOwner:
        """The merchant and mode a secret key belongs to; raises if unknown or revoked.

        Answers are remembered for a second: a revocation made in this process applies
        at once, one made in another process within a second.
        """
        mode = key_mode(secret)
        secret_hash = hash_secret(secret)
        cached = self._auth_cache.get(secret_hash)
        if cached is not None and time.monotonic() - cached[1] < AUTH_CACHE_S:
            return cached[0]
        index_id = ApiKeyIndex.create_id(secret_hash)
        try:
            index: object = self.repository.get(index_id)
        except AggregateNotFoundError:
            raise ApiKeyInvalidError("the API key is not known") from None
        if not isinstance(index, ApiKeyIndex):
            raise ApiKeyInvalidError("the API key is not known")
        merchant = self._get(Merchant, index.merchant_id, "merchant")
        key = merchant.keys.get(index.key_id)
        if key is None or key.revoked:
            raise ApiKeyInvalidError("the API key has been revoked")
        owner = KeyOwner(merchant_id=merchant.id, key_id=key.key_id, mode=mode)
        self._auth_cache[secret_hash] = (owner, time.monotonic())
        return owner

    def set_fee_plan(self, merchant_id: UUID, plan: FeePlan) -> None:
        """Price the merchant's future verifications with ``plan``."""
        self._update(Merchant, merchant_id, "merchant", lambda m: m.set_fee_plan(plan.to_dict()))

    def set_anomaly_policy(self, merchant_id: UUID, policy: dict[str, str]) -> None:
        """Decide per anomaly what happens to money that arrived oddly: accept, hold, refund."""
        self._update(Merchant, merchant_id, "merchant", lambda m: m.set_anomaly_policy(policy))

    def set_bank_account(
        self, merchant_id: UUID, bank: str, account_number: str, account_name: str
    ) -> None:
        """Record where the merchant's payouts go."""
        fields = (
            require_text(bank, "bank", max_length=32),
            require_text(account_number, "account_number", max_length=34),
            require_text(account_name, "account_name", max_length=100),
        )
        self._update(Merchant, merchant_id, "merchant", lambda m: m.set_bank_account(*fields))

    def merchant(self, merchant_id: UUID) -> Merchant:
        """The merchant aggregate as it stands now (read only: change it through commands)."""
        return self._get(Merchant, merchant_id, "merchant")

    def merchant_name(self, merchant_id: UUID) -> str:
        """The merchant's display name."""
        return self._get(Merchant, merchant_id, "merchant").name

    # -- links -----------------------------------------------------------------------

    def create_link(self, merchant_id: UUID, **fields: Any) -> UUID:
        """Create a payment link; the same merchant reference returns the first link."""
        return self.open_link_request(merchant_id, **fields)[0].id

    def open_link_request(self, merchant_id: UUID, **fields: Any) -> tuple[LinkDetails, bool]:
        """Create a link; returns it and whether it is new (False: the reference existed)."""
        return self._run(self._link_command(merchant_id, fields))

    async def open_link_request_async(
        self, merchant_id: UUID, **fields: Any
    ) -> tuple[LinkDetails, bool]:
        """:meth:`open_link_request` for an event loop (the HTTP hot path)."""
        return await self._run_async(self._link_command(merchant_id, fields))

    def _link_command(
        self, merchant_id: UUID, fields: dict[str, Any]
    ) -> Callable[[], tuple[LinkDetails, bool]]:
        terms = link_terms(self.now(), **fields)
        # Drawn here, in the caller's thread: an idempotent request derives it from its key.
        derived = derived_id()
        if terms.reference_id is not None:
            link_id = link_id_for_reference(merchant_id, terms.mode, terms.reference_id)
        else:
            link_id = derived or self._draw_id()

        def command() -> tuple[LinkDetails, bool]:
            self._require_merchant(merchant_id)
            code = random_base62(LINK_CODE_LENGTH)
            link = PaymentLink.create(link_id, merchant_id, code, terms)
            index = LinkCodeIndex(link_id=link_id, code=code)
            try:
                self.save(link, index)
            except RecordConflictError:
                # The reference's id is taken: that is the first link, unless it was the
                # code that collided (then the retry draws a new code). An id derived from
                # an Idempotency-Key is taken when this very request ran before and died
                # before answering: the link is the one it created.
                if terms.reference_id is not None and link_id in self.repository:
                    return self.link(link_id), False
                if derived is not None and link_id in self.repository:
                    return self.link(link_id), True
                raise
            return LinkDetails.of(link, self.now()), True

        return command

    def _require_merchant(self, merchant_id: UUID) -> None:
        """Raise unless the merchant exists (merchants are never removed: remembered)."""
        if merchant_id in self._known_merchants:
            return
        self._get(Merchant, merchant_id, "merchant")
        self._known_merchants.add(merchant_id)

    def link(self, link_id: UUID) -> LinkDetails:
        """The link as it stands now."""
        return LinkDetails.of(self._get(PaymentLink, link_id, "link"), self.now())

    def find_link(self, merchant_id: UUID, mode: str, reference_id: str) -> UUID | None:
        """The link a merchant created with this reference, if any."""
        link_id = link_id_for_reference(merchant_id, mode, reference_id)
        return link_id if link_id in self.repository else None

    def owned_link(self, merchant_id: UUID, mode: str, link_id: UUID) -> LinkDetails | None:
        """The link if it exists and belongs to this merchant and mode, else None."""
        try:
            link = self._get(PaymentLink, link_id, "link")
        except NotFoundError:
            return None
        if link.merchant_id != merchant_id or link.mode != mode:
            return None
        return LinkDetails.of(link, self.now())

    def link_id_for_code(self, code: str) -> UUID:
        """The link a short code points to."""
        index = self._get(LinkCodeIndex, LinkCodeIndex.create_id(code), "link")
        return index.link_id

    def send_link(self, link_id: UUID, channel: str, recipient: str) -> None:
        """Record that the link went out by ``channel`` to ``recipient`` (stored masked)."""
        channel_name = require_text(channel, "channel", max_length=32)
        to = require_text(recipient, "recipient", max_length=254)
        self._update(
            PaymentLink, link_id, "link", lambda link: link.send(channel_name, to, self.now())
        )

    def open_link(self, link_id: UUID, visitor: str) -> None:
        """Record a customer opening the link's page."""
        who = require_text(visitor, "visitor", max_length=128)
        self._update(PaymentLink, link_id, "link", lambda link: link.open(who))

    def expire_link(self, link_id: UUID) -> bool:
        """Record the link's expiry if it has passed; returns whether it expired now."""
        expired: list[bool] = []

        def command(link: PaymentLink) -> None:
            expired.append(link.expire(self.now()))

        self._update(PaymentLink, link_id, "link", command)
        return expired[-1]

    def cancel_link(self, link_id: UUID, reason: str | None = None) -> None:
        """Close the link to new payments."""
        why = check_text(reason, "reason", max_length=500, required=False)
        self._update(PaymentLink, link_id, "link", lambda link: link.cancel(why))

    def _update(
        self, cls: type[A], aggregate_id: UUID, what: str, change: Callable[[A], None]
    ) -> None:
        def command() -> None:
            aggregate = self._get(cls, aggregate_id, what)
            change(aggregate)
            self.save(aggregate)

        self._run(command)

    # -- payments --------------------------------------------------------------------

    def start_payment(
        self,
        link_id: UUID,
        method: str,
        *,
        channel: str = "sandbox",
        amount: object | None = None,
        instructions: dict[str, str] | None = None,
        instruct: Callable[[UUID, Money], dict[str, str]] | None = None,
        expires_at: datetime | None = None,
        payment_id: UUID | None = None,
    ) -> UUID:
        """Begin a payment attempt on a link by one method; returns the payment id.

        ``instruct(payment_id, amount_due)`` lets a channel write the instructions (a VA
        number, QRIS content) once the amount is known. ``payment_id`` fixes the id, for
        a channel that must be told it before the attempt is recorded.
        """
        code = check_method(method)
        if expires_at is not None:
            check_expiry(expires_at, self.now())

        def command() -> UUID:
            link = self._get(PaymentLink, link_id, "link")
            link.check_payable(code, self.now())
            base = link.amount_due(amount)
            due = self.charge_for(link.merchant_id, code, base)
            attempt_id = payment_id or self.new_id()
            if instruct is not None:
                instructions_now = instruct(attempt_id, due)
            else:
                instructions_now = dict(instructions or {})
            payment = Payment(
                id=attempt_id,
                merchant_id=link.merchant_id,
                mode=link.mode,
                link_id=link.id,
                method=code,
                channel=channel,
                amount=due,
                instructions=instructions_now,
                expires_at=expires_at or link.expires_at,
                surcharge=due - base if due != base else None,
            )
            self.save(payment)
            return payment.id

        return self._run(command)

    def record_payment(
        self, payment_id: UUID, channel_ref: str, amount: Money, paid_at: datetime
    ) -> PaymentOutcome:
        """Record money the channel reports; the same channel reference twice changes nothing.

        Money is never dropped: a payment the link cannot count (expired, cancelled,
        already completed, wrong amount) is recorded and flagged for review or refund.
        """
        ref = require_text(channel_ref, "channel_ref", max_length=128)
        if not isinstance(amount, Money) or amount.amount <= 0:
            raise AmountInvalidError("amount", f"a payment must bring money, got {amount}")
        if amount.amount > MAX_MINOR_UNITS:
            raise AmountInvalidError(
                "amount", f"{amount.amount} is above the limit of {MAX_MINOR_UNITS}"
            )
        if not isinstance(paid_at, datetime) or paid_at.tzinfo is None:
            raise InvalidFieldError("paid_at", "must be an instant with a time zone offset")

        def command() -> PaymentOutcome:
            payment = self._get(Payment, payment_id, "payment")
            index_id = ChannelPaymentIndex.create_id(payment.channel, ref)
            if index_id in self.repository:
                index = self._get(ChannelPaymentIndex, index_id, "payment")
                return PaymentOutcome(index.payment_id, duplicate=True, anomaly=None)
            if payment.status != INITIATED:
                # More money to instructions already paid once: a payment of its own.
                payment = Payment(
                    id=stable_id(f"/payments/{payment.channel}/{ref}"),
                    merchant_id=payment.merchant_id,
                    mode=payment.mode,
                    link_id=payment.link_id,
                    method=payment.method,
                    channel=payment.channel,
                    amount=payment.amount,
                    instructions=payment.instructions,
                    expires_at=payment.expires_at,
                )
            link = self._get(PaymentLink, payment.link_id, "link")
            payment.receive(ref, amount, paid_at, received_at=self.now())
            # Money is judged as it arrives, but it only counts as a use of the link
            # once the channel has confirmed it (verify_payment): a payment the channel
            # denies never completes a link.
            anomaly = link.assess_payment(amount, payment.amount, paid_at)
            if anomaly is not None:
                self._flag(payment, link, anomaly)
            index = ChannelPaymentIndex(
                payment_id=payment.id, channel=payment.channel, channel_ref=ref
            )
            self.save(payment, link, index)
            return PaymentOutcome(payment.id, duplicate=False, anomaly=anomaly)

        return self._run(command)

    def verify_payment(
        self, payment_id: UUID, fee: Money | None = None, evidence: dict[str, str] | None = None
    ) -> None:
        """Confirm a received payment; credits the merchant's pending balance.

        Without ``fee`` the merchant's fee plan prices it (the default plan until one is set).
        """

        def command() -> None:
            payment = self._get(Payment, payment_id, "payment")
            link = self._get(PaymentLink, payment.link_id, "link")
            if payment.anomaly is None and payment.received is not None:
                if not link.uses_left():
                    # Other payments were confirmed first and took every use of the link.
                    self._flag(payment, link, LINK_ALREADY_COMPLETED)
                else:
                    link.accept_payment(payment.id, payment.received)
            payment.verify(
                fee if fee is not None else self._plan_fee(payment), dict(evidence or {})
            )
            self.save(payment, link)

        self._run(command)

    def _flag(self, payment: Payment, link: PaymentLink, anomaly: str) -> None:
        """Flag money the link cannot count, with the merchant's decision for it."""
        merchant = self._get(Merchant, payment.merchant_id, "merchant")
        payment.flag(anomaly, merchant.decision_for(anomaly))
        link.flag_payment(payment.id, payment.received or payment.amount, anomaly)

    def charge_for(self, merchant_id: UUID, method: str, base: Money) -> Money:
        """What the payer is asked for ``base`` by ``method``: more only when the merchant's
        plan passes that method's fee on to the payer (never for QRIS)."""
        plan = self._get(Merchant, merchant_id, "merchant").fee_plan()
        if base.currency != plan.currency:
            return base
        return amount_with_fee_on_customer(plan, method, base)

    def _plan_fee(self, payment: Payment) -> Money:
        received = payment.received or payment.amount
        plan = self._get(Merchant, payment.merchant_id, "merchant").fee_plan()
        if received.currency != plan.currency:
            return Money.zero(received.currency)  # a currency the plan does not price
        return fee_for(plan, payment.method, received - payment.refunded)

    def withdraw_payment(self, payment_id: UUID, reason: str) -> bool:
        """Record that the payment's instructions were closed at the channel (its VA
        deleted); False if they were already, or the payment is no longer awaiting money."""
        why = require_text(reason, "reason", max_length=500)

        def command() -> bool:
            payment = self._get(Payment, payment_id, "payment")
            if payment.status != INITIATED or payment.withdrawn is not None:
                return False
            payment.withdraw(why)
            self.save(payment)
            return True

        return self._run(command)

    def review_payment(self, payment_id: UUID, decision: str, note: str | None = None) -> None:
        """Accept or refund a payment held for review (the decision is an event)."""
        why = check_text(note, "note", max_length=500, required=False) or ""
        self._update(Payment, payment_id, "payment", lambda p: p.review(decision, why))

    def reject_payment(self, payment_id: UUID, reason: str) -> None:
        """The channel did not confirm the payment; nothing is credited."""
        why = require_text(reason, "reason", max_length=500)
        self._update(Payment, payment_id, "payment", lambda payment: payment.reject(why))

    def settle_payment(self, payment_id: UUID, batch_id: UUID, settlement_date: date) -> None:
        """Settle one verified payment in a given batch (settlement runs use :meth:`settle`)."""

        def command() -> None:
            payment = self._get(Payment, payment_id, "payment")
            payment.settle(batch_id, settlement_date)
            net = payment.settled_net
            funds = self._funds(payment.merchant_id, payment.mode, net.currency)
            funds.credit(net, "settlement", batch_id)
            self.save(payment, funds)

        self._run(command)

    # -- idempotency keys ------------------------------------------------------------

    def begin_request(
        self, merchant_id: UUID, mode: str, key: str, fingerprint: str
    ) -> IdempotentRequest | None:
        """Claim an Idempotency-Key; None if this call claimed it, else the earlier request.

        Two concurrent claims of one key conflict on the same aggregate id: exactly one
        wins, the other gets the winner's record (answered or still running).
        """
        checked = require_text(key, "Idempotency-Key", max_length=255)
        request_id = IdempotentRequest.create_id(merchant_id, mode, checked)

        def command() -> IdempotentRequest | None:
            try:
                self.save(
                    IdempotentRequest(
                        merchant_id=merchant_id,
                        mode=mode,
                        key=checked,
                        fingerprint=fingerprint,
                    )
                )
            except RecordConflictError:
                return self._get(IdempotentRequest, request_id, "request")
            return None

        return self._run(command)

    def retake_request(
        self, merchant_id: UUID, mode: str, key: str, lease: timedelta, *, abandoned: bool = False
    ) -> tuple[IdempotentRequest, bool]:
        """Take over an unanswered claim whose owner is gone; returns (record, taken).

        Gone means: the command the claim ran is already in the log (its first derived
        id exists) yet no answer came within :data:`OUTCOME_GRACE` of the claim (a live
        owner answers within milliseconds of storing), or the claim's lease has run out, or
        the caller knows the owner gave up (``abandoned``: its process saw the database go
        away mid-request). The
        retake is an event on the key's record, so of two retries only one takes over.
        """
        request_id = IdempotentRequest.create_id(merchant_id, mode, key)

        def command() -> tuple[IdempotentRequest, bool]:
            request = self._get(IdempotentRequest, request_id, "request")
            if request.answered:
                return request, False
            if abandoned:
                reason = "owner-gave-up"
            elif self.now() >= request.claim_expires(lease):
                reason = "lease-expired"
            elif (
                request.retakes == 0
                and self.now() >= request.claim_expires(min(lease, OUTCOME_GRACE))
                and first_derived_id(request.id) in self.repository
            ):
                reason = "outcome-stored"
            else:
                return request, False
            request.retake(reason)
            self.save(request)
            return request, True

        return self._run(command)

    def earlier_request(self, merchant_id: UUID, mode: str, key: str) -> IdempotentRequest:
        """The record of an Idempotency-Key already claimed."""
        return self._get(
            IdempotentRequest, IdempotentRequest.create_id(merchant_id, mode, key), "request"
        )

    def answer_request(
        self, merchant_id: UUID, mode: str, key: str, status_code: int, body: str
    ) -> None:
        """Keep the response to a claimed Idempotency-Key (the first answer stays)."""

        def change(request: IdempotentRequest) -> None:
            if not request.answered:
                request.answer(status_code, body)

        self._update(
            IdempotentRequest,
            IdempotentRequest.create_id(merchant_id, mode, key),
            "request",
            change,
        )

    def payment(self, payment_id: UUID) -> PaymentDetails:
        """The payment as it stands now."""
        return PaymentDetails.of(self._get(Payment, payment_id, "payment"))

    def record_send_failure(self, link_id: UUID, channel: str, recipient: str, reason: str) -> None:
        """Record that sending the link by ``channel`` failed (recipient stored masked)."""
        channel_name = require_text(channel, "channel", max_length=32)
        to = require_text(recipient, "recipient", max_length=254)
        why = require_text(reason, "reason", max_length=500)
        self._update(
            PaymentLink,
            link_id,
            "link",
            lambda link: link.record_send_failure(channel_name, to, why),
        )
