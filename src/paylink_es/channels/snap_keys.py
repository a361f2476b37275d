"""SNAP keys: RSA private and public keys as providers hand them out.

Providers hand keys out as PEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY"; public
keys as "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY") or as the bare base64 of the DER bytes,
and settings often carry them on one line with a literal backslash-n. All are accepted; a
text that holds no key is a :class:`SnapKeyInvalidError`, which never shows the key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.channels.snap_codes import SnapKeyInvalidError


def _key_text(text: str) -> str:
    return text.replace("\\n", "\n").strip()


def _bare_der(text: str) -> bytes | None:
    compact = "".join(text.split())
    if not compact or "-----" in compact:
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def load_private_key(text: str, password: str | None = None) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8) or bare base64 DER.

    A text that holds none is a SnapKeyInvalidError (the key never shows in it).
    """
    clean = _key_text(text)
    secret = password.encode() if password else None
    der = _bare_der(clean)
    try:
        if der is not None:
            key: object = serialization.load_der_private_key(der, secret)
        else:
            key = serialization.load_pem_private_key(clean.encode(), secret)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SnapKeyInvalidError(
            "not a readable private key (PEM, PKCS#1 or PKCS#8, or base64 DER)"
        ) from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SnapKeyInvalidError("the private key is not an RSA key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1) or bare base64 DER."""
    clean = _key_text(text)
    der = _bare_der(clean)
    attempts: list[Callable[[], object]] = []
    if der is not None:
        attempts.append(lambda: serialization.load_der_public_key(der))
        wrapped = base64.encodebytes(der).decode()
        armored = f"-----BEGIN RSA PUBLIC KEY-----\n{wrapped}-----END RSA PUBLIC KEY-----\n"
        attempts.append(lambda: serialization.load_pem_public_key(armored.encode()))
    else:
        attempts.append(lambda: serialization.load_pem_public_key(clean.encode()))
    for attempt in attempts:
        try:
            key = attempt()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnapKeyInvalidError("the public key is not an RSA key")
        return key
    raise SnapKeyInvalidError("not a readable public key (PEM or base64 DER)")
