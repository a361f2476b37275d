"""Which notifier serves each channel, as the settings configure them."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from paylink_es.notify.outbox import DevOutbox
from paylink_es.notify.port import ChannelNotConfiguredError, Notifier
from paylink_es.notify.providers import SmsSender, WhatsAppSender
from paylink_es.notify.smtp import EmailSender
from paylink_es.settings import Settings

OUTBOX_FILE = "outbox.jsonl"


@dataclass(frozen=True)
class Notifications:
    """The notifier of each channel; None where none is configured and none may stand in."""

    email: Notifier | None
    sms: Notifier | None
    whatsapp: Notifier | None

    def for_channel(self, channel: str) -> Notifier:
        """The notifier for ``channel``; raises if the channel cannot be used here."""
        notifier: Notifier | None = getattr(self, channel, None)
        if notifier is None:
            raise ChannelNotConfiguredError(channel)
        return notifier


def notifications_from_settings(
    settings: Settings,
    *,
    backoff_s: float = 0.5,
    ssl_context: ssl.SSLContext | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Notifications:
    """Build the notifiers from ``smtp_*``, ``sms_gateway_*`` and ``whatsapp_*`` settings.

    A channel without a provider goes to the dev outbox (``<data_dir>/outbox.jsonl``) in
    development; in production it is refused, so nobody believes a message went out.
    """
    fallback: Notifier | None = None
    if settings.environment == "development":
        fallback = DevOutbox(settings.data_dir / OUTBOX_FILE)
    timeout_s, tries = settings.notify_timeout_s, settings.notify_retries
    email: Notifier | None = fallback
    if settings.smtp_host:
        email = EmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            mail_from=settings.mail_from,
            timeout_s=timeout_s,
            tries=tries,
            backoff_s=backoff_s,
            ssl_context=ssl_context,
            sleep=sleep,
        )
    sms: Notifier | None = fallback
    if settings.sms_gateway_url:
        sms = SmsSender(
            url=settings.sms_gateway_url,
            token=settings.sms_gateway_token,
            timeout_s=timeout_s,
            tries=tries,
            backoff_s=backoff_s,
            sleep=sleep,
        )
    whatsapp: Notifier | None = fallback
    if settings.whatsapp_api_url:
        whatsapp = WhatsAppSender(
            url=settings.whatsapp_api_url,
            token=settings.whatsapp_token,
            timeout_s=timeout_s,
            tries=tries,
            backoff_s=backoff_s,
            sleep=sleep,
        )
    return Notifications(email=email, sms=sms, whatsapp=whatsapp)
