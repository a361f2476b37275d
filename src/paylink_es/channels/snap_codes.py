"""SNAP response codes and the errors that carry them.

A SNAP response code is HTTP status (3 digits) + service code (2) + case (2): ``2002700``
is a created virtual account, ``4092701`` a duplicate ``trxId`` on the same service.
"""

from __future__ import annotations

from typing import Final

SERVICE_VA_PAYMENT: Final = "25"
SERVICE_VA_STATUS: Final = "26"
SERVICE_CREATE_VA: Final = "27"
SERVICE_VA_INQUIRY: Final = "30"
SERVICE_DELETE_VA: Final = "31"
SERVICE_QRIS_MPM: Final = "47"
SERVICE_QRIS_QUERY: Final = "51"
SERVICE_QRIS_NOTIFY: Final = "52"
SERVICE_EWALLET_PAY: Final = "54"
SERVICE_EWALLET_STATUS: Final = "55"
SERVICE_EWALLET_NOTIFY: Final = "56"
SERVICE_B2B_TOKEN: Final = "73"  # noqa: S105 (a service code)


def response_code(http_status: int, service: str, case: str) -> str:
    """Compose a seven-digit SNAP response code."""
    return f"{http_status:03d}{service}{case}"


CREATE_VA_OK: Final = response_code(200, SERVICE_CREATE_VA, "00")
VA_STATUS_OK: Final = response_code(200, SERVICE_VA_STATUS, "00")
QRIS_MPM_OK: Final = response_code(200, SERVICE_QRIS_MPM, "00")
DELETE_VA_OK: Final = response_code(200, SERVICE_DELETE_VA, "00")
QRIS_QUERY_OK: Final = response_code(200, SERVICE_QRIS_QUERY, "00")
EWALLET_PAY_OK: Final = response_code(200, SERVICE_EWALLET_PAY, "00")
EWALLET_STATUS_OK: Final = response_code(200, SERVICE_EWALLET_STATUS, "00")
CREATE_VA_TRX_DUPLICATE: Final = response_code(409, SERVICE_CREATE_VA, "01")
# Generic SNAP: the B2B access token (POST /v1.0/access-token/b2b).
B2B_TOKEN_OK: Final = response_code(200, SERVICE_B2B_TOKEN, "00")
# "Invalid Token (B2B)" is case 01 of HTTP 401 on any service: 4012701, 4012601, …
INVALID_TOKEN_CASE: Final = "01"  # noqa: S105 (a case code)


def is_invalid_token(code: str) -> bool:
    """Whether a SNAP response code says the B2B access token is invalid (``401xx01``)."""
    return len(code) == 7 and code.isdigit() and code.startswith("401") and code.endswith("01")


# What we answer to Winpay's VA payment callback.
PAYMENT_OK: Final = response_code(200, SERVICE_VA_PAYMENT, "00")
PAYMENT_UNAUTHORIZED: Final = response_code(401, SERVICE_VA_PAYMENT, "00")
# Winpay's documents: "4012500-style invalid signature"; in SNAP 401xx01 is "Invalid Token (B2B)",
# so a bad signature is 4012500 like a stale X-TIMESTAMP; the message tells them apart.
PAYMENT_SIGNATURE_INVALID: Final = response_code(401, SERVICE_VA_PAYMENT, "00")
PAYMENT_FIELD_INVALID: Final = response_code(400, SERVICE_VA_PAYMENT, "01")
PAYMENT_FIELD_MISSING: Final = response_code(400, SERVICE_VA_PAYMENT, "02")
PAYMENT_EXTERNAL_ID_DUPLICATE: Final = response_code(409, SERVICE_VA_PAYMENT, "00")
# Generic SNAP (HMAC scheme): a callback without a bearer token, or with one we refuse.
PAYMENT_TOKEN_INVALID: Final = response_code(401, SERVICE_VA_PAYMENT, INVALID_TOKEN_CASE)


class SnapError(Exception):
    """Base class of every error the SNAP adapter raises on purpose."""


class SnapKeyInvalidError(SnapError):
    """A PEM string is not the kind of key it was given as."""


class SnapUnreachableError(SnapError):
    """The provider could not be reached, or did not answer in time."""


class SnapAnswerInvalidError(SnapError):
    """The provider answered with something that is not a SNAP answer."""


class SnapRequestRejectedError(SnapError):
    """The provider answered with a non-success response code."""

    def __init__(self, response_code: str, response_message: str, http_status: int) -> None:
        super().__init__(f"{response_code} {response_message} (HTTP {http_status})")
        self.response_code = response_code
        self.response_message = response_message
        self.http_status = http_status


class SnapCallbackRejectedError(SnapError):
    """A callback we refuse; ``response_code`` is what the provider must be told."""

    def __init__(self, response_code: str, reason: str) -> None:
        super().__init__(f"{response_code} {reason}")
        self.response_code = response_code
        self.reason = reason

    @property
    def http_status(self) -> int:
        """The HTTP status the answer goes out with (the code's first three digits)."""
        return int(self.response_code[:3])
