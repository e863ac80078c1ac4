"""Reminders and reverts that are due, done exactly once however many bot processes look.

`sweep` runs periodically and catches everything due, including what was missed while the bot was down;
`process_elevation` does the same for one elevation when its timer fires. Both claim work with conditional updates:
a reminder by moving `next_remind_at` on, a revert by claiming the row with a token and a lease. A revert that fails
goes back with a later `next_attempt_at` (exponential backoff), and the approvers are asked to look after a few
tries; it is never dropped.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.access import AccessStep, unexplained
from domain.elevation import ElevationStatus, revert_plan
from platforms.base import PlatformError
from services.apply import failure_text
from services.context import ServiceContext, logger
from services.decisions import Outcome, expire
from services.elevations import audit, load, wake
from services.logs import about_request
from services.recovery import recover
from services.reviews import run_due
from services.tasks import open_revert_tasks
from services.views import elevation_view, task_view
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.elevations import (
    claim_due_reverts,
    claim_reminder,
    claim_to_end_now,
    due_reminders,
    finish_revert,
    get_elevation,
    live_elevations,
    next_moment,
    release_claim,
)
from storage.models import RevertReminder
from storage.requests import due_pending, mark_reminded
from storage.tasks import claim_task_reminder, due_task_reminders


class SweepReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    reminded: int = 0
    reverted: int = 0
    failed: int = 0
    tasks_reminded: int = 0
    pending_reminded: int = 0
    expired: int = 0
    reviews: int = 0
    recovered: int = 0  # requests a dead worker left half-done


INSTANCE_ENV = "ACCESSBOT_INSTANCE"


def worker_name() -> str:
    """This instance's name in claims, log lines and health: host:pid, unless ACCESSBOT_INSTANCE names it (serve's
    worker process takes its front's name, so that the two are one instance)."""
    return os.environ.get(INSTANCE_ENV) or f"{socket.gethostname()}:{os.getpid()}"


def sweep(ctx: ServiceContext, *, worker: str | None = None) -> SweepReport:
    """Take over what a dead worker left half-done, send every due reminder, revert every due elevation, bring back
    manual tasks left open, and start the scheduled access review when its time has come."""
    recovered = recover(ctx)
    reminded = _send_due_reminders(ctx)
    tasks_reminded = _remind_open_tasks(ctx)
    pending_reminded, expired = _undecided(ctx)
    reverted, failed = _revert_due(ctx, worker)
    return SweepReport(
        reminded=reminded,
        reverted=reverted,
        failed=failed,
        tasks_reminded=tasks_reminded,
        pending_reminded=pending_reminded,
        expired=expired,
        reviews=_start_due_review(ctx),
        recovered=recovered,
    )


def _start_due_review(ctx: ServiceContext) -> int:
    try:
        return 1 if run_due(ctx) is not None else 0
    except Exception:
        # Reverts and reminders must not wait on a review that cannot be taken; the next sweep tries again.
        logger.exception("the scheduled access review could not be started")
        return 0


def _revert_due(ctx: ServiceContext, worker: str | None) -> tuple[int, int]:
    reverted = failed = 0
    while True:
        token = f"{worker or worker_name()}:{uuid.uuid4().hex}"
        now = ctx.clock.now()
        with session_scope(ctx.engine) as session:
            claimed = claim_due_reverts(
                session=session, now=now, token=token, lease=_lease(ctx), limit=ctx.elevation_settings.batch
            )
        if not claimed:
            return reverted, failed
        for row in claimed:
            with about_request(row.request_id):
                ended = _revert(ctx, row, token, actor=BOT_ACTOR)
            if ended:
                reverted += 1
            else:
                failed += 1


def process_elevation(ctx: ServiceContext, elevation_id: int, *, actor: str = BOT_ACTOR) -> datetime | None:
    """Do whatever is due for one elevation now; returns when it next needs attention."""
    _send_due_reminders(ctx, elevation_id=elevation_id)
    token = f"{worker_name()}:{uuid.uuid4().hex}"
    with session_scope(ctx.engine) as session:
        claimed = claim_due_reverts(
            session=session, now=ctx.clock.now(), token=token, lease=_lease(ctx), limit=1, elevation_id=elevation_id
        )
    for row in claimed:
        _revert(ctx, row, token, actor=actor)
    with Session(ctx.engine) as session:
        current = get_elevation(session=session, elevation_id=elevation_id)
        return next_moment(current) if current is not None else None


def end_now(ctx: ServiceContext, elevation_id: int, *, expected_expiry: datetime, actor: str) -> bool | None:
    """Revert an active elevation at once, for the person who asked. None when it was no longer active."""
    token = f"{worker_name()}:{uuid.uuid4().hex}"
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        row = claim_to_end_now(
            session=session, elevation_id=elevation_id, expected_expiry=expected_expiry, token=token, now=now
        )
        if row is None:
            return None
        audit(
            session, row, AuditKind.ELEVATION_REVOKED_EARLY, actor=actor, at=now, was_to_end=expected_expiry.isoformat()
        )
    return _revert(ctx, row, token, actor=actor)


def _lease(ctx: ServiceContext) -> timedelta:
    return timedelta(seconds=ctx.elevation_settings.lease_seconds)


# --- reminders ---------------------------------------------------------------------------------------------------


def _send_due_reminders(ctx: ServiceContext, elevation_id: int | None = None) -> int:
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        due = due_reminders(session=session, now=now, limit=ctx.elevation_settings.batch)
    sent = 0
    for row in due:
        if elevation_id is not None and row.id != elevation_id:
            continue
        assert row.id is not None and row.next_remind_at is not None
        # Only the latest missed reminder goes out: after downtime, one "ends in 30 minutes", not two.
        following = min((moment for moment in map(datetime.fromisoformat, row.remind_at) if moment > now), default=None)
        with session_scope(ctx.engine) as session:
            if not claim_reminder(
                session=session, elevation_id=row.id, due_at=row.next_remind_at, following=following, now=now
            ):
                continue  # another worker sent it
            audit(
                session,
                row,
                AuditKind.REMINDED,
                actor=BOT_ACTOR,
                at=now,
                expires_at=row.expires_at.isoformat(),
                due_at=row.next_remind_at.isoformat(),
            )
        found = load(ctx, row.id)
        if found is not None:
            ctx.notifier.elevation_reminder(found[1], found[0], now)
        wake(ctx, row.id)
        sent += 1
    return sent


def _undecided(ctx: ServiceContext) -> tuple[int, int]:
    """Requests nobody decided: remind the approvers once, then expire them. Returns (reminded, expired)."""
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        to_remind, to_expire = due_pending(session=session, now=now, limit=ctx.elevation_settings.batch)
    reminded = 0
    expiring = {request.id for request in to_expire}
    for request in to_remind:
        assert request.id is not None
        if request.id in expiring:
            continue
        with session_scope(ctx.engine) as session:
            if not mark_reminded(session=session, request_id=request.id, at=now):
                continue  # another worker sent it
            record(
                session=session,
                event=AuditKind.APPROVERS_REMINDED,
                actor=BOT_ACTOR,
                at=now,
                request_id=request.id,
                target_email=request.target_email,
                detail={"expires_at": request.expires_at.isoformat() if request.expires_at else None},
            )
            view = ctx.view(session, request.id)
        if view is not None:
            ctx.notifier.request_reminder(view)
            reminded += 1
    expired = 0
    for request in to_expire:
        assert request.id is not None
        view = ctx.load_view(request.id)
        if view is not None and expire(ctx, view, reason="nobody decided in time").outcome is Outcome.EXPIRED:
            expired += 1
    return reminded, expired


def _remind_open_tasks(ctx: ServiceContext) -> int:
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        due = due_task_reminders(session=session, now=now, limit=ctx.elevation_settings.batch)
    sent = 0
    for task in due:
        assert task.id is not None and task.remind_at is not None
        with session_scope(ctx.engine) as session:
            if not claim_task_reminder(
                session=session, task_id=task.id, due_at=task.remind_at, following=now + ctx.task_settings.remind_every
            ):
                continue  # another worker took it
            record(
                session=session,
                event=AuditKind.MANUAL_TASK_REMINDED,
                actor=BOT_ACTOR,
                at=now,
                request_id=task.request_id,
                platform=task.platform,
                target_email=task.target_email,
                detail={"task": task.id, "open_since": task.created_at.isoformat()},
            )
            view = ctx.view(session, task.request_id)
        if view is not None:
            ctx.notifier.manual_task_reminder(view, task_view(task))
        sent += 1
    return sent


# --- reverts -----------------------------------------------------------------------------------------------------


class RevertFailed(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _revert(ctx: ServiceContext, row: RevertReminder, token: str, *, actor: str) -> bool:
    """Revert one claimed elevation. True when it ended; False when it failed and will be retried."""
    assert row.id is not None
    elevation = elevation_view(row)
    with Session(ctx.engine) as session:
        others = [
            elevation_view(other).layer()
            for other in live_elevations(session=session, platform=row.platform, target_email=row.target_email)
            if other.id != row.id
        ]
    platform = ctx.platforms.get(row.platform)
    manual: tuple[AccessStep, ...] = ()
    try:
        if platform is None:
            raise RevertFailed(f"{row.platform}: this platform is no longer configured", "unavailable")
        current = platform.get_access(row.target_email)
        plan = revert_plan(current=current, ending=elevation.layer(), others=others)
        after = current
        if plan.changes_anything:
            manual = platform.apply(row.target_email, plan.desired).manual
            after = platform.get_access(row.target_email)
            if problems := [step.describe() for step in unexplained(after, plan.desired, manual)]:
                raise RevertFailed(
                    f"verification failed: {row.platform} still differs ({'; '.join(problems)})", "verification"
                )
    except PlatformError as error:
        return _failed(ctx, row, token, error=failure_text(error), kind=error.kind)
    except RevertFailed as error:
        return _failed(ctx, row, token, error=str(error), kind=error.kind)
    except Exception:
        logger.exception("reverting elevation %s failed", row.id)
        return _failed(ctx, row, token, error="internal error in accessbot; see its log", kind="internal")
    now = ctx.clock.now()
    outcome = {
        "reverted": {field: list(change) for field, change in plan.reverted.items()},
        "drift": {field: list(change) for field, change in plan.drift.items()},
        "kept_for": plan.kept_for,
        "before": current.model_dump(mode="json"),
        "after": after.model_dump(mode="json"),
        "manual": [step.describe() for step in manual],
    }
    with session_scope(ctx.engine) as session:
        if not finish_revert(
            session=session,
            elevation_id=row.id,
            token=token,
            now=now,
            status=ElevationStatus.REVERTED,
            ended_by=actor,
            outcome=outcome,
            attempts=row.attempts + 1,
            last_error=None,
        ):
            logger.warning("elevation %s: claim lost to another worker; it finishes the revert", row.id)
            return False
        audit(session, row, AuditKind.REVERTED, actor=actor, at=now, expired_at=row.expires_at.isoformat(), **outcome)
        if plan.drift:
            audit(session, row, AuditKind.DRIFT_DETECTED, actor=BOT_ACTOR, at=now, **outcome)
        # Where the platform has no API for part of the revert, an admin gets it as tracked tasks.
        opened: list[int] = open_revert_tasks(session, ctx, row, manual, now=now) if manual else []
    found = load(ctx, row.id)
    if found is not None:
        ctx.notifier.elevation_ended(found[1], found[0])
        if opened:
            ctx.notifier.manual_tasks_opened(found[1], tuple(t for t in found[1].tasks if t.id in opened))
    return True


def _failed(ctx: ServiceContext, row: RevertReminder, token: str, *, error: str, kind: str) -> bool:
    assert row.id is not None
    settings = ctx.elevation_settings
    now = ctx.clock.now()
    attempts = row.attempts + 1
    # Exponential backoff with jitter, so that many reverts failing together do not retry in lockstep.
    delay = min(settings.retry_initial_seconds * 2 ** (attempts - 1), settings.retry_max_seconds)
    retry_at = now + timedelta(seconds=delay * random.uniform(1.0, 1.2))
    escalate = attempts >= settings.escalate_after and row.escalated_at is None
    with session_scope(ctx.engine) as session:
        if not release_claim(
            session=session,
            elevation_id=row.id,
            token=token,
            now=now,
            attempts=attempts,
            last_error=error,
            next_attempt_at=retry_at,
            escalated_at=now if escalate else row.escalated_at,
        ):
            return False
        audit(
            session,
            row,
            AuditKind.REVERT_FAILED,
            actor=BOT_ACTOR,
            at=now,
            error=error,
            kind=kind,
            attempt=attempts,
            retry_at=retry_at.isoformat(),
        )
        if escalate:
            audit(session, row, AuditKind.REVERT_ESCALATED, actor=BOT_ACTOR, at=now, attempts=attempts)
    found = load(ctx, row.id)
    if found is not None:
        ctx.notifier.elevation_revert_failed(found[1], found[0], escalate=escalate)
    wake(ctx, row.id)
    return False
