"""The one retry loop, with explicit waits — pure, no real sleeping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paylink_es.retry import conflict_waits, doubling, retry


class Flaky(Exception):
    pass


class Broken(Exception):
    pass


def test_a_success_is_returned_without_waiting() -> None:
    waits: list[float] = []
    assert retry(lambda: 42, delays=[1.0, 2.0], retry_on=Flaky, sleep=waits.append) == 42
    assert waits == []


def test_each_retry_waits_the_next_delay_then_succeeds() -> None:
    waits: list[float] = []
    calls: list[int] = []
    seen: list[tuple[int, str, float]] = []

    def action() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Flaky(f"try {len(calls)}")
        return "done"

    result = retry(
        action,
        delays=[0.5, 1.0, 2.0],
        retry_on=Flaky,
        sleep=waits.append,
        on_retry=lambda attempt, error, delay: seen.append((attempt, str(error), delay)),
    )

    assert result == "done"
    assert len(calls) == 3
    assert waits == [0.5, 1.0]
    assert seen == [(1, "try 1", 0.5), (2, "try 2", 1.0)]


def test_when_the_delays_run_out_the_last_error_is_raised() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def action() -> None:
        calls.append(1)
        raise Flaky(f"try {len(calls)}")

    with pytest.raises(Flaky, match="try 3"):
        retry(action, delays=[0.1, 0.2], retry_on=Flaky, sleep=waits.append)
    assert len(calls) == 3
    assert waits == [0.1, 0.2]


def test_no_delays_means_one_try() -> None:
    calls: list[int] = []

    def action() -> None:
        calls.append(1)
        raise Flaky

    with pytest.raises(Flaky):
        retry(action, delays=[], retry_on=Flaky, sleep=lambda _: None)
    assert len(calls) == 1


def test_an_error_not_worth_a_retry_is_raised_at_once() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def action() -> None:
        calls.append(1)
        raise Broken

    with pytest.raises(Broken):
        retry(action, delays=[1.0, 1.0], retry_on=(Flaky, KeyError), sleep=waits.append)
    assert (len(calls), waits) == (1, [])


def test_delays_may_be_made_lazily() -> None:
    made: list[int] = []

    def waits() -> Iterator[float]:
        for n in range(5):
            made.append(n)
            yield 0.0

    calls: list[int] = []

    def action() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise Flaky
        return "ok"

    assert retry(action, delays=waits(), retry_on=Flaky, sleep=lambda _: None) == "ok"
    assert made == [0]  # only the wait that was needed


def test_doubling_waits() -> None:
    assert doubling(0.5, 3) == [0.5, 1.0, 2.0]
    assert doubling(0.5, 0) == []
    assert doubling(0, 2) == [0, 0]


def test_conflict_waits_are_jittered_below_a_doubling_cap() -> None:
    highs = [high for _, high in _bounds(8)]
    assert highs == [0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05, 0.05]
    for wait in conflict_waits(50):
        assert 0 <= wait <= 0.05


def _bounds(count: int) -> list[tuple[float, float]]:
    asked: list[tuple[float, float]] = []

    def rng(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    assert list(conflict_waits(count, rng=rng)) == [high for _, high in asked]
    assert all(low == 0 for low, _ in asked)
    return asked
