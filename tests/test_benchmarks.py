"""The benchmark scripts stay runnable. These check their results are right, never how fast they came."""

from __future__ import annotations

from benchmarks.revert_sweep import run


def test_the_revert_sweep_benchmark_reverts_everything_it_creates() -> None:
    result = run(25, workers=2, with_slack=True)
    assert result["n"] == 25
    assert result["slack_calls"] == 25 * 3, "a card redraw, a thread reply and a DM per revert"
    assert result["lag_max"] >= result["lag_p50"] >= 0
