"""Live pages: the stream pushes fresh numbers and rows within a second of a payment."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.dashboard.session import SESSION_COOKIE
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.support.desk import OWNER, Desk, build_desk
from tests.support.shop import shop


@pytest.fixture
def served_desk(backend_settings: Settings, clock: FakeClock) -> Iterator[Desk]:
    """The desk behind a real uvicorn (streams need a real server), read models running."""
    with shop(backend_settings, clock, served=True, run_projections=True) as built:
        yield build_desk(built)


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The ``regions`` events of a text/event-stream, as they arrive."""
    name = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name == "regions":
            yield json.loads(line.removeprefix("data: "))


def test_a_payment_reaches_an_open_overview_stream_within_a_second(served_desk: Desk) -> None:
    desk = served_desk
    link_id = desk.link(reference_id="LIVE-1", description="Kaos live")
    owner = desk.signed_in(OWNER)
    cookies = {SESSION_COOKIE: owner.cookies[SESSION_COOKIE]}
    with (
        httpx.Client(base_url=desk.shop.url, cookies=cookies, timeout=10) as client,
        client.stream("GET", "/dashboard/stream", params={"page": "overview"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        first = next(events)
        assert set(first) == {"balances", "today", "funnel", "by_day", "by_method", "recent"}
        assert 'data-testid="pending-IDR">Rp 0<' in first["balances"]
        assert 'data-status="active"' in first["recent"]

        desk.pay(link_id)
        paid = time.monotonic()
        changed: dict[str, str] = {}
        while "Rp 150.000" not in changed.get("balances", ""):
            changed.update(next(events))
        took = time.monotonic() - paid
        assert took < 1.0, f"{took:.2f} s"
        assert 'data-testid="pending-IDR">Rp 150.000<' in changed["balances"]
        while 'data-status="completed"' not in changed.get("recent", ""):
            changed.update(next(events))


def test_the_links_stream_follows_the_lists_filters(served_desk: Desk) -> None:
    desk = served_desk
    owner = desk.signed_in(OWNER)
    cookies = {SESSION_COOKIE: owner.cookies[SESSION_COOKIE]}
    params = {"page": "links", "q": "sepatu"}
    with (
        httpx.Client(base_url=desk.shop.url, cookies=cookies, timeout=10) as client,
        client.stream("GET", "/dashboard/stream", params=params) as response,
    ):
        events = _events(response)
        assert "Tidak ada tautan yang cocok." in next(events)["links"]
        desk.link(reference_id="OTHER", description="Kaos lain")
        desk.link(reference_id="SHOE", description="Sepatu lari")
        rows = next(events)["links"]
        assert "Sepatu lari" in rows
        assert "Kaos lain" not in rows


def test_the_payments_stream_follows_the_status_chosen_and_names_each_link(
    served_desk: Desk,
) -> None:
    desk = served_desk
    owner = desk.signed_in(OWNER)
    cookies = {SESSION_COOKIE: owner.cookies[SESSION_COOKIE]}
    verified = desk.link(reference_id="PAY-LIVE", description="Sepatu lari", slug="sepatu-lari")
    params = {"page": "payments", "status": "verified"}
    with (
        httpx.Client(base_url=desk.shop.url, cookies=cookies, timeout=10) as client,
        client.stream("GET", "/dashboard/stream", params=params) as response,
    ):
        events = _events(response)
        assert "Belum ada pembayaran." in next(events)["payments"]
        started = desk.link(reference_id="PAY-STARTED", description="Kaos dimulai")
        desk.shop.choose(desk.shop.paylink.links.get(started).code, "qris")
        desk.pay(verified)
        rows = ""
        while "Sepatu lari" not in rows:
            rows = next(events)["payments"]
        assert f'<a href="/dashboard/links/{verified}">Sepatu lari</a>' in rows
        assert "/l/sepatu-lari" in rows
        assert "Kaos dimulai" not in rows  # initiated, not verified


def test_a_stream_needs_a_session_and_a_known_page(served_desk: Desk) -> None:
    desk = served_desk
    with httpx.Client(base_url=desk.shop.url, timeout=10) as anonymous:
        assert anonymous.get("/dashboard/stream?page=overview").status_code == 401
    owner = desk.signed_in(OWNER)
    cookies = {SESSION_COOKIE: owner.cookies[SESSION_COOKIE]}
    with httpx.Client(base_url=desk.shop.url, cookies=cookies, timeout=10) as client:
        assert client.get("/dashboard/stream?page=nothing").status_code == 404
        assert client.get("/dashboard/stream?page=links&status=lost").status_code == 400
        assert client.get("/dashboard/stream?page=payments&status=lost").status_code == 400
