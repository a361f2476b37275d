"""Key pairs for the merchant and for "Winpay", and the local SNAP counterpart (RSA scheme,
and generic SNAP: B2B token + HMAC-SHA512). The key pairs are ``tests.support.fixtures``'s;
the counterpart is ``tests.support.snap_counterpart``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.domain.clock import FakeClock
from paylink_es.locale import WIB
from tests.support.fixtures import merchant_key, winpay_key
from tests.support.snap_counterpart import WinpayCounterpart

CLIENT_KEY = "PAYLINK-CLIENT-1"
CLIENT_SECRET = "hmac-client-secret-7f3a9c"
__all__ = ["CLIENT_KEY", "CLIENT_SECRET", "merchant_key", "winpay_key"]


@pytest.fixture
def counterpart(
    merchant_key: rsa.RSAPrivateKey, winpay_key: rsa.RSAPrivateKey
) -> Iterator[WinpayCounterpart]:
    """A running Winpay counterpart that knows our public key."""
    with WinpayCounterpart(merchant_key.public_key(), winpay_key) as server:
        yield server


@pytest.fixture
def snap_clock() -> FakeClock:
    """A clock the client and the counterpart share, starting at the real now."""
    return FakeClock(datetime.now(WIB))


@pytest.fixture
def hmac_counterpart(
    merchant_key: rsa.RSAPrivateKey, winpay_key: rsa.RSAPrivateKey, snap_clock: FakeClock
) -> Iterator[WinpayCounterpart]:
    """A running generic SNAP counterpart: B2B tokens (15 minutes) and HMAC-SHA512."""
    with WinpayCounterpart(
        merchant_key.public_key(),
        winpay_key,
        client_key=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        clock=snap_clock,
    ) as server:
        yield server
