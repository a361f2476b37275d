"""How the SQLite files are used: writers take turns through the write gate; views skip fsync.

The event store commits with ``synchronous=FULL``; a view, whose rows commit with their
tracking position and can be processed again, with ``NORMAL``. Writers of one store in
several processes queue on ``<store>.write-gate`` instead of SQLite's sleeping busy
handler.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from paylink_es.store.sqlite import WriteGatePool
from projections.runner import ReadModels


def gate_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_a_writer_holds_the_gate_until_it_puts_its_connection_back(tmp_path: Path) -> None:
    app = open_paylink(Settings(data_dir=tmp_path))
    try:
        pool = app.app.recorder.datastore.pool  # type: ignore[attr-defined]
        assert isinstance(pool, WriteGatePool)
        gate = tmp_path / "paylink.sqlite3.write-gate"
        assert gate_is_free(gate)
        writer = pool.get_connection(is_writer=True)
        assert not gate_is_free(gate)
        pool.put_connection(writer)
        assert gate_is_free(gate)
        reader = pool.get_connection(is_writer=False)
        assert gate_is_free(gate)  # readers never take it
        pool.put_connection(reader)
    finally:
        app.close()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from uuid import UUID
    from paylink_es.bootstrap import open_paylink
    from paylink_es.settings import Settings

    app = open_paylink(Settings(data_dir=Path(sys.argv[1])))
    merchant = UUID(sys.argv[2])
    for i in range(int(sys.argv[3])):
        app.links.create(merchant, amount=1_000 + i, description=f"from {sys.argv[4]}")
    app.close()
    """
)


def test_processes_writing_one_store_at_once_all_get_their_writes_in(tmp_path: Path) -> None:
    app = open_paylink(Settings(data_dir=tmp_path))
    merchant = app.merchants.register("Toko Budi")
    app.close()
    count = 150
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WRITER, str(tmp_path), str(merchant), str(count), name],
            env=env,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b", "c")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()

    app = open_paylink(Settings(data_dir=tmp_path))
    try:
        created = [
            n
            for n in app.app.recorder.select_notifications(start=1, limit=10_000)
            if n.topic == "paylink_es.domain.link:PaymentLink.Created"
        ]
        assert len(created) == 3 * count
    finally:
        app.close()


@pytest.mark.parametrize("name", ["links", "ledger"])
def test_views_commit_without_fsync_and_the_store_with_it(tmp_path: Path, name: str) -> None:
    settings = Settings(data_dir=tmp_path)
    app = open_paylink(settings)
    models = ReadModels(settings, [name])
    try:
        view = models[name].view
        with view.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL
            cursor.execute("PRAGMA secure_delete")
            assert cursor.fetchone()[0] == 0  # freed view pages are not zeroed
        with app.app.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL
    finally:
        models.close()
        app.close()
