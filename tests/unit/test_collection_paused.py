"""Long batch work pauses automatic garbage collection, and always gives it back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from paylink_es.heap import collection_paused


@pytest.fixture(autouse=True)
def _collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_collection_is_off_inside_and_back_on_after() -> None:
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failure_inside_still_turns_collection_back_on() -> None:
    with pytest.raises(RuntimeError, match="boom"), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_nested_pauses_turn_it_back_on_only_at_the_outermost() -> None:
    with collection_paused():
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_cycles_made_inside_are_collected_once_collection_resumes() -> None:
    class Node:
        other: object

    with collection_paused():
        first, second = Node(), Node()
        first.other, second.other = second, first
        del first, second
    assert gc.collect() >= 2


def test_as_a_decorator_it_pauses_each_call() -> None:
    seen: list[bool] = []

    @collection_paused()
    def work(value: int) -> int:
        seen.append(gc.isenabled())
        return value * 2

    assert work(2) == 4
    assert work(3) == 6
    assert seen == [False, False]
    assert gc.isenabled()
