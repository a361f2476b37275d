"""A throwaway PostgreSQL primary and its streaming standby, on loopback ports of their own.

Made with the server's own tools, as an operator would: ``initdb``, ``pg_basebackup -R``
(the standby follows the primary), ``pg_ctl start``; then ``pg_ctl stop -m immediate``
kills the primary and ``pg_ctl promote`` makes the standby the primary. Replication is
synchronous (``synchronous_standby_names = '*'``, ``synchronous_commit = on``): a commit
is acknowledged once the standby has it on disk, so the promoted standby has every write
that was acknowledged. The standby itself names no synchronous standby, or its commits
would wait forever once it is the primary with nobody following it.

The binaries are PostgreSQL's (``initdb`` on the PATH or under ``/usr/lib/postgresql``);
without them the tests that need a pair skip loudly, or fail where
``PAYLINK_REQUIRE_POSTGRES=1``. Run as root, the servers run as ``postgres``
(``runuser``), in a folder that user owns. The pair does not touch any other server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.app import free_port
from tests.support.loud_skips import unavailable

REQUIRE_VAR = "PAYLINK_REQUIRE_POSTGRES"
SKIP_PREFIX = "POSTGRESQL NOT AVAILABLE"  # the banner tests/conftest.py shows at the end
TOOLS = ("initdb", "pg_ctl", "pg_basebackup")
TOOL_S = 120.0  # a bound against a tool that hangs, not a measure of its speed
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c max_connections=40 -c shared_buffers=16MB"
    " -c fsync=off -c full_page_writes=off -c wal_keep_size=64MB"
)


def postgres_bin() -> Path | None:
    """Where PostgreSQL's server tools are (the newest version installed), or None."""
    installed = sorted(
        (path.parent for path in Path("/usr/lib/postgresql").glob("*/bin")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    candidates = [*installed, *([Path(on_path).resolve().parent] if on_path else [])]
    for folder in candidates:
        if all((folder / tool).exists() for tool in TOOLS):
            return folder
    return None


@dataclass
class PgServer:
    """One server of the pair: its data folder and port."""

    data: Path
    port: int

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"


class PgPair:
    """A primary and its synchronous streaming standby (see the module's docstring)."""

    def __init__(self, folder: Path, bindir: Path) -> None:
        self.folder = folder
        self.bindir = bindir
        self.primary = PgServer(folder / "primary", free_port())
        self.standby = PgServer(folder / "standby", free_port())
        self._run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    # -- the URLs a node is given -------------------------------------------------------

    def failover_url(self) -> str:
        """Both servers, the primary first, connecting to whichever is read-write."""
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
        return f"postgresql://postgres@{hosts}/postgres?target_session_attrs=read-write"

    # -- the servers' lives -------------------------------------------------------------

    def _tool(self, name: str, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, our arguments
            [*self._run_as, str(self.bindir / name), *args],
            capture_output=True,
            text=True,
            timeout=TOOL_S,
            check=False,
            cwd=self.folder,
        )
        if done.returncode != 0:
            msg = f"{name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
            raise RuntimeError(msg)

    def _start(self, server: PgServer, *options: str) -> None:
        extra = " ".join(options)
        self._tool(
            "pg_ctl",
            *("-D", str(server.data), "-l", str(server.data.parent / f"{server.data.name}.log")),
            *("-w", "-t", "60"),
            *("-o", f"-p {server.port} -k {self.folder} {SERVER_OPTIONS} {extra}"),
            "start",
        )

    def start(self) -> None:
        """initdb the primary, start it, copy it to the standby and start that."""
        self._tool("initdb", "-D", str(self.primary.data), "-U", "postgres", "-A", "trust", "-N")
        self._start(
            self.primary,
            "-c synchronous_standby_names='*'",  # quoted: pg_ctl starts it through a shell
            "-c synchronous_commit=on",
        )
        self._tool(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.standby.data), "-R", "-X", "stream", "-c", "fast", "-N"),
        )
        # The standby, once promoted, must not wait for a standby of its own.
        with (self.standby.data / "postgresql.auto.conf").open("a") as conf:
            conf.write("synchronous_standby_names = ''\n")
        self._start(self.standby)
        self.wait_synchronous()

    def wait_synchronous(self, within: float = 60.0) -> None:
        """Wait until the primary sees its standby streaming as a synchronous one."""
        deadline = time.monotonic() + within
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication"
                    " WHERE state = 'streaming' AND sync_state = 'sync'"
                ).fetchone()
                if row is not None and row[0] == 1:
                    return
                if time.monotonic() > deadline:
                    msg = f"the standby did not stream within {within:.0f} s:\n{self.logs()}"
                    raise RuntimeError(msg)
                time.sleep(0.05)

    def kill_primary(self) -> None:
        """Stop the primary at once, as a crash would (``pg_ctl stop -m immediate``)."""
        self._tool("pg_ctl", "-D", str(self.primary.data), "-m", "immediate", "stop")

    def promote(self) -> None:
        """Make the standby the primary and wait until it takes writes."""
        self._tool("pg_ctl", "-D", str(self.standby.data), "-w", "-t", "60", "promote")

    def stop_standby(self) -> None:
        """Stop the standby (the primary's commits wait for it from then on)."""
        self._tool("pg_ctl", "-D", str(self.standby.data), "-m", "fast", "stop")

    def stop(self) -> None:
        """Stop whatever still runs (quickly: the data is thrown away)."""
        for server in (self.standby, self.primary):
            if (server.data / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self._tool("pg_ctl", "-D", str(server.data), "-m", "immediate", "stop")

    def logs(self) -> str:
        """The servers' logs' ends, for a failure's message."""
        parts = []
        for server in (self.primary, self.standby):
            log = server.data.parent / f"{server.data.name}.log"
            if log.exists():
                parts.append(f"--- {server.data.name}\n{log.read_text()[-3000:]}")
        return "\n".join(parts)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def pg_pair() -> Iterator[PgPair]:
    """A started primary and standby, stopped and deleted afterwards; a loud skip (a
    failure under ``PAYLINK_REQUIRE_POSTGRES=1``) when PostgreSQL's tools are missing."""
    bindir = postgres_bin()
    if bindir is None:
        unavailable(
            f"{SKIP_PREFIX}: no initdb (PostgreSQL's server tools) for a primary and standby",
            REQUIRE_VAR,
            "install PostgreSQL's server package to run the replication tests",
        )
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        unavailable(
            f"{SKIP_PREFIX}: running as root, with no runuser or no postgres user to run"
            " PostgreSQL's servers",
            REQUIRE_VAR,
            "run the tests as a user other than root",
        )
    # Not under pytest's tmp_path: its parents are root's alone, and the servers run as
    # postgres.
    folder = Path(tempfile.mkdtemp(prefix="paylink-pgpair-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    pair = PgPair(folder, bindir)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(folder, ignore_errors=True)
