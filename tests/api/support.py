"""Helpers for the merchant HTTP API tests: a running app, merchants with keys, problems.

Imported as ``tests.api.support`` (the name mypy gives it); ``conftest.py`` makes the
repository root importable.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import IssuedKey
from paylink_es.domain.clock import FakeClock
from projections.runner import ProjectionService

PROBLEM_JSON = "application/problem+json"
PROBLEM_MEMBERS = ("type", "title", "status", "detail", "request_id")
CODE = re.compile(r"[0-9A-Za-z]{10,}")
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# Every field a link request can carry (DESIGN §6 plus line items, URLs and metadata).
FULL_LINK: dict[str, Any] = {
    "amount": 150000,
    "currency": "IDR",
    "description": "Kaos polos hitam\nukuran L",
    "reference_id": "INV-2026-0042",
    "methods": ["va_bca", "va_bri", "qris", "ewallet_ovo"],
    "expires_at": "2026-02-01T23:59:00+07:00",
    "usage_limit": 1,
    "line_items": [{"name": "Kaos polos hitam", "quantity": 2, "unit_amount": 75000}],
    "customer": {"name": "Budi", "email": "budi@example.com", "phone": "08123456789"},
    "success_url": "https://shop.example/thanks",
    "failure_url": "https://shop.example/sorry",
    "metadata": {"order": "42", "channel": "instagram"},
}
OPEN_LINK: dict[str, Any] = {
    "amount_min": 10000,
    "amount_max": 5000000,
    "currency": "IDR",
    "description": "Donasi bebas",
    "methods": ["qris", "va_bsi"],
    "usage_limit": None,
    "metadata": {"campaign": "ramadan"},
}


class HttpResponse(Protocol):
    """What the tests read from a response, from TestClient (httpx2) or httpx alike."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...

    @property
    def content(self) -> bytes: ...

    def json(self, **kwargs: Any) -> Any: ...


def require(condition: object, message: str) -> None:
    """A precondition of an xfail test: failing it is a real failure, never the xfail."""
    if not condition:
        pytest.fail(f"precondition failed: {message}")


def instant(text: str) -> datetime:
    """An ISO-8601 instant from a response (``Z`` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_problem(
    response: HttpResponse,
    status: int,
    slug: str | None = None,
    *,
    field: str | None = None,
) -> dict[str, Any]:
    """Check an RFC 9457 problem document and return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    missing = [name for name in PROBLEM_MEMBERS if name not in body]
    assert not missing, f"problem document lacks {missing}: {body}"
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["type"].startswith("/problems/"), body
    assert body["request_id"] == response.headers["x-request-id"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    if field is not None:
        assert body.get("field") == field, body
    assert "Traceback" not in response.text
    return body


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
    ledger: PaylinkApp
    clock: FakeClock
    merchants: list[Merchant] = field(default_factory=list)

    def merchant(self, name: str = "Toko Budi") -> Merchant:
        """Register a merchant and issue it a test and a live key."""
        merchant_id = self.ledger.register_merchant(name, f"{len(self.merchants)}@example.com")
        merchant = Merchant(
            merchant_id,
            self.ledger.issue_api_key(merchant_id, "test"),
            self.ledger.issue_api_key(merchant_id, "live"),
        )
        self.merchants.append(merchant)
        return merchant

    def head(self) -> int:
        """The position of the newest stored event (0 for an empty store)."""
        return self.ledger.recorder.max_notification_id() or 0

    def catch_up(self) -> None:
        """Wait until every read model has processed every stored event."""
        service: ProjectionService = self.app.state.projections
        service.wait_until(self.head(), timeout=20)

    def topics(self) -> list[str]:
        """The topic of every stored event, oldest first."""
        return [n.topic for n in self.ledger.recorder.select_notifications(0, 1_000_000)]

    def count(self, suffix: str) -> int:
        """How many stored events have a topic ending with ``suffix``."""
        return sum(1 for topic in self.topics() if topic.endswith(suffix))


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


@dataclass(kw_only=True)
class Server(Store):
    """The app served by a real uvicorn on 127.0.0.1, reached with httpx."""

    url: str


SECRET_FAILURE = "connection to db-primary:5432 refused, password=hunter2"


class ExplodingLedger:
    """Stands in for the ledger: keys and idempotency work, any other use raises.

    Whatever a route asks of the ledger to do its work fails with an exception whose
    text (``SECRET_FAILURE``) must never reach the client.
    """

    KEPT = frozenset(
        {"authenticate", "cached_owner", "begin_request", "earlier_request", "answer_request"}
    )

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        if name in self.KEPT:
            return getattr(self._real, name)
        raise RuntimeError(SECRET_FAILURE)


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
