"""How much a rate limit lets through at once."""

from __future__ import annotations


def burst(per_minute: float) -> float:
    """How many requests a bucket holds: five seconds' worth; for a limit slower than that, as many as ten minutes
    give, up to ten (one read of a person, or one change, takes a few calls)."""
    seconds_worth = per_minute / 60.0 * 5
    if seconds_worth >= 1:
        return seconds_worth
    return max(1.0, min(10.0, per_minute * 10))
