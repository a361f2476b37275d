"""Idempotency keys as events: the first response to a key is kept and replayed forever."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from paylink_es.aggregate import PaylinkAggregate, stable_id


class IdempotentRequest(PaylinkAggregate):
    """One merchant's use of one Idempotency-Key: what was asked, and what was answered."""

    id: UUID  # given by the application: ids are how idempotency is built

    @staticmethod
    def id_for(merchant_id: UUID, mode: str, key: str) -> UUID:
        """The id of a key, scoped to the merchant and mode that used it."""
        return stable_id(f"/merchants/{merchant_id}/{mode}/idempotency/{key}")

    @event("Started")
    def __init__(self, merchant_id: UUID, mode: str, key: str, fingerprint: str) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.key = key
        self.fingerprint = fingerprint
        self.status_code: int | None = None
        self.body: str | None = None

    @event("Answered")
    def answer(self, status_code: int, body: str) -> None:
        """Keep the first response: status and body exactly as sent."""
        self.status_code = status_code
        self.body = body

    @property
    def answered(self) -> bool:
        """Whether a response has been kept."""
        return self.status_code is not None
