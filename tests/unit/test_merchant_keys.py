"""API keys authenticate their merchant until revoked; only a hash is ever stored."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest

from paylink_es.application.details import KeyOwner
from paylink_es.application.services import Paylink
from paylink_es.domain.errors import ApiKeyInvalidError


def test_an_issued_key_authenticates_its_merchant(memory_app: Paylink, merchant_id: UUID) -> None:
    issued = memory_app.merchants.issue_key(merchant_id)
    assert issued.secret.startswith("sk_test_")
    assert issued.mode == "test"
    owner = memory_app.merchants.authenticate(issued.secret)
    assert owner == KeyOwner(merchant_id=merchant_id, key_id=issued.key_id, mode="test")


def test_a_live_key_authenticates_in_live_mode(memory_app: Paylink, merchant_id: UUID) -> None:
    issued = memory_app.merchants.issue_key(merchant_id, "live")
    assert issued.secret.startswith("sk_live_")
    assert memory_app.merchants.authenticate(issued.secret).mode == "live"


def test_keys_find_their_own_merchant(memory_app: Paylink, merchant_id: UUID) -> None:
    other = memory_app.merchants.register("Toko Siti")
    mine = memory_app.merchants.issue_key(merchant_id)
    theirs = memory_app.merchants.issue_key(other)
    assert mine.secret != theirs.secret
    assert memory_app.merchants.authenticate(mine.secret).merchant_id == merchant_id
    assert memory_app.merchants.authenticate(theirs.secret).merchant_id == other


def test_a_revoked_key_stops_authenticating_and_others_keep_working(
    memory_app: Paylink, merchant_id: UUID
) -> None:
    revoked = memory_app.merchants.issue_key(merchant_id)
    kept = memory_app.merchants.issue_key(merchant_id)
    memory_app.merchants.revoke_key(merchant_id, revoked.key_id)
    with pytest.raises(ApiKeyInvalidError):
        memory_app.merchants.authenticate(revoked.secret)
    assert memory_app.merchants.authenticate(kept.secret).key_id == kept.key_id


def test_revoking_a_key_twice_records_it_once(
    memory_app: Paylink, merchant_id: UUID, stored_count: Callable[[], int]
) -> None:
    issued = memory_app.merchants.issue_key(merchant_id)
    memory_app.merchants.revoke_key(merchant_id, issued.key_id)
    before = stored_count()
    memory_app.merchants.revoke_key(merchant_id, issued.key_id)
    assert stored_count() == before
    with pytest.raises(ApiKeyInvalidError):
        memory_app.merchants.authenticate(issued.secret)


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "garbage",
        "Bearer sk_test_abc",
        "sk_test_",
        "sk_test_" + "A" * 32,
        "sk_live_" + "A" * 32,
        "pk_test_" + "A" * 32,
    ],
)
def test_a_key_nobody_issued_does_not_authenticate(
    memory_app: Paylink, merchant_id: UUID, secret: str
) -> None:
    memory_app.merchants.issue_key(merchant_id)
    with pytest.raises(ApiKeyInvalidError):
        memory_app.merchants.authenticate(secret)


def test_a_test_key_relabelled_live_does_not_authenticate(
    memory_app: Paylink, merchant_id: UUID
) -> None:
    issued = memory_app.merchants.issue_key(merchant_id)
    with pytest.raises(ApiKeyInvalidError):
        memory_app.merchants.authenticate(issued.secret.replace("sk_test_", "sk_live_", 1))


def test_the_secret_itself_is_never_stored(memory_app: Paylink, merchant_id: UUID) -> None:
    issued = memory_app.merchants.issue_key(merchant_id)
    random_part = issued.secret.removeprefix("sk_test_").encode()
    states = [n.state for n in memory_app.app.recorder.select_notifications(start=1, limit=100)]
    assert states
    assert not any(random_part in state for state in states)
