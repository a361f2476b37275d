"""Stored state read with orjson is exactly what the library's JSON decoder reads, and
stored events are mapped exactly as the library's mapper maps them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    TranscodingNotRegisteredError,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paylink_es.application.services import Paylink
from paylink_es.domain.fields import FIELD_TYPES, LABEL_LANGUAGES, Customer, CustomField
from paylink_es.domain.money import Money
from paylink_es.domain.terms import LineItem
from paylink_es.store import transcodings
from paylink_es.store.transcodings import (
    FastJSONTranscoder,
    FastMapper,
    Plans,
    register_domain_transcodings,
)


def _transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    made = (JSONTranscoder(), FastJSONTranscoder())
    for transcoder in made:
        transcoder.register(DatetimeAsISO())
        transcoder.register(DecimalAsStr())
        register_domain_transcodings(transcoder)
    return made


LIBRARY, FAST = _transcoders()

text = st.text(max_size=12)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those, the library reads them
    | st.floats(allow_nan=False)
    | text
    | st.uuids()
    | st.datetimes(timezones=st.just(UTC))
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.builds(Money, st.integers(0, 10**15), st.sampled_from(["IDR", "USD"]))
    | st.builds(LineItem, text, st.integers(1, 99), st.integers(0, 10**9))
    | st.builds(Customer, text, st.none() | text, st.none() | text, st.none() | text)
    | st.builds(
        CustomField,
        text,
        st.sampled_from(FIELD_TYPES),
        st.dictionaries(st.sampled_from(LABEL_LANGUAGES), text, min_size=1),
        st.booleans(),
        st.lists(text, max_size=3),
    )
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["_type_", "_data_", "a", "b", ""]) | text, children
    )


values = st.recursive(leaves, _containers, max_leaves=20)
small_values = st.recursive(leaves, _containers, max_leaves=4)


def _outcome(transcoder: JSONTranscoder, stored: bytes) -> tuple[str, Any]:
    try:
        return "read", transcoder.decode(stored)
    except Exception as refused:
        return "refused", type(refused)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(text, values))
def test_any_state_the_library_writes_reads_back_the_same(state: dict[str, Any]) -> None:
    stored = LIBRARY.encode(state)
    assert FAST.encode(state) == stored  # writing is the library's own
    # Objects whose own keys are "_type_" and "_data_" can make the library refuse its
    # own bytes: then the same refusal.
    assert _outcome(FAST, stored) == _outcome(LIBRARY, stored)


def _read_through(plans: Plans) -> JSONTranscoder:
    """A transcoder whose ``decode`` is the fast one's ``decode_state`` with ``plans``."""

    class ThroughPlans(JSONTranscoder):
        def decode(self, data: bytes) -> Any:
            return FAST.decode_state(data, plans)

    return ThroughPlans()


def _same_reading(found: tuple[str, Any], expected: tuple[str, Any]) -> None:
    assert found == expected
    assert repr(found) == repr(expected)  # the same types too: True is not 1, Money(1) not 1


# A few keys, so that states of the same shape (the type of each value, in order) come
# with other keys, or another transcoded type where a plan expects one.
few_keys = st.sampled_from(["at", "id", "amount", "meta", "_type_", "_data_"])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(few_keys, small_values, max_size=4), min_size=1, max_size=6))
def test_states_read_through_a_topics_plans_read_as_the_library_reads_them(
    states: list[dict[str, Any]],
) -> None:
    through = _read_through({})
    for state in states * 2:  # the second time through the plans learnt the first
        stored = LIBRARY.encode(state)
        _same_reading(_outcome(through, stored), _outcome(LIBRARY, stored))


@pytest.mark.parametrize(
    "states",
    [
        # the same shape with other keys: the plan's key is missing, or holds a string
        [
            b'{"at": {"_type_": "uuid_hex", "_data_": "' + b"1" * 32 + b'"}, "n": 1}',
            b'{"n": 2, "at": {"_type_": "uuid_hex", "_data_": "' + b"2" * 32 + b'"}}',
            b'{"b": {"_type_": "uuid_hex", "_data_": "' + b"3" * 32 + b'"}, "n": 3}',
        ],
        # another transcoded type, or a plain object, where the plan has a UUID or Money
        [
            b'{"x": {"_type_": "uuid_hex", "_data_": "' + b"4" * 32 + b'"}}',
            b'{"x": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05+00:00"}}',
            b'{"x": {"_type_": "money", "_data_": [5, "IDR"]}}',
            b'{"x": {"_type_": "money", "_data_": [5, "IDR"], "y": 1}}',
            b'{"x": {"_data_": "' + b"5" * 32 + b'", "_type_": "uuid_hex"}}',
            b'{"x": {"a": [1.5]}}',
            b'{"x": {}}',
        ],
        # Money kept for an amount is not handed out for true (which equals 1)
        [
            b'{"m": {"_type_": "money", "_data_": [1, "IDR"]}}',
            b'{"m": {"_type_": "money", "_data_": [true, "IDR"]}}',
            b'{"m": {"_type_": "money", "_data_": [1, "XXX"]}}',
            b'{"m": {"_type_": "money", "_data_": [1e400, "IDR"]}}',
            b'{"m": {"_type_": "money", "_data_": [1]}}',
        ],
        # a float, a huge integer or the library's own marker at the top
        [
            b'{"n": 1, "s": "a"}',
            b'{"n": 1.5, "s": "a"}',
            b'{"n": 123456789012345678901, "s": "a"}',
            b'{"_type_": "uuid_hex", "_data_": "' + b"6" * 32 + b'"}',
            b'{"_type_": "x", "_data_": "y"}',
            b'{"a": [1, [2.5]]}',
            b'{"a": [1, [2]]}',
        ],
    ],
)
def test_a_plan_that_does_not_fit_a_state_leaves_it_to_the_generic_reading(
    states: list[bytes],
) -> None:
    through = _read_through({})
    for stored in states * 2:
        _same_reading(_outcome(through, stored), _outcome(LIBRARY, stored))


def test_values_kept_for_the_next_state_stay_a_bounded_number() -> None:
    ids = [UUID(int=i) for i in range(transcodings.VALUES_KEPT + 10)]
    for id_ in ids:
        assert FAST.decode(LIBRARY.encode({"id": id_, "m": Money(id_.int, "IDR")})) == {
            "id": id_,
            "m": Money(id_.int, "IDR"),
        }
    assert 0 < len(transcodings._IDS) <= transcodings.VALUES_KEPT
    assert 0 < len(transcodings._MONEYS) <= transcodings.VALUES_KEPT


@pytest.mark.parametrize(
    "stored",
    [
        b'{"big": 123456789012345678901234567890}',  # beyond 64 bits: the library's decoder
        b'{"n": NaN, "i": -Infinity}',
        b'{"s": "\\ud800"}',  # a lone surrogate
        b'{"_type_": "uuid_hex"}',  # a marker without data is a plain object
        b'{"_type_": "uuid_hex", "_data_": "00000000000000000000000000000001", "x": 1}',
        b'[{"_type_": "money", "_data_": [5, "IDR"]}, [[{"a": {}}]], []]',
        b'"just text"',
        b"42",
        b'{"a": 1, "a": 2}',
    ],
)
def test_edge_cases_read_as_the_library_reads_them(stored: bytes) -> None:
    expected = LIBRARY.decode(stored)
    found = FAST.decode(stored)
    assert repr(found) == repr(expected)  # NaN is not equal to itself; its repr is


def test_nested_values_are_decoded_innermost_first() -> None:
    stored = LIBRARY.encode(
        {"items": [LineItem("Kaos", 2, 50_000)], "at": datetime(2026, 1, 2, tzinfo=UTC)}
    )
    found = FAST.decode(stored)
    assert found == {"items": [LineItem("Kaos", 2, 50_000)], "at": datetime(2026, 1, 2, tzinfo=UTC)}
    assert type(FAST.decode(LIBRARY.encode({"id": UUID(int=7)}))["id"]) is UUID
    assert FAST.decode(LIBRARY.encode({"d": Decimal("1.50")})) == {"d": Decimal("1.50")}


def test_an_unknown_type_is_refused_as_the_library_refuses_it() -> None:
    stored = b'{"x": {"_type_": "no_such_type", "_data_": 1}}'
    with pytest.raises(TranscodingNotRegisteredError, match="no_such_type"):
        LIBRARY.decode(stored)
    with pytest.raises(TranscodingNotRegisteredError, match="no_such_type"):
        FAST.decode(stored)


def test_the_mapper_reads_every_stored_event_as_the_library_does(backend_app: Paylink) -> None:
    merchant = backend_app.merchants.register("Mapper Check")
    for amount in (50_000, 50_000, 75_000):  # the same amounts again: Money kept for them
        link = backend_app.links.create(
            merchant, amount=amount, description="Paket", methods=["qris"]
        )
        payment = backend_app.payments.start(link, "qris")
        backend_app.payments.record(
            payment, f"QR-{link.hex[:8]}", Money(amount, "IDR"), backend_app.now()
        )
        backend_app.payments.verify(payment, fee=Money(350, "IDR"))
        backend_app.money.settle_payment(
            payment, backend_app.app.new_id(), backend_app.now().date()
        )
    mapper = backend_app.app.mapper
    assert isinstance(mapper, FastMapper)
    library = Mapper[UUID](transcoder=mapper.transcoder)
    stored = list(backend_app.app.recorder.select_notifications(start=1, limit=1_000))
    assert len({n.topic for n in stored}) >= 8
    for notification in stored * 2:  # the second time from the topics it keeps
        fast, expected = mapper.to_domain_event(notification), library.to_domain_event(notification)
        assert type(fast) is type(expected)
        assert vars(fast) == vars(expected)
        assert {k: type(v) for k, v in vars(fast).items()} == {
            k: type(v) for k, v in vars(expected).items()
        }


def test_the_mapper_refuses_what_the_library_refuses(memory_app: Paylink) -> None:
    mapper = memory_app.app.mapper
    memory_app.merchants.register("Mapper Refusal")
    first = memory_app.app.recorder.select_notifications(start=1, limit=1)[0]
    stored = StoredEvent(
        originator_id=uuid4(), originator_version=1, topic=first.topic, state=b"{not json"
    )
    with pytest.raises(MapperDeserialisationError):
        mapper.to_domain_event(stored)
