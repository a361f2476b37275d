"""Key pairs for the merchant and for "Winpay", and the local SNAP counterpart (RSA scheme,
and generic SNAP: B2B token + HMAC-SHA512)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

# The counterpart lives beside the tests as tests.channels.snap_counterpart.
from paylink_es.domain.clock import FakeClock
from paylink_es.locale import WIB
from tests.channels.snap_counterpart import WinpayCounterpart

CLIENT_KEY = "PAYLINK-CLIENT-1"
CLIENT_SECRET = "hmac-client-secret-7f3a9c"


@pytest.fixture(scope="session")
def merchant_key() -> rsa.RSAPrivateKey:
    """The merchant's key pair: we sign requests with it."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def winpay_key() -> rsa.RSAPrivateKey:
    """The provider's key pair: it signs callbacks with it."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


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
