"""The payment channels a server runs with, built once from settings.

The sandbox always; Winpay SNAP when ``winpay_base_url`` (and its keys) are set. Building
loads every key and checks every setting, so a bad one stops a process at start with an
InvalidFieldError naming the setting — never a failure at a customer's first payment.
"""

from __future__ import annotations

from paylink_es.application.channel_port import ChannelPort


def close_all(channels: dict[str, ChannelPort]) -> None:
    """Close what the channels hold open (HTTP connection pools)."""
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if callable(close):
            close()
