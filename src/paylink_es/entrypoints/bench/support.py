"""What every measurement of ``paylink bench`` uses: a scratch store, a timed loop, progress."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from paylink_es.settings import Settings


def progress(message: str) -> None:
    """A line on stderr, so that stdout keeps only the figures."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def timed(count: int, budget_s: float, step: Callable[[int], None]) -> tuple[int, float]:
    """Run ``step(i)`` up to ``count`` times or ``budget_s`` seconds; return (done, seconds)."""
    started = time.perf_counter()
    done = 0
    while done < count:
        step(done)
        done += 1
        if done % 100 == 0 and time.perf_counter() - started > budget_s:
            break
    return done, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` of the sorted ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@contextmanager
def scratch_settings(settings: Settings) -> Iterator[Settings]:
    """Settings for a throwaway store on the same backend as ``settings``."""
    with tempfile.TemporaryDirectory(prefix="paylink-bench-") as tmp:
        if settings.database_url is None:
            yield Settings(data_dir=Path(tmp), database_url=None)
            return
        from psycopg import sql

        from paylink_es.store.postgres import connect, settings_for

        schema = f"bench_{uuid4().hex[:12]}"
        try:
            yield settings.model_copy(update={"database_schema": schema, "data_dir": Path(tmp)})
        finally:
            # Dropping a large scratch schema may take longer than a request's statement.
            unbounded = settings.model_copy(update={"postgres_statement_timeout_s": 0.0})
            with connect(settings_for(unbounded), autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
