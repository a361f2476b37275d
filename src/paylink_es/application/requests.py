"""Idempotency-Keys: claim a key, keep its answer, take over a claim whose owner is gone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import Snapshot
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


class RequestService:
    """The record of each Idempotency-Key a merchant used, per mode."""

    def __init__(self, app: PaylinkApp) -> None:
        self.app = app

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
