"""Dashboard accounts: create users, sign them in and out, change passwords.

Argon2 hashing is slow on purpose, so it always happens outside the write and holds
nothing; the write then decides and records what happened (``SignedIn``,
``SignInFailed``, ``LockedOut``) on the ``User`` aggregate through the application's
store, saved with the version it was decided on, and decided again on a concurrent write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import Snapshot
from paylink_es.application.merchants import MerchantService
from paylink_es.domain.clock import using_clock
from paylink_es.domain.errors import ConcurrencyConflictError, InvalidFieldError
from paylink_es.domain.users import (
    Role,
    SignInFailedError,
    User,
    UserExistsError,
    check_password,
    check_role,
    display_name,
    user_email,
    user_id_for,
)
from paylink_es.retry import conflict_waits, retry


@dataclass(frozen=True)
class UserDetails(Snapshot):
    """A user as the dashboard needs it (never the password hash)."""

    id: UUID
    merchant_id: UUID
    email: str
    name: str | None
    role: Role
    session_epoch: int
    locked_until: datetime | None


class UserService:
    """The commands on dashboard users, on the application's event store."""

    def __init__(
        self, app: PaylinkApp, merchants: MerchantService, hasher: PasswordHasher | None = None
    ) -> None:
        self.app = app
        self.merchants = merchants
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def create_user(
        self,
        merchant_id: UUID,
        email: str,
        password: str,
        role: str = "owner",
        name: str | None = None,
    ) -> UUID:
        """Give a merchant's staff member an account; an e-mail address has one account."""
        address = user_email(email)
        checked_role = check_role(role)
        person = display_name(name)
        secret = check_password(password)
        self.merchants.require(merchant_id)  # raises NotFoundError for an unknown merchant
        password_hash = self.hasher.hash(secret)
        user_id = user_id_for(address)
        with using_clock(self.app.clock):
            user = User(
                id=user_id,
                merchant_id=merchant_id,
                email=address,
                name=person,
                role=checked_role,
                password_hash=password_hash,
            )
            try:
                self.app.save(user)
            except RecordConflictError:
                raise UserExistsError("email", f"{address} has an account already") from None
        return user_id

    def user(self, user_id: UUID) -> UserDetails | None:
        """The user, or None if there is no such account."""
        found = self._load(user_id)
        return UserDetails.of(found) if found is not None else None

    def sign_in(self, email: str, password: str) -> UserDetails:
        """The user if the password is right; records the attempt either way.

        Raises :class:`SignInFailedError` for an unknown address or a wrong password
        (the same answer, after the same work) and :class:`AccountLockedError` while
        the account is locked, whatever the password.

        The slow argon2 check runs first, holding nothing; then the attempt is decided
        on the user as loaded (the lock checked in the same decision that records a
        success or a failure) and saved with that version. If another attempt was saved
        meanwhile, the save conflicts and the decision (not the hash) is made again on
        the new state: a success decided before the lock but saved after it is refused
        like any sign-in on a locked account.
        """
        try:
            address = user_email(email)
        except InvalidFieldError:
            address = ""
        user = self._load(user_id_for(address)) if address else None
        if user is None:
            self._verify(self._dummy(), password)  # as slow as a real check
            raise SignInFailedError("the e-mail address or the password is wrong")
        user.refuse_if_locked(self.app.now())  # no hashing for a locked account
        verdicts = {user.password_hash: self._verify(user.password_hash, password)}

        def decide(current: User) -> None:
            current.refuse_if_locked(self.app.now())  # before hashing anything again
            if current.password_hash not in verdicts:  # changed meanwhile: check the new one
                verdicts[current.password_hash] = self._verify(current.password_hash, password)
            right = verdicts[current.password_hash]
            current.decide_sign_in(self.app.now(), password_right=right)

        after = self._update(user.id, decide)
        if verdicts[after.password_hash]:
            return UserDetails.of(after)
        after.refuse_if_locked(self.app.now())  # the failure that locked it
        raise SignInFailedError("the e-mail address or the password is wrong")

    def sign_out(self, user_id: UUID) -> None:
        """End every session of the user."""
        self._update(user_id, lambda u: u.signed_out())

    def change_password(self, user_id: UUID, current: str, new: str) -> None:
        """Set a new password after checking the current one; other sessions end."""
        secret = check_password(new, "new_password")
        user = self._require(user_id)
        if not self._verify(user.password_hash, current):
            raise InvalidFieldError("current_password", "is not the current password")
        password_hash = self.hasher.hash(secret)
        self._update(user_id, lambda u: u.change_password(password_hash))

    def change_role(self, user_id: UUID, role: str) -> None:
        """Make the user an owner or a viewer."""
        checked = check_role(role)
        self._update(user_id, lambda u: u.change_role(checked))

    # -- plumbing ------------------------------------------------------------------

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("not-a-password-of-anyone")
        return self._dummy_hash

    def _load(self, user_id: UUID) -> User | None:
        try:
            found: object = self.app.repository.get(user_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, User) else None

    def _require(self, user_id: UUID) -> User:
        user = self._load(user_id)
        if user is None:
            raise InvalidFieldError("user_id", f"no user {user_id}")
        return user

    def _update(self, user_id: UUID, change: Callable[[User], None]) -> User:
        """Load, change and save the user; again from the start if another write came first.

        The save carries the version ``change`` saw (optimistic concurrency): if another
        write to the user came first it raises ``RecordConflictError``, and ``change`` runs
        again on the user as it is now. An exception from ``change`` ends it, unsaved.
        """

        def once() -> User:
            with using_clock(self.app.clock):
                user = self._require(user_id)
                change(user)
                self.app.save(user)
            return user

        tries = self.app.retries
        try:
            return retry(once, delays=conflict_waits(tries - 1), retry_on=RecordConflictError)
        except RecordConflictError:
            msg = f"gave up after {tries} conflicting attempts"
            raise ConcurrencyConflictError(msg) from None
