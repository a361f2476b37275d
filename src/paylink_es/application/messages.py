"""Messages after a link is made: reminders before its expiry, receipts of its payments,
alerts to the merchant, and the merchant's message settings.

Every message is decided by a command on the current version of an aggregate, before it
is delivered: a reminder or a receipt on the link (``Reminded``, ``Receipted``), an alert
as an aggregate of its own whose id is made from its cause (``MerchantAlert.Raised``).
Two processes deciding the same message at once conflict, and the one that runs again
finds it decided: each message is delivered at most once. How each delivery went is
recorded after it (``MessageSent``/``MessageFailed`` on the link, ``Sent``/``Failed`` on
the alert).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import LinkDetails, PaymentDetails
from paylink_es.domain.alerts import (
    AlertPreferences,
    MerchantAlert,
    MessageSettings,
    check_alert_preferences,
)
from paylink_es.domain.errors import NotFoundError
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.merchant import Merchant
from paylink_es.domain.payment import Payment
from paylink_es.domain.reminders import check_reminders, written
from paylink_es.domain.validation import require_text


@dataclass(frozen=True)
class Recipient:
    """Who gets a message to the customer: by which channel, where, in which language."""

    channel: str
    to: str
    language: str


@dataclass(frozen=True)
class LinkMessage:
    """A reminder or a receipt just decided: the link as it stands, who gets it, and for
    a receipt the payment. ``about`` says which (``"24h"``, or the payment's id)."""

    kind: str
    about: str
    link: LinkDetails
    recipients: tuple[Recipient, ...]
    payment: PaymentDetails | None = None


@dataclass(frozen=True)
class RaisedAlert:
    """An alert just raised: to whom, in which language, about what."""

    id: UUID
    merchant_id: UUID
    merchant: str
    mode: str
    kind: str
    cause: str
    to: str
    language: str


@dataclass(frozen=True)
class MessageSettingsDetails:
    """A merchant's alert preferences, where alerts go, and its links' default reminders."""

    alerts: AlertPreferences
    address: str | None
    reminders: list[int]


class MessageService:
    """Decide messages on the aggregates they are about, and record how they went."""

    def __init__(self, app: PaylinkApp) -> None:
        self.app = app

    # -- the merchant's settings ------------------------------------------------------

    def settings(self, merchant_id: UUID) -> MessageSettingsDetails:
        """The merchant's message settings (the defaults until it sets any)."""
        merchant = self.app.get(Merchant, merchant_id, "merchant")
        found = self._settings(merchant_id)
        alerts = found.alerts if found is not None else AlertPreferences()
        return MessageSettingsDetails(
            alerts=alerts,
            address=alerts.email or merchant.email,
            reminders=list(found.reminders) if found is not None else [],
        )

    def _settings(self, merchant_id: UUID) -> MessageSettings | None:
        try:
            return self.app.get(MessageSettings, MessageSettings.create_id(merchant_id), "settings")
        except NotFoundError:
            return None

    def set_alerts(self, merchant_id: UUID, given: object) -> MessageSettingsDetails:
        """Replace the merchant's alert preferences with ``given`` (fields left out take
        their defaults); errors name the field."""
        preferences = check_alert_preferences(given)
        self._change_settings(merchant_id, lambda found: found.set_alerts(preferences))
        return self.settings(merchant_id)

    def set_reminders(self, merchant_id: UUID, reminders: object) -> MessageSettingsDetails:
        """The reminders (``["24h", "1h"]``) a link takes when it is sent without reminders
        of its own; ``[]``: none."""
        schedule = check_reminders(reminders)
        self._change_settings(merchant_id, lambda found: found.set_reminders(schedule))
        return self.settings(merchant_id)

    def _change_settings(
        self, merchant_id: UUID, change: Callable[[MessageSettings], None]
    ) -> None:
        self.app.get(Merchant, merchant_id, "merchant")

        def command() -> None:
            found = self._settings(merchant_id) or MessageSettings(merchant_id=merchant_id)
            change(found)
            self.app.save(found)

        self.app.run(command)

    # -- messages to the customer -----------------------------------------------------

    def schedule_reminders(self, link_id: UUID, reminders: object, by: str | None) -> None:
        """Remind the link's customer at these times before its expiry (``["24h"]``)."""
        schedule = check_reminders(reminders)
        who = require_text(by, "by", max_length=320) if by is not None else None
        self.app.update(
            PaymentLink, link_id, "link", lambda link: link.schedule_reminders(schedule, who)
        )

    def remind(self, link_id: UUID) -> LinkMessage | None:
        """Decide the reminder due now on the link, if any (see ``PaymentLink.remind``)."""
        app = self.app

        def command() -> LinkMessage | None:
            link = app.get(PaymentLink, link_id, "link")
            before = link.remind(app.now())
            if before is None:
                return None
            app.save(link)
            recipients = tuple(
                Recipient(channel, to, language)
                for channel, (to, language) in sorted(link.contacts.items())
            )
            return LinkMessage(
                "reminder", written(before), LinkDetails.of(link, app.now()), recipients
            )

        return app.run(command)

    def receipt(self, link_id: UUID, payment_id: UUID) -> LinkMessage | None:
        """Decide the receipt of a payment the link counted, unless it was decided."""
        app = self.app

        def command() -> LinkMessage | None:
            link = app.get(PaymentLink, link_id, "link")
            if not link.receipt(payment_id):
                return None
            payment = app.get(Payment, payment_id, "payment")
            app.save(link)
            recipients = tuple(Recipient(*contact) for contact in link.receipt_contacts())
            return LinkMessage(
                "receipt",
                str(payment_id),
                LinkDetails.of(link, app.now()),
                recipients,
                PaymentDetails.of(payment),
            )

        return app.run(command)

    def record_message(
        self, message: LinkMessage, recipient: Recipient, reason: str | None
    ) -> None:
        """Record how a reminder or receipt went to one recipient (``reason``: why not)."""
        why = require_text(reason, "reason", max_length=500) if reason is not None else None
        self.app.update(
            PaymentLink,
            message.link.id,
            "link",
            lambda link: link.record_message(
                message.kind, message.about, recipient.channel, recipient.to, why
            ),
        )

    # -- alerts to the merchant -------------------------------------------------------

    def raise_alert(
        self, merchant_id: UUID, mode: str, kind: str, cause: str
    ) -> RaisedAlert | None:
        """Raise the alert of ``cause`` to the merchant's alert address; None when it was
        raised before, or the merchant has no address."""
        app = self.app

        def command() -> RaisedAlert | None:
            if MerchantAlert.create_id(merchant_id, cause) in app.repository:
                return None
            merchant = app.get(Merchant, merchant_id, "merchant")
            found = self._settings(merchant_id)
            preferences = found.alerts if found is not None else AlertPreferences()
            to = preferences.email or merchant.email
            if to is None:
                return None
            alert = MerchantAlert.raise_for(merchant_id, mode, kind, cause, to)
            app.save(alert)
            return RaisedAlert(
                alert.id, merchant_id, merchant.name, mode, kind, cause, to, preferences.language
            )

        return app.run(command)

    def record_alert(self, alert_id: UUID, reason: str | None) -> None:
        """Record how an alert's e-mail went (``reason``: why it was not delivered)."""
        why = require_text(reason, "reason", max_length=500) if reason is not None else None
        self.app.update(MerchantAlert, alert_id, "alert", lambda alert: alert.record(why))
