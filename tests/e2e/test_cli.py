"""The ``paylink`` command as a new user runs it, in a fresh folder, on SQLite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

KEY = re.compile(r"sk_test_[0-9A-Za-z]{32}")


def paylink(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the console script's code in a child process, in ``cwd``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    environment.update(env or {})
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "paylink_es", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,  # a bound against a hang: `bench` alone runs for a minute or more
        check=False,
    )


def test_demo_seeds_a_merchant_and_prints_a_test_key_and_link_urls(tmp_path: Path) -> None:
    result = paylink(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert KEY.search(result.stdout)
    urls = re.findall(r"http://127\.0\.0\.1:8000/l/([0-9A-Za-z]{12})", result.stdout)
    assert len(urls) == 3
    assert (tmp_path / "var" / "paylink.sqlite3").exists()


def test_demo_run_twice_keeps_the_same_links_and_issues_a_new_key(tmp_path: Path) -> None:
    first = paylink(tmp_path, "demo")
    second = paylink(tmp_path, "demo")
    assert first.returncode == second.returncode == 0
    codes = re.findall(r"/l/([0-9A-Za-z]{12})", first.stdout)
    assert codes == re.findall(r"/l/([0-9A-Za-z]{12})", second.stdout)
    first_key, second_key = KEY.search(first.stdout), KEY.search(second.stdout)
    assert first_key
    assert second_key
    assert first_key.group() != second_key.group()


def test_merchant_keys_can_be_issued_and_revoked(tmp_path: Path) -> None:
    created = paylink(tmp_path, "merchants", "create", "--name", "Toko Sinar")
    assert created.returncode == 0, created.stderr
    merchant = re.search(r"Merchant: ([0-9a-f-]{36})", created.stdout)
    assert merchant
    issued = paylink(tmp_path, "keys", "issue", "--merchant", merchant.group(1), "--mode", "live")
    assert issued.returncode == 0, issued.stderr
    assert re.search(r"sk_live_[0-9A-Za-z]{32}", issued.stdout)
    key_id = re.search(r"Key id: ([0-9a-f-]{36})", issued.stdout)
    assert key_id
    revoked = paylink(
        tmp_path, "keys", "revoke", "--merchant", merchant.group(1), "--key", key_id.group(1)
    )
    assert revoked.returncode == 0, revoked.stderr


def test_bad_input_is_refused_with_a_message_naming_the_field(tmp_path: Path) -> None:
    result = paylink(tmp_path, "merchants", "create", "--name", "bad\x1bname")
    assert result.returncode == 1
    assert "name" in result.stderr
    assert "control character" in result.stderr
    unknown = paylink(
        tmp_path, "keys", "issue", "--merchant", "00000000-0000-0000-0000-000000000000"
    )
    assert unknown.returncode == 1
    assert "no merchant" in unknown.stderr


def test_a_non_postgres_database_url_is_refused_clearly(tmp_path: Path) -> None:
    result = paylink(tmp_path, "demo", env={"PAYLINK_DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode == 2
    assert "postgresql://" in result.stderr


def test_cluster_status_on_sqlite_says_there_is_no_election_and_where_the_views_stand(
    tmp_path: Path,
) -> None:
    assert paylink(tmp_path, "demo").returncode == 0
    text = paylink(tmp_path, "cluster", "status")
    assert text.returncode == 0, text.stderr
    assert "SQLite: one machine, no election" in text.stdout
    assert "outbox: 0 deliveries pending, 0 due now" in text.stdout
    document = json.loads(paylink(tmp_path, "cluster", "status", "--json").stdout)
    assert (document["backend"], document["workers"]) == ("sqlite", [])
    head = {row["head"] for row in document["read_models"]}
    assert len(head) == 1
    assert head != {0}  # the demo's events, which no read model has seen yet
    assert {row["events_behind"] for row in document["read_models"]} == head
    nothing_owed = {"pending": 0, "due": 0, "oldest_due_at": None, "oldest_due_s": 0.0}
    assert document["outbox"] == nothing_owed


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (
        ["serve"],
        ["demo"],
        ["merchants", "create"],
        ["keys", "issue"],
        ["keys", "revoke"],
        ["projections", "run"],
        ["projections", "rebuild"],
        ["projections", "status"],
        ["audit", "replay"],
        ["audit", "what-if"],
        ["audit", "verify"],
        ["audit", "digest"],
        ["audit", "export"],
        ["cluster", "status"],
        ["bench"],
    ):
        result = paylink(tmp_path, *command, "--help")
        assert result.returncode == 0
        assert "usage: paylink" in result.stdout


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_bench_prints_every_figure_beside_its_baselines(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = {}
    if backend == "postgres":
        env["PAYLINK_DATABASE_URL"] = request.getfixturevalue("pg_url")
    result = paylink(tmp_path, "bench", "--quick", "--json", "--commands", "200", env=env)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["backend"] == backend
    for key in (
        "commands_per_s",
        "concurrent_commands_per_s",
        "baseline_commands_per_s",
        "raw_commits_per_s",
        "replay_events_per_s",
        "raw_read_events_per_s",
        "rebuild_events_per_s",
        "audit_replay_events_per_s",
        "verify_events_per_s",
        "settle_payments_per_s",
        "settle_one_by_one_per_s",
        "export_peak_mb",
        "bulk_rows_per_s",
        "bulk_again_s",
    ):
        assert figures[key] > 0, key
    assert 0 < figures["paid_to_balance_p50_ms"] <= figures["paid_to_balance_p99_ms"]
    assert figures["bulk_rows"] == 200
    # 200 links (link + code index) and their merchant, twice (one by one, then from 64
    # threads), then 66 whole lifecycles of 9 events, each settlement crediting the
    # merchant's funds guard (opened once), and their merchant: all replayed.
    assert figures["events"] == 401 + 401 + 1 + 66 * (9 + 1) + 1
    assert not (tmp_path / "var").exists(), "the benchmark must not touch the user's store"


def test_bench_http_drives_link_creation_beside_a_no_io_baseline(tmp_path: Path) -> None:
    result = paylink(tmp_path, "bench", "--http", "--quick", "--json", "--commands", "300")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["http_requests"] == 300
    for key in ("http_create_per_s", "http_baseline_per_s", "http_baseline_routed_per_s"):
        assert figures[key] > 0, key
    assert 0 < figures["http_create_p50_ms"] <= figures["http_create_p99_ms"]
    assert figures["http_concurrency"] == 32
    for concurrency in (16, 32, 64, 200):
        assert figures[f"http_create_per_s_at_{concurrency}"] > 0, concurrency
        p50, p99 = (figures[f"http_create_{q}_ms_at_{concurrency}"] for q in ("p50", "p99"))
        assert 0 < p50 <= p99, concurrency
    assert figures["http_create_per_s"] == figures["http_create_per_s_at_32"]
    assert figures["http_idem_create_per_s"] > 0
    assert 0 < figures["http_idem_create_p50_ms"] <= figures["http_idem_create_p99_ms"]
    assert figures["http_idem_vs_create"] > 0
    assert figures["http_create_again_per_s"] > 0
    assert figures["http_create_cpu_us"] > 0
    assert figures["http_idem_create_cpu_us"] > 0
    assert figures["http_offered_per_s"] == 1_500
    assert figures["http_open_create_per_s"] > 0
    assert 0 < figures["http_open_create_p50_ms"] <= figures["http_open_create_p99_ms"]
    assert not (tmp_path / "var").exists(), "the benchmark must not touch the user's store"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_bench_grow_measures_the_read_side_at_two_sizes_and_their_ratios(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = {}
    if backend == "postgres":
        env["PAYLINK_DATABASE_URL"] = request.getfixturevalue("pg_url")
    result = paylink(tmp_path, "bench", "--grow", "--json", "--sizes", "300,900", env=env)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["backend"] == backend
    for size in (300, 900):
        # Whole lifecycles until the log holds at least the size: a few more events. On
        # PostgreSQL these are positions, gaps included: a batch of concurrent saves that
        # conflicts has taken its ids before it is run again one by one, and how often
        # that happens moves with the machine's load (at these small sizes, seen up to
        # 1.65 times the size).
        most = 1.5 if backend == "sqlite" else 2.5
        assert size <= figures[f"grow_{size}_events"] <= size * most, size
        for key in ("rebuild_s", "audit_replay_s", "audit_verify_s"):
            assert 0 < figures[f"grow_{size}_{key}"] < 300, key
        for key in ("audit_replay_cpu_s", "audit_verify_cpu_s"):
            assert 0 <= figures[f"grow_{size}_{key}"] < 300, key
        for key in ("page_first_ms", "page_deep_ms"):
            assert 0 < figures[f"grow_{size}_{key}"] < 60_000, key
    events = figures["grow_900_events"] / figures["grow_300_events"]
    assert figures["grow_events_ratio"] == round(events, 2)
    names = ("rebuild", "audit_replay", "audit_verify", "audit_replay_cpu", "audit_verify_cpu")
    for name in (*names, "page_first", "page_deep"):
        unit = "ms" if name.startswith("page") else "s"
        small, large = figures[f"grow_300_{name}_{unit}"], figures[f"grow_900_{name}_{unit}"]
        assert figures[f"grow_{name}_ratio"] == round(large / max(small, 1e-9), 2), name
    assert not (tmp_path / "var").exists(), "the benchmark must not touch the user's store"


def test_bench_grow_refuses_sizes_that_are_not_two_growing_counts(tmp_path: Path) -> None:
    for sizes in ("900,300", "300", "a,b", "0,10"):
        result = paylink(tmp_path, "bench", "--grow", "--sizes", sizes)
        assert result.returncode == 2, sizes
        assert "--sizes" in result.stderr, sizes
    assert not (tmp_path / "var").exists()
