"""Where a caller's commands wrote: the log position of their last save (read-your-writes).

A caller that wants to know how far its own writes reach (an HTTP request, to answer with
``Paylink-Position``) opens a :class:`Written` with :func:`noting_writes`; every save made
on its behalf then notes the highest notification id it recorded there: a save in the
caller's own thread directly, a command run by the group committer's writer (alone, or
in a batch written as one) through the ``Written`` it was submitted with. Saves of a
caller that noted nothing note nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Written:
    """The highest log position (notification id) the caller's saves reached; 0: none.

    One caller's commands run one after another, so notes never race.
    """

    __slots__ = ("position",)

    def __init__(self) -> None:
        self.position = 0

    def note(self, position: int | None) -> None:
        """A save reached ``position``."""
        if position is not None and position > self.position:
            self.position = position


_NOTING: ContextVar[Written | None] = ContextVar("paylink_written", default=None)


def current_written() -> Written | None:
    """Where the running caller's saves are noted (``None``: nowhere)."""
    return _NOTING.get()


@contextmanager
def noting_writes(written: Written | None) -> Iterator[Written | None]:
    """Note the saves made inside the block (in this context) in ``written``."""
    token = _NOTING.set(written)
    try:
        yield written
    finally:
        _NOTING.reset(token)


def note_written(position: int | None) -> None:
    """Note a save's position for the running caller, if it is noting."""
    written = _NOTING.get()
    if written is not None:
        written.note(position)
