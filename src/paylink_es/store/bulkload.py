"""Load many aggregates with one query: the read side of bulk commands (settlement runs).

``Repository.get`` reads one aggregate per query. A settlement run loads thousands of
payments; one ``originator_id IN (…)`` query per chunk, on the recorder's own table and
connection, reads them all at once. The events are decoded by the application's own
mapper and applied in version order, exactly as the repository would. On a recorder
this module does not know (the in-memory one), it falls back to one query per id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier


def select_many(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
    """Every stored event of each of ``ids``, in version order."""
    found: dict[UUID, list[StoredEvent]] = defaultdict(list)
    if not ids:
        return found
    if isinstance(recorder, SQLiteAggregateRecorder):
        placeholders = ",".join("?" * len(ids))
        # The table name is the recorder's own setting; the ids go in as parameters.
        table = recorder.events_table_name
        in_ids = f"originator_id IN ({placeholders})"
        statement = "SELECT originator_id, originator_version, topic, state FROM " + table  # noqa: S608
        statement += f" WHERE {in_ids} ORDER BY originator_id, originator_version"
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, [i.hex for i in ids])
            for row in cursor.fetchall():
                found[UUID(row[0])].append(StoredEvent(row[0], row[1], row[2], row[3]))
        return found
    if isinstance(recorder, PostgresAggregateRecorder):
        query = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
            " WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(query, [list(ids)])
            for row in cursor.fetchall():
                originator = row["originator_id"]
                found[originator].append(
                    StoredEvent(
                        originator,
                        row["originator_version"],
                        row["topic"],
                        bytes(row["state"]),
                    )
                )
        return found
    for aggregate_id in ids:
        found[aggregate_id] = list(recorder.select_events(aggregate_id))
    return found


def load_many(app: Any, ids: Sequence[UUID]) -> dict[UUID, Any]:
    """The aggregates of ``ids`` that exist, rebuilt from their events."""
    loaded: dict[UUID, Any] = {}
    to_domain_event = app.mapper.to_domain_event
    for aggregate_id, stored in select_many(app.recorder, ids).items():
        aggregate = None
        for record in stored:
            aggregate = to_domain_event(record).mutate(aggregate)
        if aggregate is not None:
            loaded[aggregate_id] = aggregate
    return loaded
