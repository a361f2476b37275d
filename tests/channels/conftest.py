"""Key pairs for the merchant and for "Winpay", and the local SNAP counterpart."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

# The counterpart lives beside the tests as tests.channels.snap_counterpart.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.channels.snap_counterpart import WinpayCounterpart  # noqa: E402


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
