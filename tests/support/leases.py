"""The lock table, as the tests of leader election read it: who holds each worker's lock."""

from __future__ import annotations

from typing import Any

import psycopg

from paylink_es.store.leases import SINGLETONS, lock_key

HELD = (
    "SELECT (k.classid::bigint << 32) | k.objid::bigint AS key, a.application_name"
    " FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid"
    " WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1"
)


def lock_holders(admin: psycopg.Connection[dict[str, Any]], schema: str) -> dict[str, list[str]]:
    """For each worker, the application names of the sessions holding its lock now."""
    rows = admin.execute(HELD).fetchall()
    return {
        worker: [row["application_name"] for row in rows if row["key"] == lock_key(schema, worker)]
        for worker in SINGLETONS
    }
