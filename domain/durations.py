"""`for 4h`, `for 1w 2d`, `until 2026-12-01 18:00`: how long a grant lasts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

_UNITS: dict[str, timedelta] = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "minutes": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "hrs": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "hours": timedelta(hours=1),
    "d": timedelta(days=1),
    "day": timedelta(days=1),
    "days": timedelta(days=1),
    "w": timedelta(weeks=1),
    "wk": timedelta(weeks=1),
    "week": timedelta(weeks=1),
    "weeks": timedelta(weeks=1),
}
_PART = re.compile(r"(\d{1,6})\s*([a-z]+)")
# Far beyond any sane grant, and small enough that datetime arithmetic can never overflow.
_LONGEST = timedelta(days=3660)

DURATION_FORMS = "30m, 4h, 2d, 1w or combinations such as 1d12h"
DATE_FORMS = "2026-12-01, 2026-12-01 18:00 or 2026-12-01T18:00+01:00"


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """`4h`, `90m`, `2 days`, `1w2d` -> timedelta."""
    compact = text.strip().lower()
    if not compact:
        raise DurationError(f"missing duration; use {DURATION_FORMS}")
    total = timedelta()
    position = 0
    for match in _PART.finditer(compact):
        if compact[position : match.start()].strip(" ,"):
            break
        amount, unit = match.groups()
        if unit not in _UNITS:
            raise DurationError(f"unknown unit {unit!r} in {text!r}; use {DURATION_FORMS}")
        total += int(amount) * _UNITS[unit]
        position = match.end()
    if position == 0 or compact[position:].strip(" ,"):
        raise DurationError(f"{text!r} is not a duration; use {DURATION_FORMS}")
    if total <= timedelta():
        raise DurationError(f"{text!r} is zero; a grant must last at least a minute")
    if total > _LONGEST:
        raise DurationError(f"{text!r} is longer than ten years; leave out `for` for a permanent grant")
    return total


def format_duration(span: timedelta) -> str:
    """Short and exact: 4h, 1d 12h, 2w, 45m."""
    minutes = int(span.total_seconds() // 60)
    if minutes <= 0:
        return "under a minute"
    parts = []
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts)


class Until(BaseModel):
    """An end date as typed; naive values are read in the requester's time zone when the request is made."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    date_only: bool = False

    def resolve(self, zone: tzinfo) -> datetime:
        """The instant access ends, in UTC. A bare date means through the end of that day."""
        moment = self.at if self.at.tzinfo else self.at.replace(tzinfo=zone)
        if self.date_only:
            moment = moment + timedelta(days=1)
        return moment.astimezone(UTC)

    def canonical(self) -> str:
        """As typed in a command; parse_until reads it back to an equal value."""
        return self.at.date().isoformat() if self.date_only else self.at.isoformat()

    def describe(self) -> str:
        if self.date_only:
            return f"until the end of {self.at.date().isoformat()}"
        return f"until {self.at.isoformat(sep=' ', timespec='minutes')}"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_until(text: str) -> Until:
    cleaned = text.strip()
    if _DATE.match(cleaned):
        try:
            day = date.fromisoformat(cleaned)
        except ValueError as error:
            raise DurationError(f"{cleaned!r} is not a real date; use {DATE_FORMS}") from error
        return Until(at=datetime.combine(day, time()), date_only=True)
    candidate = cleaned.replace(" ", "T", 1) if "T" not in cleaned else cleaned
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError as error:
        raise DurationError(f"{cleaned!r} is not a date; use {DATE_FORMS}") from error
    if moment.year < 2000:
        raise DurationError(f"{cleaned!r} is in the distant past; use {DATE_FORMS}")
    return Until(at=moment)


def zone_named(name: str | None) -> tzinfo:
    """A Slack user's `tz` as a tzinfo; UTC when Slack does not know it."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
