"""What the bot measures as it works, for `GET /metrics` (Prometheus).

These are the figures only the process doing the work can see: how long platform calls take and how often they
fail, how long approvals take, how late reverts land. `serve` runs its work in a worker process and answers
`/metrics` from its front, so it keeps them in prometheus-client's multiprocess mode (bot/metrics.py); everything
the database knows (requests by status, reverts due, the outbox) is read from it when `/metrics` is asked for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import Counter, Histogram

from platforms.base import PlatformError

PLATFORM_CALL_SECONDS = Histogram(
    "accessbot_platform_call_seconds",
    "Time a call to a platform took (one call may read or write many members), by platform and operation",
    ["platform", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PLATFORM_CALL_ERRORS = Counter(
    "accessbot_platform_call_errors_total",
    "Platform calls that failed, by platform, operation and kind of error",
    ["platform", "operation", "error"],
)
APPROVAL_SECONDS = Histogram(
    "accessbot_approval_latency_seconds",
    "From a request to the approval that decided it",
    buckets=(10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
)
REVERT_LAG_SECONDS = Histogram(
    "accessbot_revert_lag_seconds",
    "From a temporary grant's end to its access verified gone from the platform",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600),
)


@contextmanager
def platform_call(platform: str, operation: str) -> Iterator[None]:
    """Time a call to a platform, and count it as an error when it raises."""
    started = time.perf_counter()
    try:
        yield
    except Exception as error:
        PLATFORM_CALL_ERRORS.labels(platform, operation, type(error).__name__).inc()
        raise
    finally:
        PLATFORM_CALL_SECONDS.labels(platform, operation).observe(time.perf_counter() - started)


def count_failures(platform: str, operation: str, results: Mapping[str, object]) -> None:
    """Members of a many-member call that failed, each counted as the error it was."""
    for result in results.values():
        if isinstance(result, PlatformError):
            PLATFORM_CALL_ERRORS.labels(platform, operation, type(result).__name__).inc()


def approved(requested_at: datetime, decided_at: datetime) -> None:
    APPROVAL_SECONDS.observe(max((decided_at - requested_at).total_seconds(), 0.0))


def reverted(ended_at: datetime, reverted_at: datetime) -> None:
    REVERT_LAG_SECONDS.observe(max((reverted_at - ended_at).total_seconds(), 0.0))
