from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.durations import DurationError, format_duration, parse_duration, parse_until, zone_named


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", timedelta(minutes=1)),
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w 2d", timedelta(days=9)),
        ("2 days", timedelta(days=2)),
        ("90 minutes", timedelta(minutes=90)),
        ("4H", timedelta(hours=4)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "h", "4x", "4h x", "four hours", "0m", "-1h", "1y"])
def test_bad_durations_are_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert "4h" in str(caught.value) or "zero" in str(caught.value) or "missing" in str(caught.value)


@given(st.integers(min_value=1, max_value=60 * 24 * 3000))
def test_formatted_durations_read_back_the_same(minutes: int) -> None:
    span = timedelta(minutes=minutes)
    assert parse_duration(format_duration(span).replace(" ", "")) == span


def test_a_bare_date_means_through_the_end_of_that_day_in_the_requesters_zone() -> None:
    until = parse_until("2026-12-01")
    assert until.resolve(ZoneInfo("Europe/Paris")) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC) + timedelta(days=1)


def test_a_naive_datetime_is_read_in_the_requesters_zone_and_an_explicit_offset_wins() -> None:
    assert parse_until("2026-12-01 18:00").resolve(ZoneInfo("America/New_York")) == datetime(
        2026, 12, 1, 23, 0, tzinfo=UTC
    )
    assert parse_until("2026-12-01T18:00Z").resolve(ZoneInfo("America/New_York")) == datetime(
        2026, 12, 1, 18, 0, tzinfo=UTC
    )


def test_unknown_time_zones_fall_back_to_utc() -> None:
    assert zone_named("Mars/Olympus_Mons") is UTC
    assert zone_named(None) is UTC
