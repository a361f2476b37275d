"""Helpers for the merchant HTTP API tests: link requests, problem documents, a failing paylink.

The app itself, merchants with keys and servers come from ``tests.support.app``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import pytest

from api.schemas import LINK_EXAMPLE, OPEN_LINK_EXAMPLE

PROBLEM_JSON = "application/problem+json"
PROBLEM_MEMBERS = ("type", "title", "status", "detail", "request_id")
CODE = re.compile(r"[0-9A-Za-z]{10,}")
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# Every field a link request can carry: the API's documented example (DESIGN §6) plus
# line items, URLs and metadata; and the documented open (pay-what-you-like) link.
FULL_LINK: dict[str, Any] = {
    **copy.deepcopy(LINK_EXAMPLE),
    "description": "Kaos polos hitam\nukuran L",
    "expires_at": "2026-02-01T23:59:00+07:00",
    "line_items": [{"name": "Kaos polos hitam", "quantity": 2, "unit_amount": 75000}],
    "customer": {"name": "Budi", "email": "budi@example.com", "phone": "08123456789"},
    "success_url": "https://shop.example/thanks",
    "failure_url": "https://shop.example/sorry",
    "metadata": {"order": "42", "channel": "instagram"},
}
OPEN_LINK: dict[str, Any] = copy.deepcopy(OPEN_LINK_EXAMPLE)


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


SECRET_FAILURE = "connection to db-primary:5432 refused, password=hunter2"


class ExplodingPaylink:
    """Stands in for the application services: keys and idempotency work, any other use raises.

    Whatever a route asks of the other services to do its work fails with an exception
    whose text (``SECRET_FAILURE``) must never reach the client.
    """

    KEPT = frozenset({"merchants", "requests"})

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        if name in self.KEPT:
            return getattr(self._real, name)
        raise RuntimeError(SECRET_FAILURE)
