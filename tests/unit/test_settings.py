"""Settings hygiene: secrets never show, production refuses secrets everyone knows or the
code would invent, and reading settings touches no disk."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

import paylink_es.settings
from paylink_es.entrypoints.cli import main
from paylink_es.settings import (
    MIN_SECRET_KEY_LENGTH,
    PUBLIC_SANDBOX_SECRET,
    SECRETS,
    Settings,
    without_password,
)

KEY = "k3y-" + "x" * 40
SECRET_VALUES = {
    "smtp_password": "smtp-pa55word-value",
    "sms_gateway_token": "sms-token-value-9f8e",
    "whatsapp_token": "EAAG-whatsapp-value",
    "secret_key": KEY,
    "sandbox_secret": "sandbox-secret-value-1a2b",
    "winpay_private_key": "-----BEGIN PRIVATE KEY-----\nMIIEv-private-value\n",
    "winpay_client_secret": "winpay-client-secret-value",
}
DB_PASSWORD = "db-pa55word-value"
DATABASE_URL = f"postgresql://paylink:{DB_PASSWORD}@db.example:5432/paylink"


def every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(f"PAYLINK_{name.upper()}", value)
    monkeypatch.setenv("PAYLINK_DATABASE_URL", DATABASE_URL)


def test_every_secret_setting_is_a_secret_str() -> None:
    assert set(SECRETS) == set(SECRET_VALUES)
    for name in SECRETS:
        assert Settings.model_fields[name].annotation == SecretStr | None, name
    # A setting named like a secret must be declared one (a path to one is no secret).
    for name in Settings.model_fields:
        words = ("password", "token", "secret", "private_key")
        if any(word in name for word in words) and not name.endswith("_path"):
            assert name in SECRETS, name


def test_repr_str_and_logs_show_no_secret(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    every_secret(monkeypatch)
    settings = Settings()
    for name, value in SECRET_VALUES.items():
        secret = getattr(settings, name)
        assert isinstance(secret, SecretStr), name
        assert secret.get_secret_value() == value  # where it is used, it is all there
    assert settings.database_url == DATABASE_URL
    caplog.set_level(logging.INFO)
    logging.getLogger("paylink.test").info("settings: %s / %r", settings, settings)
    for shown in (repr(settings), str(settings), caplog.text):
        for value in (*SECRET_VALUES.values(), DB_PASSWORD):
            assert value not in shown
    dumped = settings.model_dump_json()
    assert all(value not in dumped for value in SECRET_VALUES.values())
    assert "postgresql://paylink:***@db.example:5432/paylink" in repr(settings)


def test_a_validation_error_echoes_no_value(monkeypatch: pytest.MonkeyPatch) -> None:
    every_secret(monkeypatch)
    monkeypatch.setenv("PAYLINK_DATABASE_URL", f"mysql://root:{DB_PASSWORD}@db/paylink")
    monkeypatch.setenv("PAYLINK_PORT", f"not-a-port-{KEY}")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "PAYLINK_DATABASE_URL" in message
    assert "port" in message
    for value in (*SECRET_VALUES.values(), DB_PASSWORD):
        assert value not in message


def test_a_url_loses_only_its_password() -> None:
    assert (
        without_password("postgresql://u:p%40ss@h:5432/db?x=1")
        == "postgresql://u:***@h:5432/db?x=1"
    )
    assert without_password("postgresql://u@h/db") == "postgresql://u@h/db"
    assert without_password("postgresql://h/db") == "postgresql://h/db"


def test_an_empty_secret_is_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.setenv(f"PAYLINK_{name.upper()}", "")
    settings = Settings()
    assert all(getattr(settings, name) is None for name in SECRETS)


# -- production ------------------------------------------------------------------------


def test_development_needs_no_secret_at_all() -> None:
    assert Settings().live_secret_problems() == []
    public = Settings(sandbox_secret=SecretStr(PUBLIC_SANDBOX_SECRET))
    assert public.live_secret_problems() == []  # tests and demos may still use it


def test_production_refuses_to_start_without_a_secret_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAYLINK_ENVIRONMENT", "production")
    monkeypatch.setenv("PAYLINK_DATA_DIR", str(tmp_path / "var"))
    with pytest.raises(ValidationError, match="PAYLINK_SECRET_KEY must be set in production"):
        Settings()
    monkeypatch.setenv("PAYLINK_SECRET_KEY", "")
    with pytest.raises(ValidationError, match="PAYLINK_SECRET_KEY must be set in production"):
        Settings()
    short = "s" * (MIN_SECRET_KEY_LENGTH - 1)
    monkeypatch.setenv("PAYLINK_SECRET_KEY", short)
    with pytest.raises(ValidationError, match="at least 32 characters") as refused:
        Settings()
    assert short not in str(refused.value)
    monkeypatch.setenv("PAYLINK_SECRET_KEY", KEY)
    assert Settings().secret_key == SecretStr(KEY)
    assert not (tmp_path / "var").exists()  # no var/secret.key was made on the way


def test_production_refuses_the_public_sandbox_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLINK_ENVIRONMENT", "production")
    monkeypatch.setenv("PAYLINK_SECRET_KEY", KEY)
    monkeypatch.setenv("PAYLINK_SANDBOX_SECRET", PUBLIC_SANDBOX_SECRET)
    with pytest.raises(ValidationError, match="PAYLINK_SANDBOX_SECRET is the public default"):
        Settings()
    monkeypatch.setenv("PAYLINK_SANDBOX_SECRET", "an own sandbox secret, long enough")
    assert Settings().live_secret_problems() == []
    monkeypatch.delenv("PAYLINK_SANDBOX_SECRET")
    assert Settings().sandbox_secret is None  # var/sandbox.key, random per installation


def test_every_problem_is_named_at_once() -> None:
    settings = Settings().model_copy(
        update={"environment": "production", "sandbox_secret": SecretStr(PUBLIC_SANDBOX_SECRET)}
    )
    problems = settings.live_secret_problems()
    assert [problem.split()[0] for problem in problems] == [
        "PAYLINK_SECRET_KEY",
        "PAYLINK_SANDBOX_SECRET",
    ]


def test_the_command_line_refuses_to_start_in_production_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PAYLINK_ENVIRONMENT", "production")
    monkeypatch.setenv("PAYLINK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PAYLINK_SANDBOX_SECRET", PUBLIC_SANDBOX_SECRET)

    assert main(["projections", "status"]) == 2

    said = capsys.readouterr().err
    assert "PAYLINK_SECRET_KEY must be set in production" in said
    assert "PAYLINK_SANDBOX_SECRET is the public default" in said
    assert PUBLIC_SANDBOX_SECRET not in said
    assert not (tmp_path / "var").exists()  # it stopped before opening anything


# -- reading settings touches nothing -----------------------------------------------------


def test_reading_settings_creates_no_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "not" / "yet")
    env = settings.eventsourcing_env()
    assert env["SQLITE_DBNAME"] == str(tmp_path / "not" / "yet" / "paylink.sqlite3")
    settings.eventsourcing_env(store="other")
    assert (settings.backend, settings.public_url) == ("sqlite", "http://127.0.0.1:8000")
    settings.sqlite_path("view_links")
    repr(settings)
    assert list(tmp_path.iterdir()) == []


def test_no_property_of_settings_has_a_side_effect() -> None:
    """Properties and plain methods of Settings are pure: none opens, makes or writes."""
    text = Path(paylink_es.settings.__file__).read_text()
    for call in ("mkdir(", "open(", "write_text(", "write_bytes(", "touch("):
        assert call not in text, call
