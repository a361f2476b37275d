"""Fixtures for sending links: the app, a real SMTP server and an HTTP provider on loopback.

``make_send_api`` builds the app on the test's backend (``backend_settings``: SQLite and
PostgreSQL), ``make_sqlite_send_api`` on SQLite only; ``cloud_api`` is the WhatsApp Cloud
API counterpart (``tests.support.whatsapp_counterpart``); keyword arguments override Settings
(``smtp_host=…``, ``sms_gateway_url=…``). Projections do not run: what these tests read
(link counts, stored events) comes from the ledger itself. The builder is
``tests.support.app``'s.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from paylink_es.bootstrap import open_paylink
from paylink_es.bootstrap.adapters import notifications_from_settings
from paylink_es.domain.clock import FakeClock
from paylink_es.notify import Messenger
from paylink_es.settings import Settings
from projections.runner import ReadModels
from tests.integration.notify.support import BASE_URL, Mailbox, Messaging, Provider
from tests.support.app import MakeApi, app_builder, free_port
from tests.support.fixtures import cloud_api, views
from tests.support.whatsapp_counterpart import CloudApiServer

__all__ = ["cloud_api", "views"]


@pytest.fixture
def make_send_api(backend_settings: Settings, clock: FakeClock) -> Iterator[MakeApi]:
    """Build running apps on the test's store (SQLite or PostgreSQL)."""
    with app_builder(backend_settings, clock, run_projections=False) as build:
        yield build


@pytest.fixture
def make_sqlite_send_api(tmp_path: Path, clock: FakeClock) -> Iterator[MakeApi]:
    """Build running apps on a fresh SQLite store."""
    with app_builder(Settings(data_dir=tmp_path / "var"), clock, run_projections=False) as build:
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


def messaging_overrides(smtp: SmtpServer, cloud_api: CloudApiServer) -> dict[str, Any]:
    """Settings that send e-mail to ``smtp`` and WhatsApp to the counterpart, once each."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp[0].port,
        "smtp_security": "none",
        "notify_retries": 1,
        **cloud_api.settings(),
    }


def messaging_settings(base: Settings, smtp: SmtpServer, cloud_api: CloudApiServer) -> Settings:
    """``base`` sending e-mail to ``smtp`` and WhatsApp to the counterpart."""
    return base.model_copy(update=messaging_overrides(smtp, cloud_api))


@pytest.fixture
def messaging(
    backend_settings: Settings,
    clock: FakeClock,
    smtp: SmtpServer,
    cloud_api: CloudApiServer,
    views: ReadModels,
) -> Iterator[Messaging]:
    """The messages worker's world on the test's store (see ``support.Messaging``)."""
    settings = messaging_settings(backend_settings, smtp, cloud_api)
    with open_paylink(settings, clock=clock) as paylink:
        notifications = notifications_from_settings(settings, backoff_s=0)
        messenger = Messenger(paylink, notifications, BASE_URL)
        yield Messaging(paylink, views, messenger, clock, smtp[1], cloud_api.api)


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
