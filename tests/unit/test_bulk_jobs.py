"""The dashboard's background uploads (``api.bulk_jobs``): progress, isolation, bounds, stop.

The work is a stand-in for ``run_batch`` that the test releases row by row; no store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from api.bulk import RowError, RowResult
from api.bulk_jobs import CRASHED, OUTAGE, BulkBusyError, BulkJob, BulkJobs, Work
from paylink_es.store.postgres import DatabaseUnavailableError

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
A, B = uuid4(), uuid4()


class Rows:
    """Work whose rows finish when the test says so (or when the job is stopped)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.released = threading.Semaphore(0)

    def release(self, count: int = 1) -> None:
        for _ in range(count):
            self.released.release()

    def __call__(self, job: BulkJob, stop: threading.Event) -> list[RowResult]:
        results = []
        for row in range(2, self.total + 2):
            while not self.released.acquire(timeout=0.01):
                if stop.is_set():
                    break
            if stop.is_set():
                stopped = RowError("interrupted", None, "stopped")
                result = RowResult(row, f"R-{row}", "error", error=stopped)
            else:
                result = RowResult(row, f"R-{row}", "created", link_id="x", url="u")
            job.record(result)
            results.append(result)
        return results


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def start(jobs: BulkJobs, work: Work, merchant: UUID = A, mode: str = "test") -> BulkJob:
    return jobs.start(merchant, mode, "links.csv", 3, NOW, work)


def test_a_job_counts_its_rows_while_it_runs_and_keeps_its_result_file() -> None:
    jobs = BulkJobs()
    rows = Rows(3)
    job = start(jobs, rows)

    assert job.progress()["state"] == "running"
    rows.release(2)
    until(lambda: job.done == 2)
    assert job.progress()["percent"] == 66
    assert not job.finished
    rows.release()
    until(lambda: job.finished)

    progress = job.progress()
    assert progress["state"] == "done"
    assert (progress["percent"], progress["created"], progress["errors"]) == (100, 3, 0)
    assert progress["result"] is True
    assert job.result is not None
    assert job.result.decode().splitlines()[1].startswith("2,R-2,created,x,u")


def test_only_the_merchant_and_mode_that_started_a_job_find_it() -> None:
    jobs = BulkJobs()
    rows = Rows(3)
    job = start(jobs, rows)

    assert jobs.get(A, "test", job.id) is job
    assert jobs.get(A, "live", job.id) is None
    assert jobs.get(B, "test", job.id) is None
    assert jobs.get(A, "test", "guessed") is None
    assert jobs.recent(B, "test") == []
    assert jobs.recent(A, "test") == [job]
    rows.release(3)
    jobs.close()


def test_a_merchant_runs_two_uploads_at_once_and_other_merchants_are_not_held_up() -> None:
    jobs = BulkJobs(running_per_merchant=2)
    works = [Rows(3) for _ in range(4)]
    first = start(jobs, works[0])
    start(jobs, works[1])

    with pytest.raises(BulkBusyError):
        start(jobs, works[2])
    start(jobs, works[2], merchant=B)
    start(jobs, works[3], mode="live")
    works[0].release(3)
    until(lambda: first.finished)
    start(jobs, Rows(0))  # room again once one is done
    for work in works:
        work.release(3)
    jobs.close()


def test_finished_jobs_are_forgotten_beyond_a_merchants_share_and_the_apps_total() -> None:
    jobs = BulkJobs(keep=4, keep_per_merchant=2)
    done = [start(jobs, Rows(0)) for _ in range(3)]
    until(lambda: all(job.finished for job in done))

    assert jobs.recent(A, "test") == [done[2], done[1]]
    others = [start(jobs, Rows(0), merchant=B) for _ in range(2)]
    until(lambda: all(job.finished for job in others))
    blocking = Rows(3)
    start(jobs, blocking, mode="live")

    kept = jobs.recent(A, "test") + jobs.recent(B, "test") + jobs.recent(A, "live")
    assert len(kept) == 4
    assert done[1] not in kept  # the oldest finished went first
    blocking.release(3)


def test_every_upload_running_leaves_no_room_for_another() -> None:
    jobs = BulkJobs(keep=2, running_per_merchant=5)
    works = [Rows(3), Rows(3)]
    for work in works:
        start(jobs, work)

    with pytest.raises(BulkBusyError):
        start(jobs, Rows(0), merchant=B)
    for work in works:
        work.release(3)
    jobs.close()


def test_closing_stops_the_running_jobs_and_the_registry_still_works_afterwards() -> None:
    jobs = BulkJobs()
    rows = Rows(3)
    job = start(jobs, rows)
    rows.release()
    until(lambda: job.done == 1)

    jobs.close(timeout=5)

    assert job.state == "stopped"
    assert job.progress()["errors"] == 2
    again = start(jobs, Rows(0))
    until(lambda: again.finished)
    assert again.state == "done"


@pytest.mark.parametrize(
    ("error", "failure"),
    [(DatabaseUnavailableError("no connection"), OUTAGE), (ValueError("a bug"), CRASHED)],
)
def test_work_that_fails_ends_the_job_failed_with_what_to_do(
    error: Exception, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = BulkJobs()

    def work(job: BulkJob, stop: threading.Event) -> list[RowResult]:
        raise error

    job = start(jobs, work)
    until(lambda: job.finished)

    assert (job.state, job.failure, job.result) == ("failed", failure, None)
    assert "a bug" not in (job.failure or "")
