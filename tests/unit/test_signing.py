"""The one signing module: tokens and sealed values, per purpose, with expiry — pure."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from paylink_es.domain.errors import InvalidFieldError
from paylink_es.settings import Settings
from paylink_es.signing import Signer, installation_secret, signing_secret

SECRET = b"an installation secret of thirty-two bytes"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
TTL = 12 * 3600


def test_a_token_is_checked_and_anything_else_refused() -> None:
    csrf = Signer(SECRET, "page:csrf")
    token = csrf.token("visitor:ABCDEF")
    assert len(token) == 64
    assert csrf.token_ok("visitor:ABCDEF", token)
    assert csrf.token_ok(b"visitor:ABCDEF", token)
    for given in ("", "0" * 64, token[:-1], token.upper(), f"{token} ", None, 42, b"x"):
        assert not csrf.token_ok("visitor:ABCDEF", given), given
    assert not csrf.token_ok("visitor:OTHER", token)


def test_a_non_ascii_token_is_refused_not_an_error() -> None:
    # hmac.compare_digest raises TypeError on non-ASCII text: the check must answer False.
    assert not Signer(SECRET, "page:csrf").token_ok("m", "é" * 64)


def test_each_purpose_and_each_secret_has_its_own_key() -> None:
    message = "nonce-1"
    tokens = {
        Signer(SECRET, "dashboard:csrf").token(message),
        Signer(SECRET, "dashboard:login").token(message),
        Signer(b"another secret", "dashboard:csrf").token(message),
    }
    assert len(tokens) == 3
    assert not Signer(SECRET, "dashboard:login").token_ok(
        message, Signer(SECRET, "dashboard:csrf").token(message)
    )


def test_a_sealed_value_opens_until_it_expires() -> None:
    session = Signer(SECRET, "dashboard:session")
    sealed = session.seal(["user", "test", "nonce", 3], NOW)
    assert session.unseal(sealed, now=NOW, max_age_s=TTL) == (["user", "test", "nonce", 3], NOW)
    assert session.unseal(sealed, now=NOW + TTL, max_age_s=TTL) is not None
    assert session.unseal(sealed, now=NOW + TTL + 1, max_age_s=TTL) is None


def test_a_sealed_value_is_its_payload_and_the_payloads_hmac() -> None:
    session = Signer(SECRET, "dashboard:session")
    sealed = session.seal(["u", 1], NOW)
    encoded, _, signature = sealed.partition(".")
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    assert json.loads(payload) == ["u", 1, NOW]
    assert session.token_ok(payload, signature)


@pytest.mark.parametrize(
    "tamper",
    [
        "signature",
        "payload",
        "other purpose",
        "no dot",
        "not base64",
        "not json",
        "not a list",
        "issued not an integer",
        "issued a boolean",
        "empty list",
    ],
)
def test_a_forged_or_malformed_sealed_value_is_refused(tamper: str) -> None:
    session = Signer(SECRET, "dashboard:session")
    sealed = session.seal(["user", "test"], NOW)
    encoded, _, signature = sealed.partition(".")

    def signed(payload: bytes) -> str:
        text = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{text}.{session.token(payload)}"

    forged = {
        "signature": f"{encoded}.{'0' * len(signature)}",
        "payload": signed(b'["admin","live",0]')[: -len(signature)] + signature,
        "other purpose": Signer(SECRET, "page:csrf").seal(["user", "test"], NOW),
        "no dot": encoded,
        "not base64": f"***.{signature}",
        "not json": signed(b"{not json"),
        "not a list": signed(b'{"issued": 1767225600}'),
        "issued not an integer": signed(b'["user", "1767225600"]'),
        "issued a boolean": signed(b'["user", true]'),
        "empty list": signed(b"[]"),
    }[tamper]
    assert session.unseal(forged, now=NOW, max_age_s=TTL) is None


def test_the_signer_never_shows_its_key() -> None:
    assert "thirty-two" not in repr(Signer(SECRET, "p"))


def test_the_installation_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = installation_secret(tmp_path / "var", "secret.key")
    assert installation_secret(tmp_path / "var", "secret.key") == first
    assert len(first) >= 40
    mode = stat.S_IMODE((tmp_path / "var" / "secret.key").stat().st_mode)
    assert mode == 0o600
    assert installation_secret(tmp_path / "var", "sandbox.key") != first


def test_the_setting_wins_over_the_installation_secret(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path, secret_key=SecretStr("from-the-environment"))
    assert signing_secret(configured) == b"from-the-environment"
    assert not (tmp_path / "secret.key").exists()
    made = Settings(data_dir=tmp_path)
    assert signing_secret(made) == (tmp_path / "secret.key").read_text().strip().encode()


def test_production_never_invents_a_signing_secret(tmp_path: Path) -> None:
    # Settings from the environment refuse this already; settings copied past that check
    # still get no key made up in var/.
    unchecked = Settings(data_dir=tmp_path).model_copy(update={"environment": "production"})
    with pytest.raises(InvalidFieldError) as refused:
        signing_secret(unchecked)
    assert refused.value.field == "secret_key"
    assert not (tmp_path / "secret.key").exists()
    given = unchecked.model_copy(update={"secret_key": SecretStr("p" * 32)})
    assert signing_secret(given) == b"p" * 32
