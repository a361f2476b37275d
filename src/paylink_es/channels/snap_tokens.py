"""Generic SNAP's B2B access token: the credentials, the token and its cache.

The token is asked for with ``POST /v1.0/access-token/b2b``, signed SHA256withRSA over
``clientKey|X-TIMESTAMP`` (:class:`B2BCredentials`); transactional requests are then signed
HMAC-SHA512 with the client secret over a string holding the token. The HTTP call itself
is :meth:`paylink_es.channels.snap_client.SnapClient.fetch_access_token`. Tokens and
secrets never show in a repr or a log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from typing import Final

from paylink_es.channels.snap_codes import SnapError
from paylink_es.channels.snap_signing import (
    HmacSigner,
    HmacVerifier,
    RsaSigner,
    b2b_string_to_sign,
)
from paylink_es.domain.errors import InvalidFieldError

log = logging.getLogger(__name__)

PATH_B2B_TOKEN: Final = "/v1.0/access-token/b2b"  # noqa: S105 (a path)
# A cached B2B token is replaced this long before it expires (at most half its lifetime).
TOKEN_REFRESH_MARGIN: Final = timedelta(seconds=60)


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
