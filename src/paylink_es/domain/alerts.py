"""Messages to the merchant and its message settings.

- **Alerts** e-mail the merchant when something happens that it may want to act on: a
  payment received, a link that expired unpaid, a webhook endpoint failing (after a
  number of failed deliveries in a row), a payout paid or failed. Each cause is alerted at
  most once: a :class:`MerchantAlert` has an id made from its cause, so a second alert of
  the same cause conflicts on it.
- **Settings** (:class:`MessageSettings`, one per merchant): which alerts it wants and
  where they go (:class:`AlertPreferences`), and the reminders its links take by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.link import mask_recipient
from paylink_es.domain.validation import check_email

PAYMENT_RECEIVED: Final = "payment_received"
LINK_EXPIRED: Final = "link_expired"
WEBHOOK_FAILING: Final = "webhook_failing"
PAYOUT_PAID: Final = "payout_paid"
PAYOUT_FAILED: Final = "payout_failed"
ALERTS: Final = (PAYMENT_RECEIVED, LINK_EXPIRED, WEBHOOK_FAILING, PAYOUT_PAID, PAYOUT_FAILED)
DEFAULT_WEBHOOK_FAILURES: Final = 5
MAX_WEBHOOK_FAILURES: Final = 100


@dataclass(frozen=True)
class AlertPreferences:
    """Which alerts a merchant wants (all, until it says otherwise), in which language,
    and where: ``email``, else the address it registered with. ``webhook_failures``: how
    many failed deliveries in a row make an endpoint failing."""

    payment_received: bool = True
    link_expired: bool = True
    webhook_failing: bool = True
    payout_paid: bool = True
    payout_failed: bool = True
    webhook_failures: int = DEFAULT_WEBHOOK_FAILURES
    email: str | None = None
    language: str = "id"

    def wants(self, alert: str) -> bool:
        """Whether the merchant wants alerts of this kind."""
        return bool(getattr(self, alert))

    def to_dict(self) -> dict[str, Any]:
        """As the settings' event keeps it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertPreferences:
        """Read back what :meth:`to_dict` wrote (keys added later take their defaults)."""
        known = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known})


def check_alert_preferences(given: object) -> AlertPreferences:
    """Preferences from a mapping of some of their fields; errors name the field."""
    if not isinstance(given, dict):
        raise InvalidFieldError("alerts", "must be an object")
    checked: dict[str, Any] = {}
    for name, value in given.items():
        if name in ALERTS:
            if not isinstance(value, bool):
                raise InvalidFieldError(name, "must be true or false")
            checked[name] = value
        elif name == "webhook_failures":
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 1 <= value <= MAX_WEBHOOK_FAILURES
            ):
                raise InvalidFieldError(
                    name, f"must be a whole number from 1 to {MAX_WEBHOOK_FAILURES}"
                )
            checked[name] = value
        elif name == "email":
            checked[name] = check_email(value, "email")
        elif name == "language":
            if value not in ("id", "en"):
                raise InvalidFieldError(name, "must be id or en")
            checked[name] = value
        else:
            known = ", ".join((*ALERTS, "webhook_failures", "email", "language"))
            raise InvalidFieldError(str(name), f"is not an alert setting; known: {known}")
    return AlertPreferences(**checked)


class MessageSettings(PaylinkAggregate):
    """A merchant's alert preferences and default reminders; one per merchant."""

    @staticmethod
    def create_id(merchant_id: UUID) -> UUID:
        """The settings' id for a merchant (the library calls it when they are made)."""
        return stable_id(f"/merchants/{merchant_id}/message-settings")

    @event("Started")
    def __init__(self, merchant_id: UUID) -> None:
        self.merchant_id = merchant_id
        self.alerts = AlertPreferences()
        self.reminders: list[int] = []

    def set_alerts(self, preferences: AlertPreferences) -> None:
        """Record new preferences (the same again records nothing)."""
        if preferences != self.alerts:
            self._alerts_set(merchant_id=self.merchant_id, alerts=preferences.to_dict())

    @event("AlertsSet")
    def _alerts_set(self, merchant_id: UUID, alerts: dict[str, Any]) -> None:
        self.alerts = AlertPreferences.from_dict(alerts)

    def set_reminders(self, reminders: list[int]) -> None:
        """Record the reminders links take when sent without reminders of their own
        (checked by the caller: ``reminders.check_reminders``)."""
        schedule = sorted(set(reminders), reverse=True)
        if schedule != self.reminders:
            self._reminders_set(merchant_id=self.merchant_id, reminders=schedule)

    @event("RemindersSet")
    def _reminders_set(self, merchant_id: UUID, reminders: list[int]) -> None:
        self.reminders = list(reminders)


class MerchantAlert(PaylinkAggregate):
    """One alert to a merchant: what caused it, to whom it went, and how that went.

    Its id is made from the merchant and the cause (``payment_received:<payment id>``):
    raising it twice conflicts, so each cause is alerted at most once.
    """

    @staticmethod
    def create_id(merchant_id: UUID, cause: str) -> UUID:
        """The alert's id for a cause (the library calls it when one is raised)."""
        return stable_id(f"/merchants/{merchant_id}/alerts/{cause}")

    @event("Raised")
    def __init__(self, merchant_id: UUID, mode: str, kind: str, cause: str, recipient: str) -> None:
        self.merchant_id = merchant_id
        self.mode = mode
        self.kind = kind
        self.cause = cause
        self.recipient = recipient
        self.outcome: str | None = None

    @classmethod
    def raise_for(
        cls, merchant_id: UUID, mode: str, kind: str, cause: str, to: str
    ) -> MerchantAlert:
        """A new alert of ``kind`` to ``to`` (kept masked)."""
        if kind not in ALERTS:
            raise InvalidFieldError("kind", f"{kind!r} is not an alert; one of {ALERTS}")
        return cls(
            merchant_id=merchant_id,
            mode=mode,
            kind=kind,
            cause=cause,
            recipient=mask_recipient(to),
        )

    def record(self, reason: str | None) -> None:
        """Record how the e-mail went: sent (no reason), or failed for ``reason``."""
        if reason is None:
            self._sent()
        else:
            self._failed(reason=reason)

    @event("Sent")
    def _sent(self) -> None:
        self.outcome = "sent"

    @event("Failed")
    def _failed(self, reason: str) -> None:
        self.outcome = "failed"
