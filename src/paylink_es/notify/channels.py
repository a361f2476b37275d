"""Which notifier serves each channel, as the settings configure them."""

from __future__ import annotations

from dataclasses import dataclass

from paylink_es.notify.port import ChannelNotConfiguredError, Notifier

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
