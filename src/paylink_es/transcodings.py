"""How the domain's own value types are written into stored events, and read back exactly."""

from __future__ import annotations

from typing import Any
from uuid import UUID, SafeUUID

from eventsourcing.persistence import JSONTranscoder, Transcoding, UUIDAsHex

from paylink_es.money import Money
from paylink_es.terms import Customer, LineItem

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


class UUIDAsHexFast(UUIDAsHex):
    """The library's ``uuid_hex`` transcoding (same stored form), decoded faster."""

    def decode(self, data: str) -> UUID:
        return uuid_from_hex(data)


class MoneyAsList(Transcoding):
    """Money as ``[amount, currency]``: integers stay integers."""

    type = Money
    name = "money"

    def encode(self, obj: Money) -> list[Any]:
        return [obj.amount, obj.currency]

    def decode(self, data: list[Any]) -> Money:
        amount, currency = data
        return Money(amount, currency)


class LineItemAsDict(Transcoding):
    """A line item as a plain object."""

    type = LineItem
    name = "line_item"

    def encode(self, obj: LineItem) -> dict[str, Any]:
        return {"name": obj.name, "quantity": obj.quantity, "unit_amount": obj.unit_amount}

    def decode(self, data: dict[str, Any]) -> LineItem:
        return LineItem(**data)


class CustomerAsDict(Transcoding):
    """A customer as a plain object."""

    type = Customer
    name = "customer"

    def encode(self, obj: Customer) -> dict[str, Any]:
        return {"name": obj.name, "email": obj.email, "phone": obj.phone}

    def decode(self, data: dict[str, Any]) -> Customer:
        return Customer(**data)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    """Teach ``transcoder`` every value type the domain puts in events."""
    for transcoding in (UUIDAsHexFast(), MoneyAsList(), LineItemAsDict(), CustomerAsDict()):
        transcoder.register(transcoding)
