"""``paylink serve`` as a real process, for the end-to-end tests: started in a folder of
its own with its output in a log, waited for until it answers, stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest


def outside_env(**variables: str) -> dict[str, str]:
    """This process's environment without any PAYLINK_* (nothing from outside steers a
    child), plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    return env | variables


def start_serve(
    cwd: Path, env: Mapping[str, str], log: Path, *args: str
) -> subprocess.Popen[bytes]:
    """``paylink serve ARGS`` with this interpreter, in ``cwd``, its output in ``log``."""
    with log.open("w") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "paylink_es", "serve", *args],
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


# A bound against a server that never starts, not a measure of how fast it starts: the
# suite's workers share the cores with the servers they start.
STARTUP_S = 60.0


def wait_healthy(
    process: subprocess.Popen[bytes], url: str, log: Path, within: float = STARTUP_S
) -> None:
    """Wait until ``url``'s /healthz answers 200; fail with the log if the process dies or
    ``within`` seconds pass first."""
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"server did not start:\n{log.read_text()}")
        time.sleep(0.1)
