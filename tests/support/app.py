"""The app under test, built on a test's store: in-process (``TestClient``) or served.

``app_builder`` builds apps served in-process by a ``TestClient`` (lifespan running);
``server_builder`` serves them with a real uvicorn on 127.0.0.1 in a thread. Both stop
and close everything they built when their ``with`` block ends. The fixtures of the
integration tests (``make_api``, ``make_server``, ``make_send_api``…) are thin wrappers
around them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from paylink_es import bootstrap
from paylink_es.application.details import IssuedKey
from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.notify.channels import OUTBOX_FILE
from paylink_es.settings import Settings
from projections.runner import ProjectionService


def outbox_file(settings: Settings) -> Path:
    """Where the dev outbox of a process on ``settings`` keeps its messages."""
    return settings.data_dir / OUTBOX_FILE


def outbox_messages(settings: Settings) -> list[dict[str, Any]]:
    """The messages the dev outbox kept, oldest first (none before the first)."""
    path = outbox_file(settings)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@dataclass
class Merchant:
    """A registered merchant with one test and one live key."""

    id: UUID
    test_key: IssuedKey
    live_key: IssuedKey

    def headers(self, mode: str = "test", **extra: str) -> dict[str, str]:
        """``Authorization: Bearer …`` for the key of ``mode`` (plus ``extra`` headers)."""
        key = self.test_key if mode == "test" else self.live_key
        return {"Authorization": f"Bearer {key.secret}", **extra}


@dataclass(kw_only=True)
class Store:
    """The app under test and the ledger it was built on (on the test's FakeClock)."""

    app: FastAPI
    paylink: Paylink
    clock: FakeClock
    merchants: list[Merchant] = field(default_factory=list)

    def merchant(self, name: str = "Toko Budi") -> Merchant:
        """Register a merchant and issue it a test and a live key."""
        merchant_id = self.paylink.merchants.register(name, f"{len(self.merchants)}@example.com")
        merchant = Merchant(
            merchant_id,
            self.paylink.merchants.issue_key(merchant_id, "test"),
            self.paylink.merchants.issue_key(merchant_id, "live"),
        )
        self.merchants.append(merchant)
        return merchant

    def head(self) -> int:
        """The position of the newest stored event (0 for an empty store)."""
        return self.paylink.app.recorder.max_notification_id() or 0

    def catch_up(self) -> None:
        """Wait until every read model has processed every stored event."""
        service: ProjectionService = self.app.state.projections
        service.wait_until(self.head(), timeout=20)

    def topics(self) -> list[str]:
        """The topic of every stored event, oldest first."""
        return [n.topic for n in self.paylink.app.recorder.select_notifications(0, 1_000_000)]

    def count(self, suffix: str) -> int:
        """How many stored events have a topic ending with ``suffix``."""
        return sum(1 for topic in self.topics() if topic.endswith(suffix))

    def outbox(self) -> list[dict[str, Any]]:
        """The messages the app's dev outbox kept, oldest first."""
        return outbox_messages(self.app.state.settings)


@dataclass(kw_only=True)
class Api(Store):
    """The app served in-process by a TestClient (lifespan running)."""

    client: TestClient

    def create_link(self, merchant: Merchant, mode: str = "test", **fields: Any) -> dict[str, Any]:
        """POST /v1/links and return the created link (201 expected)."""
        body = {"amount": 100000, "description": "Kaos", **fields}
        response = self.client.post("/v1/links", json=body, headers=merchant.headers(mode))
        assert response.status_code == 201, response.text
        link: dict[str, Any] = response.json()
        return link

    def read(self, merchant: Merchant, path: str, **params: Any) -> dict[str, Any]:
        """GET ``path`` as the merchant once the read models have every event; its JSON
        (200 expected)."""
        self.catch_up()
        response = self.client.get(path, params=params, headers=merchant.headers())
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def listed(self, merchant: Merchant, path: str, **params: Any) -> list[dict[str, Any]]:
        """The ``data`` of a list ``path`` (see :meth:`read`)."""
        data: list[dict[str, Any]] = self.read(merchant, path, **params)["data"]
        return data


@dataclass(kw_only=True)
class Server(Store):
    """The app served by a real uvicorn on 127.0.0.1, reached with httpx."""

    url: str


MakeApi = Callable[..., Api]
MakeServer = Callable[..., Server]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port unless given) in a thread."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop"


@contextmanager
def app_builder(
    base: Settings, clock: FakeClock, *, run_projections: bool = True
) -> Iterator[MakeApi]:
    """Build apps on ``base`` served by a TestClient; every one is stopped and closed after.

    ``build(run_projections=…, raise_server_exceptions=False, **overrides)``: keyword
    arguments that are Settings fields override the settings; ``run_projections``
    defaults to the builder's.
    """
    default_projections = run_projections
    with ExitStack() as stack:

        def build(
            *,
            run_projections: bool = default_projections,
            raise_server_exceptions: bool = True,
            **overrides: Any,
        ) -> Api:
            settings = base.model_copy(update=overrides)
            services = stack.enter_context(bootstrap.build(settings, clock=clock))
            paylink = services.paylink
            app = create_app(services, run_projections=run_projections)
            client = stack.enter_context(
                TestClient(app, raise_server_exceptions=raise_server_exceptions)
            )
            return Api(app=app, client=client, paylink=paylink, clock=clock)

        yield build


@contextmanager
def server_builder(base: Settings, clock: FakeClock) -> Iterator[MakeServer]:
    """Serve apps on ``base`` with a real uvicorn on 127.0.0.1; every one is stopped after.

    ``build(**overrides)``: keyword arguments that are Settings fields override the settings.
    """
    with ExitStack() as stack:

        def build(**overrides: Any) -> Server:
            settings = base.model_copy(update=overrides)
            services = stack.enter_context(bootstrap.build(settings, clock=clock))
            paylink = services.paylink
            app = create_app(services)
            url = stack.enter_context(live_server(app))
            return Server(app=app, paylink=paylink, clock=clock, url=url)

        yield build
