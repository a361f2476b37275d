"""The parts of read-your-writes that need no database: noting positions, waiting for them.

- A command run by the group committer notes the position of the write that stored it in
  the ``Written`` of whoever submitted it: alone, in a batch (sync or from an event loop),
  or alone again after its batch failed.
- ``PositionWatch`` answers at once for a position reached, wakes on a publish, asks the
  views when nothing in the process publishes, and gives up at its bound.
- ``KeyPositions`` keeps the highest position per key and forgets the least recently used.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from api.consistency import KeyPositions
from paylink_es.application.groupcommit import GroupCommitter
from paylink_es.application.written import Written, note_written, noting_writes
from projections.freshness import PositionWatch
from projections.readmodel import ReadModel


class FakeStore:
    """Stands in for the application: each write is one more position; one may fail."""

    def __init__(self) -> None:
        self.head = 0
        self.fail_writes = 0
        self.lock = threading.Lock()

    def run_alone(self, command: Callable[[], Any]) -> Any:
        result = command()
        with self.lock:
            self.head += 1
            note_written(self.head)  # what PaylinkApp._store does after a save
        return result

    def run_collecting(self, command: Callable[[], Any]) -> tuple[Any, list[Any]]:
        return command(), [object()]

    def write(self, objs: list[Any]) -> int | None:
        with self.lock:
            if self.fail_writes:
                self.fail_writes -= 1
                msg = "conflict"
                raise RuntimeError(msg)
            self.head += 1
            return self.head


T = TypeVar("T")


def run_alone(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: a loop another test left running on this
    thread (a session's browser driver) must not stand in the way."""
    done: list[T] = []
    failed: list[BaseException] = []

    def target() -> None:
        try:
            done.append(asyncio.run(coroutine))
        except BaseException as error:  # handed back to the test's thread
            failed.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return done[0]


def _committer(store: FakeStore) -> GroupCommitter:
    return GroupCommitter(store.run_alone, store.run_collecting, store.write)


def test_a_command_run_alone_notes_its_write_for_its_submitter() -> None:
    store = FakeStore()
    committer = _committer(store)
    try:
        written = Written()
        with noting_writes(written):
            assert committer.submit(lambda: "done") == "done"
        assert written.position == store.head == 1
        unnoted = committer.submit(lambda: "again")  # nobody noting: nothing to note into
        assert unnoted == "again"
        assert written.position == 1
    finally:
        committer.close()


def submit_together(committer: GroupCommitter, count: int) -> list[Written]:
    """``count`` commands submitted from one loop at once, each noting its write."""

    async def one(n: int) -> Written:
        written = Written()
        with noting_writes(written):
            await committer.submit_async(lambda: n)
        return written

    async def all_of_them() -> list[Written]:
        return list(await asyncio.gather(*(one(n) for n in range(1, count + 1))))

    try:
        return run_alone(all_of_them())
    finally:
        committer.close()


def test_commands_of_a_loop_batch_note_the_batch_write() -> None:
    store = FakeStore()
    noted = submit_together(_committer(store), 3)
    assert {w.position for w in noted} == {store.head}
    assert store.head >= 1


def test_a_command_retried_alone_after_its_batch_failed_notes_its_own_write() -> None:
    store = FakeStore()
    store.fail_writes = 1
    first, second = submit_together(_committer(store), 2)
    assert first.position > 0
    assert second.position > 0
    assert max(first.position, second.position) == store.head


class FakeView:
    def __init__(self) -> None:
        self.position = 0
        self.looks = 0

    def max_tracking_id(self, application_name: str) -> int:
        self.looks += 1
        return self.position


def _models(**views: FakeView) -> dict[str, ReadModel]:
    return {name: cast(ReadModel, SimpleNamespace(view=view)) for name, view in views.items()}


def test_a_publish_wakes_a_waiter_without_asking_the_views() -> None:
    watch = PositionWatch("Paylink")
    view = FakeView()
    models = _models(ledger=view)
    watch.publish({"ledger": 3})

    async def scenario() -> bool:
        waiting = asyncio.ensure_future(watch.reach(models, ("ledger",), 7, timeout=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, watch.publish, {"ledger": 7})  # a catch-up thread
        return await waiting

    assert run_alone(scenario()) is True
    assert view.looks == 0


def test_without_a_catch_up_here_a_waiter_asks_the_views() -> None:
    watch = PositionWatch("Paylink")
    view = FakeView()
    models = _models(links=view)

    async def scenario() -> bool:
        waiting = asyncio.ensure_future(watch.reach(models, ("links",), 5, timeout=30))
        await asyncio.sleep(0.05)
        view.position = 5  # another process fed the view
        return await waiting

    assert run_alone(scenario()) is True
    assert view.looks >= 2


def test_a_position_not_reached_in_time_is_a_no() -> None:
    watch = PositionWatch("Paylink")
    views = {"links": FakeView(), "ledger": FakeView()}
    views["links"].position = 100
    models = _models(**views)
    watch.publish({"links": 100, "ledger": 4})

    assert run_alone(watch.reach(models, ("links",), 100, timeout=0)) is True
    assert run_alone(watch.reach(models, ("links", "ledger"), 5, timeout=0.05)) is False
    watch.unfed()
    assert run_alone(watch.reach(models, ("links", "ledger"), 5, timeout=0.05)) is False
    assert run_alone(watch.reach(models, ("ledger",), 0, timeout=0)) is True


def test_key_positions_keep_the_highest_and_forget_the_least_recently_used() -> None:
    positions = KeyPositions(kept=2)
    positions.note("a", 5)
    positions.note("a", 3)
    assert positions.get("a") == 5
    positions.note("b", 1)
    positions.note("a", 6)  # a is used again: b is now the oldest
    positions.note("c", 2)
    assert (positions.get("a"), positions.get("b"), positions.get("c")) == (6, 0, 2)
