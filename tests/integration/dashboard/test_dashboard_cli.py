"""``paylink users create``: the first owner's login, from the command line."""

from __future__ import annotations

import io
import re
from pathlib import Path
from uuid import UUID

import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.entrypoints.cli import main
from paylink_es.settings import Settings
from tests.support.desk import PASSWORD


def test_users_create_makes_a_login_that_signs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYLINK_DATA_DIR", str(tmp_path / "var"))
    assert main(["merchants", "create", "--name", "Toko Budi"]) == 0
    found = re.search(r"Merchant: ([0-9a-f-]{36})", capsys.readouterr().out)
    assert found is not None
    merchant = found.group(1)
    argv = ["users", "create", "--merchant", merchant, "--email", "Budi@Toko.Example"]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main([*argv, "--role", "viewer", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert "viewer of merchant" in out
    assert "/dashboard" in out

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main([*argv, "--password-stdin"]) == 1
    assert "has an account already" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*argv[:-1], "other@toko.example", "--password-stdin"]) == 1
    assert "password: must be at least 10 characters" in capsys.readouterr().err

    with open_paylink(Settings(data_dir=tmp_path / "var")) as app:
        user = app.users.sign_in("budi@toko.example", PASSWORD)
    assert user.merchant_id == UUID(merchant)
    assert user.role == "viewer"
