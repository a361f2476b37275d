"""Composition root: builds the whole graph from settings, once (never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID, uuid4

import httpx

from paylink_es import faults
from paylink_es.application.channel_port import ChannelPort
from paylink_es.application.services import Paylink
from paylink_es.bootstrap.adapters import build_channels, notifications_from_settings
from paylink_es.channels.registry import close_all
from paylink_es.closing import Closing
from paylink_es.domain.calendar import (
    DEFAULT_SETTLEMENT_RULES,
    INDONESIA,
    SettlementCalendar,
    SettlementRules,
    parse_holidays,
)
from paylink_es.domain.clock import Clock, system_clock
from paylink_es.domain.methods import check_minimums
from paylink_es.domain.webhooks import Resolver
from paylink_es.notify.channels import Notifications
from paylink_es.resolver import system_resolver
from paylink_es.settings import Settings
from paylink_es.signing import signing_secret
from paylink_es.store.bulkload import load_many


def ensure_postgres_schema(settings: Settings) -> None:
    """Create the configured PostgreSQL schema if it is missing (tables come later)."""
    if settings.database_url is None or not settings.database_schema:
        return
    from paylink_es.store.postgres import ensure_schema, settings_for

    ensure_schema(settings_for(settings), settings.database_schema)


def open_paylink(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    new_id: Callable[[], UUID] = uuid4,
    webhook_resolver: Resolver | None = None,
) -> Paylink:
    """Every application service on the configured store (and the crash points armed)."""
    if settings.crash_at:
        faults.arm(settings.crash_at)
    ensure_postgres_schema(settings)
    calendar, rules = settlement_calendar(settings)
    minimums = (
        check_minimums(settings.method_minimums, "method_minimums")
        if settings.method_minimums is not None
        else None
    )
    return Paylink.open(
        settings.eventsourcing_env(),
        clock=clock,
        new_id=new_id,
        retries=settings.command_retries,
        group_commit=settings.group_commit,
        calendar=calendar,
        settlement_rules=rules,
        bulk_loader=load_many,
        webhook_resolver=webhook_resolver or system_resolver,
        method_minimums=minimums,
    )


class CallbackClient(Protocol):
    """What the sandbox posts its signed callbacks with (httpx, or a test's client)."""

    def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> Any: ...

    def close(self) -> None: ...


@dataclass
class Services(Closing):
    """Everything a process serves with, built once by :func:`build` and closed together.

    ``paylink`` holds every context's application service (merchants, links, payments,
    money, webhooks, requests, users) on one store; ``channels`` the payment channels by
    name; ``notifications`` the message senders; ``signing_secret`` what every signed
    cookie and token derives from; ``callback_client`` the HTTP client the sandbox posts
    its callbacks with.
    """

    settings: Settings
    paylink: Paylink
    channels: dict[str, ChannelPort]
    notifications: Notifications
    signing_secret: bytes
    callback_client: CallbackClient
    owns_paylink: bool = True
    closed: bool = field(default=False, init=False)

    def close(self) -> None:
        """Close what was opened (the application services only if this built them)."""
        if self.closed:
            return
        self.closed = True
        close_all(self.channels)
        self.callback_client.close()
        if self.owns_paylink:
            self.paylink.close()


def build(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    new_id: Callable[[], UUID] = uuid4,
    paylink: Paylink | None = None,
    channels: dict[str, ChannelPort] | None = None,
    notifications: Notifications | None = None,
    webhook_resolver: Resolver | None = None,
) -> Services:
    """The whole graph from settings: the composition root of every process.

    Tests pass fakes (a clock, ids, channels, notifiers, a resolver) or services they
    opened themselves (then closing them stays theirs). Adapters are built here from the
    settings, once; nothing is built lazily on first use.
    """
    # The channels keep real time: their signatures and expiries are read by the rails.
    built_channels = channels if channels is not None else build_channels(settings)
    try:
        opened = paylink or open_paylink(
            settings, clock=clock, new_id=new_id, webhook_resolver=webhook_resolver
        )
    except BaseException:
        close_all(built_channels)
        raise
    return Services(
        settings=settings,
        paylink=opened,
        channels=built_channels,
        notifications=notifications or notifications_from_settings(settings),
        signing_secret=signing_secret(settings),
        callback_client=httpx.Client(timeout=10),
        owns_paylink=paylink is None,
    )


def settlement_calendar(settings: Settings) -> tuple[SettlementCalendar, SettlementRules]:
    """The business-day calendar and T+N rules the settings ask for (checked)."""
    holidays = (
        INDONESIA
        if settings.settlement_holidays is None
        else parse_holidays(settings.settlement_holidays, "settlement_holidays")
    )
    rules = DEFAULT_SETTLEMENT_RULES
    if settings.settlement_days is not None:
        rules = SettlementRules(
            {**DEFAULT_SETTLEMENT_RULES.days_by_family, **settings.settlement_days}
        )
    return SettlementCalendar(holidays), rules
