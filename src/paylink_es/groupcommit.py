"""Group commit: one writer thread runs concurrent commands and saves them in one write.

Each command is a closure that reads aggregates, calls command methods and ``save``s.
The writer runs a batch of queued commands with ``save`` collecting instead of
writing, then writes everything the batch collected in one ``save`` (one transaction,
one commit). If that write conflicts (two commands of the batch touched the same
aggregate, or another process wrote first), each command of the batch runs again on
its own, with the usual retries — it is a closure over its inputs, so running it again
is safe. A command that failed inside a batch also runs again on its own before its
error is reported: it may have read state that an earlier command of the batch had
not yet written.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Item(Generic[T]):
    command: Callable[[], T]
    future: Future[T] = field(default_factory=Future)
    result: Any = None
    collected: list[Any] = field(default_factory=list)


class GroupCommitter:
    """Runs commands in a writer thread, coalescing concurrent ones into one write."""

    def __init__(
        self,
        run_alone: Callable[[Callable[[], Any]], Any],
        run_collecting: Callable[[Callable[[], Any]], tuple[Any, list[Any]]],
        write: Callable[[list[Any]], None],
        max_batch: int = 256,
    ) -> None:
        self._run_alone = run_alone
        self._run_collecting = run_collecting
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._thread.start()
        self.batches = 0
        self.commands = 0

    @property
    def in_writer(self) -> bool:
        """True inside the writer thread (a nested command runs there directly)."""
        return threading.current_thread() is self._thread

    def submit(self, command: Callable[[], T]) -> T:
        """Run ``command`` in the writer and wait for its result (or its error)."""
        return self.submit_future(command).result()

    def submit_future(self, command: Callable[[], T]) -> Future[T]:
        """Queue ``command`` for the writer; the future holds its result or error."""
        item: _Item[T] = _Item(command)
        self._queue.put(item)
        return item.future

    def close(self) -> None:
        """Finish what is queued and stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._execute(batch)
                    return
                batch.append(item)
            self._execute(batch)

    def _execute(self, batch: list[_Item[Any]]) -> None:
        if len(batch) == 1:
            self._alone(batch[0])
            return
        ran: list[_Item[Any]] = []
        failed: list[_Item[Any]] = []
        for item in batch:
            try:
                item.result, item.collected = self._run_collecting(item.command)
                ran.append(item)
            except Exception:
                failed.append(item)
        try:
            self._write([obj for item in ran for obj in item.collected])
        except Exception:
            failed = batch
        else:
            self.batches += 1
            self.commands += len(ran)
            for item in ran:
                item.future.set_result(item.result)
        for item in failed:
            self._alone(item)

    def _alone(self, item: _Item[Any]) -> None:
        try:
            result = self._run_alone(item.command)
        except BaseException as error:
            item.future.set_exception(error)
        else:
            item.future.set_result(result)
