"""Checks for the plain fields of commands; each error names the field it is about."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from paylink_es.domain.errors import ExpiryInvalidError, InvalidFieldError, TextInvalidError

# Domain labels: letters, digits and inner hyphens; no empty label, none ending in "-".
_EMAIL = re.compile(
    r"[^@\s]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}")
MAX_EXPIRY_AHEAD = timedelta(days=366)


def check_text(
    value: object,
    field: str,
    *,
    max_length: int,
    multiline: bool = False,
    required: bool = True,
) -> str | None:
    """Trim and check a human text: present if required, not too long, no control chars."""
    if value is None:
        if required:
            raise TextInvalidError(field, "is required", kind="required")
        return None
    if not isinstance(value, str):
        raise TextInvalidError(field, f"must be text, got {type(value).__name__}", kind="not_text")
    text = value.strip()
    if multiline:  # browsers submit textarea line breaks as CRLF
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        if required:
            raise TextInvalidError(field, "must not be empty", kind="empty")
        return None
    if len(text) > max_length:
        raise TextInvalidError(
            field,
            f"is {len(text)} characters; the limit is {max_length}",
            kind="too_long",
            length=len(text),
            limit=max_length,
        )
    allowed = {"\n", "\t"} if multiline else set()
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs") and char not in allowed:
            code = f"U+{ord(char):04X}"
            raise TextInvalidError(
                field, f"contains the control character {code}", kind="control", char=code
            )
    return text


def require_text(value: object, field: str, *, max_length: int, multiline: bool = False) -> str:
    """Like :func:`check_text` for a field that must be present."""
    text = check_text(value, field, max_length=max_length, multiline=multiline)
    if text is None:
        raise TextInvalidError(field, "is required", kind="required")
    return text


BY_LENGTH = 320  # who made a change: an API key's id or a dashboard user's e-mail


def check_by(by: object) -> str:
    """Who made a change, as its event records it (required, one line)."""
    return require_text(by, "by", max_length=BY_LENGTH)


def check_reference(value: object, field: str = "reference_id") -> str | None:
    """A merchant reference: 1-64 of letters, digits and . _ : / # -; None when absent."""
    if value is None:
        return None
    if not isinstance(value, str) or not _REFERENCE.fullmatch(value):
        raise InvalidFieldError(
            field, "must be 1-64 letters, digits or . _ : / # - and start with a letter or digit"
        )
    return value


_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,62}[a-z0-9])")
# Words a slug may not be: the site's own paths, and names a customer could be fooled by.
RESERVED_SLUGS: frozenset[str] = frozenset(
    {
        "admin", "api", "dashboard", "docs", "favicon", "healthz", "help", "l", "login",
        "logout", "new", "openapi", "pay", "paylink", "readyz", "receipt", "redoc",
        "sandbox", "static", "support", "v1", "www",
    }
)  # fmt: skip


def check_slug(value: object, field: str = "slug") -> str | None:
    """A merchant's own short name for a link (``/l/{slug}``): 3-64 letters, digits and
    ``-`` (not first or last), lower-cased; None when absent. Reserved words are refused."""
    if value is None:
        return None
    if not isinstance(value, str) or not _SLUG.fullmatch(value.lower()):
        raise InvalidFieldError(
            field, "must be 3-64 letters, digits or -, starting and ending with a letter or digit"
        )
    slug = value.lower()
    if slug in RESERVED_SLUGS:
        raise InvalidFieldError(field, f"{slug!r} is reserved; choose another")
    return slug


def optional_text(
    max_length: int,
) -> Callable[[Callable[[str, str], str]], Callable[[object, str], str | None]]:
    """Make ``check(text, field)`` the check of an optional field: a value that is absent
    or blank is None; any other goes through :func:`check_text` first."""

    def decorate(check: Callable[[str, str], str]) -> Callable[[object, str], str | None]:
        @functools.wraps(check)
        def checked(value: object, field: str) -> str | None:
            text = check_text(value, field, max_length=max_length, required=False)
            return None if text is None else check(text, field)

        return checked

    return decorate


@optional_text(max_length=254)
def check_email(text: str, field: str) -> str:
    """A plausible e-mail address (lower-cased domain), or None when absent."""
    if not _EMAIL.fullmatch(text):
        raise InvalidFieldError(field, f"{text!r} is not an e-mail address", kind="email")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


@optional_text(max_length=32)
def normalise_phone(text: str, field: str) -> str:
    """Normalise a phone number to E.164: Indonesian ``08…``, ``628…`` and ``+62 0 8…`` (the
    trunk 0 kept after the country code) become ``+628…``; spaces, dashes, dots and
    brackets go; ``00`` is the international prefix."""
    digits = re.sub(r"[\s().-]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+62" + digits[1:]
    elif digits.startswith("62"):
        digits = "+" + digits
    if digits.startswith("+620"):
        digits = "+62" + digits[4:]
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", digits):
        raise InvalidFieldError(field, f"{text!r} is not a phone number", kind="phone")
    if digits.startswith("+62") and not re.fullmatch(r"\+62[1-9][0-9]{7,12}", digits):
        raise InvalidFieldError(field, f"{text!r} is not an Indonesian phone number", kind="phone")
    return digits


@optional_text(max_length=2048)
def check_url(text: str, field: str) -> str:
    """An absolute http(s) URL of at most 2,048 characters, or None when absent."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidFieldError(field, f"{text!r} is not an absolute http(s) URL")
    return text


def check_expiry(value: object, now: datetime, field: str = "expires_at") -> datetime | None:
    """An aware instant in the future and at most a year ahead, or None for no expiry."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ExpiryInvalidError(field, f"{value!r} is not an ISO-8601 instant") from None
    if not isinstance(value, datetime):
        raise ExpiryInvalidError(field, "must be an ISO-8601 instant")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ExpiryInvalidError(field, "must carry a time zone offset, e.g. +07:00")
    if value <= now:
        raise ExpiryInvalidError(field, f"{value.isoformat()} is in the past")
    if value - now > MAX_EXPIRY_AHEAD:
        raise ExpiryInvalidError(field, "must be at most 366 days ahead")
    return value


def check_metadata(value: object, field: str = "metadata") -> dict[str, str]:
    """Up to 50 string pairs: keys of 1-40 characters, values of at most 500."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidFieldError(field, "must be an object of string keys and values")
    if len(value) > 50:
        raise InvalidFieldError(field, f"has {len(value)} keys; the limit is 50")
    checked: dict[str, str] = {}
    for key, item in value.items():
        name = require_text(key, f"{field} key", max_length=40)
        text = check_text(item, f"{field}.{name}", max_length=500, required=False)
        checked[name] = text or ""
    return checked
