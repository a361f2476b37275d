"""The payment channels a server runs with, built once from settings.

The sandbox always; Winpay SNAP when ``winpay_base_url`` (and its keys) are set. Building
loads every key and checks every setting, so a bad one stops a process at start with an
InvalidFieldError naming the setting — never a failure at a customer's first payment.
"""

from __future__ import annotations

from paylink_es.channels.port import ChannelPort
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.channels.winpay import winpay_from_settings
from paylink_es.clock import Clock, system_clock
from paylink_es.settings import Settings


def build_channels(settings: Settings, clock: Clock = system_clock) -> dict[str, ChannelPort]:
    """Every channel the settings configure, by name."""
    built: dict[str, ChannelPort] = {
        "sandbox": SandboxChannel(secret=settings.sandbox_secret, base_url=settings.public_url)
    }
    winpay = winpay_from_settings(settings, clock)
    if winpay is not None:
        built[winpay.name] = winpay
    return built


def close_all(channels: dict[str, ChannelPort]) -> None:
    """Close what the channels hold open (HTTP connection pools)."""
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if callable(close):
            close()
