"""SNAP, the national open API standard: keys, signatures, tokens, amounts, the client.

Requests and callbacks are signed over ``METHOD:path:hex(sha256(body)):X-TIMESTAMP``
with RSA (Winpay's "asymmetric without access token"), or — generic SNAP — with
HMAC-SHA512 (key: the client secret) over ``METHOD:path:token:hex(sha256(body)):X-TIMESTAMP``
after a B2B access token (``POST /v1.0/access-token/b2b``, itself signed SHA256withRSA over
``clientKey|X-TIMESTAMP``). :class:`SnapClient` takes either scheme: an RSA ``signer``, or
``b2b`` credentials, with which it fetches, caches and refreshes the token itself.
Amounts cross the wire as ``{"value": "10000.00", "currency": "IDR"}`` and become
:class:`Money` at this edge, exactly or not at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, timedelta
from typing import Any, Final, Protocol

import httpx
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paylink_es.channels import snap_codes as codes
from paylink_es.channels.snap_codes import (
    SnapAnswerInvalidError,
    SnapError,
    SnapKeyInvalidError,
    SnapRequestRejectedError,
    SnapUnreachableError,
)
from paylink_es.domain.errors import AmountInvalidError, InvalidFieldError
from paylink_es.domain.money import CURRENCY_EXPONENTS, Money, check_currency
from paylink_es.locale import WIB

log = logging.getLogger(__name__)

PATH_B2B_TOKEN: Final = "/v1.0/access-token/b2b"  # noqa: S105 (a path)
# A cached B2B token is replaced this long before it expires (at most half its lifetime).
TOKEN_REFRESH_MARGIN: Final = timedelta(seconds=60)

# --- signing -----------------------------------------------------------------------------


def minify(payload: Mapping[str, Any]) -> bytes:
    """The JSON bytes to send and to hash: no whitespace between tokens."""
    return json.dumps(payload, separators=(",", ":")).encode()


def string_to_sign(method: str, path: str, body: bytes, timestamp: str) -> str:
    """``METHOD:path:hex(sha256(body)):timestamp`` — what the RSA scheme signs."""
    return f"{method.upper()}:{path}:{hashlib.sha256(body).hexdigest()}:{timestamp}"


def hmac_string_to_sign(method: str, path: str, token: str, body: bytes, timestamp: str) -> str:
    """``METHOD:path:token:hex(sha256(body)):timestamp`` — what generic SNAP HMAC signs."""
    return f"{method.upper()}:{path}:{token}:{hashlib.sha256(body).hexdigest()}:{timestamp}"


def b2b_string_to_sign(client_key: str, timestamp: str) -> str:
    """``clientKey|X-TIMESTAMP`` — what the B2B access-token request signs (SHA256withRSA)."""
    return f"{client_key}|{timestamp}"


# --- keys ----------------------------------------------------------------------------------
# Providers hand keys out as PEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY"; public
# keys as "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY") or as the bare base64 of the DER bytes,
# and settings often carry them on one line with a literal backslash-n. All are accepted.


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


# --- generic SNAP: the B2B access token ----------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    """A B2B access token and its lifetime; the value never shows in a repr."""

    value: str = dataclass_field(repr=False)
    obtained_at: datetime
    expires_at: datetime

    def refresh_at(self, margin: timedelta = TOKEN_REFRESH_MARGIN) -> datetime:
        """When to replace it: ``margin`` before expiry, but not before half its lifetime."""
        lifetime = self.expires_at - self.obtained_at
        return self.expires_at - min(margin, lifetime / 2)


class AccessTokenCache:
    """One B2B token shared by every thread: fetched once, replaced before it expires.

    ``get`` fetches under a lock, so concurrent callers wait for one fetch instead of each
    asking for a token. ``invalidate`` drops the token a refused request carried (only if
    it is still the current one, so a burst of 401s replaces it once). If a refresh fails
    while the current token has not yet expired, that token is used a little longer.
    """

    def __init__(
        self,
        fetch: Callable[[], AccessToken],
        clock: Callable[[], datetime],
        margin: timedelta = TOKEN_REFRESH_MARGIN,
    ) -> None:
        self._fetch, self._clock, self._margin = fetch, clock, margin
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self.fetches = 0

    def get(self) -> AccessToken:
        """The current token, fetching a new one when there is none or it is due."""
        with self._lock:
            current = self._token
            now = self._clock()
            if current is not None and now < current.refresh_at(self._margin):
                return current
            try:
                fresh = self._fetch()
            except SnapError as error:
                if current is not None and now < current.expires_at:
                    log.warning(
                        "B2B token refresh failed, the current one is still valid: %s", error
                    )
                    return current
                raise
            self._token = fresh
            self.fetches += 1
            return fresh

    def invalidate(self, refused: HmacSigner) -> None:
        """Forget the token ``refused`` signed with, if it is still the current one."""
        with self._lock:
            if self._token is not None and refused.carries(self._token.value):
                self._token = None

    def __repr__(self) -> str:
        return f"AccessTokenCache(fetches={self.fetches}, token=<hidden>)"


class B2BCredentials:
    """Generic SNAP credentials: the client key and secret, and the RSA key for the token.

    ``client_key`` is sent in clear (X-CLIENT-KEY); the secret and the key never print.
    """

    __slots__ = ("_client_secret", "_signer", "client_key")

    def __init__(self, client_key: str, client_secret: str, signer: RsaSigner) -> None:
        if not client_key:
            raise InvalidFieldError("client_key", "is required")
        if not client_secret:
            raise InvalidFieldError("client_secret", "is required")
        self.client_key = client_key
        self._client_secret = client_secret
        self._signer = signer

    def token_headers(self, timestamp: str) -> dict[str, str]:
        """The headers of ``POST /v1.0/access-token/b2b`` at ``timestamp``."""
        return {
            "Content-Type": "application/json",
            "X-TIMESTAMP": timestamp,
            "X-CLIENT-KEY": self.client_key,
            "X-SIGNATURE": self._signer.sign_text(b2b_string_to_sign(self.client_key, timestamp)),
        }

    def signer(self, token: AccessToken) -> HmacSigner:
        """The HMAC-SHA512 signer of transactional requests made with ``token``."""
        return HmacSigner(self._client_secret, token.value)

    def verifier(self, token_valid: Callable[[str], bool] | None = None) -> HmacVerifier:
        """Checks the provider's HMAC-signed callbacks with the same shared secret."""
        return HmacVerifier(self._client_secret, token_valid)

    def __repr__(self) -> str:
        return f"B2BCredentials(client_key={self.client_key!r}, client_secret=<hidden>)"


# --- amounts and dates on the wire -------------------------------------------------------

# Winpay sends amounts both as "10000.00" and as "10000" (Winpay's own VA example).
_WIRE_VALUE = re.compile(r"(0|[1-9][0-9]{0,15})(\.[0-9]{2})?")
# Seconds, optionally with a fraction (Winpay's examples have none; some senders add
# milliseconds), and an offset or Z.
_WIRE_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([+-][0-9]{2}:[0-9]{2}|Z)"
)


def money_to_snap(amount: Money, field: str = "amount") -> dict[str, str]:
    """``Money(10000, "IDR")`` -> ``{"value": "10000.00", "currency": "IDR"}``."""
    if amount.amount <= 0:
        raise AmountInvalidError(field, f"must be greater than zero, got {amount}")
    hundredths = amount.amount * 10 ** (2 - CURRENCY_EXPONENTS[amount.currency])
    whole, cents = divmod(hundredths, 100)
    return {"value": f"{whole}.{cents:02d}", "currency": amount.currency}


def money_from_snap(wire: object, field: str = "amount") -> Money:
    """A SNAP amount object as Money, refusing anything that does not convert exactly."""
    if not isinstance(wire, dict):
        raise AmountInvalidError(field, "must be an object with value and currency")
    value = wire.get("value")
    if not isinstance(value, str) or not _WIRE_VALUE.fullmatch(value):
        raise AmountInvalidError(f"{field}.value", f"{value!r} is not an amount like '10000.00'")
    currency = check_currency(wire.get("currency"), f"{field}.currency")
    whole, _, cents = value.partition(".")
    hundredths = int(whole) * 100 + int(cents or "0")
    minor, rest = divmod(hundredths, 10 ** (2 - CURRENCY_EXPONENTS[currency]))
    if rest:
        raise AmountInvalidError(
            f"{field}.value", f"{value!r} is not a whole number of {currency} minor units"
        )
    return Money.of(minor, currency, f"{field}.value")


def snap_timestamp(moment: datetime) -> str:
    """``2024-01-11T08:57:55+07:00``: seconds, Jakarta time."""
    if moment.tzinfo is None:
        raise ValueError("a SNAP timestamp needs an aware datetime")
    return moment.astimezone(WIB).isoformat(timespec="seconds")


def parse_snap_datetime(value: object, field: str) -> datetime:
    """An aware datetime from ``YYYY-MM-DDTHH:mm:ss[.fff]+07:00`` (or ``Z``).

    Anything else is an InvalidFieldError naming ``field``.
    """
    if not isinstance(value, str) or not _WIRE_DATETIME.fullmatch(value):
        raise InvalidFieldError(field, f"{value!r} is not like 2024-01-11T08:57:55+07:00")
    try:
        return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError as error:
        raise InvalidFieldError(field, f"{value!r} is not a real date and time") from error


class ExternalIdGenerator:
    """Numeric X-EXTERNAL-ID values that never repeat within a Jakarta day in this process."""

    def __init__(self, clock: Callable[[], datetime], node: int = 0) -> None:
        if not 0 <= node <= 99:
            raise ValueError("node must be 0..99")
        self._clock, self._node = clock, node
        self._lock = threading.Lock()
        self._day: date | None = None
        self._last = -1

    def __call__(self) -> str:
        now = self._clock().astimezone(WIB)
        micros = ((now.hour * 60 + now.minute) * 60 + now.second) * 10**6 + now.microsecond
        with self._lock:
            if now.date() != self._day:
                self._day, self._last = now.date(), -1
            self._last = max(self._last + 1, micros)
            return f"{self._node:02d}{self._last:011d}"


def request_headers(
    *,
    signer: Signer,
    method: str,
    path: str,
    body: bytes,
    timestamp: str,
    partner_id: str,
    external_id: str,
    channel_id: str,
) -> dict[str, str]:
    """The SNAP headers of one signed request."""
    return {
        "Content-Type": "application/json",
        "X-TIMESTAMP": timestamp,
        "X-SIGNATURE": signer.sign(method, path, body, timestamp),
        "X-PARTNER-ID": partner_id,
        "X-EXTERNAL-ID": external_id,
        "CHANNEL-ID": channel_id,
        **signer.auth_headers(),
    }


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise SnapAnswerInvalidError(f"the answer has no text {key!r}")
    return value


# --- the client --------------------------------------------------------------------------


class SnapClient:
    """Signed SNAP calls to Winpay over HTTP; answers parsed, failures typed.

    The scheme is chosen by what it is given: ``signer`` (RSA, "asymmetric without access
    token") or ``b2b`` (generic SNAP: a B2B access token, then HMAC-SHA512 with the client
    secret). With ``b2b`` the token is fetched on first use, cached for every thread,
    replaced before it expires, and replaced once more when a request is answered
    ``401xx01`` (invalid token) — that request is then sent again, once.
    """

    def __init__(
        self,
        *,
        base_url: str,
        partner_id: str,
        channel_id: str,
        clock: Callable[[], datetime],
        signer: Signer | None = None,
        b2b: B2BCredentials | None = None,
        timeout_s: float = 10.0,
        external_ids: Callable[[], str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if (signer is None) == (b2b is None):
            raise ValueError("give SnapClient either an RSA signer or B2B credentials")
        self._partner_id, self._channel_id, self._signer = partner_id, channel_id, signer
        self._b2b = b2b
        self._clock = clock
        self.tokens: AccessTokenCache | None = (
            AccessTokenCache(self.fetch_access_token, clock) if b2b is not None else None
        )
        self._external_ids = external_ids or ExternalIdGenerator(clock)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )

    @property
    def scheme(self) -> str:
        """The signature scheme of requests: ``SHA256withRSA`` or ``HMAC-SHA512``."""
        return "HMAC-SHA512" if self._b2b is not None else "SHA256withRSA"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> SnapClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"SnapClient(base_url={str(self._http.base_url)!r}, "
            f"partner_id={self._partner_id!r}, scheme={self.scheme!r})"
        )

    def now(self) -> datetime:
        """The client's clock (what its X-TIMESTAMPs say)."""
        return self._clock()

    def _send(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Send ``body`` by ``method``; the HTTP status and the answer's JSON object."""
        try:
            response = self._http.request(method, path, content=body, headers=dict(headers))
        except httpx.HTTPError as error:
            raise SnapUnreachableError(f"{method} {path}: {error!r}") from error
        try:
            answer = response.json()
        except ValueError as error:
            raise SnapAnswerInvalidError(
                f"{method} {path}: HTTP {response.status_code}, not JSON"
            ) from error
        if not isinstance(answer, dict):
            raise SnapAnswerInvalidError(f"{method} {path}: the answer is not a JSON object")
        return response.status_code, answer

    def fetch_access_token(self) -> AccessToken:
        """``POST /v1.0/access-token/b2b``: a new B2B token (generic SNAP scheme only).

        Signed SHA256withRSA over ``clientKey|X-TIMESTAMP``; the answer must be ``2007300``
        with ``accessToken``, ``tokenType`` Bearer and ``expiresIn`` seconds.
        """
        if self._b2b is None:
            raise SnapError("the RSA scheme uses no access token")
        now = self._clock()
        headers = self._b2b.token_headers(snap_timestamp(now))
        status, answer = self._send(
            "POST", PATH_B2B_TOKEN, minify({"grantType": "client_credentials"}), headers
        )
        code, message = _text(answer, "responseCode"), str(answer.get("responseMessage", ""))
        if code != codes.B2B_TOKEN_OK:
            raise SnapRequestRejectedError(code, message, status)
        value = answer.get("accessToken")
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            raise SnapAnswerInvalidError("the B2B token answer has no usable accessToken")
        if str(answer.get("tokenType", "")).lower() != "bearer":
            raise SnapAnswerInvalidError(
                f"the B2B token is not a Bearer token: {answer.get('tokenType')!r}"
            )
        expires_in = answer.get("expiresIn")
        if isinstance(expires_in, str) and expires_in.isascii() and expires_in.isdigit():
            expires_in = int(expires_in)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            raise SnapAnswerInvalidError(f"the B2B token's expiresIn {expires_in!r} is not seconds")
        return AccessToken(
            value=value, obtained_at=now, expires_at=now + timedelta(seconds=expires_in)
        )

    def call(
        self, method: str, path: str, payload: Mapping[str, Any], success: str
    ) -> dict[str, Any]:
        """Sign and send one request; the answer if its responseCode is ``success``."""
        body = minify(payload)
        for attempt in (1, 2):
            signer = self._request_signer()
            headers = request_headers(
                signer=signer,
                method=method,
                path=path,
                body=body,
                timestamp=snap_timestamp(self._clock()),
                partner_id=self._partner_id,
                external_id=self._external_ids(),
                channel_id=self._channel_id,
            )
            status, answer = self._send(method, path, body, headers)
            code, message = _text(answer, "responseCode"), str(answer.get("responseMessage", ""))
            if code == success:
                return answer
            if (
                attempt == 1
                and self.tokens is not None
                and isinstance(signer, HmacSigner)
                and codes.is_invalid_token(code)
            ):
                log.info("%s %s: %s, fetching a new B2B token, sending again", method, path, code)
                self.tokens.invalidate(signer)
                continue
            raise SnapRequestRejectedError(code, message, status)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request_signer(self) -> Signer:
        if self._b2b is not None and self.tokens is not None:
            return self._b2b.signer(self.tokens.get())
        if self._signer is None:  # pragma: no cover - __init__ requires one of the two
            raise SnapError("no signer")
        return self._signer
