"""The lockout holds however sign-ins interleave: optimistic concurrency on the User.

Every recorded attempt (``SignedIn``, ``SignInFailed``) is saved with the version of the
User it was decided on; a decision whose version is stale conflicts and is made again on
the new state, so a success can never land after the lock. Over real HTTP on SQLite and
PostgreSQL, and deterministically on the in-memory store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from eventsourcing.persistence import RecordConflictError

from paylink_es.application.services import Paylink
from paylink_es.application.users import UserService
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.users import MAX_FAILURES, AccountLockedError, SignInFailedError, User
from paylink_es.settings import Settings
from tests.support.desk import FAST_HASHER, PASSWORD, Desk, build_desk
from tests.support.shop import csrf_of, shop

ATTEMPTS = 30  # 29 wrong passwords and the right one, all at once
WRONG = "wrong password!"
LOCKED_TEXT = "Akun dikunci sampai"


@pytest.fixture
def served_desk(backend_settings: Settings, clock: FakeClock) -> Iterator[Desk]:
    """Staff accounts on an app served by uvicorn on 127.0.0.1 (SQLite and PostgreSQL).

    Thirty sign-ins at once on one account conflict with each other, and every retry
    takes a turn on the five pooled connections: on a loaded two-core box a request can
    wait longer than the default 3 s for one and be answered 503, as an overloaded
    server should. That is capacity, not the lockout these tests check, so the pool
    wait here is long enough for every attempt to be decided."""
    settings = backend_settings.model_copy(update={"postgres_pool_timeout_s": 30.0})
    with shop(settings, clock, served=True) as built:
        yield build_desk(built)


@dataclass(frozen=True)
class Implied:
    """What a user's event history says happened to its sign-ins."""

    failures: int
    locks: int  # how many LockedOut events the failures imply
    lock_events: int  # how many there are
    signed_in: int


def replay(paylink: Paylink, user_id: UUID) -> Implied:
    """Walk the user's events in version order and check the lockout rule on each.

    The clock stands still in these tests, so a lock never runs out: once the
    ``MAX_FAILURES``-th failure in a row is recorded, nothing may be recorded but its
    ``LockedOut`` (no success, no further failure).
    """
    stored = list(paylink.app.recorder.select_events(user_id))
    versions = [event.originator_version for event in stored]
    assert versions == list(range(1, len(stored) + 1))
    names = [event.topic.rsplit(".", 1)[-1] for event in stored]
    assert names[0] == "Created"
    in_a_row = failures = locks = lock_events = signed = 0
    for name in names[1:]:
        locked = in_a_row >= MAX_FAILURES
        if name == "LockedOut":
            lock_events += 1
            continue
        assert not locked, f"{name} recorded on a locked account: {names}"
        if name == "SignInFailed":
            failures += 1
            in_a_row += 1
            if in_a_row == MAX_FAILURES:
                locks += 1
        elif name == "SignedIn":
            signed += 1
            in_a_row = 0
    for index, name in enumerate(names):
        if name == "LockedOut":  # straight after the failure that made it
            assert names[index - 1] == "SignInFailed", names
    return Implied(failures=failures, locks=locks, lock_events=lock_events, signed_in=signed)


def _ready_browser(url: str) -> tuple[httpx.Client, str]:
    """A browser that opened the sign-in form: its cookie, and the form's token."""
    client = httpx.Client(base_url=url, timeout=60)
    page = client.get("/dashboard/login")
    assert page.status_code == 200, page.text
    return client, csrf_of(page.text)


def _race(desk: Desk, email: str, right_at: int) -> list[httpx.Response]:
    """Submit ATTEMPTS sign-ins at once; the one at ``right_at`` has the right password."""
    browsers = [_ready_browser(desk.shop.url) for _ in range(ATTEMPTS)]
    start = threading.Barrier(ATTEMPTS)

    def attempt(index: int) -> httpx.Response:
        client, csrf = browsers[index]
        password = PASSWORD if index == right_at else WRONG
        form = {"csrf": csrf, "email": email, "password": password, "next": "/dashboard"}
        start.wait(timeout=60)
        return client.post("/dashboard/login", data=form)

    try:
        with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
            return list(pool.map(attempt, range(ATTEMPTS)))
    finally:
        for client, _ in browsers:
            client.close()


@pytest.mark.parametrize("right_at", [0, 4, 5, 17, 29])
def test_thirty_concurrent_sign_ins_never_get_past_five_recorded_failures(
    served_desk: Desk, right_at: int
) -> None:
    paylink = served_desk.shop.paylink
    for round_ in range(3):
        email = f"race{right_at}-{round_}@tokobudi.example"
        user_id = served_desk.users.create_user(served_desk.merchant_id, email, PASSWORD)

        responses = _race(served_desk, email, right_at)

        statuses = [response.status_code for response in responses]
        assert set(statuses) <= {303, 401, 429}, statuses
        history = replay(paylink, user_id)
        # Never signed in once five failures were recorded before it (checked by replay),
        # and the right password signed in exactly when its success is in the history.
        right = responses[right_at]
        assert history.signed_in == (1 if right.status_code == 303 else 0), statuses
        if right.status_code != 303:
            assert right.status_code == 429, right.text
            assert LOCKED_TEXT in right.text  # the same answer as any locked account
        # 29 wrong passwords lock the account once, whatever came first.
        assert history.lock_events == history.locks == 1, statuses
        # Each wrong password was refused once: a failure recorded (401, or 429 for the
        # one that locked), or a refusal because the account was locked by then (429).
        assert statuses.count(401) == history.failures - history.locks
        assert statuses.count(303) == history.signed_in
        # Locked afterwards: even the right password is refused.
        details = served_desk.users.user(user_id)
        assert details is not None
        assert details.locked_until is not None
        assert details.locked_until > served_desk.shop.clock()
        with pytest.raises(AccountLockedError):
            served_desk.users.sign_in(email, PASSWORD)


# -- the interleaving, step by step ------------------------------------------------------


@pytest.fixture
def users(memory_app: Paylink) -> UserService:
    return UserService(memory_app.app, memory_app.merchants, hasher=FAST_HASHER)


@pytest.fixture
def budi(memory_app: Paylink, users: UserService) -> UUID:
    merchant = memory_app.merchants.register("Toko")
    return users.create_user(merchant, "budi@toko.example", PASSWORD)


def _user(paylink: Paylink, user_id: UUID) -> User:
    found: object = paylink.app.repository.get(user_id)
    assert isinstance(found, User)
    return found


def _one_failure_from_the_lock(paylink: Paylink, users: UserService, budi: UUID) -> int:
    """Budi's sign-in failed ``MAX_FAILURES - 1`` times: one more locks the account. The
    version of his User now."""
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(SignInFailedError):
            users.sign_in("budi@toko.example", WRONG)
    return _user(paylink, budi).version


def _rival_before_the_next_save(
    monkeypatch: pytest.MonkeyPatch, paylink: Paylink, rival: Any
) -> list[int]:
    """Run ``rival`` once, just before the next save: after that save was decided.

    Returns the versions of the User each save was decided on, in the order of the saves.
    """
    original = paylink.app.save
    decided_on: list[int] = []
    pending = [rival]

    def save(*objs: Any, **kwargs: Any) -> list[Any]:
        users_saved = [obj for obj in objs if isinstance(obj, User)]
        version = users_saved[0].version - len(users_saved[0].pending_events)
        if pending:
            pending.pop()()  # decides on the same version, saves first
        decided_on.append(version)
        return original(*objs, **kwargs)

    monkeypatch.setattr(paylink.app, "save", save)
    return decided_on


def test_two_decisions_on_the_same_version_cannot_both_be_saved(
    memory_app: Paylink, users: UserService, budi: UUID
) -> None:
    _one_failure_from_the_lock(memory_app, users, budi)
    success = _user(memory_app, budi)
    failure = _user(memory_app, budi)
    assert success.version == failure.version
    now = memory_app.now()
    failure.decide_sign_in(now, password_right=False)  # the fifth: locks
    success.decide_sign_in(now, password_right=True)  # decided on the same, stale version
    memory_app.app.save(failure)
    with pytest.raises(RecordConflictError):
        memory_app.app.save(success)
    again = _user(memory_app, budi)
    with pytest.raises(AccountLockedError):
        again.decide_sign_in(now, password_right=True)
    assert again.pending_events == []


def test_a_success_decided_on_a_stale_version_is_decided_again_and_refused(
    memory_app: Paylink, users: UserService, budi: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _one_failure_from_the_lock(memory_app, users, budi)
    verified: list[str] = []
    verify = users._verify

    def counting_verify(password_hash: str, password: str) -> bool:
        verified.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(users, "_verify", counting_verify)

    def fifth_failure() -> None:
        with pytest.raises(AccountLockedError):
            users.sign_in("budi@toko.example", WRONG)

    decided_on = _rival_before_the_next_save(monkeypatch, memory_app, fifth_failure)

    with pytest.raises(AccountLockedError) as refused:
        users.sign_in("budi@toko.example", PASSWORD)

    # The success was decided on the version before the lock; the rival's failure, decided
    # on that same version, was saved first; the success's save conflicted, and the
    # decision made again on the new state refused it (nothing saved: no third save).
    assert decided_on == [before, before]
    assert verified == [PASSWORD, WRONG]  # each password hashed once, not per decision
    user = _user(memory_app, budi)
    assert user.locked_until is not None
    assert refused.value.until == user.locked_until  # the answer of a locked account
    history = replay(memory_app, budi)
    assert (history.signed_in, history.failures, history.lock_events) == (0, MAX_FAILURES, 1)


def test_a_failure_decided_on_a_stale_version_is_decided_again_and_counted_anew(
    memory_app: Paylink, users: UserService, budi: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _one_failure_from_the_lock(memory_app, users, budi)

    def success() -> None:
        users.sign_in("budi@toko.example", PASSWORD)

    decided_on = _rival_before_the_next_save(monkeypatch, memory_app, success)

    # Decided alone, this would be the fifth failure in a row and lock; but the success
    # came first, so decided again it is the first failure after it.
    with pytest.raises(SignInFailedError):
        users.sign_in("budi@toko.example", WRONG)

    assert decided_on == [before, before, before + 1]
    user = _user(memory_app, budi)
    assert user.failures == 1
    assert user.locked_until is None
    history = replay(memory_app, budi)
    assert (history.signed_in, history.failures, history.lock_events) == (1, MAX_FAILURES, 0)


def test_a_sign_in_decided_before_a_password_change_is_checked_against_the_new_one(
    memory_app: Paylink, users: UserService, budi: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_password = "a brand new secret"
    before = _user(memory_app, budi).version

    def change() -> None:
        users.change_password(budi, PASSWORD, new_password)

    decided_on = _rival_before_the_next_save(monkeypatch, memory_app, change)

    # Right when it was checked, but saved after the change: the old password no longer
    # signs in (a session with the new epoch must not come from the old password).
    with pytest.raises(SignInFailedError):
        users.sign_in("budi@toko.example", PASSWORD)

    assert decided_on == [before, before, before + 1]
    names = [
        event.topic.rsplit(".", 1)[-1] for event in memory_app.app.recorder.select_events(budi)
    ]
    assert names == ["Created", "PasswordChanged", "SignInFailed"]
    assert users.sign_in("budi@toko.example", new_password).session_epoch == 1
