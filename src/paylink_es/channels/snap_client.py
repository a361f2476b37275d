"""The SNAP HTTP client: signed requests to the provider, answers parsed, failures typed.

:class:`SnapClient` takes either signature scheme: an RSA ``signer``
(:mod:`paylink_es.channels.snap_signing`), or ``b2b`` credentials
(:mod:`paylink_es.channels.snap_tokens`), with which it fetches, caches and refreshes the
B2B access token itself. Every request carries the SNAP headers (:func:`request_headers`)
and an X-EXTERNAL-ID that does not repeat within a Jakarta day (:class:`ExternalIdGenerator`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from paylink_es.channels import snap_codes as codes
from paylink_es.channels.snap_codes import (
    SnapAnswerInvalidError,
    SnapError,
    SnapRequestRejectedError,
    SnapUnreachableError,
)
from paylink_es.channels.snap_messages import minify, snap_timestamp
from paylink_es.channels.snap_signing import HmacSigner, Signer
from paylink_es.channels.snap_tokens import (
    PATH_B2B_TOKEN,
    AccessToken,
    AccessTokenCache,
    B2BCredentials,
)
from paylink_es.closing import Closing
from paylink_es.locale import WIB

log = logging.getLogger(__name__)


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


class SnapClient(Closing):
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
