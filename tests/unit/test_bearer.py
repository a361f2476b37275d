"""The one reader of ``Authorization: Bearer <token>``."""

from __future__ import annotations

import pytest

from paylink_es.bearer import bearer_token


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer sk_test_abc", "sk_test_abc"),
        ("bearer sk_test_abc", "sk_test_abc"),
        ("BEARER sk_test_abc", "sk_test_abc"),
        ("  Bearer   sk_test_abc  ", "sk_test_abc"),
        (b"Bearer sk_live_xyz", "sk_live_xyz"),
        ("Bearer eyJhbGciOi.J9-_~+/=", "eyJhbGciOi.J9-_~+/="),
    ],
)
def test_a_bearer_token_is_read(header: str | bytes, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        b"",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "sk_test_abc",
        "Bearer sk_test_abc extra",
        "Bearer sk_test\tabc",
        "Bearersk_test_abc",
        "Token sk_test_abc",
    ],
)
def test_anything_else_has_no_token(header: str | bytes | None) -> None:
    assert bearer_token(header) is None


def test_raw_header_bytes_are_latin_1() -> None:
    assert bearer_token("Bearer café".encode("latin-1")) == "café"
