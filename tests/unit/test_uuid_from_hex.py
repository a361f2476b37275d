"""Stored ids read back with ``uuid_from_hex`` are the very UUIDs ``UUID()`` would make."""

from __future__ import annotations

import pickle
from uuid import UUID, uuid4, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink_es.store.transcodings import UUIDAsHexFast, uuid_from_hex


@given(st.uuids())
def test_it_equals_uuid_in_every_respect(expected: UUID) -> None:
    made = uuid_from_hex(expected.hex)
    assert made == expected
    assert (hash(made), str(made), repr(made), made.hex) == (
        hash(expected),
        str(expected),
        repr(expected),
        expected.hex,
    )
    assert made.version == expected.version
    assert pickle.loads(pickle.dumps(made)) == expected  # noqa: S301 - our own bytes


@pytest.mark.parametrize(
    "text", ["not-a-uuid", "0" * 31, "g" * 32, "", "{12345678-1234-5678-1234-567812345678}"]
)
def test_what_uuid_refuses_it_refuses_and_other_forms_go_to_uuid(text: str) -> None:
    try:
        expected: UUID | None = UUID(text)
    except ValueError as refused:
        expected = None
        message = str(refused)
    if expected is None:
        with pytest.raises(ValueError, match=r"hexadecimal|invalid literal"):
            uuid_from_hex(text)
        assert message
    else:
        assert uuid_from_hex(text) == expected


def test_the_transcoding_keeps_the_librarys_stored_form() -> None:
    transcoding = UUIDAsHexFast()
    value = uuid5(uuid4(), "x")
    assert transcoding.name == "uuid_hex"
    assert transcoding.encode(value) == value.hex
    assert transcoding.decode(value.hex) == value
