"""Signed values handed to browsers: one place signs them and checks them.

A :class:`Signer` holds an HMAC-SHA256 key derived for one purpose from the
installation's secret (``PAYLINK_SECRET_KEY``; in development, when it is unset,
``var/secret.key`` made once), so a token made for one purpose is worth nothing for
another. It makes

- tokens: the hex HMAC of a message (CSRF tokens of the hosted page, the dashboard and
  its sign-in form), which live as long as what they are bound to (a visitor, a session);
- sealed values: a JSON list with its issue time last, as ``base64url(payload).hex(HMAC)``
  (the dashboard's session cookie), refused once older than a maximum age.

Every check compares in constant time (``hmac.compare_digest``) and answers ``False``
or ``None`` for anything forged, malformed or expired; it never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from paylink_es.domain.errors import InvalidFieldError
from paylink_es.settings import Settings

JsonScalar = str | int | bool | None
SECRET_FILE: Final = "secret.key"  # noqa: S105 (a file name, not a secret)


def installation_secret(data_dir: Path, name: str) -> str:
    """A random secret made once for this installation, kept in ``data_dir/name``.

    The file is readable by its owner only; later calls (and other processes) read it.
    """
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def signing_secret(settings: Settings) -> bytes:
    """The secret every :class:`Signer` derives from: the setting, or (development only)
    the installation's.

    Production never invents one: without ``PAYLINK_SECRET_KEY`` it is an
    InvalidFieldError (settings built from the environment refuse that already).
    """
    secret = settings.secret_key
    configured = secret.get_secret_value() if secret is not None else ""
    if configured:
        return configured.encode()
    if settings.environment == "production":
        raise InvalidFieldError("secret_key", "must be set in production")
    return installation_secret(settings.data_dir, SECRET_FILE).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks values for one purpose (``"dashboard:session"``, ``"page:csrf"``…)."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self.purpose = purpose
        self._key = hmac.new(secret, purpose.encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"Signer({self.purpose!r})"  # never the key

    def token(self, message: str | bytes) -> str:
        """The hex HMAC-SHA256 of ``message``."""
        data = message.encode() if isinstance(message, str) else message
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def token_ok(self, message: str | bytes, given: object) -> bool:
        """Whether ``given`` is :meth:`token` of ``message`` (compared in constant time)."""
        if not isinstance(given, str) or not given.isascii():
            return False
        return hmac.compare_digest(self.token(message), given)

    def seal(self, values: Sequence[JsonScalar], issued: int) -> str:
        """``values`` and their issue time (unix seconds), signed: ``payload.signature``."""
        payload = json.dumps([*values, issued], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self.token(payload)}"

    def unseal(self, sealed: str, *, now: int, max_age_s: float) -> tuple[list[object], int] | None:
        """The values and issue time of a sealed value of ours no older than ``max_age_s``
        at ``now``; ``None`` when it is forged, malformed or expired."""
        encoded, _, signature = sealed.partition(".")
        try:
            payload = _unb64(encoded)
        except ValueError:  # binascii.Error included
            return None
        if not self.token_ok(payload, signature):
            return None
        try:
            parts = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(parts, list) or not parts or type(parts[-1]) is not int:
            return None
        *values, issued = parts
        if now - issued > max_age_s:
            return None
        return values, issued
