"""The payment channels this server can use: the ones its services were built with.

``channels_of(app.state)`` is every configured channel by name: the sandbox always, Winpay
SNAP when ``PAYLINK_WINPAY_BASE_URL`` (and its keys) are set, in the signature scheme
``PAYLINK_WINPAY_SIGNATURE_SCHEME`` names (``rsa``, or ``hmac`` for generic SNAP).
They are made by the composition root (``paylink_es.bootstrap.build``: keys loaded,
settings checked before the server starts).
``channel_for(app.state, name)`` is one of them, or ``ChannelNotConfiguredError`` (404,
field ``channel``).
``channel_for_payment`` chooses the channel a new payment goes through: the sandbox in
test mode, Winpay in live mode for the methods it offers, otherwise none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

from paylink_es.application.channel_port import ChannelPort
from paylink_es.application.details import LinkDetails
from paylink_es.application.services import Paylink
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.channels.snap_codes import SnapError
from paylink_es.channels.winpay import WinpayChannel
from paylink_es.domain.errors import (
    DomainError,
    NotFoundError,
    PaymentMethodUnknownError,
)
from paylink_es.domain.fields import check_answers
from paylink_es.domain.link import amount_due
from paylink_es.settings import Settings

log = logging.getLogger(__name__)


class ChannelNotConfiguredError(NotFoundError):
    """The payment names a channel this server has no configuration for."""

    type = "channel-not-configured"


class ChannelUnavailableError(DomainError):
    """No channel can take this payment now (not configured, or the rail failed)."""

    type = "channel-unavailable"


def channels_of(app_state: Any) -> dict[str, ChannelPort]:
    """Every channel of this app by name (built with the app's services)."""
    channels: dict[str, ChannelPort] = app_state.services.channels
    return channels


def channel_for(app_state: Any, name: str) -> ChannelPort:
    """The channel called ``name``; ChannelNotConfiguredError when there is none."""
    found = channels_of(app_state).get(name)
    if found is None:
        raise ChannelNotConfiguredError(
            f"the channel {name!r} is not configured on this server", field="channel"
        )
    return found


def sandbox_channel(app_state: Any) -> SandboxChannel:
    """The sandbox channel (always there)."""
    found = channels_of(app_state)["sandbox"]
    if not isinstance(found, SandboxChannel):
        raise TypeError(f"the sandbox channel is a {type(found).__name__}")
    return found


def winpay_channel(app_state: Any) -> WinpayChannel | None:
    """The Winpay channel when configured."""
    found = channels_of(app_state).get("winpay")
    return found if isinstance(found, WinpayChannel) else None


def channel_for_payment(app_state: Any, mode: str, method: str) -> ChannelPort | None:
    """The channel a new ``mode`` payment by ``method`` goes through; None if none can."""
    if mode == "test":
        return sandbox_channel(app_state)
    winpay = winpay_channel(app_state)
    if winpay is not None and winpay.supports(method):
        return winpay
    return None


def offered_methods(app_state: Any, details: LinkDetails) -> list[str]:
    """The link's methods that a channel here can take for its mode, in its order."""
    return [m for m in details.methods if channel_for_payment(app_state, details.mode, m)]


def start_payment(
    app_state: Any,
    paylink: Paylink,
    details: LinkDetails,
    method: str,
    offered: str | None,
    merchant_name: str,
    customer: Mapping[str, object] | None = None,
    custom_fields: Mapping[str, object] | None = None,
) -> UUID:
    """Start a payment on ``details`` by ``method`` through the channel chosen for it, with
    what the payer entered for the customer details and custom fields the link asks.

    The sandbox writes its instructions inside the command. A remote rail (Winpay) is
    called first, outside any write, so the group committer's writer never waits on the
    network: the amount and the payer's answers are checked before it is asked, the
    payment's id is fixed beforehand and the payments service then records the attempt
    with the instructions the rail gave (and checks the link and the answers again).
    """
    answers: dict[str, Any] = {"customer": customer, "custom_fields": custom_fields}
    channel = channel_for_payment(app_state, details.mode, method)
    if channel is None:
        raise ChannelUnavailableError(
            f"no channel takes {details.mode} payments by {method!r} here", field="method"
        )
    if isinstance(channel, SandboxChannel):
        sandbox = channel
        return paylink.payments.start(
            details.id,
            method,
            channel=sandbox.name,
            amount=offered,
            instruct=lambda pid, due: sandbox.instructions(pid, method, due, merchant_name),
            **answers,
        )
    if method not in details.methods:
        raise PaymentMethodUnknownError("method", f"{method!r} is not accepted by this link")
    due = paylink.payments.charge_for(details.merchant_id, method, amount_due(details, offered))
    check_answers(details, customer, custom_fields)
    payment_id = uuid4()
    try:
        if isinstance(channel, WinpayChannel):
            settings: Settings = app_state.settings
            instructions = channel.instructions(
                payment_id,
                method,
                due,
                merchant_name,
                expires_at=details.payable_until,
                return_url=f"{settings.public_url}/l/{details.code}/p/{payment_id}",
            )
        else:
            instructions = channel.instructions(
                payment_id, method, due, merchant_name, expires_at=details.payable_until
            )
    except SnapError as error:
        log.warning("%s gave no instructions for %s: %s", channel.name, payment_id, error)
        raise ChannelUnavailableError(
            f"{channel.name} did not issue payment instructions; try again later",
            field="method",
        ) from error
    return paylink.payments.start(
        details.id,
        method,
        channel=channel.name,
        amount=str(due.amount) if details.amount is None else offered,
        instructions=instructions,
        payment_id=payment_id,
        **answers,
    )
