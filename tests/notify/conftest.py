"""Fixtures for sending links: the app, a real SMTP server and an HTTP provider on loopback.

``make_send_api`` builds the app on the test's backend (``backend_settings``: SQLite and
PostgreSQL), ``make_sqlite_send_api`` on SQLite only; keyword arguments override Settings
(``smtp_host=…``, ``sms_gateway_url=…``). Projections do not run: what these tests read
(link counts, stored events) comes from the ledger itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from api.app import create_app
from paylink_es import bootstrap
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.api.support import Api, free_port
from tests.notify.support import Mailbox, Provider

MakeApi = Callable[..., Api]


@contextmanager
def _builder(base: Settings, clock: FakeClock) -> Iterator[MakeApi]:
    with ExitStack() as stack:

        def build(**overrides: Any) -> Api:
            settings = base.model_copy(update=overrides)
            services = stack.enter_context(bootstrap.build(settings, clock=clock))
            ledger = services.application
            app = create_app(services, run_projections=False)
            client = stack.enter_context(TestClient(app))
            return Api(app=app, client=client, ledger=ledger, clock=clock)

        yield build


@pytest.fixture
def make_send_api(backend_settings: Settings, clock: FakeClock) -> Iterator[MakeApi]:
    """Build running apps on the test's store (SQLite or PostgreSQL)."""
    with _builder(backend_settings, clock) as build:
        yield build


@pytest.fixture
def make_sqlite_send_api(tmp_path: Path, clock: FakeClock) -> Iterator[MakeApi]:
    """Build running apps on a fresh SQLite store."""
    with _builder(Settings(data_dir=tmp_path / "var"), clock) as build:
        yield build


SmtpServer = tuple[Controller, Mailbox]
MakeSmtp = Callable[..., SmtpServer]


@pytest.fixture
def make_smtp() -> Iterator[MakeSmtp]:
    """Start aiosmtpd servers on 127.0.0.1 (``auth=True`` checks logins; other arguments go
    to ``Controller``); every one is stopped afterwards."""
    with ExitStack() as stack:

        def start(*, auth: bool = False, **kwargs: Any) -> SmtpServer:
            mailbox = Mailbox()
            if auth:
                kwargs["authenticator"] = mailbox.authenticate
            controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **kwargs)
            controller.start()
            stack.callback(controller.stop)
            return controller, mailbox

        yield start


@pytest.fixture
def smtp(make_smtp: MakeSmtp) -> SmtpServer:
    """A plain SMTP server on 127.0.0.1 that accepts everything (unless scripted)."""
    return make_smtp()


@pytest.fixture
def provider() -> Iterator[Provider]:
    """An HTTP server on 127.0.0.1 playing the SMS gateway or the WhatsApp Cloud API."""
    server = Provider().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (made with openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)
