"""The dashboard's bulk uploads, run in the background: progress and results in memory.

A :class:`BulkJob` runs one file's rows (:func:`api.bulk.run_batch`) in a thread of its
own and counts them as they finish, so a page can show the progress while it runs; once
done it keeps only the result file (CSV bytes). :class:`BulkJobs` holds the jobs of one
app: each is found only by the merchant and mode that started it, under an unguessable
id. It is bounded: a merchant and mode run at most ``running_per_merchant`` files at
once and keep their ``keep_per_merchant`` newest finished ones, for ``keep_for_s``; the
app keeps ``keep`` in all (the oldest finished go first; when every one is still
running a new upload is refused). Nothing survives a restart: the links do (they are
events), and uploading the file again answers ``existing`` for each of them.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from api.bulk import RowResult, result_csv
from paylink_es.store.postgres import is_outage

log = logging.getLogger("paylink.bulk")
JobState = Literal["running", "done", "failed", "stopped"]
Work = Callable[["BulkJob", threading.Event], list[RowResult]]
OUTAGE = (
    "the database became unavailable; upload the file again (the links created so far "
    "are found, not created twice)"
)
CRASHED = "something went wrong on our side; upload the file again"


class BulkBusyError(Exception):
    """No room for another upload right now: too many are still running."""


@dataclass(eq=False)
class BulkJob:
    """One uploaded file: how far its rows have got, and its result file once done."""

    id: str
    merchant_id: UUID
    mode: str
    filename: str
    started_at: datetime
    total: int
    done: int = 0
    created: int = 0
    existing: int = 0
    errors: int = 0
    state: JobState = "running"
    failure: str | None = None
    result: bytes | None = None
    finished_s: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        """Whether it ran to its end (done, failed or stopped)."""
        return self.state != "running"

    @property
    def percent(self) -> int:
        """Rows done, in whole percent (100 only when every row is)."""
        return 100 if self.done >= self.total else self.done * 100 // self.total

    def record(self, result: RowResult) -> None:
        """Count a finished row (called from the rows' threads)."""
        with self._lock:
            self.done += 1
            if result.status == "created":
                self.created += 1
            elif result.status == "existing":
                self.existing += 1
            else:
                self.errors += 1

    def finish(self, state: JobState, result: bytes | None, failure: str | None = None) -> None:
        """The end: keep the result file, say how it ended."""
        with self._lock:
            self.result = result
            self.failure = failure
            self.finished_s = time.monotonic()
            self.state = state

    def progress(self) -> dict[str, Any]:
        """What the progress bar shows, as JSON."""
        with self._lock:
            return {
                "id": self.id,
                "state": self.state,
                "finished": self.finished,
                "total": self.total,
                "done": self.done,
                "percent": self.percent,
                "created": self.created,
                "existing": self.existing,
                "errors": self.errors,
                "failure": self.failure,
                "result": self.result is not None,
            }


class BulkJobs:
    """The bulk uploads of one app, each visible only to the merchant and mode it is for."""

    def __init__(
        self,
        *,
        keep: int = 50,
        keep_per_merchant: int = 5,
        running_per_merchant: int = 2,
        keep_for_s: float = 24 * 3600.0,
    ) -> None:
        self.keep = keep
        self.keep_per_merchant = keep_per_merchant
        self.running_per_merchant = running_per_merchant
        self.keep_for_s = keep_for_s
        self._jobs: dict[str, BulkJob] = {}  # oldest first
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def start(
        self,
        merchant_id: UUID,
        mode: str,
        filename: str,
        total: int,
        started_at: datetime,
        work: Work,
    ) -> BulkJob:
        """Run ``work`` for a new job in a thread of its own; :class:`BulkBusyError` if
        the merchant (or the app) has too many running already."""
        with self._lock:
            self._prune(room=1)
            running = sum(
                1
                for job in self._jobs.values()
                if (job.merchant_id, job.mode) == (merchant_id, mode) and not job.finished
            )
            if running >= self.running_per_merchant or len(self._jobs) >= self.keep:
                raise BulkBusyError
            job = BulkJob(
                id=secrets.token_urlsafe(12),
                merchant_id=merchant_id,
                mode=mode,
                filename=filename,
                started_at=started_at,
                total=total,
            )
            self._jobs[job.id] = job
            stop = self._stop
            thread = threading.Thread(
                target=self._run, args=(job, work, stop), name=f"bulk-{job.id[:6]}", daemon=True
            )
            self._threads[job.id] = thread
        thread.start()
        return job

    def _run(self, job: BulkJob, work: Work, stop: threading.Event) -> None:
        try:
            results = work(job, stop)
        except Exception as error:
            if is_outage(error):
                log.warning("bulk upload %s: database unavailable: %s", job.id, error)
                job.finish("failed", None, OUTAGE)
            else:
                log.exception("bulk upload %s failed", job.id)
                job.finish("failed", None, CRASHED)
        else:
            stopped = any(result.error and result.error.type == "interrupted" for result in results)
            content = "".join(result_csv(results)).encode()
            job.finish("stopped" if stopped else "done", content)
        finally:
            with self._lock:
                self._threads.pop(job.id, None)

    def get(self, merchant_id: UUID, mode: str, job_id: str) -> BulkJob | None:
        """The job if it exists and belongs to this merchant and mode, else None."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (job.merchant_id, job.mode) != (merchant_id, mode):
            return None
        return job

    def recent(self, merchant_id: UUID, mode: str) -> list[BulkJob]:
        """The merchant's jobs in this mode, newest first."""
        with self._lock:
            self._prune()
            jobs = list(self._jobs.values())
        return [job for job in reversed(jobs) if (job.merchant_id, job.mode) == (merchant_id, mode)]

    def close(self, timeout: float = 30.0) -> None:
        """Stop the running jobs (their rows not started yet are left out) and wait for them.

        The registry can be used again afterwards (an app can be started again)."""
        with self._lock:
            stop, self._stop = self._stop, threading.Event()
            threads = list(self._threads.values())
        stop.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _prune(self, room: int = 0) -> None:
        """Forget finished jobs past their time, beyond a merchant's share, and beyond the
        total less ``room`` (a job about to start)."""
        now = time.monotonic()
        finished = [job for job in self._jobs.values() if job.finished_s is not None]
        gone: set[str] = set()
        seen: dict[tuple[UUID, str], int] = {}
        for job in reversed(finished):  # newest first
            key = (job.merchant_id, job.mode)
            seen[key] = seen.get(key, 0) + 1
            old = job.finished_s is not None and now - job.finished_s > self.keep_for_s
            if old or seen[key] > self.keep_per_merchant:
                gone.add(job.id)
        extra = len(self._jobs) - len(gone) - (self.keep - room)
        for job in finished:  # oldest first
            if extra <= 0:
                break
            if job.id not in gone:
                gone.add(job.id)
                extra -= 1
        for job_id in gone:
            del self._jobs[job_id]
