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

Each command keeps the :class:`~paylink_es.application.written.Written` of the caller
that submitted it: the log position of the write that stored it (its batch's, or its
own when it ran alone) is noted there before the caller gets its answer.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from paylink_es.application.written import Written, current_written, noting_writes

T = TypeVar("T")


class _Executing(threading.local):
    executing = False


@dataclass
class _LoopBatch:
    """An event loop's commands waiting for the next batch, and whether one is writing."""

    pending: list[_Item[Any]] = field(default_factory=list)
    scheduled: bool = False
    writing: bool = False


def _copy_outcome(target: Any, source: asyncio.Future[Any]) -> None:
    if target.cancelled():
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


@dataclass
class _Item(Generic[T]):
    command: Callable[[], T]
    future: Future[T] = field(default_factory=Future)
    result: Any = None
    collected: list[Any] = field(default_factory=list)
    # Where the submitter notes its writes (taken from its context when submitted).
    written: Written | None = field(default_factory=current_written)


class GroupCommitter:
    """Runs commands in a writer thread, coalescing concurrent ones into one write."""

    def __init__(
        self,
        run_alone: Callable[[Callable[[], Any]], Any],
        run_collecting: Callable[[Callable[[], Any]], tuple[Any, list[Any]]],
        write: Callable[[list[Any]], int | None],
        max_batch: int = 256,
    ) -> None:
        self._run_alone = run_alone
        self._run_collecting = run_collecting
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item[Any] | None] = queue.SimpleQueue()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopBatch] = {}
        self._writes: ThreadPoolExecutor | None = None
        self._local = _Executing()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._thread.start()
        self.batches = 0
        self.commands = 0

    @property
    def in_writer(self) -> bool:
        """True while running a batch (a nested command runs there directly)."""
        return threading.current_thread() is self._thread or self._local.executing

    async def submit_async(self, command: Callable[[], T]) -> T:
        """Run ``command`` in a batch of this event loop's commands; await its result.

        The commands of a batch run on the loop's own thread (no hand-off per request,
        no GIL passed back and forth with a writer thread for the Python work); their
        events are then written with one ``save`` on a write thread, so the loop serves
        other requests during the commit. Commands submitted while a batch is being
        written form the next batch. A command that fails in a batch, or whose batch's
        write fails, runs again alone in the writer thread, as with :meth:`submit`.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopBatch()
        state.pending.append(_Item(command, future))  # type: ignore[arg-type]
        self._schedule(loop, state)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop, state: _LoopBatch) -> None:
        if state.scheduled or state.writing:
            return
        if state.pending:
            state.scheduled = True
            loop.call_soon(self._start_loop_batch, loop, state)
        elif self._loops.get(loop) is state:
            del self._loops[loop]  # idle: a loop that is closed later is not kept alive

    def _start_loop_batch(self, loop: asyncio.AbstractEventLoop, state: _LoopBatch) -> None:
        state.scheduled = False
        batch, state.pending = state.pending[: self._max_batch], state.pending[self._max_batch :]
        self._local.executing = True
        try:
            ran, failed = self._run_batch(batch)
        finally:
            self._local.executing = False
        if not ran:
            self._retry_alone(loop, failed)
            self._schedule(loop, state)
            return
        if self._writes is None:
            self._writes = ThreadPoolExecutor(1, thread_name_prefix="group-commit-write")
        state.writing = True
        written = loop.run_in_executor(self._writes, self._write, self._objects(ran))

        def finish(done: asyncio.Future[int | None]) -> None:
            state.writing = False
            if done.exception() is not None:
                self._retry_alone(loop, ran + failed)
            else:
                self._resolve(ran, done.result())
                self._retry_alone(loop, failed)
            self._schedule(loop, state)

        written.add_done_callback(finish)

    def _retry_alone(self, loop: asyncio.AbstractEventLoop, items: list[_Item[Any]]) -> None:
        """Run each item again on its own in the writer thread; its future gets the answer."""
        for item in items:
            alone: _Item[Any] = _Item(item.command, written=item.written)
            self._queue.put(alone)
            retried = asyncio.wrap_future(alone.future, loop=loop)
            retried.add_done_callback(partial(_copy_outcome, item.future))

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
        if self._writes is not None:
            self._writes.shutdown(wait=True)

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
        ran, failed = self._run_batch(batch)
        try:
            position = self._write(self._objects(ran))
        except Exception:
            failed = batch
        else:
            self._resolve(ran, position)
        for item in failed:
            self._alone(item)

    def _run_batch(self, batch: list[_Item[Any]]) -> tuple[list[_Item[Any]], list[_Item[Any]]]:
        """Run each command collecting what it saves: those that ran, those that failed."""
        ran: list[_Item[Any]] = []
        failed: list[_Item[Any]] = []
        for item in batch:
            try:
                item.result, item.collected = self._run_collecting(item.command)
                ran.append(item)
            except Exception:
                failed.append(item)
        return ran, failed

    @staticmethod
    def _objects(ran: list[_Item[Any]]) -> list[Any]:
        return [obj for item in ran for obj in item.collected]

    def _resolve(self, ran: list[_Item[Any]], position: int | None) -> None:
        self.batches += 1
        self.commands += len(ran)
        for item in ran:
            if item.written is not None:
                item.written.note(position)
            if not item.future.cancelled():
                item.future.set_result(item.result)

    def _alone(self, item: _Item[Any]) -> None:
        try:
            with noting_writes(item.written):
                result = self._run_alone(item.command)
        except BaseException as error:
            if not item.future.cancelled():
                item.future.set_exception(error)
        else:
            if not item.future.cancelled():
                item.future.set_result(result)
