"""Shared fixtures: a fake clock, the in-memory app, and the app on SQLite and PostgreSQL.

The backend fixtures are a contract other test modules rely on: ``clock``,
``memory_app``, ``pg_url``, ``backend_settings`` (ids ``sqlite`` and ``postgres``),
``module_backend_settings`` (the same, one store per module) and ``backend_app``. The
Hypothesis profiles (``dev``, ``ci``) are registered here and the one
``PAYLINK_HYPOTHESIS_PROFILE`` names is loaded (``tests/support/examples.py``).

``scripts/test`` runs the suite with pytest-xdist, a worker process per core
(``--dist loadgroup``): every browser test goes to one worker (one Chromium, one server
per module), every other test to whichever worker is free. Each worker has its own
``tmp_path`` folders, and every test's PostgreSQL schema has a random name, so no two
workers share a store. The loud-skip banners are written here, by the process that
reports the run (under xdist the controller, which loads only this conftest).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from hypothesis import settings as hypothesis_settings
from psycopg import sql

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.support.examples import DEFAULT_PROFILE, EXAMPLES, PROFILE_VAR
from tests.support.loud_skips import (
    BROWSER_REQUIRE_VAR,
    BROWSER_SKIP_PREFIX,
    REDIS_DEFAULT_URL,
    REDIS_REQUIRE_VAR,
    REDIS_SKIP_PREFIX,
    REDIS_URL_VAR,
    shout_if_skipped,
    unavailable,
)

for _profile, _examples in EXAMPLES.items():
    hypothesis_settings.register_profile(_profile, max_examples=_examples)
_chosen = os.environ.get(PROFILE_VAR, DEFAULT_PROFILE)
if _chosen not in EXAMPLES:
    raise pytest.UsageError(f"{PROFILE_VAR}={_chosen!r}: the profiles are {', '.join(EXAMPLES)}")
hypothesis_settings.load_profile(_chosen)

PG_URL_VAR = "PAYLINK_TEST_DATABASE_URL"
REQUIRE_PG_VAR = "PAYLINK_REQUIRE_POSTGRES"
PG_SKIP_PREFIX = "POSTGRESQL NOT AVAILABLE"
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"

# Variables that would steer Settings() or the eventsourcing library away from what a
# test asked for. eventsourcing looks up "PAYLINK_<KEY>" before "<KEY>" (the app is
# named Paylink), so both spellings go.
_SETTINGS_VARS = {f"PAYLINK_{name.upper()}" for name in Settings.model_fields}
_EVENTSOURCING_PREFIXES = (
    "PERSISTENCE_MODULE",
    "INFRASTRUCTURE_FACTORY",
    "SQLITE_",
    "POSTGRES_",
    "CIPHER_",
    "COMPRESSOR_TOPIC",
    "TRANSCODER_TOPIC",
    "MAPPER_TOPIC",
    "IS_SNAPSHOTTING_ENABLED",
    "AGGREGATE_CACHE_",
    "DEEPCOPY_FROM_AGGREGATE_CACHE",
    "CREATE_TABLE",
    "ORIGINATOR_ID_TYPE",
    "APPLICATION_RECORDER_TOPIC",
    "TRACKING_RECORDER_TOPIC",
    "PROCESS_RECORDER_TOPIC",
)


def _steers_the_app(name: str) -> bool:
    if name in _SETTINGS_VARS:
        return True
    bare = name.removeprefix("PAYLINK_")
    return bare.startswith(_EVENTSOURCING_PREFIXES)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's real PAYLINK_* / eventsourcing variables out of every test."""
    for name in list(os.environ):
        if _steers_the_app(name):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> FakeClock:
    """A clock that stands still until the test moves it."""
    return FakeClock()


@pytest.fixture
def memory_app(clock: FakeClock) -> Iterator[Paylink]:
    """The application on the in-memory (POPO) event store."""
    app = Paylink.open({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    yield app
    app.close()


def _postgres_unavailable(reason: str) -> NoReturn:
    unavailable(
        f"{PG_SKIP_PREFIX}: {reason}",
        REQUIRE_PG_VAR,
        f"set {PG_URL_VAR} to run the PostgreSQL tests",
    )


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The URL of a PostgreSQL server that answers, or a loud skip (a failure if required)."""
    url = os.environ.get(PG_URL_VAR, "").strip()
    if not url:
        _postgres_unavailable(f"{PG_URL_VAR} is not set")
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as error:
        why = " ".join(str(error).split())
        _postgres_unavailable(f"{PG_URL_VAR}={_redacted(url)} does not answer ({why})")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis that answers ($PAYLINK_TEST_REDIS_URL, else 127.0.0.1:6379), or a loud
    skip (a failure where PAYLINK_REQUIRE_REDIS=1)."""
    url = os.environ.get(REDIS_URL_VAR, "").strip() or REDIS_DEFAULT_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(
            f"{REDIS_SKIP_PREFIX}: {_redacted(url)} does not answer ({error})",
            REDIS_REQUIRE_VAR,
            f"start Redis or set {REDIS_URL_VAR} to run the Redis tests",
        )
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of the test's own (parallel runs share one Redis); its keys are
    deleted afterwards."""
    prefix = "paylink-test-" + uuid.uuid4().hex[:12]
    yield prefix
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _redacted(url: str) -> str:
    """The URL without its password, fit for a test report."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@contextmanager
def _fresh_store(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty store of the backend ``request.param`` names."""
    if request.param == "sqlite":
        settings = Settings(data_dir=data_dir)
        assert settings.database_url is None
        yield settings
        return
    url: str = request.getfixturevalue("pg_url")
    schema = "t_" + uuid.uuid4().hex[:12]
    settings = Settings(database_url=url, database_schema=schema, data_dir=data_dir)
    try:
        yield settings
    finally:
        _drop_schema(url, schema)


@pytest.fixture(params=BACKENDS)
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty store: a SQLite file, or a PostgreSQL schema of its own."""
    with _fresh_store(request, tmp_path / "var") as settings:
        yield settings


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Like ``backend_settings``, one store per module and backend: for a module of many
    tests that only read, each as a merchant of its own, so none sees another's data."""
    with _fresh_store(request, tmp_path_factory.mktemp("module") / "var") as settings:
        yield settings


@pytest.fixture
def backend_app(backend_settings: Settings, clock: FakeClock) -> Iterator[Paylink]:
    """The application opened through the composition root on a real database."""
    app = open_paylink(backend_settings, clock=clock)
    try:
        yield app
    finally:
        app.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, keep the browser tests on one worker: they share one Chromium
    (a session fixture) and a served app per module (``--dist loadgroup``)."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Shout when PostgreSQL, Redis or browser tests were skipped: a green run without them
    proves less."""
    shout_if_skipped(
        terminalreporter,
        PG_SKIP_PREFIX,
        "PostgreSQL test(s) were SKIPPED -- only SQLite was exercised.",
        f"Set {PG_URL_VAR}=postgresql://... (and {REQUIRE_PG_VAR}=1 in CI).",
        reasons=True,
    )
    shout_if_skipped(
        terminalreporter,
        REDIS_SKIP_PREFIX,
        "Redis test(s) were SKIPPED -- the rate limit across nodes was not exercised.",
        f"Start Redis on 127.0.0.1:6379 or set {REDIS_URL_VAR} ({REDIS_REQUIRE_VAR}=1 in CI).",
        reasons=True,
    )
    shout_if_skipped(
        terminalreporter,
        BROWSER_SKIP_PREFIX,
        "browser test(s) were SKIPPED: no Chromium/Playwright here.",
        f"Install Debian's chromium; CI sets {BROWSER_REQUIRE_VAR}=1 to make this a failure.",
    )
