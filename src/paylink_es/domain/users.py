"""Merchant staff who sign in to the dashboard: the User aggregate and its rules.

A user belongs to one merchant, has a role (``owner`` may change things, ``viewer``
may only look) and an argon2 password hash (never the password). Repeated wrong
passwords lock the account for a while; every failure and lockout is an event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.errors import DomainError, InvalidFieldError
from paylink_es.domain.validation import check_email, check_text

Role = Literal["owner", "viewer"]
ROLES: Final[tuple[Role, ...]] = ("owner", "viewer")
MAX_FAILURES: Final = 5  # wrong passwords in a row before the account locks
LOCKOUT: Final = timedelta(minutes=15)
MIN_PASSWORD: Final = 10
MAX_PASSWORD: Final = 256


class UserExistsError(InvalidFieldError):
    """An account with that e-mail address exists already."""

    type = "user-exists"


class SignInFailedError(DomainError):
    """The e-mail address or the password is wrong (which one is not said)."""

    type = "sign-in-failed"


class AccountLockedError(DomainError):
    """Too many wrong passwords: the account refuses sign-ins until ``until``."""

    type = "account-locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"the account is locked until {until.isoformat()}")
        self.until = until


def user_email(value: object, field: str = "email") -> str:
    """An e-mail address as an account name: checked and lower-cased (one account per inbox)."""
    email = check_email(value, field)
    if email is None:
        raise InvalidFieldError(field, "is required")
    return email.lower()


def user_id_for(email: str) -> UUID:
    """The id of the account for an e-mail address: a second account conflicts by construction."""
    return stable_id(f"/users/{email}")


def check_role(value: object, field: str = "role") -> Role:
    """``owner`` or ``viewer``."""
    for role in ROLES:
        if value == role:
            return role
    raise InvalidFieldError(field, f"must be one of {', '.join(ROLES)}")


def check_password(value: object, field: str = "password") -> str:
    """A new password: 10 to 256 characters, not only spaces (kept exactly as typed)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidFieldError(field, "is required")
    if len(value) < MIN_PASSWORD:
        raise InvalidFieldError(field, f"must be at least {MIN_PASSWORD} characters")
    if len(value) > MAX_PASSWORD:
        raise InvalidFieldError(field, f"must be at most {MAX_PASSWORD} characters")
    return value


class User(PaylinkAggregate):
    """A person who signs in to a merchant's dashboard."""

    @event("Created")
    def __init__(
        self,
        id: UUID,  # user_id_for(email): ids are how uniqueness is built
        merchant_id: UUID,
        email: str,
        name: str | None,
        role: Role,
        password_hash: str,
    ) -> None:
        self.merchant_id = merchant_id
        self.email = email
        self.name = name
        self.role: Role = role
        self.password_hash = password_hash
        self.failures = 0
        self.locked_until: datetime | None = None
        # Bumped by sign-out and password change: sessions signed with an older one end.
        self.session_epoch = 0

    def locked_at(self, now: datetime) -> datetime | None:
        """Until when sign-ins are refused, if they are at ``now``."""
        if self.locked_until is not None and now < self.locked_until:
            return self.locked_until
        return None

    def refuse_if_locked(self, now: datetime) -> None:
        """Raise :class:`AccountLockedError` if sign-ins are refused at ``now``."""
        until = self.locked_at(now)
        if until is not None:
            raise AccountLockedError(until)

    def decide_sign_in(self, now: datetime, *, password_right: bool) -> None:
        """Decide an attempt whose password was checked against ``password_hash``.

        One decision on this version of the user: a locked account refuses the attempt
        (:class:`AccountLockedError`, nothing recorded), whatever the password; otherwise
        a right password records ``SignedIn`` and a wrong one ``SignInFailed`` (and the
        fifth in a row ``LockedOut``). Saved, the events conflict with any other attempt
        decided on the same version, which is then decided again on the new state: so a
        success is never recorded after the lock, however the requests interleave.
        """
        self.refuse_if_locked(now)
        if password_right:
            self._signed_in()
        else:
            self._fail_sign_in(now)

    def _fail_sign_in(self, now: datetime) -> None:
        """Record a wrong password; the fifth in a row locks the account."""
        lockout_over = self.locked_until is not None and now >= self.locked_until
        self._sign_in_failed(failures=1 if lockout_over else self.failures + 1)
        if self.failures >= MAX_FAILURES:
            self._locked_out(until=now + LOCKOUT)

    @event("SignInFailed")
    def _sign_in_failed(self, failures: int) -> None:
        self.failures = failures
        if failures == 1:
            self.locked_until = None

    @event("LockedOut")
    def _locked_out(self, until: datetime) -> None:
        self.locked_until = until

    @event("SignedIn")
    def _signed_in(self) -> None:
        """A right password on an unlocked account: the count of failures starts again."""
        self.failures = 0
        self.locked_until = None

    @event("SignedOut")
    def signed_out(self) -> None:
        """End every session of the user (on every device)."""
        self.session_epoch += 1

    @event("PasswordChanged")
    def change_password(self, password_hash: str) -> None:
        """A new password hash; sessions signed in with the old password end."""
        self.password_hash = password_hash
        self.session_epoch += 1
        self.failures = 0
        self.locked_until = None

    @event("RoleChanged")
    def change_role(self, role: Role) -> None:
        """Make the user an owner or a viewer."""
        self.role = role


def display_name(value: object) -> str | None:
    """An optional person's name, checked like every text."""
    return check_text(value, "name", max_length=200, required=False)
