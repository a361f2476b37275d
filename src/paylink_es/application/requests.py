"""Idempotency-Keys: run a command once per key with its answer kept in the same write;
or (for commands with effects outside the store) claim a key, keep its answer, take over
a claim whose owner is gone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import ClassVar
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import Snapshot
from paylink_es.domain.errors import DomainError, NotFoundError
from paylink_es.domain.idempotency import OUTCOME_GRACE, IdempotentRequest, first_derived_id
from paylink_es.domain.validation import require_text


@dataclass(frozen=True)
class RequestDetails(Snapshot):
    """One use of an Idempotency-Key as it stands now."""

    id: UUID
    fingerprint: str
    kept: tuple[int, str] | None
    claimed_at: datetime
    retakes: int
    retake_reason: str | None

    derived: ClassVar[Mapping[str, Callable[[IdempotentRequest], object]]] = {
        "kept": lambda request: request.kept(),
        "claimed_at": lambda request: request.modified_on,
    }

    @property
    def answered(self) -> bool:
        """Whether a response has been kept."""
        return self.kept is not None

    def claim_expires(self, lease: timedelta) -> datetime:
        """When the current claim (the start or the last retake) stops holding the key."""
        return self.claimed_at + lease


Answer = tuple[int, str]
"""A kept answer: the status code and the body exactly as sent."""


@dataclass(frozen=True)
class KeyUse:
    """One request under an Idempotency-Key: whose key, in which mode, and what it asks
    (``fingerprint``: a digest of the method, path and body)."""

    merchant_id: UUID
    mode: str
    key: str
    fingerprint: str

    @cached_property
    def record_id(self) -> UUID:
        """The id of the key's record (and the seed of the ids its command draws)."""
        return IdempotentRequest.create_id(self.merchant_id, self.mode, self.key)

    def kept(self, status_code: int, body: str) -> IdempotentRequest:
        """The key's record with this answer kept: to be saved with the command's events."""
        return IdempotentRequest.kept_at_once(
            self.merchant_id, self.mode, self.key, self.fingerprint, status_code, body
        )


@dataclass(frozen=True)
class Once:
    """What :meth:`RequestService.once` did: ran the command (``answer``, now kept), or
    found the key already used (``earlier``, answered or not) and ran nothing."""

    answer: Answer | None = None
    earlier: RequestDetails | None = None


class RequestService:
    """The record of each Idempotency-Key a merchant used, per mode."""

    def __init__(self, app: PaylinkApp) -> None:
        self.app = app

    def use(self, merchant_id: UUID, mode: str, key: str, fingerprint: str) -> KeyUse:
        """A use of ``key``; a key that is no Idempotency-Key (empty, too long, control
        characters) raises :class:`~paylink_es.domain.errors.InvalidFieldError` naming it."""
        checked = require_text(key, "Idempotency-Key", max_length=255)
        return KeyUse(merchant_id, mode, checked, fingerprint)

    def once_command(
        self,
        use: KeyUse,
        run: Callable[[], Answer],
        refused: Callable[[DomainError], Answer],
    ) -> Callable[[], Once]:
        """A command that runs ``run`` unless ``use``'s key has a record already.

        ``run`` saves its events together with ``use.kept(status, body)`` in one ``save``
        (one transaction; in a group-commit batch, one write with the batch), and returns
        that answer. A refusal (a :class:`DomainError`) stores nothing of the command: its
        answer (``refused``) is kept alone. Two requests with one key both writing the
        key's record conflict: the loser runs again (alone, with the usual retries), finds
        the winner's record and returns it as ``earlier``, having stored nothing.

        Run alone, it reads the key's record first. In a group-commit batch it does not
        (a read per request on the event loop's thread cost more than the rest of the
        record): a key used before makes the batch's write conflict, and each command of
        the batch then runs alone, this one finding the record.
        """
        app = self.app

        def command() -> Once:
            # In a batch, no read first: a key used before conflicts at the batch's write
            # (its record exists), and the batch runs again command by command, looking.
            if not app.collecting:
                try:
                    earlier = app.get(IdempotentRequest, use.record_id, "request")
                except NotFoundError:
                    pass
                else:
                    return Once(earlier=RequestDetails.of(earlier))
            try:
                return Once(answer=run())
            except DomainError as error:
                answer = refused(error)
                app.save(use.kept(*answer))
                return Once(answer=answer)

        return command

    async def once_async(
        self,
        use: KeyUse,
        run: Callable[[], Answer],
        refused: Callable[[DomainError], Answer],
    ) -> Once:
        """:meth:`once_command` run on the application (group-committed) from an event loop."""
        return await self.app.run_async(self.once_command(use, run, refused))

    def begin(
        self, merchant_id: UUID, mode: str, key: str, fingerprint: str
    ) -> RequestDetails | None:
        """Claim an Idempotency-Key; None if this call claimed it, else the earlier request.

        Two concurrent claims of one key conflict on the same aggregate id: exactly one
        wins, the other gets the winner's record (answered or still running).
        """
        checked = require_text(key, "Idempotency-Key", max_length=255)
        request_id = IdempotentRequest.create_id(merchant_id, mode, checked)

        def command() -> RequestDetails | None:
            try:
                self.app.save(
                    IdempotentRequest(
                        merchant_id=merchant_id,
                        mode=mode,
                        key=checked,
                        fingerprint=fingerprint,
                    )
                )
            except RecordConflictError:
                return RequestDetails.of(self.app.get(IdempotentRequest, request_id, "request"))
            return None

        return self.app.run(command)

    def retake(
        self, merchant_id: UUID, mode: str, key: str, lease: timedelta, *, abandoned: bool = False
    ) -> tuple[RequestDetails, bool]:
        """Take over an unanswered claim whose owner is gone; returns (record, taken).

        Gone means: the command the claim ran is already in the log (its first derived
        id exists) yet no answer came within :data:`OUTCOME_GRACE` of the claim (a live
        owner answers within milliseconds of storing), or the claim's lease has run out, or
        the caller knows the owner gave up (``abandoned``: its process saw the database go
        away mid-request). The retake is an event on the key's record, so of two retries
        only one takes over.
        """
        app = self.app
        request_id = IdempotentRequest.create_id(merchant_id, mode, key)

        def command() -> tuple[RequestDetails, bool]:
            request = app.get(IdempotentRequest, request_id, "request")
            if request.answered:
                return RequestDetails.of(request), False
            if abandoned:
                reason = "owner-gave-up"
            elif app.now() >= request.claim_expires(lease):
                reason = "lease-expired"
            elif (
                request.retakes == 0
                and app.now() >= request.claim_expires(min(lease, OUTCOME_GRACE))
                and first_derived_id(request.id) in app.repository
            ):
                reason = "outcome-stored"
            else:
                return RequestDetails.of(request), False
            request.retake(reason)
            app.save(request)
            return RequestDetails.of(request), True

        return app.run(command)

    def earlier(self, merchant_id: UUID, mode: str, key: str) -> RequestDetails:
        """The record of an Idempotency-Key already claimed."""
        request_id = IdempotentRequest.create_id(merchant_id, mode, key)
        return RequestDetails.of(self.app.get(IdempotentRequest, request_id, "request"))

    def answer(self, merchant_id: UUID, mode: str, key: str, status_code: int, body: str) -> None:
        """Keep the response to a claimed Idempotency-Key (the first answer stays)."""

        def change(request: IdempotentRequest) -> None:
            if not request.answered:
                request.answer(status_code, body)

        self.app.update(
            IdempotentRequest,
            IdempotentRequest.create_id(merchant_id, mode, key),
            "request",
            change,
        )
