"""What the admin commands print: `accessbot requests` and `accessbot access`, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from domain.access import AccessState
from domain.durations import format_duration
from platforms.base import PlatformCheck
from services.grants import AccountLedger
from services.reviews import ReviewView, Snapshot
from services.views import GrantView, RequestView


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
                # Platform errors name their platform already ("crm: HTTP 503 ..."); say it once.
                said = change.error.removeprefix(f"{change.platform}: ")
                lines.append(f"{'':>5}  ↳ {change.platform}: {said}")
    return "\n".join(lines)


def format_elevations(elevations: Sequence[GrantView], *, now: datetime) -> str:
    if not elevations:
        return "No temporary access is active."
    lines = ["Active temporary access:"]
    lines += [f"  {grant_text(elevation, now=now)}" for elevation in elevations]
    return "\n".join(lines)


def grant_text(grant: GrantView, *, now: datetime) -> str:
    """One grant on one line: its request, whose, what it covers, and until when."""
    head = f"#{grant.request_id:<5} {grant.target_email} on {grant.platform}: "
    if grant.permanent:
        since = f" since {grant.started_at:%Y-%m-%d %H:%M} UTC" if grant.started_at else ""
        return f"{head}{grant.describe_covers()}; permanent{since}"
    if grant.ends_at is None:
        return f"{head}{grant.describe_held()}; being applied"
    text = f"{head}{grant.describe_held()}; ends {grant.ends_at:%Y-%m-%d %H:%M} UTC"
    if grant.ends_at > now:
        text += f", {format_duration(grant.time_left(now))} left"
    return text + (f" (revert failing: {grant.last_error})" if grant.last_error else "")


def requests_report(views: Sequence[RequestView], elevations: Sequence[GrantView], *, now: datetime) -> str:
    """What `accessbot requests` prints: the requests, then the temporary access still running."""
    return f"{format_requests(views, now=now)}\n\n{format_elevations(elevations, now=now)}"


def format_checks(checks: Sequence[PlatformCheck], types: Mapping[str, str]) -> str:
    lines = []
    for check in checks:
        lines.append(
            f"{'OK  ' if check.ok else 'FAIL'}  {check.platform} ({types.get(check.platform, '?')}): {check.summary}"
        )
        lines += [f"        ✗ {problem}" for problem in check.problems]
        for capability in check.capabilities:
            mark = {"proven": "✓", "assumed": "?", "missing": "✗"}[capability.status]
            detail = f": {capability.detail}" if capability.detail else ""
            fix = f" → {capability.fix}" if capability.fix else ""
            lines.append(f"        {mark} {capability.status:<7} {capability.name}{detail}{fix}")
        lines += [f"        · {note}" for note in check.notes]
    failed = sum(1 for check in checks if not check.ok)
    lines.append(
        f"{len(checks) - failed} of {len(checks)} platform(s) ready" + (f"; {failed} need attention" if failed else "")
    )
    return "\n".join(lines)


def requests_json(views: Sequence[RequestView]) -> str:
    return json.dumps([view.model_dump(mode="json") for view in views], indent=2)


def format_access(
    email: str, answers: Mapping[str, AccessState | str], ledgers: Mapping[str, AccountLedger], *, now: datetime
) -> str:
    lines = [email]
    for platform, answer in sorted(answers.items()):
        if isinstance(answer, AccessState):
            lines.append(f"  {platform}: {answer.describe()}")
        else:
            lines.append(f"  {platform}: could not be read: {answer}")
        ledger = ledgers.get(platform)
        if ledger is None or ledger.baseline is None:
            lines.append("    accessbot has not changed this account")
            continue
        lines.append(f"    baseline ({ledger.baseline_source}): {ledger.baseline.describe()}")
        lines += [f"    grant {grant_text(grant, now=now)}" for grant in ledger.grants]
    return "\n".join(lines)


def access_json(email: str, answers: Mapping[str, AccessState | str], ledgers: Mapping[str, AccountLedger]) -> str:
    document = {
        "email": email,
        "platforms": {
            platform: {
                **(answer.model_dump(mode="json") if isinstance(answer, AccessState) else {"error": answer}),
                "baseline": ledgers[platform].baseline.model_dump(mode="json")  # type: ignore[union-attr]
                if platform in ledgers and ledgers[platform].baseline is not None
                else None,
                "baseline_source": ledgers[platform].baseline_source if platform in ledgers else None,
                "grants": [
                    {
                        "id": grant.id,
                        "request": grant.request_id,
                        "state": grant.state.value,
                        "covers": grant.parts,
                        "before": grant.before,
                        "permanent": grant.permanent,
                        "started_at": grant.started_at.isoformat() if grant.started_at else None,
                        "ends_at": grant.ends_at.isoformat() if grant.ends_at else None,
                    }
                    for grant in (ledgers[platform].grants if platform in ledgers else ())
                ],
            }
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
