"""``paylink serve`` as a real uvicorn process on 127.0.0.1, reached with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.app import free_port
from tests.support.serve import outside_env, start_serve, wait_healthy


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    process = start_serve(tmp_path, outside_env(), log, "--port", str(port))
    try:
        wait_healthy(process, url, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_answers_health_on_sqlite_files_under_var(server: str, tmp_path: Path) -> None:
    response = httpx.get(f"{server}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    ready = httpx.get(f"{server}/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["backend"] == "sqlite"
    assert (tmp_path / "var" / "paylink.sqlite3").exists()


def test_serve_publishes_its_openapi_document(server: str) -> None:
    response = httpx.get(f"{server}/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/healthz" in paths
    assert "/readyz" in paths
    assert paths["/readyz"]["get"]["tags"] == ["operations"]
