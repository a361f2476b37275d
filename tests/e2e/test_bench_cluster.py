"""``paylink bench --cluster N`` as a user runs it: real ``paylink serve`` nodes on a scratch
schema of the test's PostgreSQL, a short run, every figure present and sane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paylink_es.store.leases import SINGLETONS
from tests.e2e.test_cli import paylink

REQUESTS = 100  # each node's warm-up, the survivors' round after the kill: as many


@pytest.mark.postgres
def test_bench_cluster_measures_one_node_then_two_and_the_takeover_after_a_kill(
    tmp_path: Path, pg_url: str
) -> None:
    result = paylink(
        tmp_path,
        *("bench", "--cluster", "2", "--quick", "--json", "--commands", str(REQUESTS)),
        env={"PAYLINK_DATABASE_URL": pg_url, "PAYLINK_POSTGRES_POOL_SIZE": "2"},
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["backend"] == "postgres"
    assert (figures["cluster_nodes"], figures["cluster_requests"]) == (2, REQUESTS)
    # Every answered create is stored once: two measured phases, three warm-ups of the
    # nodes (one, then both) and the survivors' round after the kill.
    assert figures["cluster_links"] == 2 * REQUESTS + REQUESTS * 4
    for nodes in (1, 2):
        assert figures[f"cluster_create_per_s_{nodes}"] > 0, nodes
        p50, p99 = (figures[f"cluster_create_{q}_ms_{nodes}"] for q in ("p50", "p99"))
        assert 0 < p50 <= p99, nodes
    assert figures["cluster_takeover_s"] > 0
    assert 1 <= figures["cluster_takeover_workers"] <= len(SINGLETONS)
    assert figures["cluster_loadavg_1m"] >= 0
    assert not (tmp_path / "var").exists(), "the benchmark must not touch the user's store"


def test_bench_cluster_refuses_sqlite_and_a_count_of_nodes_it_cannot_run(
    tmp_path: Path,
) -> None:
    refused = paylink(tmp_path, "bench", "--cluster", "2", "--quick")
    assert refused.returncode == 2
    assert "needs PostgreSQL: set PAYLINK_DATABASE_URL" in refused.stderr
    assert refused.stdout == ""
    for wrong in ("1", "two"):
        bad = paylink(tmp_path, "bench", "--cluster", wrong)
        assert bad.returncode == 2, wrong
        assert f"N must be a whole number of nodes from 2 to 8, not '{wrong}'" in bad.stderr
    assert not (tmp_path / "var").exists()
