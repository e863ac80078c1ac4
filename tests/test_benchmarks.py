"""The benchmark scripts stay runnable. These check their results are right, never how fast they came."""

from __future__ import annotations

import pytest

from benchmarks.processes import Setup
from benchmarks.revert_sweep import run
from tests.postgres import PostgresServer


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_revert_sweep_benchmark_reverts_everything_it_creates(
    database: str, request: pytest.FixtureRequest
) -> None:
    postgres = request.getfixturevalue("postgres") if database == "postgresql" else None
    result = run(25, Setup(database, 2), with_slack=True, postgres=postgres)
    assert result["n"] == 25
    assert result["cards_redrawn"] == 25, "every card shows its grant ended"
    assert result["told_in_channel"] == 25 and result["told_to_requester"] == 25, "every grant is named to both"
    assert result["slack_calls"] < 25 * 3, "many ending together are told in digests, not a message each"
    assert result["told_seconds"] >= result["seconds"]
    assert result["lag_max"] >= result["lag_p50"] >= 0


def test_the_ack_latency_benchmark_measures_both_apps_and_the_work_gets_done() -> None:
    from benchmarks import ack_latency

    result = ack_latency.run(10, 2, rounds=2, slow=20)
    assert result["m"] == 10 and len(result["round_ratios"]) == 2
    assert result["slow"] == 20 and result["slow_open"] == 20, "the slow clients were held open while it measured"
    assert 0 < result["bare_p50"] <= result["bare_p99"] <= result["bare_max"]
    assert 0 < result["bot_p50"] <= result["bot_p99"] <= result["bot_max"]
    assert result["ratio_p99"] == result["bot_p99"] / result["bare_p99"]
    assert result["work_seconds"] > 0, "it waited for every card"


def test_the_approval_benchmark_applies_each_request_once_on_two_instances_of_two_workers(
    postgres: PostgresServer,
) -> None:
    from benchmarks.approval_throughput import run

    result = run(Setup("postgresql", 2), 6, clients=3, latency=0.0, workers=2, postgres=postgres)
    assert result.per_second > 0 and result.seconds > 0
    assert 0 < result.click_p50 <= result.click_p99
    assert 0 < result.cpu_busy <= 1 and result.lock_waits is not None and result.lock_waits >= 0


def test_the_approval_benchmark_compares_postgresql_with_sqlite_and_two_instances_with_one() -> None:
    from benchmarks.approval_throughput import plan, ratios

    runs = plan(None, None)
    assert [(str(setup), workers) for setup, workers in runs] == [
        ("sqlite, 1 instance", None),
        ("postgresql, 1 instance", None),
        ("postgresql, 1 instance", 1),
        ("postgresql, 2 instances", 1),
    ]
    assert ratios(dict(zip(runs, [20.0, 25.0, 14.0, 26.6], strict=True))) == [
        "one PostgreSQL instance / SQLite (worker processes auto): 1.25x",
        "two PostgreSQL instances / one (1 worker process each): 1.90x",
    ]
    assert [workers for _, workers in plan(None, 2)] == [2, 2, 2]


def test_the_cli_start_benchmark_times_each_command() -> None:
    from benchmarks import cli_start

    figures = cli_start.run(1)
    assert set(figures) == {"python -c pass", "accessbot --help", "accessbot --version"}
    assert all(0 < median <= worst for median, worst in figures.values())
