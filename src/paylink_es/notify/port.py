"""The notifier port: a message, what delivering it did, and retries with backoff (a
sender's :class:`DeliveryPolicy`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from paylink_es.retry import doubling, retry

log = logging.getLogger("paylink.notify")

Channel = Literal["email", "sms", "whatsapp"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "whatsapp")
REASON_LIMIT = 300


def channel_named(name: str) -> Channel:
    """The channel of this name (as events keep it); raises for another name."""
    for channel in CHANNELS:
        if channel == name:
            return channel
    raise ValueError(f"{name!r} is not a channel; one of {', '.join(CHANNELS)}")


# What a message is about; a WhatsApp message of each kind goes as its own template.
MessageKind = Literal["payment_request", "reminder", "receipt"]
MESSAGE_KINDS: tuple[MessageKind, ...] = ("payment_request", "reminder", "receipt")


@dataclass(frozen=True)
class Template:
    """A WhatsApp template message: its kind (the provider knows each kind's approved
    template by name), the language code, and the body's parameters ``{{1}}``, ``{{2}}``…"""

    kind: MessageKind
    language: str
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    """One message to one recipient (an e-mail address or an E.164 number).

    ``text`` is the message as a person reads it; a WhatsApp message also carries the
    ``template`` it goes as (a business may start a conversation with templates only).
    """

    channel: Channel
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    template: Template | None = None


@dataclass(frozen=True)
class Delivery:
    """A message that went out: through what, after how many tries, the provider's id."""

    delivered_to: str
    attempts: int
    provider_id: str | None = None


class Notifier(Protocol):
    """Delivers messages of one channel; raises :class:`DeliveryFailedError` when it cannot."""

    @property
    def name(self) -> str:
        """What the message was handed to: ``smtp``, ``sms-gateway``, ``whatsapp``…"""
        ...

    def deliver(self, message: Message) -> Delivery:
        """Deliver ``message``, retrying what may succeed on another try."""
        ...


class DeliveryFailedError(Exception):
    """A message could not be delivered; ``reason`` is safe to store and show."""

    def __init__(self, delivered_to: str, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.delivered_to = delivered_to
        self.reason = reason
        self.attempts = attempts


class ChannelNotConfiguredError(Exception):
    """No provider is configured for a channel where the dev outbox is not allowed."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"no {channel} provider is configured on this server")
        self.channel = channel


class TransientDeliveryError(Exception):
    """An attempt failed in a way another attempt may not (timeout, 4xx SMTP, HTTP 503)."""


class PermanentDeliveryError(Exception):
    """An attempt failed in a way every attempt would (5xx SMTP, HTTP 400, bad TLS)."""


def safe_reason(text: str) -> str:
    """One line of at most REASON_LIMIT characters, no control characters."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"


def deliver_with_retries(
    name: str,
    attempt: Callable[[], str | None],
    *,
    tries: int,
    backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Run ``attempt`` up to ``tries`` times, waiting ``backoff_s * 2**n`` between.

    ``attempt`` returns the provider's message id (or None) and raises
    :class:`TransientDeliveryError` to be tried again or :class:`PermanentDeliveryError`
    to stop at once. Reasons must never carry secrets: they are logged and stored.
    """
    made = 0

    def once() -> Delivery:
        nonlocal made
        made += 1
        try:
            return Delivery(name, made, attempt())
        except PermanentDeliveryError as error:
            reason = safe_reason(str(error))
            log.warning("%s: attempt %d failed for good: %s", name, made, reason)
            raise DeliveryFailedError(name, reason, made) from None

    def waiting(number: int, error: BaseException, wait: float) -> None:
        log.warning(
            "%s: attempt %d of %d failed: %s; retrying in %.2f s",
            name,
            number,
            tries,
            safe_reason(str(error)),
            wait,
        )

    try:
        return retry(
            once,
            delays=doubling(backoff_s, tries - 1),
            retry_on=TransientDeliveryError,
            sleep=sleep,
            on_retry=waiting,
        )
    except TransientDeliveryError as error:
        last = safe_reason(str(error))
    log.warning("%s: giving up after %d attempts: %s", name, made, last)
    reason = safe_reason(f"{last} (after {made} attempts)")
    raise DeliveryFailedError(name, reason, made)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How a sender tries a message: each attempt's timeout, how many attempts, the first
    wait between them (doubling after) and how it waits."""

    timeout_s: float
    tries: int
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def deliver(self, name: str, attempt: Callable[[], str | None]) -> Delivery:
        """``attempt`` as :func:`deliver_with_retries` runs it, with this policy's tries."""
        return deliver_with_retries(
            name, attempt, tries=self.tries, backoff_s=self.backoff_s, sleep=self.sleep
        )
