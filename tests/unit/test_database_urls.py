"""The database URLs: one host or several (a primary and its standby), the read replica's."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paylink_es.settings import PostgresAddress, Settings, postgres_address
from paylink_es.store.postgres import settings_for

FAILOVER = (
    "postgresql://paylink:s%40cret@db-a:5432,db-b:6543/ledger?target_session_attrs=read-write"
)


def test_a_url_of_two_hosts_names_both_in_libpq_order_with_its_session_attrs() -> None:
    assert postgres_address(FAILOVER) == PostgresAddress(
        host="db-a,db-b",
        port="5432,6543",
        dbname="ledger",
        user="paylink",
        password="s@cret",
        target_session_attrs="read-write",
    )


def test_a_plain_url_defaults_its_port_user_and_database() -> None:
    assert postgres_address("postgresql://[::1]") == PostgresAddress(
        host="::1",
        port="5432",
        dbname="postgres",
        user="postgres",
        password="",
        target_session_attrs="",
    )


def test_every_connection_is_made_to_the_hosts_in_turn_asking_for_a_primary() -> None:
    connection = settings_for(Settings(database_url=FAILOVER))
    kwargs = connection.kwargs()
    assert (kwargs["host"], kwargs["port"]) == ("db-a,db-b", "5432,6543")
    assert kwargs["target_session_attrs"] == "read-write"
    env = Settings(database_url=FAILOVER).eventsourcing_env()
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db-a,db-b", "5432,6543")
    assert env["PAYLINK_PG_TARGET_SESSION_ATTRS"] == "read-write"


def test_a_url_without_session_attrs_sends_none() -> None:
    connection = settings_for(Settings(database_url="postgresql://u@db:5433/x"))
    assert "target_session_attrs" not in connection.kwargs()
    assert (connection.host, connection.port) == ("db", "5433")


@pytest.mark.parametrize(
    ("variable", "url", "named"),
    [
        ("PAYLINK_DATABASE_URL", "postgresql://u@db-a:5432,db-b:port/x", "'port' is not a port"),
        ("PAYLINK_DATABASE_URL", "postgresql://u@db:70000/x", "'70000' is not a port"),
        (
            "PAYLINK_DATABASE_READ_URL",
            "postgresql://u@db/x?target_session_attrs=whatever",
            "target_session_attrs must be one of",
        ),
        ("PAYLINK_DATABASE_READ_URL", "mysql://u@db/x", "must be a postgresql:// URL"),
    ],
)
def test_a_bad_url_is_refused_naming_its_variable_and_the_problem(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str, named: str
) -> None:
    monkeypatch.setenv("PAYLINK_DATABASE_URL", "postgresql://u@primary/x")
    monkeypatch.setenv(variable, url)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert f"{variable}: " in str(refused.value) or f"{variable} must" in str(refused.value)
    assert named in str(refused.value)


def test_a_read_replica_needs_a_primary() -> None:
    with pytest.raises(ValidationError, match="PAYLINK_DATABASE_READ_URL needs PAYLINK_DATABASE"):
        Settings(database_read_url="postgresql://u@replica/x")


def test_the_replicas_settings_are_the_primarys_on_the_replicas_database() -> None:
    settings = Settings(
        database_url="postgresql://u:pw@primary/x",
        database_read_url="postgresql://u:pw@replica:5433/x",
        database_schema="paylink",
        postgres_pool_size=3,
    )
    replica = settings.read_replica()
    assert replica is not None
    assert replica.database_url == "postgresql://u:pw@replica:5433/x"
    assert replica.database_read_url is None
    assert (replica.database_schema, replica.postgres_pool_size) == ("paylink", 3)
    assert Settings(database_url="postgresql://u@primary/x").read_replica() is None
    assert "pw" not in repr(settings)
