"""SNAP signatures: what is signed, and the RSA and HMAC signers and verifiers.

Requests and callbacks are signed over ``METHOD:path:hex(sha256(body)):X-TIMESTAMP``
with RSA (SHA256withRSA, Winpay's "asymmetric without access token"), or — generic SNAP —
with HMAC-SHA512 (key: the client secret) over
``METHOD:path:token:hex(sha256(body)):X-TIMESTAMP``, the token being a B2B access token
(:mod:`paylink_es.channels.snap_tokens`). Keys and secrets never show in a repr.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paylink_es.channels.snap_keys import load_private_key, load_public_key


def string_to_sign(method: str, path: str, body: bytes, timestamp: str) -> str:
    """``METHOD:path:hex(sha256(body)):timestamp`` — what the RSA scheme signs."""
    return f"{method.upper()}:{path}:{hashlib.sha256(body).hexdigest()}:{timestamp}"


def hmac_string_to_sign(method: str, path: str, token: str, body: bytes, timestamp: str) -> str:
    """``METHOD:path:token:hex(sha256(body)):timestamp`` — what generic SNAP HMAC signs."""
    return f"{method.upper()}:{path}:{token}:{hashlib.sha256(body).hexdigest()}:{timestamp}"


def b2b_string_to_sign(client_key: str, timestamp: str) -> str:
    """``clientKey|X-TIMESTAMP`` — what the B2B access-token request signs (SHA256withRSA)."""
    return f"{client_key}|{timestamp}"


class Signer(Protocol):
    """Signs an outgoing request; adds whatever authorization the scheme needs."""

    def sign(self, method: str, path: str, body: bytes, timestamp: str) -> str: ...

    def auth_headers(self) -> dict[str, str]: ...


class Verifier(Protocol):
    """Checks the X-SIGNATURE of an incoming request."""

    def verify(
        self, method: str, path: str, body: bytes, timestamp: str, signature: str
    ) -> bool: ...


def _b64decode(signature: str) -> bytes | None:
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None


class RsaSigner:
    """SHA256withRSA (PKCS#1 v1.5) with the merchant's private key; the key never prints."""

    __slots__ = ("_key",)

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    @classmethod
    def from_pem(cls, pem: str, password: str | None = None) -> RsaSigner:
        """Load an RSA private key: PEM (PKCS#1 or PKCS#8) or bare base64 DER."""
        return cls(load_private_key(pem, password))

    def public_key_pem(self) -> str:
        """The matching public key, to register with the provider."""
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, method: str, path: str, body: bytes, timestamp: str) -> str:
        """Base64 SHA256withRSA over the string to sign."""
        return self.sign_text(string_to_sign(method, path, body, timestamp))

    def sign_text(self, message: str) -> str:
        """Base64 SHA256withRSA over ``message`` (e.g. the B2B token's ``clientKey|stamp``)."""
        return base64.b64encode(
            self._key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        ).decode()

    def auth_headers(self) -> dict[str, str]:
        """The asymmetric scheme needs no access token."""
        return {}

    def __repr__(self) -> str:
        return f"RsaSigner(key=<hidden {self._key.key_size}-bit RSA private key>)"


@dataclass(frozen=True)
class RsaVerifier:
    """Checks SHA256withRSA signatures with the provider's public key."""

    key: rsa.RSAPublicKey

    @classmethod
    def from_pem(cls, pem: str) -> RsaVerifier:
        """Load an RSA public key: PEM (SubjectPublicKeyInfo or PKCS#1) or bare base64 DER."""
        return cls(load_public_key(pem))

    def verify(self, method: str, path: str, body: bytes, timestamp: str, signature: str) -> bool:
        """True if ``signature`` signs exactly these method, path, body and timestamp."""
        raw = _b64decode(signature)
        if raw is None:
            return False
        message = string_to_sign(method, path, body, timestamp).encode()
        try:
            self.key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True


class HmacSigner:
    """Generic SNAP: HMAC-SHA512 with the client secret over a string holding the B2B token."""

    __slots__ = ("_secret", "_token")

    def __init__(self, client_secret: str, access_token: str) -> None:
        self._secret = client_secret.encode()
        self._token = access_token

    def sign(self, method: str, path: str, body: bytes, timestamp: str) -> str:
        """Base64 HMAC-SHA512 over the string to sign."""
        message = hmac_string_to_sign(method, path, self._token, body, timestamp).encode()
        return base64.b64encode(hmac.new(self._secret, message, hashlib.sha512).digest()).decode()

    def verify(self, method: str, path: str, body: bytes, timestamp: str, signature: str) -> bool:
        """True if ``signature`` is ours for these method, path, body and timestamp."""
        expected = self.sign(method, path, body, timestamp)
        return hmac.compare_digest(expected.encode(), signature.encode())

    def auth_headers(self) -> dict[str, str]:
        """The B2B access token as a bearer token."""
        return {"Authorization": f"Bearer {self._token}"}

    def carries(self, access_token: str) -> bool:
        """Whether this signer signs with ``access_token`` (without showing it)."""
        return hmac.compare_digest(self._token.encode(), access_token.encode())

    def __repr__(self) -> str:
        return "HmacSigner(client_secret=<hidden>, access_token=<hidden>)"


class HmacVerifier:
    """Generic SNAP callbacks: HMAC-SHA512 with the shared client secret.

    The string signed holds the bearer token the caller presents in ``Authorization``;
    :class:`SnapCallbackVerifier` takes it from there. ``token_valid`` may also require the
    token to be one we issued (by default any non-empty token: the secret authenticates).
    """

    __slots__ = ("_secret", "_token_valid")

    def __init__(
        self, client_secret: str, token_valid: Callable[[str], bool] | None = None
    ) -> None:
        self._secret = client_secret
        self._token_valid = token_valid

    def token_valid(self, token: str) -> bool:
        """Whether a callback may present ``token`` at all."""
        return bool(token) and (self._token_valid is None or self._token_valid(token))

    def verify(self, method: str, path: str, body: bytes, timestamp: str, signature: str) -> bool:
        """Never true without the token; see :meth:`verify_with_token`."""
        del method, path, body, timestamp, signature
        return False

    def verify_with_token(
        self, method: str, path: str, body: bytes, timestamp: str, signature: str, token: str
    ) -> bool:
        """True if ``signature`` is the HMAC-SHA512 of these fields and ``token``."""
        return HmacSigner(self._secret, token).verify(method, path, body, timestamp, signature)

    def __repr__(self) -> str:
        return "HmacVerifier(client_secret=<hidden>)"
