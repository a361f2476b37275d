"""The User aggregate and its services, on the in-memory store: the rules, no HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paylink_es.application.services import Paylink
from paylink_es.application.users import UserService
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import InvalidFieldError, NotFoundError
from paylink_es.domain.users import (
    MAX_FAILURES,
    AccountLockedError,
    SignInFailedError,
    UserExistsError,
)
from tests.support.desk import FAST_HASHER, PASSWORD


@pytest.fixture
def users(memory_app: Paylink) -> UserService:
    return UserService(memory_app.app, memory_app.merchants, hasher=FAST_HASHER)


def test_an_address_has_one_account_whatever_its_case(
    memory_app: Paylink, users: UserService
) -> None:
    merchant = memory_app.merchants.register("Toko")
    first = users.create_user(merchant, "Budi@Toko.Example", PASSWORD)
    with pytest.raises(UserExistsError):
        users.create_user(merchant, "budi@toko.example", PASSWORD, "viewer")
    signed = users.sign_in("BUDI@toko.example", PASSWORD)
    assert signed.id == first
    assert signed.email == "budi@toko.example"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "budi"}, "email"),
        ({"password": "pendek"}, "password"),
        ({"password": "x" * 257}, "password"),
        ({"password": " " * 12}, "password"),
        ({"role": "admin"}, "role"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_bad_account_fields_are_named_and_nothing_is_stored(
    memory_app: Paylink, users: UserService, fields: dict[str, str], field: str
) -> None:
    merchant = memory_app.merchants.register("Toko")
    before = memory_app.app.recorder.max_notification_id()
    args = {"email": "budi@toko.example", "password": PASSWORD, "role": "owner", **fields}
    with pytest.raises(InvalidFieldError) as raised:
        users.create_user(merchant, **args)
    assert raised.value.field == field
    assert memory_app.app.recorder.max_notification_id() == before


def test_an_unknown_merchant_gets_no_users(users: UserService) -> None:
    from uuid import uuid4

    with pytest.raises(NotFoundError):
        users.create_user(uuid4(), "budi@toko.example", PASSWORD)


def test_the_fifth_wrong_password_locks_for_fifteen_minutes(
    memory_app: Paylink, users: UserService, clock: FakeClock
) -> None:
    merchant = memory_app.merchants.register("Toko")
    users.create_user(merchant, "budi@toko.example", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(SignInFailedError):
            users.sign_in("budi@toko.example", "wrong password")
    with pytest.raises(AccountLockedError) as locked:
        users.sign_in("budi@toko.example", "wrong password")
    assert locked.value.until == clock() + timedelta(minutes=15)
    clock.advance(timedelta(minutes=14, seconds=59))
    with pytest.raises(AccountLockedError):
        users.sign_in("budi@toko.example", PASSWORD)
    clock.advance(timedelta(seconds=1))
    assert users.sign_in("budi@toko.example", PASSWORD).locked_until is None


def test_a_right_password_resets_the_count(memory_app: Paylink, users: UserService) -> None:
    merchant = memory_app.merchants.register("Toko")
    users.create_user(merchant, "budi@toko.example", PASSWORD)
    for _ in range(3):
        for _ in range(MAX_FAILURES - 1):
            with pytest.raises(SignInFailedError):
                users.sign_in("budi@toko.example", "wrong password")
        users.sign_in("budi@toko.example", PASSWORD)


def test_a_new_password_ends_old_sessions_and_replaces_the_old_one(
    memory_app: Paylink, users: UserService
) -> None:
    merchant = memory_app.merchants.register("Toko")
    user_id = users.create_user(merchant, "budi@toko.example", PASSWORD)
    epoch = users.sign_in("budi@toko.example", PASSWORD).session_epoch
    with pytest.raises(InvalidFieldError) as wrong:
        users.change_password(user_id, "not it at all", "another good one")
    assert wrong.value.field == "current_password"
    users.change_password(user_id, PASSWORD, "another good one")
    with pytest.raises(SignInFailedError):
        users.sign_in("budi@toko.example", PASSWORD)
    assert users.sign_in("budi@toko.example", "another good one").session_epoch == epoch + 1
    users.change_role(user_id, "viewer")
    details = users.user(user_id)
    assert details is not None
    assert details.role == "viewer"
