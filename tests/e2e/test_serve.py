"""``paylink serve`` as a real uvicorn process on 127.0.0.1, reached with httpx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "paylink_es", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start:\n{log.read_text()}")
                time.sleep(0.1)
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
