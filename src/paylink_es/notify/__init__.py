"""Messages: e-mail over SMTP, SMS and WhatsApp (Cloud API templates) over HTTP, a dev
outbox.

The ``Notifier`` port has one adapter per provider (``EmailSender``, ``SmsSender``,
``WhatsAppSender``) and ``DevOutbox`` for channels without one; ``LinkSender`` checks
the recipient and the link, delivers, and records ``Sent`` or ``SendFailed``;
``Messenger`` sends a new link to its ``notify`` addresses, the reminders before a link's
expiry, the receipts of its payments and the merchant's alerts.
"""

from __future__ import annotations

from paylink_es.notify.channels import Notifications
from paylink_es.notify.messages import LinkContent, Share, compose, share_for
from paylink_es.notify.messaging import Messenger, NewLinkMessages, SendResult
from paylink_es.notify.outbox import DevOutbox
from paylink_es.notify.port import (
    CHANNELS,
    Channel,
    ChannelNotConfiguredError,
    Delivery,
    DeliveryFailedError,
    DeliveryPolicy,
    Message,
    Notifier,
)
from paylink_es.notify.providers import SmsSender, WhatsAppSender
from paylink_es.notify.service import LinkSender, SendOutcome, check_recipient
from paylink_es.notify.smtp import EmailSender

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelNotConfiguredError",
    "Delivery",
    "DeliveryFailedError",
    "DeliveryPolicy",
    "DevOutbox",
    "EmailSender",
    "LinkContent",
    "LinkSender",
    "Message",
    "Messenger",
    "NewLinkMessages",
    "Notifications",
    "Notifier",
    "SendOutcome",
    "SendResult",
    "Share",
    "SmsSender",
    "WhatsAppSender",
    "check_recipient",
    "compose",
    "share_for",
]
