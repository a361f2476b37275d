"""How the domain's own value types are written into stored events, and read back exactly."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import fields
from datetime import datetime
from typing import Any, cast
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
    find_id_convertor,
    pass_through_convertor,
)
from eventsourcing.utils import resolve_topic

from paylink_es.domain.fields import Customer, CustomField
from paylink_es.domain.money import CURRENCY_EXPONENTS, MAX_MONEY, Money
from paylink_es.domain.terms import LineItem

_UNKNOWN = SafeUUID.unknown


def uuid_from_hex(text: str) -> UUID:
    """``UUID(text)`` for the 32 hex digits the stores keep, several times cheaper.

    ``UUID.__init__`` strips prefixes, braces and hyphens before it parses; stored ids
    have none. The value and its validation are the same (``int(text, 16)`` after the
    length check, as ``UUID`` does); anything not 32 characters long goes to ``UUID``.
    """
    if len(text) != 32:
        return UUID(text)
    made = object.__new__(UUID)
    object.__setattr__(made, "int", int(text, 16))
    object.__setattr__(made, "is_safe", _UNKNOWN)
    return made


# Values decoded from stored state are kept, a bounded number of each, for the next
# state that holds the same: a merchant's id is in most of its events, a payment's
# amount in every event of its lifecycle. Both types are immutable, so an event gets an
# equal value, of the same type, that other events share. When full, a cache starts
# again empty (a log read in order soon fills it with what it is reading).
VALUES_KEPT = 16_384
_IDS: dict[str, UUID] = {}
_MONEYS: dict[tuple[int, str], Money] = {}


def uuid_from_stored_hex(text: str) -> UUID:
    """``uuid_from_hex(text)``, kept for the next state that holds the same id."""
    made = _IDS.get(text)
    if made is None:
        made = uuid_from_hex(text)
        if len(_IDS) >= VALUES_KEPT:
            _IDS.clear()
        _IDS[text] = made
    return made


class UUIDAsHexFast(UUIDAsHex):
    """The library's ``uuid_hex`` transcoding (same stored form), decoded faster."""

    def decode(self, data: str) -> UUID:
        return uuid_from_stored_hex(data)


class MoneyAsList(Transcoding):
    """Money as ``[amount, currency]``: integers stay integers."""

    type = Money
    name = "money"

    def encode(self, obj: Money) -> list[Any]:
        return [obj.amount, obj.currency]

    def decode(self, data: list[Any]) -> Money:
        amount, currency = data
        return _money(amount, currency)


class FieldsAsDict(Transcoding):
    """A dataclass of plain values as a plain object of its fields, in their order."""

    _names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._names = tuple(field.name for field in fields(cls.type))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._names}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


class LineItemAsDict(FieldsAsDict):
    """A line item as a plain object."""

    type = LineItem
    name = "line_item"


class CustomerAsDict(FieldsAsDict):
    """A customer as a plain object."""

    type = Customer
    name = "customer"


class CustomFieldAsDict(FieldsAsDict):
    """A link's custom field definition as a plain object."""

    type = CustomField
    name = "custom_field"


class _LibraryReads(Exception):
    """State that orjson would read differently from the library: the library reads it."""


_new_object = object.__new__
_set_attribute = object.__setattr__
_MAX_MONEY = MAX_MONEY


def _money(amount: Any, currency: Any) -> Money:
    """``Money(amount, currency)`` for stored amounts, kept for the next state with the same.

    The checks of ``Money.__post_init__`` decide which values are made here, without the
    dataclass's ``__init__``; anything else goes through ``Money`` itself, which raises
    the same errors it always did. Only exact ints are keys (``True == 1``).
    """
    if type(amount) is not int or type(currency) is not str:
        return Money(amount, currency)
    key = (amount, currency)
    made = _MONEYS.get(key)
    if made is None:
        if not (-_MAX_MONEY <= amount <= _MAX_MONEY and currency in CURRENCY_EXPONENTS):
            return Money(amount, currency)
        made = _new_object(Money)
        _set_attribute(made, "amount", amount)
        _set_attribute(made, "currency", currency)
        if len(_MONEYS) >= VALUES_KEPT:
            _MONEYS.clear()
        _MONEYS[key] = made
    return made


# How a plan decodes the objects and arrays of a state: the keys of transcoded values
# with text data (and the name of their type: its decoder reads the text), the keys of
# Money as [amount, currency], and the keys of any other object or array (the generic
# walk; {} and [] read as themselves).
Plan = tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]
_CONTAINERS = (dict, list)
Plans = dict[tuple[type, ...], Plan]
PLANS_KEPT = 64  # shapes remembered per topic: a few are usual (an optional value set or not)


class FastJSONTranscoder(JSONTranscoder):
    """The library's JSON transcoder, reading stored state with orjson.

    Writes exactly as the library does. Reads give what the library's decoder gives:
    orjson parses, then each ``{"_type_": name, "_data_": data}`` object is decoded by
    its transcoding, innermost first, as the library's ``object_hook`` does. State that
    orjson refuses (``NaN``, lone surrogates) or may read differently (any number with
    a fraction or beyond 64 bits comes back as a float: an integer of 30 digits would
    lose digits) is read by the library's decoder. Events of this domain carry no
    floats, so that is rare.

    The mapper reads an event's state with :meth:`decode_state` and a plan per shape of
    its topic's state (see there): only the keys that hold objects or arrays are visited.
    """

    def __init__(self) -> None:
        super().__init__()
        # name -> its transcoding's decode, for the common case of plain text data
        # (a UUID's hex, a datetime's ISO text): one dict lookup and one call.
        self._text_decoders: dict[str, Callable[[Any], Any]] | None = None

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._text_decoders = None

    def _text_decoder_table(self) -> dict[str, Callable[[Any], Any]]:
        table: dict[str, Callable[[Any], Any]] = {}
        for name, transcoding in self.names.items():
            kind = type(transcoding)
            if kind is DatetimeAsISO:
                table[name] = datetime.fromisoformat  # its decode, without the assert
            elif kind is UUIDAsHexFast:
                table[name] = uuid_from_stored_hex
            else:
                table[name] = transcoding.decode
        self._text_decoders = table
        return table

    def decode(self, data: bytes) -> Any:
        try:
            parsed = orjson.loads(data)
            kind = type(parsed)
            if kind is dict:
                return self._object(parsed, self._text_decoders or self._text_decoder_table())
            if kind is list:
                return self._array(parsed, self._text_decoders or self._text_decoder_table())
            if kind is float:
                raise _LibraryReads
        except (orjson.JSONDecodeError, _LibraryReads):
            return super().decode(data)
        return parsed

    def decode_state(self, data: bytes, plans: Plans) -> Any:
        """``decode(data)``, for states that are mostly the same shape (one topic's).

        The shape of a state is the type of each of its values, in order. ``plans`` maps
        a shape to the keys that hold objects or arrays and how each is decoded, learnt
        from the first state of that shape. A state of a known shape with no float in it
        is decoded key by key as the plan says, every other value being a string, an
        integer, a boolean or None (nothing to decode). A value a plan did not expect
        (another transcoded type, a plain object) goes through the generic walk; a state
        whose keys are not the plan's, and any error, through :meth:`decode`, which reads
        the values in their order and so raises what the library would.
        """
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)
        if type(parsed) is not dict:
            return self.decode(data)
        shape = tuple(map(type, parsed.values()))
        plan = plans.get(shape)
        if plan is None:
            if float in shape or _is_transcoded(parsed) or len(plans) >= PLANS_KEPT:
                return self.decode(data)
            plan = plans[shape] = self._plan(parsed)
        texts, moneys, others = plan
        text = self._text_decoders or self._text_decoder_table()
        try:
            for key, name in texts:
                value = parsed[key]
                if type(value) is dict and len(value) == 2:
                    found = value["_data_"]
                    if type(found) is str and value["_type_"] == name:
                        parsed[key] = text[name](found)
                        continue
                if not self._value(parsed, key, value, text):
                    return self.decode(data)
            for key in moneys:
                value = parsed[key]
                if type(value) is dict and len(value) == 2:
                    found = value["_data_"]
                    if type(found) is list and len(found) == 2 and value["_type_"] == "money":
                        parsed[key] = _money(found[0], found[1])
                        continue
                if not self._value(parsed, key, value, text):
                    return self.decode(data)
            for key in others:
                value = parsed[key]
                if (value or type(value) not in _CONTAINERS) and not self._value(
                    parsed, key, value, text
                ):
                    return self.decode(data)
        except Exception:
            return self.decode(data)
        if len(parsed) == 2 and _is_transcoded(parsed):
            return self.decode(data)
        return parsed

    def _value(
        self, state: dict[str, Any], key: str, value: Any, text: dict[str, Callable[[Any], Any]]
    ) -> bool:
        """Decode an object or array value the generic way; False if it is neither.

        A plan visits as many keys as its shape has objects and arrays: should one of
        them hold something else, the state's keys are not the plan's, and some object
        or array may be unvisited.
        """
        kind = type(value)
        if kind is dict:
            state[key] = self._object(value, text)
        elif kind is list:
            self._array(value, text)
        else:
            return False
        return True

    def _plan(self, parsed: dict[str, Any]) -> Plan:
        """How to decode each object or array value of states shaped like ``parsed``."""
        text = self._text_decoders or self._text_decoder_table()
        money = type(self.names.get("money")) is MoneyAsList
        texts, moneys, others = [], [], []
        for key, value in parsed.items():
            if type(value) is dict:
                name = value.get("_type_") if len(value) == 2 else None
                data = value.get("_data_")
                if type(name) is str and type(data) is str and name in text:
                    texts.append((key, name))
                elif money and name == "money" and type(data) is list:
                    moneys.append(key)
                else:
                    others.append(key)
            elif type(value) is list:
                others.append(key)
        return tuple(texts), tuple(moneys), tuple(others)

    def _object(self, obj: dict[str, Any], text: dict[str, Callable[[Any], Any]]) -> Any:
        for key, value in obj.items():
            kind = type(value)
            if kind is dict:
                # Most objects in stored state are a transcoded value with plain text
                # data (a UUID's hex, a datetime's ISO text): decoded here, at once.
                if len(value) == 2:
                    name = value.get("_type_")
                    data = value.get("_data_")
                    if type(name) is str and type(data) is str:
                        decoder = text.get(name)
                        if decoder is not None:
                            obj[key] = decoder(data)
                            continue
                obj[key] = self._object(value, text)
            elif kind is list:
                obj[key] = self._array(value, text)
            elif kind is float:
                raise _LibraryReads
        if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
            return self._decode_obj(obj)
        return obj

    def _array(self, values: list[Any], text: dict[str, Callable[[Any], Any]]) -> list[Any]:
        for index, value in enumerate(values):
            kind = type(value)
            if kind is dict:
                values[index] = self._object(value, text)
            elif kind is list:
                values[index] = self._array(value, text)
            elif kind is float:
                raise _LibraryReads
        return values


def _is_transcoded(obj: dict[str, Any]) -> bool:
    """Whether the library's decoder would read ``obj`` as a transcoded value."""
    return len(obj) == 2 and "_type_" in obj and "_data_" in obj


# What the mapper keeps of a topic: its class, how to convert an originator id (None: as
# stored), its class version, the plans for its states' shapes, and how to set an event's
# __dict__.
_Topic = tuple[type, Callable[[Any], Any] | None, int, Plans, Callable[[Any, dict[str, Any]], None]]


class FastMapper(Mapper[UUID]):
    """The library's mapper, reading events with each topic's facts looked up once.

    For every stored event the library resolves its topic, finds how to convert its
    originator id and reads its class version; here those are kept per topic (and type
    of stored id), with the plans for its states' shapes (``FastJSONTranscoder``), and
    the rest is the library's own steps in the same order: the state decoded, the id and
    version set, upcast from the stored class version, the event made without
    ``__init__``. A cipher or a compressor, and any state that fails to decode, go
    through the library's method (which raises its own error).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._topics: dict[tuple[str, type], _Topic] = {}
        transcoder = self.transcoder
        self._decode_state: Callable[[bytes, Plans], Any] = (
            transcoder.decode_state
            if isinstance(transcoder, FastJSONTranscoder)
            else lambda data, _plans: transcoder.decode(data)
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        if self.cipher is not None or self.compressor is not None:
            return super().to_domain_event(stored_event)
        originator_id = stored_event.originator_id
        key = (stored_event.topic, type(originator_id))
        known = self._topics.get(key)
        if known is None:
            known = self._topics[key] = self._topic(*key)
        cls, convertor, class_version, plans, set_state = known
        try:
            state: dict[str, Any] = self._decode_state(stored_event.state, plans)
        except Exception:
            return super().to_domain_event(stored_event)
        state["originator_id"] = originator_id if convertor is None else convertor(originator_id)
        state["originator_version"] = stored_event.originator_version
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        event: Any = _new_object(cls)
        set_state(event, state)
        return event

    @staticmethod
    def _topic(topic: str, id_type: type) -> _Topic:
        """What the mapper keeps of a topic: see the class's docstring."""
        found: type = resolve_topic(topic)
        convert = find_id_convertor(found, cast("Hashable", id_type))
        # The event's __dict__ is set through its descriptor, as object.__setattr__
        # would find it, without looking it up by name for every event.
        holder = next((c for c in found.__mro__ if "__dict__" in vars(c)), None)
        descriptor = None if holder is None else vars(holder)["__dict__"]
        set_state: Callable[[Any, dict[str, Any]], None] = (
            descriptor.__set__
            if descriptor is not None and hasattr(descriptor, "__set__")
            else lambda event, state: _set_attribute(event, "__dict__", state)
        )
        return (
            found,
            None if convert is pass_through_convertor else convert,
            getattr(found, "class_version", 1),
            {},
            set_state,
        )


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    """Teach ``transcoder`` every value type the domain puts in events."""
    for transcoding in (
        UUIDAsHexFast(),
        MoneyAsList(),
        LineItemAsDict(),
        CustomerAsDict(),
        CustomFieldAsDict(),
    ):
        transcoder.register(transcoding)
