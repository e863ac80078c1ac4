"""What the admin commands print: `accessbot requests` and `accessbot access`, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from domain.access import AccessState
from domain.durations import format_duration
from platforms.base import PlatformCheck
from services.reviews import ReviewView, Snapshot
from services.views import ElevationView, RequestView


def format_requests(views: Sequence[RequestView], *, now: datetime) -> str:
    if not views:
        return "No requests yet."
    header = f"{'id':>5}  {'status':<9}  {'verb':<6}  {'target':<28}  {'platforms':<18}  {'age':>6}  reason"
    lines = [header, "-" * len(header)]
    for view in views:
        age = _age(now - view.created_at)
        platforms = ",".join(view.platforms)
        lines.append(
            f"{view.id:>5}  {view.status.value:<9}  {view.verb:<6}  {view.target_email[:28]:<28}  "
            f"{platforms[:18]:<18}  {age:>6}  {view.reason[:60]}"
        )
        for change in view.changes:
            if change.error:
                lines.append(f"{'':>5}  ↳ {change.platform}: {change.error}")
    return "\n".join(lines)


def format_elevations(elevations: Sequence[ElevationView], *, now: datetime) -> str:
    if not elevations:
        return "No temporary access is active."
    lines = ["Active temporary access:"]
    for elevation in elevations:
        lines.append(
            f"  #{elevation.request_id:<5} {elevation.target_email} on {elevation.platform}: "
            f"{elevation.describe_held()}; ends {elevation.expires_at:%Y-%m-%d %H:%M} UTC, "
            f"{format_duration(elevation.time_left(now))} left"
            + (f" (revert failing: {elevation.last_error})" if elevation.last_error else "")
        )
    return "\n".join(lines)


def requests_report(views: Sequence[RequestView], elevations: Sequence[ElevationView], *, now: datetime) -> str:
    """What `accessbot requests` prints: the requests, then the temporary access still running."""
    return f"{format_requests(views, now=now)}\n\n{format_elevations(elevations, now=now)}"


def format_checks(checks: Sequence[PlatformCheck], types: Mapping[str, str]) -> str:
    lines = []
    for check in checks:
        lines.append(
            f"{'OK  ' if check.ok else 'FAIL'}  {check.platform} ({types.get(check.platform, '?')}): {check.summary}"
        )
        lines += [f"        ✗ {problem}" for problem in check.problems]
        lines += [f"        · {note}" for note in check.notes]
    failed = sum(1 for check in checks if not check.ok)
    lines.append(
        f"{len(checks) - failed} of {len(checks)} platform(s) ready" + (f"; {failed} need attention" if failed else "")
    )
    return "\n".join(lines)


def requests_json(views: Sequence[RequestView]) -> str:
    return json.dumps([view.model_dump(mode="json") for view in views], indent=2)


def format_access(email: str, answers: Mapping[str, AccessState | str]) -> str:
    lines = [email]
    for platform, answer in sorted(answers.items()):
        if isinstance(answer, AccessState):
            lines.append(f"  {platform}: {answer.describe()}")
        else:
            lines.append(f"  {platform}: could not be read: {answer}")
    return "\n".join(lines)


def access_json(email: str, answers: Mapping[str, AccessState | str]) -> str:
    document = {
        "email": email,
        "platforms": {
            platform: answer.model_dump(mode="json") if isinstance(answer, AccessState) else {"error": answer}
            for platform, answer in answers.items()
        },
    }
    return json.dumps(document, indent=2)


def _age(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def format_snapshot(taken: Snapshot) -> str:
    """What `accessbot review --print` shows: everyone with access, flagged rows marked."""
    lines = [f"Access review as of {taken.taken_at:%Y-%m-%d %H:%M} UTC"]
    for platform, rows in taken.members.items():
        flagged = sum(1 for _, found in rows if found)
        lines.append(f"\n{platform}: {len(rows)} with access, {flagged} flagged")
        for member, found in sorted(rows, key=lambda row: (not row[1], row[0].email)):
            active = f"last active {member.last_active:%Y-%m-%d}" if member.last_active else "activity not reported"
            lines.append(f"  {'!' if found else ' '} {member.email:<32} {member.access.describe()} ({active})")
            lines += [f"      ! {finding.text}" for finding in found]
    for platform, error in sorted(taken.errors.items()):
        lines.append(f"\n{platform}: could not be listed: {error}")
    return "\n".join(lines)


def review_posted_text(review: ReviewView, channel: str) -> str:
    flagged = sum(1 for item in review.items if item.flagged)
    text = f"posted access review #{review.id} to {channel}: {len(review.items)} rows, {flagged} flagged"
    if review.errors:
        text += f"; could not list {', '.join(sorted(review.errors))}"
    return text
