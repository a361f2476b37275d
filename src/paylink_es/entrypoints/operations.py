"""``paylink projections …``, ``paylink channels …`` and ``paylink audit …``: what operators
and finance run."""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO
from uuid import UUID

from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.bootstrap.adapters import build_channels, notifications_from_settings
from paylink_es.channels.registry import close_all
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.fees import FeePlan
from paylink_es.entrypoints.instants import When, resolved
from paylink_es.heap import freeze_startup_heap
from paylink_es.settings import Settings
from projections.audit import verify_chain
from projections.ledger import BALANCE_COLUMNS
from projections.queries.ledger import JOURNAL_LINE, journal
from projections.readmodel import iso
from projections.rebuild import rebuild_models
from projections.replay import replay
from projections.runner import ProjectionStatus, ReadModels, status, up_to_date
from projections.whatif import (
    CSV_COLUMNS,
    MAX_PLAN_BYTES,
    Comparison,
    WhatIfResult,
    plan_from_json,
    what_if,
)
from workers.background import Background
from workers.channel_poller import ChannelPoller, waiting_payments


class ProgressBar:
    """A one-line progress bar on stderr: done/total, percent and rate."""

    def __init__(self, label: str, stream: IO[str] | None = None, unit: str = "events") -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last_draw < 0.1 and done < total:
            return
        self.last_draw = now
        fraction = done / total if total else 1.0
        filled = int(fraction * 30)
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'-' * (30 - filled)}] {fraction:4.0%}"
            f" {done:,}/{total:,} {self.unit} {rate:,.0f}/s"
        )
        self.stream.flush()

    def finish(self) -> None:
        """End the line."""
        self.stream.write("\n")
        self.stream.flush()


@contextmanager
def opened(
    settings: Settings, names: list[str] | None = None
) -> Iterator[tuple[Paylink, ReadModels]]:
    """The application and the read models (``names``, else all), closed after the block."""
    paylink = open_paylink(settings)
    models = ReadModels(settings, names)
    try:
        yield paylink, models
    finally:
        models.close()
        paylink.close()


def run(settings: Settings) -> int:
    """Run the background workers until interrupted (a process of its own): the read
    models, webhook delivery, the settlement, expiry and message schedulers, and the
    channel poller when a remote channel is configured; each while this node leads it
    (PostgreSQL)."""
    channels = build_channels(settings)
    paylink = open_paylink(settings)
    models = ReadModels(settings)
    background = Background(
        settings, paylink, models, channels, notifications=notifications_from_settings(settings)
    )
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    background.start()
    freeze_startup_heap()
    print("projections running; Ctrl-C to stop", file=sys.stderr)
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        background.stop()
        models.close()
        paylink.close()
        close_all(channels)
    return 0


def rebuild(settings: Settings, name: str | None) -> int:
    """Rebuild one read model (or all) from zero, in batched transactions."""
    with opened(settings, [name] if name else None) as (paylink, models):
        bar = ProgressBar(f"rebuild {name or 'all'}")
        started = time.perf_counter()
        events = rebuild_models(settings, paylink.app, models, progress=bar)
        bar.finish()
        seconds = time.perf_counter() - started
    print(f"rebuilt {', '.join(models.models)} from {events:,} events in {seconds:.2f} s")
    return 0


def show_status(settings: Settings, as_json: bool) -> int:
    """Each read model's position, events behind and seconds behind."""
    with opened(settings) as (paylink, models):
        rows = status(paylink.app, models)
    if as_json:
        print(json.dumps([row.__dict__ for row in rows]))
        return 0
    print_positions(rows)
    return 1 if any(row.failure for row in rows) else 0


def print_positions(rows: list[ProjectionStatus]) -> None:
    """Each read model's position, events and seconds behind, and any that is stopped."""
    print(f"{'projection':<10} {'position':>10} {'head':>10} {'behind':>8} {'seconds':>9}")
    for row in rows:
        print(
            f"{row.name:<10} {row.position:>10} {row.head:>10} {row.events_behind:>8}"
            f" {row.seconds_behind:>9.3f}"
        )
    for row in rows:
        if row.failure is not None:
            print(f"!! {row.name} is stopped, cannot apply the event {row.failure}")


def _catch_up(paylink: Paylink, models: ReadModels) -> None:
    up_to_date(models.settings, paylink.app, list(models.models.values()))


def audit_replay(settings: Settings, when: When, merchant: UUID | None, fmt: str) -> int:
    """Rebuild balances from the store up to ``when``; compare with the live view."""
    with opened(settings) as (paylink, models):
        _catch_up(paylink, models)
        # ``now`` is read after the catch-up: every event the views hold is in.
        as_of = resolved(when, paylink)
        bar = ProgressBar("replay")
        result = replay(paylink.app, models, as_of, merchant, progress=bar)
        bar.finish()
    rows = [
        {"merchant_id": key[0], "mode": key[1], "currency": key[2], **columns}
        for key, columns in sorted(result.replayed.items())
    ]
    if fmt == "json":
        print(
            json.dumps(
                {
                    "as_of": iso(as_of),
                    "position": result.position,
                    "events": result.events,
                    "balances": rows,
                    "differences": result.differences,
                }
            )
        )
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, ["merchant_id", "mode", "currency", *BALANCE_COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(
            f"balances as of {iso(as_of)} (store position {result.position},"
            f" {result.events:,} events replayed, compared with live {result.live_source})"
        )
        header = f"{'merchant':<36} {'mode':<4} {'cur':<3} " + " ".join(
            f"{c:>12}" for c in BALANCE_COLUMNS
        )
        print(header)
        for row in rows:
            print(
                f"{row['merchant_id']:<36} {row['mode']:<4} {row['currency']:<3} "
                + " ".join(f"{row[c]:>12,}" for c in BALANCE_COLUMNS)
            )
    if result.differences:
        print("DIFFERENCES between replay and live views:", file=sys.stderr)
        for line in result.differences:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("replay equals the live views", file=sys.stderr)
    return 0


def read_plan(path: Path) -> FeePlan:
    """The fee plan in a JSON file; raises naming the file, or the plan's field."""
    try:
        with path.open("rb") as file:
            text = file.read(MAX_PLAN_BYTES + 1)
    except OSError as error:
        raise InvalidFieldError("fee-plan", f"cannot read {path}: {error.strerror}") from None
    return plan_from_json(text)


def audit_what_if(
    settings: Settings,
    plan: FeePlan,
    merchant: UUID | None,
    first_day: date | None,
    last_day: date | None,
    fmt: str,
) -> int:
    """The verified payments of the period re-priced under ``plan``, beside the fees they
    were charged; reads the store only (no read model is opened, nothing is written)."""
    with open_paylink(settings) as paylink:
        bar = ProgressBar("what-if")
        try:
            result = what_if(
                paylink.app,
                plan,
                merchant=merchant,
                first_day=first_day,
                last_day=last_day,
                progress=bar,
            )
        finally:
            bar.finish()
    if fmt == "json":
        print(json.dumps(result.as_dict()))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(row.as_line() for row in result.rows)
    else:
        _what_if_table(result)
    return 0


_WHAT_IF_HEADER = (
    f"{'merchant':<36} {'mode':<4} {'method':<17} {'cur':<3} {'count':>7} {'gross':>15}"
    f" {'fees were':>13} {'fees would be':>13} {'fees diff':>12}"
    f" {'net were':>15} {'net would be':>15} {'net diff':>12}"
)


def _what_if_line(who: str, method: str, row: Comparison) -> str:
    were, would_be = row.were, row.would_be
    return (
        f"{who:<36} {row.mode:<4} {method:<17} {row.currency:<3} {were.count:>7,}"
        f" {were.gross:>15,} {were.fees:>13,} {would_be.fees:>13,} {row.fees_difference:>+12,}"
        f" {were.net:>15,} {would_be.net:>15,} {row.net_difference:>+12,}"
    )


def _what_if_table(result: WhatIfResult) -> None:
    days = (
        f"{result.first_day or 'the beginning'} to {result.last_day or 'now'} (WIB)"
        if result.first_day or result.last_day
        else "all history"
    )
    print(
        f"fees under plan {result.plan.name!r} beside the fees charged: payments verified"
        f" in {days} (store position {result.position}, {result.events:,} events read)"
    )
    print(_WHAT_IF_HEADER)
    for row in result.rows:
        print(_what_if_line(row.merchant_id, row.method, row))
    for total in result.totals():
        print(_what_if_line("total", "", total))
    if not result.rows:
        print("no verified payment in the period")


def audit_verify(settings: Settings) -> int:
    """Re-read the store and check it against the hash chain."""
    with opened(settings, ["audit"]) as (paylink, models):
        _catch_up(paylink, models)
        result = verify_chain(paylink.app.recorder, models.chain())
    if result.ok:
        print(
            f"OK: {result.checked:,} events verified; head {result.head_position}"
            f" {result.head_hash}"
        )
        return 0
    print(
        f"TAMPERED: {result.problem} (first bad position {result.problem_position};"
        f" {result.checked:,} events verified before it)",
        file=sys.stderr,
    )
    return 1


def audit_digest(settings: Settings) -> int:
    """Print the chain's head: anchor it outside the database."""
    with opened(settings, ["audit"]) as (paylink, models):
        _catch_up(paylink, models)
        position, digest = models.chain().head()
    print(f"{position} {digest}")
    return 0


def audit_export(
    settings: Settings, start: When | None, end: When | None, output: Path | None
) -> int:
    """Write the journal between two instants as CSV, streamed page by page."""
    with opened(settings, ["ledger"]) as (paylink, models):
        _catch_up(paylink, models)
        first = None if start is None else resolved(start, paylink)
        last = None if end is None else resolved(end, paylink)
        stream: IO[str] = output.open("w", newline="") if output else sys.stdout
        try:
            rows = _export_rows(models, first, last, stream)
        finally:
            if output:
                stream.close()
    print(f"exported {rows:,} journal lines", file=sys.stderr)
    return 0


EXPORT_PAGE = 5000
JOURNAL_COLUMNS = JOURNAL_LINE  # every column: the whole journal, every merchant


def _export_rows(
    models: ReadModels, start: datetime | None, end: datetime | None, stream: IO[str]
) -> int:
    writer = csv.writer(stream)
    writer.writerow(JOURNAL_COLUMNS)
    count = 0
    for page in journal(models, start=start, end=end, size=EXPORT_PAGE):
        for row in page:
            writer.writerow([row.get(c) for c in JOURNAL_COLUMNS])
        count += len(page)
    return count


def channels_status(settings: Settings, as_json: bool) -> int:
    """Each configured channel, and the payments the poller is waiting on."""
    channels = build_channels(settings)
    try:
        with opened(settings, ["payments"]) as (paylink, models):
            now = paylink.now()
            waiting = [item.as_row(now) for item in waiting_payments(models, channels, now)]
    finally:
        close_all(channels)
    configured = [
        {"channel": name, "remote": channel.remote} for name, channel in sorted(channels.items())
    ]
    if as_json:
        print(json.dumps({"channels": configured, "waiting": waiting}))
        return 0
    for row in configured:
        polled = "polled" if row["remote"] else "answers at once"
        print(f"channel {row['channel']}: configured, {polled}")
    if not waiting:
        print("no payment is waiting for a channel's confirmation")
        return 0
    print(f"{len(waiting)} payment(s) waiting:")
    print(f"{'payment':<36} {'channel':<8} {'method':<16} {'state':<22} {'waiting':>9}  next ask")
    for row in waiting:
        print(
            f"{row['payment_id']:<36} {row['channel']:<8} {row['method']:<16}"
            f" {row['status']:<22} {row['waiting_s']:>8}s  {row['next_ask']}"
        )
    return 0


def channels_poll(settings: Settings) -> int:
    """Ask the channels about every waiting payment now (what the poller does on schedule)."""
    channels = build_channels(settings)
    try:
        with opened(settings, ["payments"]) as (paylink, models):
            _catch_up(paylink, models)
            counts = ChannelPoller(paylink, models, channels).run_once(force=True)
    finally:
        close_all(channels)
    print(", ".join(f"{name} {count}" for name, count in counts.items()))
    return 0
