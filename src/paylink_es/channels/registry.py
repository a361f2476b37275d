"""The payment channels a server runs with, built once from settings.

The sandbox always; Winpay SNAP when ``winpay_base_url`` (and its keys) are set. Building
loads every key and checks every setting, so a bad one stops a process at start with an
InvalidFieldError naming the setting — never a failure at a customer's first payment.
"""

from __future__ import annotations

from paylink_es.application.channel_port import ChannelPort
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.channels.winpay import winpay_from_settings
from paylink_es.domain.clock import Clock, system_clock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.settings import PUBLIC_SANDBOX_SECRET, Settings
from paylink_es.signing import installation_secret


def sandbox_secret(settings: Settings) -> str:
    """The sandbox's signing secret: the setting, or one made for this installation.

    Made once, kept in ``var/sandbox.key`` (readable by its owner only), so nobody else
    can sign a sandbox callback to this server. The public secret of earlier versions is
    refused in production (settings built from the environment refuse it already).
    """
    configured = settings.sandbox_secret
    if configured is not None and configured.get_secret_value():
        secret = configured.get_secret_value()
        if secret == PUBLIC_SANDBOX_SECRET and settings.environment == "production":
            raise InvalidFieldError("sandbox_secret", "is the public default; set your own")
        return secret
    return installation_secret(settings.data_dir, "sandbox.key")


def build_channels(settings: Settings, clock: Clock = system_clock) -> dict[str, ChannelPort]:
    """Every channel the settings configure, by name."""
    built: dict[str, ChannelPort] = {
        "sandbox": SandboxChannel(secret=sandbox_secret(settings), base_url=settings.public_url)
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
