"""The application services of every context, side by side on one event store.

Each context has its own service (merchants, links, payments, money, webhooks,
Idempotency-Key requests, dashboard users, messages); they share one :class:`PaylinkApp` (the
store and the way commands run) and never each other's aggregates. Every service hands
out ``*Details`` snapshots, never an aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from eventsourcing.utils import EnvType

from paylink_es.application.app import AppOptions, PaylinkApp
from paylink_es.application.links import LinkService
from paylink_es.application.merchants import MerchantService
from paylink_es.application.messages import MessageService
from paylink_es.application.money import MoneyService
from paylink_es.application.payments import PaymentService
from paylink_es.application.requests import RequestService
from paylink_es.application.users import UserService
from paylink_es.application.verification import PaymentVerification
from paylink_es.application.webhooks import WebhookService
from paylink_es.closing import Closing
from paylink_es.domain.calendar import SettlementCalendar, SettlementRules
from paylink_es.domain.webhooks import Resolver


@dataclass
class Paylink(Closing):
    """Every context's service on one application; built by :meth:`on` or :meth:`open`."""

    app: PaylinkApp
    merchants: MerchantService
    links: LinkService
    payments: PaymentService
    verification: PaymentVerification
    money: MoneyService
    webhooks: WebhookService
    requests: RequestService
    users: UserService
    messages: MessageService

    @classmethod
    def on(
        cls,
        app: PaylinkApp,
        *,
        calendar: SettlementCalendar | None = None,
        settlement_rules: SettlementRules | None = None,
        webhook_resolver: Resolver | None = None,
        method_minimums: dict[str, int] | None = None,
    ) -> Paylink:
        """The services on an application already open (closing it stays the caller's)."""
        merchants = MerchantService(app)
        payments = PaymentService(app, method_minimums)
        return cls(
            app=app,
            merchants=merchants,
            links=LinkService(app, merchants, method_minimums),
            payments=payments,
            verification=PaymentVerification(payments),
            money=MoneyService(app, calendar=calendar, settlement_rules=settlement_rules),
            webhooks=WebhookService(app, webhook_resolver),
            requests=RequestService(app),
            users=UserService(app, merchants),
            messages=MessageService(app),
        )

    @classmethod
    def open(
        cls,
        env: EnvType | None = None,
        *,
        calendar: SettlementCalendar | None = None,
        settlement_rules: SettlementRules | None = None,
        webhook_resolver: Resolver | None = None,
        method_minimums: dict[str, int] | None = None,
        **app_options: Unpack[AppOptions],
    ) -> Paylink:
        """Open the application on the store ``env`` names (run as ``app_options`` say),
        with every service on it."""
        return cls.on(
            PaylinkApp(env, **app_options),
            calendar=calendar,
            settlement_rules=settlement_rules,
            webhook_resolver=webhook_resolver,
            method_minimums=method_minimums,
        )

    def now(self) -> datetime:
        """The application's current instant."""
        return self.app.now()

    def close(self) -> None:
        """Let queued commands finish, then close the store."""
        self.app.close()
