"""Composition root: builds the application from settings (never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

from paylink_es.application import PaylinkApp
from paylink_es.clock import Clock, system_clock
from paylink_es.settings import Settings


def ensure_postgres_schema(settings: Settings) -> None:
    """Create the configured PostgreSQL schema if it is missing (tables come later)."""
    if settings.database_url is None or not settings.database_schema:
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(settings.database_schema)
            )
        )


def open_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    new_id: Callable[[], UUID] = uuid4,
) -> PaylinkApp:
    """The ledger application on the configured backend."""
    ensure_postgres_schema(settings)
    return PaylinkApp(
        settings.eventsourcing_env(),
        clock=clock,
        new_id=new_id,
        retries=settings.command_retries,
        group_commit=settings.group_commit,
    )
