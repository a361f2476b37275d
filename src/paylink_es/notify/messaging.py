"""Messages after a link is made: the payment request sent on create, reminders before its
expiry, receipts of its payments, and alerts to the merchant.

:class:`Messenger` has the application decide each message (on the aggregate it is
about, so each goes at most once), delivers it, and records how it went. A delivery that
fails is recorded and never undoes what caused it: a link created with ``notify`` stays
created when its e-mail cannot be sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from paylink_es.application.details import LinkDetails
from paylink_es.application.messages import LinkMessage, RaisedAlert
from paylink_es.application.services import Paylink
from paylink_es.domain.link import mask_recipient
from paylink_es.domain.money import Money
from paylink_es.domain.reminders import check_reminders
from paylink_es.locale import (
    MESSAGE_TEXT,
    Language,
    format_instant,
    format_link_amount,
    format_money,
    language_of,
)
from paylink_es.notify.alerts import AlertContent
from paylink_es.notify.channels import Notifications
from paylink_es.notify.messages import LinkContent, compose
from paylink_es.notify.port import (
    CHANNELS,
    Channel,
    ChannelNotConfiguredError,
    DeliveryFailedError,
    Message,
    MessageKind,
    channel_named,
)
from paylink_es.notify.service import LinkSender, check_recipient


@dataclass(frozen=True)
class NewLinkMessages:
    """What a new link asks for: where to send it (checked addresses by channel), in
    which language, and its own reminders (None: the merchant's default when sent)."""

    targets: dict[Channel, str]
    language: Language = "id"
    reminders: list[int] | None = None

    @classmethod
    def check(
        cls,
        notify: Mapping[str, object] | None,
        reminders: object,
        language: Language = "id",
    ) -> NewLinkMessages:
        """Check ``notify`` (``{"email": …, "whatsapp": …, "sms": …}``) and ``reminders``
        before anything is stored; errors name the field (``notify.whatsapp``)."""
        targets: dict[Channel, str] = {}
        for channel in CHANNELS:
            to = (notify or {}).get(channel)
            if to is not None:
                targets[channel] = check_recipient(channel, to, f"notify.{channel}")
        schedule = None if reminders is None else check_reminders(reminders)
        return cls(targets, language, schedule)


@dataclass(frozen=True)
class SendResult:
    """How sending a new link by one channel went."""

    channel: Channel
    to: str  # masked
    status: str  # sent, failed
    reason: str | None = None
    delivered_to: str | None = None


class Messenger:
    """Sends what a link and its merchant are owed, recording every attempt."""

    def __init__(self, paylink: Paylink, notifications: Notifications, base_url: str) -> None:
        self.paylink = paylink
        self.notifications = notifications
        self.base_url = base_url.rstrip("/")
        self.sender = LinkSender(paylink, notifications, base_url)

    # -- a new link ---------------------------------------------------------------------

    def created(
        self, link: LinkDetails, asked: NewLinkMessages, by: str | None
    ) -> list[SendResult]:
        """Schedule the link's own reminders, then send it to each target; a failure is
        recorded (``SendFailed``) and answered, never raised."""
        if asked.reminders is not None:
            self.paylink.messages.schedule_reminders(link.id, asked.reminders, by)
        results = []
        for channel, to in asked.targets.items():
            try:
                outcome = self.sender.send(link, channel, to, asked.language)
            except DeliveryFailedError as error:
                results.append(SendResult(channel, mask_recipient(to), "failed", error.reason))
                continue
            except ChannelNotConfiguredError as error:
                self.paylink.links.record_send_failure(link.id, channel, to, str(error))
                results.append(SendResult(channel, mask_recipient(to), "failed", str(error)))
                continue
            delivered = outcome.delivery.delivered_to
            results.append(SendResult(channel, outcome.recipient, "sent", None, delivered))
        return results

    # -- reminders and receipts -----------------------------------------------------------

    def remind(self, link_id: UUID) -> int:
        """Send the link's reminder if one is due now; how many recipients got it."""
        message = self.paylink.messages.remind(link_id)
        return 0 if message is None else self._to_customer(message)

    def receipt(self, link_id: UUID, payment_id: UUID) -> int:
        """Send the receipt of a payment the link counted, unless it went before."""
        message = self.paylink.messages.receipt(link_id, payment_id)
        return 0 if message is None else self._to_customer(message)

    def _to_customer(self, message: LinkMessage) -> int:
        sent = 0
        for recipient in message.recipients:
            content = self._content(message, language_of(recipient.language))
            reason = self._deliver(compose(channel_named(recipient.channel), recipient.to, content))
            self.paylink.messages.record_message(message, recipient, reason)
            sent += reason is None
        return sent

    def _content(self, message: LinkMessage, language: Language) -> LinkContent:
        """What the reminder or receipt says, in the merchant's name and brand."""
        kind: MessageKind = "receipt" if message.kind == "receipt" else "reminder"
        content = replace(self.sender.content(message.link, language), kind=kind)
        payment = message.payment
        if payment is None:
            return content
        paid = payment.received or payment.amount
        return replace(
            content,
            amount=format_money(paid.amount, paid.currency, language),
            url=f"{self.base_url}/l/{message.link.path}/p/{payment.id}",
            expires=format_instant(payment.paid_at, language) if payment.paid_at else None,
        )

    def _deliver(self, message: Message) -> str | None:
        """Deliver; None when it went, else why not."""
        try:
            self.notifications.for_channel(message.channel).deliver(message)
        except DeliveryFailedError as error:
            return error.reason
        except ChannelNotConfiguredError as error:
            return str(error)
        return None

    # -- alerts ---------------------------------------------------------------------------

    def alert(
        self,
        merchant_id: UUID,
        mode: str,
        kind: str,
        cause: str,
        subject: str,
        detail: Mapping[str, Any],
    ) -> bool:
        """E-mail the merchant the alert of ``cause`` unless it was raised before; whether
        an e-mail went. ``subject`` is the id of what it is about; ``detail`` what the read
        side knew of it (a failing endpoint's failures and last error)."""
        raised = self.paylink.messages.raise_alert(merchant_id, mode, kind, cause)
        if raised is None:
            return False
        values = self._alert_values(raised, subject, detail)
        content = AlertContent.of(kind, raised.merchant, mode, subject, raised.language, values)
        reason = self._deliver(content.message(raised.to, self.base_url))
        self.paylink.messages.record_alert(raised.id, reason)
        return reason is None

    def _alert_values(
        self, raised: RaisedAlert, subject: str, detail: Mapping[str, Any]
    ) -> dict[str, str]:
        """The facts an alert's sentence names, read from the write side."""
        lang = language_of(raised.language)
        paylink = self.paylink

        def money(amount: Money) -> str:
            return format_money(amount.amount, amount.currency, lang)

        if raised.kind == "payment_received":
            payment = paylink.payments.get(UUID(subject))
            link = paylink.links.get(payment.link_id)
            return {
                "amount": money(payment.received or payment.amount),
                "description": link.description,
                "method": payment.method,
            }
        if raised.kind == "link_expired":
            link = paylink.links.get(UUID(subject))
            amount = format_link_amount(
                link.amount,
                link.amount_min,
                link.amount_max,
                link.currency,
                lang,
                MESSAGE_TEXT[lang],
            )
            when = format_instant(link.expires_at, lang) if link.expires_at else ""
            return {"description": link.description, "amount": amount, "when": when}
        if raised.kind == "webhook_failing":
            endpoint = paylink.webhooks.endpoint(raised.merchant_id, raised.mode, UUID(subject))
            return {
                "url": endpoint.url,
                "failures": str(detail.get("failures", "")),
                "last": str(detail.get("last", "")),
            }
        payout = paylink.money.payout(UUID(subject))
        account = payout.bank_account
        return {
            "amount": money(payout.amount),
            "bank": f"{account.get('bank', '')} ****{account.get('account_number', '')[-4:]}",
            "reference": payout.channel_ref or "",
            "reason": payout.failure or "",
        }
