"""Composition root: builds the application from settings (never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from uuid import UUID, uuid4

from paylink_es import faults
from paylink_es.application.app import PaylinkApp
from paylink_es.domain.calendar import (
    DEFAULT_SETTLEMENT_RULES,
    INDONESIA_2026,
    SettlementCalendar,
    SettlementRules,
    parse_holidays,
)
from paylink_es.domain.clock import Clock, system_clock
from paylink_es.settings import Settings
from paylink_es.store.bulkload import load_many


def ensure_postgres_schema(settings: Settings) -> None:
    """Create the configured PostgreSQL schema if it is missing (tables come later)."""
    if settings.database_url is None or not settings.database_schema:
        return
    from paylink_es.store.postgres import ensure_schema, settings_for

    ensure_schema(settings_for(settings), settings.database_schema)


def open_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    new_id: Callable[[], UUID] = uuid4,
) -> PaylinkApp:
    """The ledger application on the configured backend (and the crash points armed)."""
    if settings.crash_at:
        faults.arm(settings.crash_at)
    ensure_postgres_schema(settings)
    app = PaylinkApp(
        settings.eventsourcing_env(),
        clock=clock,
        new_id=new_id,
        retries=settings.command_retries,
        group_commit=settings.group_commit,
    )
    app.calendar, app.settlement_rules = settlement_calendar(settings)
    app.load_many = partial(load_many, app)  # type: ignore[method-assign]
    return app


def settlement_calendar(settings: Settings) -> tuple[SettlementCalendar, SettlementRules]:
    """The business-day calendar and T+N rules the settings ask for (checked)."""
    holidays = (
        INDONESIA_2026
        if settings.settlement_holidays is None
        else parse_holidays(settings.settlement_holidays, "settlement_holidays")
    )
    rules = DEFAULT_SETTLEMENT_RULES
    if settings.settlement_days is not None:
        rules = SettlementRules(
            {**DEFAULT_SETTLEMENT_RULES.days_by_family, **settings.settlement_days}
        )
    return SettlementCalendar(holidays), rules
