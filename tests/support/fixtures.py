"""Fixtures that tests of more than one folder use; a ``conftest.py`` imports those it needs.

``merchant_key`` and ``winpay_key`` are the SNAP key pairs (unit and integration channel
tests). ``backend_settings`` (a one-connection pool for the test's own app) and ``views``
serve the read-model tests (integration and e2e). ``cloud_api`` is the WhatsApp Cloud API
counterpart, on the test's clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.bootstrap import ensure_postgres_schema
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.runner import ReadModels
from tests.support.whatsapp_counterpart import CloudApi, CloudApiServer


@pytest.fixture(scope="session")
def merchant_key() -> rsa.RSAPrivateKey:
    """The merchant's key pair: we sign requests with it."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def winpay_key() -> rsa.RSAPrivateKey:
    """The provider's key pair: it signs callbacks with it."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def backend_settings(backend_settings: Settings) -> Settings:
    """The shared backend settings, with a one-connection pool for the test's own app.

    The projection service alone holds a few dozen PostgreSQL connections; these tests
    should not add more than they need to a server other suites use at the same time.
    """
    return backend_settings.model_copy(update={"postgres_pool_size": 1})


@pytest.fixture
def views(backend_settings: Settings) -> Iterator[ReadModels]:
    """Every read model's view on the test's store (closed after the test)."""
    ensure_postgres_schema(backend_settings)  # open_paylink would, but it may come later
    models = ReadModels(backend_settings)
    try:
        yield models
    finally:
        models.close()


@pytest.fixture
def cloud_api(clock: FakeClock) -> Iterator[CloudApiServer]:
    """The WhatsApp Cloud API counterpart on 127.0.0.1, on the test's clock."""
    server = CloudApiServer(CloudApi(clock=clock)).start()
    try:
        yield server
    finally:
        server.stop()
