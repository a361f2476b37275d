"""Idempotency keys as events: the first response to a key is kept and replayed forever.

A request that claims a key and then dies (the process killed between storing the claim
and storing the answer) must not hold the key forever. Two things make a retry safe:

* **Ids derived from the key.** While a request runs, every new aggregate id it draws is
  derived from the key's record (:func:`ids_from`), so running the same request again
  draws the same ids: a create that already happened finds its aggregate instead of
  making a second one. The first derived id is also how a retry tells, from the log
  alone, that the dead request's command was stored (:func:`first_derived_id`).
* **A lease on the claim.** A claim with no answer is the owner's for
  ``lease`` seconds; after that (or after a short grace when its outcome is in the log) another
  request may retake it, an event saved with optimistic concurrency so only one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id

OUTCOME_GRACE = timedelta(seconds=2)
"""How long a claim whose command is stored may go unanswered before a retry retakes it."""

_SEED: ContextVar[tuple[UUID, list[int]] | None] = ContextVar("paylink_id_seed", default=None)


@contextmanager
def ids_from(request_id: UUID) -> Iterator[None]:
    """New ids drawn inside this block are derived from ``request_id``, in order."""
    token = _SEED.set((request_id, [0]))
    try:
        yield
    finally:
        _SEED.reset(token)


def _derived(request_id: UUID, n: int) -> UUID:
    return stable_id(f"/idempotency/{request_id}/ids/{n}")


def derived_id() -> UUID | None:
    """The next id of the running idempotent request, or None outside of one."""
    seeded = _SEED.get()
    if seeded is None:
        return None
    request_id, drawn = seeded
    drawn[0] += 1
    return _derived(request_id, drawn[0] - 1)


def deriving_ids() -> bool:
    """Whether ids are being derived from an idempotent request right now."""
    return _SEED.get() is not None


def first_derived_id(request_id: UUID) -> UUID:
    """The first id a request with this record draws (its command's main aggregate)."""
    return _derived(request_id, 0)


class IdempotentRequest(PaylinkAggregate):
    """One merchant's use of one Idempotency-Key: what was asked, and what was answered."""

    @staticmethod
    def create_id(merchant_id: UUID, mode: str, key: str) -> UUID:
        """The id of a key, scoped to the merchant and mode that used it."""
        return stable_id(f"/merchants/{merchant_id}/{mode}/idempotency/{key}")

    @event("Started")
    def __init__(
        self,
        merchant_id: UUID,
        mode: str,
        key: str,
        fingerprint: str,
        status_code: int | None = None,
        body: str | None = None,
    ) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.key = key
        self.fingerprint = fingerprint
        # Given when the record starts answered (:meth:`kept_at_once`); a claim's start
        # (and every Started stored before there were these) has neither.
        self.status_code: int | None = status_code
        self.body: str | None = body
        self.retakes = 0
        self.retake_reason: str | None = None

    @classmethod
    def kept_at_once(
        cls, merchant_id: UUID, mode: str, key: str, fingerprint: str, status_code: int, body: str
    ) -> IdempotentRequest:
        """A key's record started with its answer (one event), for a command that saves it
        in the same write as its own events: the log then holds both or neither, so there
        is no claim to take over after a crash (the lease below is for the two-step way)."""
        return cls(
            merchant_id=merchant_id,
            mode=mode,
            key=key,
            fingerprint=fingerprint,
            status_code=status_code,
            body=body,
        )

    @event("Retaken")
    def retake(self, reason: str) -> None:
        """Another request takes over a claim whose owner is gone (see module docs)."""
        self.retakes += 1
        self.retake_reason = reason

    @event("Answered")
    def answer(self, status_code: int, body: str) -> None:
        """Keep the first response: status and body exactly as sent."""
        self.status_code = status_code
        self.body = body

    @property
    def answered(self) -> bool:
        """Whether a response has been kept."""
        return self.status_code is not None

    def kept(self) -> tuple[int, str] | None:
        """The kept response (status, body), or None while unanswered."""
        if self.status_code is None or self.body is None:
            return None
        return self.status_code, self.body

    def claim_expires(self, lease: timedelta) -> datetime:
        """When the current claim (the start or the last retake) stops holding the key."""
        return self.modified_on + lease
