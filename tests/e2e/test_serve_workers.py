"""``paylink serve --workers 2`` as real processes: no child outlives a parent killed with -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.app import free_port
from tests.support.serve import outside_env, start_serve, wait_healthy
from tests.support.webhooks import webhook_receiver

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="parent-death signal is Linux only"
)


def port_is_free(port: int) -> bool:
    """Can a server listen there now? (SO_REUSEADDR as uvicorn: TIME_WAIT does not count.)"""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Proc:
    pid: int
    start_time: str  # field 22 of /proc/<pid>/stat: tells a reused pid apart
    cmdline: str


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; [0] state, [1] ppid


def descendants(root: int) -> list[Proc]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[Proc] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        fields = _stat_fields(pid)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fields:
            found.append(Proc(pid, fields[19], cmdline))
    return found


def running(proc: Proc) -> bool:
    """Still there and not a zombie (an orphan's reaper may be slow, or absent in a container)."""
    fields = _stat_fields(proc.pid)
    return fields is not None and fields[19] == proc.start_time and fields[0] not in "ZX"


def start_workers(
    tmp_path: Path, port: int, log_name: str, **variables: str
) -> subprocess.Popen[bytes]:
    """``paylink serve --workers 2`` on ``port``, its output in ``tmp_path / log_name``."""
    return start_serve(
        tmp_path,
        outside_env(**variables),
        tmp_path / log_name,
        "--workers",
        "2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )


@contextmanager
def serving(
    tmp_path: Path, port: int, log_name: str, reaper: list[Proc], **variables: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``paylink serve --workers 2``, healthy, for the block; then SIGTERM, which it must
    exit 0 on. Whatever it started goes to the ``reaper``."""
    log = tmp_path / log_name
    serve = start_workers(tmp_path, port, log_name, **variables)
    try:
        wait_healthy(serve, f"http://127.0.0.1:{port}", log)
        yield serve
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=20) == 0, log.read_text()
    finally:
        reaper.extend(descendants(serve.pid))
        if serve.poll() is None:
            serve.kill()
            serve.wait(timeout=10)


def wait_for_children(parent: int) -> list[Proc]:
    """The two HTTP workers and the projections process, once all have started."""
    deadline = time.monotonic() + 10
    while True:
        children = descendants(parent)
        workers = [c for c in children if "spawn_main" in c.cmdline]
        projections = [c for c in children if "projections run" in c.cmdline]
        if len(workers) == 2 and len(projections) == 1:
            return children
        if time.monotonic() > deadline:
            pytest.fail(f"expected 2 workers and the projections under {parent}: {children}")
        time.sleep(0.1)


@pytest.fixture
def reaper() -> Iterator[list[Proc]]:
    """Processes the test started; whatever is still running at the end is killed."""
    started: list[Proc] = []
    yield started
    for proc in started:
        if running(proc):
            os.kill(proc.pid, signal.SIGKILL)


def test_killing_serve_workers_with_sigkill_takes_every_child_down_and_the_port_serves_again(
    tmp_path: Path, reaper: list[Proc]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    first = start_workers(tmp_path, port, "first.log")
    try:
        wait_healthy(first, url, tmp_path / "first.log")
        children = wait_for_children(first.pid)
    finally:
        reaper.extend(descendants(first.pid))
        first.kill()
        first.wait(timeout=10)

    deadline = time.monotonic() + 10
    while (alive := [c for c in children if running(c)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive == [], "children outlived the parent killed with SIGKILL"
    assert port_is_free(port), f"port {port} is still held after the parent was killed"

    with serving(tmp_path, port, "second.log", reaper) as second:
        wait_for_children(second.pid)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    assert [c for c in reaper if running(c)] == []


def test_a_child_whose_parent_is_already_gone_when_it_asks_gets_sigterm_at_once() -> None:
    code = (
        "import time; from paylink_es.process import die_with_parent; "
        "die_with_parent(0); time.sleep(10)"  # pid 0 is never the parent: as if it had died
    )
    child = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], timeout=10, check=False
    )
    assert child.returncode == -signal.SIGTERM


def test_a_link_expires_as_an_event_and_its_webhook_is_sent_while_serve_runs_with_workers(
    tmp_path: Path, reaper: list[Proc]
) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "paylink_es", "merchants", "create", "--name", "Toko Kilat"],
        cwd=tmp_path,
        env=outside_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.rsplit(": ", 1)[1].strip()
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    allowed = {"PAYLINK_ALLOW_PRIVATE_WEBHOOKS": "true"}
    with webhook_receiver() as endpoint, serving(tmp_path, port, "serve.log", reaper, **allowed):
        hooked = httpx.post(
            f"{url}/v1/webhook-endpoints",
            json={"url": endpoint.url, "event_types": ["link.expired"]},
            headers=headers,
            timeout=10,
        )
        assert hooked.status_code == 201, hooked.text
        expires = datetime.now(tz=UTC) + timedelta(seconds=2)
        link = httpx.post(
            f"{url}/v1/links",
            json={"amount": 25_000, "description": "Flash", "expires_at": expires.isoformat()},
            headers=headers,
            timeout=10,
        )
        assert link.status_code == 201, link.text
        deadline = time.monotonic() + 60  # a generous bound: this is no speed test
        expired: list[dict[str, object]] = []
        while not expired and time.monotonic() < deadline:
            time.sleep(0.5)
            feed = httpx.get(
                f"{url}/v1/events", params={"type": "link.expired"}, headers=headers, timeout=10
            )
            expired = feed.json()["data"]
        assert [event["data"] for event in expired] == [
            {"object": "payment_link", "id": link.json()["id"]}
        ], (tmp_path / "serve.log").read_text()
        # The workers' process sends webhooks too: the expiry reaches the endpoint.
        while not endpoint.events() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert endpoint.events() == [expired[0]["id"]], (tmp_path / "serve.log").read_text()
