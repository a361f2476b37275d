"""Sending a link: check the recipient and the link, deliver, record the attempt."""

from __future__ import annotations

from dataclasses import dataclass

from paylink_es.application.details import LinkDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.errors import InvalidFieldError, LinkClosedError
from paylink_es.domain.link import PAYABLE_STATUSES, mask_recipient
from paylink_es.domain.validation import check_email, normalise_phone, require_text
from paylink_es.locale import Language
from paylink_es.notify.channels import Notifications
from paylink_es.notify.messages import LinkContent, Share, compose, share_for
from paylink_es.notify.port import Channel, Delivery, DeliveryFailedError


@dataclass(frozen=True)
class SendOutcome:
    """A link that went out: to whom (masked), how, and the share payload beside it."""

    channel: Channel
    recipient: str
    delivery: Delivery
    share: Share


def check_recipient(channel: Channel, to: object, field: str = "to") -> str:
    """An e-mail address, or a phone number in E.164 (``08…`` → ``+628…``); raises naming field."""
    text = require_text(to, field, max_length=254)
    checked = check_email(text, field) if channel == "email" else normalise_phone(text, field)
    if checked is None:  # unreachable: require_text refused empty input; for the types
        raise InvalidFieldError(field, "is required")
    return checked


class LinkSender:
    """Sends links by e-mail, SMS or WhatsApp and records every attempt on the paylink."""

    def __init__(self, paylink: Paylink, notifications: Notifications, base_url: str) -> None:
        self.paylink = paylink
        self.notifications = notifications
        self.base_url = base_url

    def content(self, link: LinkDetails, language: Language) -> LinkContent:
        """What messages about ``link`` say in ``language``."""
        branding = self.paylink.merchants.branding(link.merchant_id)
        return LinkContent.of(
            link, branding.shown_name, self.base_url, language, brand=branding.brand
        )

    def share(self, link: LinkDetails, language: Language) -> Share:
        """The short URL, QR URL, WhatsApp deep link and social post text of ``link``."""
        return share_for(self.content(link, language))

    def send(self, link: LinkDetails, channel: Channel, to: str, language: Language) -> SendOutcome:
        """Deliver the link to ``to``; a ``Sent`` event on success, ``SendFailed`` if not.

        A closed or expired link is refused before anything is sent or recorded. A
        failed delivery is recorded and :class:`DeliveryFailedError` raised again. The
        ``Sent`` event keeps the address and the language for reminders and receipts, and
        gives a link without reminders of its own the merchant's default ones.
        """
        recipient = check_recipient(channel, to)
        if link.status not in PAYABLE_STATUSES:  # a link paid in part: a reminder of the rest
            raise LinkClosedError(f"link is {link.status}; it cannot be sent", field="link")
        notifier = self.notifications.for_channel(channel)
        content = self.content(link, language)
        try:
            delivery = notifier.deliver(compose(channel, recipient, content))
        except DeliveryFailedError as error:
            self.paylink.links.record_send_failure(link.id, channel, recipient, error.reason)
            raise
        reminders = self.paylink.messages.settings(link.merchant_id).reminders
        self.paylink.links.send(
            link.id, channel, recipient, language=language, reminders=reminders or None
        )
        return SendOutcome(channel, mask_recipient(recipient), delivery, share_for(content))
