"""Sending the sandbox channel's signed callbacks over real HTTP to our own endpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import Request

from api.channel_registry import sandbox_channel
from paylink_es.application.details import PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.application.written import note_written
from paylink_es.bootstrap import CallbackClient, Services
from paylink_es.channels.sandbox import SIGNATURE_HEADER, SandboxChannel
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import Money
from paylink_es.settings import Settings

CALLBACK_PATH = "/channels/sandbox/callback"


def sandbox(request: Request) -> SandboxChannel:
    """The sandbox channel of this app (from the channel registry)."""
    return sandbox_channel(request.app.state)


def callback_client(request: Request) -> CallbackClient:
    """The HTTP client callbacks go out with (the services', which tests may swap)."""
    services: Services = request.app.state.services
    return services.callback_client


@dataclass(frozen=True)
class Delivered:
    """One callback sent and what our endpoint answered."""

    status: str
    status_code: int
    body: dict[str, Any]


def simulate(
    request: Request, payment: PaymentDetails, scenario: str = "normal", amount: int | None = None
) -> list[Delivered]:
    """Pay ``payment`` in the sandbox the way ``scenario`` says, by signed callbacks."""
    paylink: Paylink = request.app.state.paylink
    channel = sandbox(request)
    due = payment.amount
    paid = Money(amount if amount is not None else due.amount, due.currency)
    if scenario == "overpay":
        paid = Money(due.amount + max(1, due.amount // 10), due.currency)
    elif scenario == "underpay":
        paid = Money(max(1, due.amount - max(1, due.amount // 10)), due.currency)
    paid_at = paylink.now()
    if scenario == "late":
        link = paylink.links.get(payment.link_id)
        if link.expires_at is None:
            raise InvalidFieldError("scenario", "a late payment needs a link that expires")
        paid_at = link.expires_at + timedelta(minutes=5)
    # The reference the sandbox's status inquiry recognises for this payment and amount,
    # the same each time: simulating twice (or twenty times at once) pays once.
    reference = channel.simulated_reference(payment.id, paid)
    statuses = {"duplicate": ["PAID", "PAID"], "out_of_order": ["PAID", "PENDING"]}.get(
        scenario, ["PAID"]
    )
    if scenario == "normal" or scenario in ("late", "overpay", "underpay"):
        statuses = ["PENDING", "PAID"] if payment.method.startswith("ewallet") else ["PAID"]
    sent = [
        _send(request, channel, payment.id, reference, paid, paid_at, status) for status in statuses
    ]
    # The callbacks were stored by requests of their own, answered before this goes on:
    # the log's head now is at or past their writes, the position this request answers with.
    note_written(paylink.app.recorder.max_notification_id())
    return sent


def _send(
    request: Request,
    channel: SandboxChannel,
    payment_id: UUID,
    reference: str,
    amount: Money,
    paid_at: datetime,
    status: str,
) -> Delivered:
    settings: Settings = request.app.state.settings
    body = channel.callback_body(payment_id, reference, amount, paid_at, status)
    response = callback_client(request).post(
        f"{settings.public_url}{CALLBACK_PATH}",
        content=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: channel.sign(body, int(time.time())),
        },
    )
    return Delivered(status, response.status_code, response.json())
