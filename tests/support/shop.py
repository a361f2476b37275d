"""Helpers for the hosted-page tests: a shop (app + ledger + merchant), served or in-process.

Imported as ``tests.support.shop`` (pytest's ``pythonpath = ["."]`` makes the repository
root importable). The page, dashboard and channel integration tests and the browser tests
use it.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
import segno
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from paylink_es import bootstrap
from paylink_es.application.details import LinkDetails, PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.runner import ProjectionService
from tests.support.app import free_port, live_server

# A client of the app: the in-process TestClient, or httpx against a real server.
Http = TestClient | httpx.Client
Reply = Any  # httpx.Response or the TestClient's httpx2.Response: the same surface

MERCHANT_NAME = "Toko Budi Jaya"
MERCHANT_EMAIL = "owner@tokobudi.example"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')
PAYMENT_PATH = re.compile(r"/l/(?P<code>[0-9A-Za-z]+)/p/(?P<payment>[0-9a-f-]{36})")
BASE62 = re.compile(r"[0-9A-Za-z]{10,}")

# A link with everything a merchant can put on it, some of it private to the merchant.
FULL_LINK: dict[str, Any] = {
    "amount": 150000,
    "currency": "IDR",
    "description": "Kaos polos hitam",
    "reference_id": "INV-PRIVATE-0042",
    "methods": ["va_bca", "va_bri", "qris", "ewallet_ovo"],
    "usage_limit": 1,
    "line_items": [
        {"name": "Kaos polos hitam", "quantity": 2, "unit_amount": 50000},
        {"name": "Ongkos kirim", "quantity": 1, "unit_amount": 50000},
    ],
    "customer": {"name": "Siti", "email": "siti.private@example.com", "phone": "081298765432"},
    "success_url": "https://shop.example/thanks",
    "metadata": {"internal_note": "margin-secret-77", "crm": "lead-991"},
}
# Private to the merchant: none of it may reach the customer's page.
PRIVATE = (
    "INV-PRIVATE-0042",
    "margin-secret-77",
    "lead-991",
    "internal_note",
    "siti.private@example.com",
    "081298765432",
    "6281298765432",
    MERCHANT_EMAIL,
)
OPEN_LINK: dict[str, Any] = {
    "amount_min": 10000,
    "amount_max": 500000,
    "currency": "IDR",
    "description": "Donasi bebas",
    "methods": ["qris", "va_bsi"],
    "usage_limit": None,
}
ALL_METHODS = ["va_mandiri", "qris", "ewallet_dana", "card", "retail_alfamart"]
# School fees: the page asks the payer's name and phone (email optional), the student's
# number, class and (optionally) how many siblings.
SCHOOL_LINK: dict[str, Any] = {
    "amount": 350000,
    "currency": "IDR",
    "description": "SPP Januari 2027",
    "methods": ["qris", "va_bca"],
    "usage_limit": None,
    "customer_fields": {"name": "required", "email": "optional", "phone": "required"},
    "custom_fields": [
        {"key": "student_id", "type": "text", "label": {"id": "NIS", "en": "Student ID"},
         "required": True},
        {"key": "class", "type": "dropdown", "label": {"id": "Kelas", "en": "Class"},
         "required": True, "options": ["7A", "7B", "8A"]},
        {"key": "siblings", "type": "number", "label": {"id": "Jumlah saudara"}},
    ],
}  # fmt: skip


def require(condition: object, message: str) -> None:
    """A precondition of an xfail test: failing it is a real failure, never the xfail."""
    if not condition:
        pytest.fail(f"precondition failed: {message}")


def csrf_of(html: str) -> str:
    """The CSRF token a page's form carries."""
    match = CSRF_FIELD.search(html)
    assert match is not None, f"no CSRF field on the page:\n{html[:2000]}"
    return match.group(1)


@dataclass(kw_only=True)
class Shop:
    """An app on a fresh store with one merchant; served by uvicorn or by a TestClient."""

    app: FastAPI
    paylink: Paylink
    clock: FakeClock
    settings: Settings
    client: Http
    url: str  # the server's URL ("" for the TestClient: paths are enough)
    merchant_id: UUID
    test_key: str
    live_key: str
    stack: ExitStack = field(repr=False)

    # -- set-up ------------------------------------------------------------------------

    def link(
        self, terms: dict[str, Any] | None = None, mode: str = "test", **overrides: Any
    ) -> LinkDetails:
        """Create a link through the paylink: ``terms`` (default ``FULL_LINK``) + overrides."""
        fields = {**(FULL_LINK if terms is None else terms), **overrides}
        link_id = self.paylink.links.create(self.merchant_id, mode=mode, **fields)
        return self.paylink.links.get(link_id)

    def visitor(self) -> Http:
        """A new client: another browser, so another visitor session (closed afterwards)."""
        if isinstance(self.client, TestClient):
            # Not entered: entering would run the app's lifespan a second time.
            client = TestClient(self.app)
            self.stack.callback(client.close)
            return client
        return self.stack.enter_context(
            httpx.Client(base_url=self.url, timeout=30, follow_redirects=True)
        )

    def headers(self, mode: str = "test") -> dict[str, str]:
        """The merchant's ``Authorization`` header for a mode."""
        key = self.test_key if mode == "test" else self.live_key
        return {"Authorization": f"Bearer {key}"}

    # -- the customer's steps ------------------------------------------------------------

    def open(self, code: str, client: Http | None = None, **params: str) -> Reply:
        """GET the link's page (200 expected) and return it."""
        response = (client or self.client).get(f"/l/{code}", params=params)
        assert response.status_code == 200, response.text
        return response

    def choose(
        self,
        code: str,
        method: str,
        amount: str | None = None,
        client: Http | None = None,
        lang: str = "id",
        answers: dict[str, str] | None = None,
    ) -> UUID:
        """Open the page, submit the method form (with ``answers`` to the fields the link
        asks: ``{"customer.phone": "0812…"}``), follow to the instructions; the payment."""
        http = client or self.client
        page = self.open(code, http, lang=lang)
        form = {"csrf": csrf_of(page.text), "method": method, **(answers or {})}
        if amount is not None:
            form["amount"] = amount
        response = http.post(
            f"/l/{code}/pay", params={"lang": lang}, data=form, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        match = PAYMENT_PATH.search(response.headers["location"])
        assert match is not None, response.headers["location"]
        assert match["code"] == code
        return UUID(match["payment"])

    def chosen(
        self, method: str, terms: dict[str, Any] | None = None, **overrides: Any
    ) -> tuple[LinkDetails, UUID]:
        """A new link (as :meth:`link` makes it) and the payment its page starts when the
        customer chooses ``method``."""
        link = self.link(terms, **overrides)
        return link, self.choose(link.code, method)

    def payment_page(self, code: str, payment_id: UUID, client: Http | None = None) -> Reply:
        """GET the instructions (or receipt) page of a payment."""
        response = (client or self.client).get(f"/l/{code}/p/{payment_id}")
        assert response.status_code == 200, response.text
        return response

    def sandbox_pay(self, payment_id: UUID, scenario: str = "normal", **extra: Any) -> Reply:
        """POST /v1/sandbox/payments with the test key."""
        return self.client.post(
            "/v1/sandbox/payments",
            json={"payment_id": str(payment_id), "scenario": scenario, **extra},
            headers=self.headers(),
        )

    # -- what the store holds --------------------------------------------------------------

    def states(self) -> list[tuple[str, bytes]]:
        """(topic, state bytes) of every stored event, oldest first."""
        notes = self.paylink.app.recorder.select_notifications(0, 1_000_000)
        return [(n.topic, bytes(n.state)) for n in notes]

    def topics(self) -> list[str]:
        """The topic of every stored event, oldest first."""
        return [topic for topic, _ in self.states()]

    def count(self, suffix: str) -> int:
        """How many stored events have a topic ending with ``suffix``."""
        return sum(1 for topic in self.topics() if topic.endswith(suffix))

    def head(self) -> int:
        """The position of the newest stored event."""
        return self.paylink.app.recorder.max_notification_id() or 0

    def payment(self, payment_id: UUID) -> PaymentDetails:
        """The payment as the ledger has it."""
        return self.paylink.payments.get(payment_id)

    def caught_up(self) -> None:
        """Wait until the projections have read every stored event."""
        service: ProjectionService = self.app.state.projections
        service.wait_until(self.head(), timeout=20)

    def balances(self) -> dict[str, int]:
        """The merchant's IDR test-mode balances over HTTP, once projections caught up."""
        self.caught_up()
        response = self.client.get("/v1/balances", headers=self.headers())
        assert response.status_code == 200, response.text
        rows = [row for row in response.json()["data"] if row["currency"] == "IDR"]
        if not rows:
            return dict.fromkeys(("pending", "held", "refund_due", "verified"), 0)
        row: dict[str, int] = rows[0]
        return row

    def live_money(self) -> dict[str, int]:
        """The merchant's live IDR buckets from GET /v1/balances, once projections caught up."""
        self.caught_up()
        response = self.client.get("/v1/balances", headers=self.headers("live"))
        assert response.status_code == 200, response.text
        rows = [row for row in response.json()["data"] if row["currency"] == "IDR"]
        buckets = ("pending", "held", "refund_due", "verified")
        return {name: rows[0][name] for name in buckets} if rows else dict.fromkeys(buckets, 0)

    def api_payment(self, payment_id: UUID) -> dict[str, Any]:
        """GET /v1/payments/{id} with the live key, once projections caught up."""
        self.caught_up()
        response = self.client.get(f"/v1/payments/{payment_id}", headers=self.headers("live"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def shop(
    settings: Settings,
    clock: FakeClock,
    *,
    served: bool = False,
    run_projections: bool = False,
) -> Iterator[Shop]:
    """A shop on ``settings``; with ``served`` a real uvicorn whose base_url is itself.

    In-process, the app's own TestClient carries the sandbox's callbacks, so they
    reach the same app; served, they go over real HTTP to 127.0.0.1.
    """
    with ExitStack() as stack:
        port = free_port() if served else settings.port
        if served:
            settings = settings.model_copy(
                update={"base_url": f"http://127.0.0.1:{port}", "port": port}
            )
        services = stack.enter_context(bootstrap.build(settings, clock=clock))
        paylink = services.paylink
        app = create_app(services, run_projections=run_projections)
        client: Http
        if served:
            url = stack.enter_context(live_server(app, port))
            client = stack.enter_context(
                httpx.Client(base_url=url, timeout=30, follow_redirects=True)
            )
        else:
            url = ""
            client = stack.enter_context(TestClient(app))
            services.callback_client.close()
            services.callback_client = client
        merchant_id = paylink.merchants.register(MERCHANT_NAME, MERCHANT_EMAIL)
        yield Shop(
            app=app,
            paylink=paylink,
            clock=clock,
            settings=settings,
            client=client,
            url=url,
            merchant_id=merchant_id,
            test_key=paylink.merchants.issue_key(merchant_id, "test").secret,
            live_key=paylink.merchants.issue_key(merchant_id, "live").secret,
            stack=stack,
        )


def in_hours(clock: FakeClock, hours: float) -> datetime:
    """An instant ``hours`` after the clock's now."""
    return clock() + timedelta(hours=hours)


# -- reading a QR code back from a PNG (no imaging library needed) --------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_dark(data: bytes) -> list[list[bool]]:
    """The pixels of a non-interlaced PNG as dark (True) or light (False)."""
    assert data.startswith(PNG_MAGIC), data[:16]
    chunks: dict[bytes, bytes] = {}
    index = len(PNG_MAGIC)
    while index < len(data):
        (length,) = struct.unpack(">I", data[index : index + 4])
        kind = data[index + 4 : index + 8]
        chunks[kind] = chunks.get(kind, b"") + data[index + 8 : index + 8 + length]
        index += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert interlace == 0, "interlaced PNG"
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    bits = channels * depth
    stride = (width * bits + 7) // 8
    step = max(1, bits // 8)
    raw = zlib.decompress(chunks[b"IDAT"])
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            predictor = (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind]
            row[i] = (row[i] + predictor) & 0xFF
        rows.append(row)
        previous = row
    palette = chunks.get(b"PLTE", b"")
    dark: list[list[bool]] = []
    for row in rows:
        line = []
        for x in range(width):
            if depth < 8:
                value = (row[x * depth // 8] >> (8 - depth - (x * depth) % 8)) & ((1 << depth) - 1)
                scale = (1 << depth) - 1
            else:
                value, scale = row[x * step], 255
            if colour == 3:
                red, green, blue = palette[3 * value : 3 * value + 3]
                line.append(red + green + blue < 3 * 128)
            else:
                line.append(value * 2 < scale)
        dark.append(line)
    return dark


def qr_modules(dark: list[list[bool]]) -> list[list[bool]]:
    """The module matrix of a QR code drawn on a light background, found by its finder."""
    y0 = next(y for y, row in enumerate(dark) if any(row))
    x0 = dark[y0].index(True)
    run = 0
    while dark[y0][x0 + run]:
        run += 1
    assert run % 7 == 0, f"the top-left finder is {run} pixels wide"
    scale = run // 7
    size = (len(dark[0]) - 2 * x0) // scale
    return [
        [dark[y0 + r * scale + scale // 2][x0 + c * scale + scale // 2] for c in range(size)]
        for r in range(size)
    ]


def qr_encodes(png: bytes, text: str) -> bool:
    """Whether the QR code in ``png`` is the one for ``text`` (at some error level)."""
    modules = qr_modules(png_dark(png))
    for error in "lmqh":
        for boost in (True, False):
            expected = segno.make_qr(text, error=error, boost_error=boost).matrix
            if [[bool(m) for m in row] for row in expected] == modules:
                return True
    return False
