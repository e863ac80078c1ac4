"""Temporary elevations: started when a temporary grant is applied, released by later changes, extended.

The rows are the source of truth; reminders and reverts happen in services.sweeper, triggered by the periodic sweep
or by a timer; what people do with a running elevation is in services.elevation_actions. Everything here that
changes a row is a conditional update, so two bot processes never disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from domain.access import AccessState
from domain.elevation import (
    ElevationStatus,
    asked_fields,
    changed_fields,
    reminder_times,
    track,
)
from services.context import ServiceContext
from services.views import ChangeView, ElevationView, RequestView, elevation_view
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.elevations import add_elevation, get_elevation, live_elevations, move_expiry, next_moment, replace_fields
from storage.models import RevertReminder


def on_change_applied(
    session: Session,
    ctx: ServiceContext,
    request: RequestView,
    change: ChangeView,
    *,
    before: AccessState,
    after: AccessState,
    now: datetime,
) -> int | None:
    """Inside the transaction that marks a change applied: start the elevation of a temporary grant, or release
    what a permanent change now owns from the elevations still running. Returns a started elevation's id."""
    if change.action == "grant" and change.grant is not None and request.is_temporary:
        return _start(session, ctx, request, change, before=before, after=after, now=now)
    _release(session, request, change.platform, before=before, after=after, now=now)
    return None


def _start(
    session: Session,
    ctx: ServiceContext,
    request: RequestView,
    change: ChangeView,
    *,
    before: AccessState,
    after: AccessState,
    now: datetime,
) -> int:
    assert change.grant is not None
    stacked = [
        elevation_view(row).layer()
        for row in live_elevations(session=session, platform=change.platform, target_email=request.target_email)
    ]
    fields = track(asked=asked_fields(change.grant, before), before=before, elevated=after, active=stacked)
    expires_at = request.until_at if request.until_at is not None else now + (request.duration or timedelta())
    reminders = reminder_times(expires_at=expires_at, offsets=ctx.elevation_settings.reminders, now=now)
    row = add_elevation(
        session=session,
        elevation=RevertReminder(
            request_id=request.id,
            change_id=change.id,
            platform=change.platform,
            target_email=request.target_email,
            revert_to=before.model_dump(mode="json"),
            elevated_to=after.model_dump(mode="json"),
            fields={field: tracked.model_dump(mode="json") for field, tracked in fields.items()},
            started_at=now,
            expires_at=expires_at,
            remind_at=[moment.isoformat() for moment in reminders],
            next_remind_at=reminders[0] if reminders else None,
            status=ElevationStatus.ACTIVE.value,
            updated_at=now,
        ),
    )
    assert row.id is not None
    audit(
        session,
        row,
        AuditKind.ELEVATION_STARTED,
        actor=request.decided_by or BOT_ACTOR,
        at=now,
        expires_at=expires_at.isoformat(),
        reminders=row.remind_at,
        revert_to=row.revert_to,
        holds=row.fields,
        stacked_on=[layer.id for layer in stacked],
    )
    return row.id


def _release(
    session: Session, request: RequestView, platform: str, *, before: AccessState, after: AccessState, now: datetime
) -> None:
    """A permanent change the bot applied owns the fields it changed; running elevations stop holding them."""
    changed = changed_fields(before, after)
    if not changed:
        return
    for row in live_elevations(session=session, platform=platform, target_email=request.target_email):
        if row.status != ElevationStatus.ACTIVE.value or row.id is None:
            continue
        remaining = {field: held for field, held in row.fields.items() if after.member and field not in changed}
        if remaining == row.fields:
            continue
        ended: dict[str, Any] = {}
        if not remaining:
            ended = {
                "status": ElevationStatus.SUPERSEDED.value,
                "ended_at": now,
                "ended_by": f"request #{request.id}",
                "next_remind_at": None,
            }
        if replace_fields(
            session=session, elevation_id=row.id, version=row.version, fields=remaining, now=now, **ended
        ):
            event = AuditKind.ELEVATION_SUPERSEDED if ended else AuditKind.ELEVATION_RELEASED
            audit(
                session,
                row,
                event,
                actor=BOT_ACTOR,
                at=now,
                by_request=request.id,
                released=sorted(set(row.fields) - set(remaining)),
            )


def audit(
    session: Session,
    elevation: RevertReminder | ElevationView,
    event: AuditKind,
    *,
    actor: str,
    at: datetime,
    **detail: Any,
) -> None:
    """Record an event about an elevation, under the request that started it."""
    record(
        session=session,
        event=event,
        actor=actor,
        at=at,
        request_id=elevation.request_id,
        platform=elevation.platform,
        target_email=elevation.target_email,
        detail={"elevation": elevation.id, **detail},
    )


def load(ctx: ServiceContext, elevation_id: int) -> tuple[ElevationView, RequestView] | None:
    with Session(ctx.engine) as session:
        row = get_elevation(session=session, elevation_id=elevation_id)
        if row is None:
            return None
        request = ctx.view(session, row.request_id)
    assert request is not None
    return elevation_view(row), request


def extend(
    ctx: ServiceContext, elevation_id: int, *, by: timedelta, actor: str, request_id: int | None = None
) -> ElevationView | None:
    """Move an active elevation's end `by` later; None when it has already ended."""
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        row = get_elevation(session=session, elevation_id=elevation_id)
        if row is None or row.status != ElevationStatus.ACTIVE.value:
            return None
        before = row.expires_at
        expires_at = before + by
        reminders = reminder_times(expires_at=expires_at, offsets=ctx.elevation_settings.reminders, now=now)
        if not move_expiry(
            session=session,
            elevation_id=elevation_id,
            expected_expiry=before,
            expires_at=expires_at,
            remind_at=reminders,
            now=now,
        ):
            return None
        audit(
            session,
            row,
            AuditKind.ELEVATION_EXTENDED,
            actor=actor,
            at=now,
            by_request=request_id,
            **{"from": before.isoformat(), "to": expires_at.isoformat()},
        )
    found = load(ctx, elevation_id)
    assert found is not None
    elevation, request = found
    wake(ctx, elevation_id)
    ctx.notifier.elevation_extended(request, elevation)
    return elevation


def wake(ctx: ServiceContext, elevation_id: int) -> None:
    """Tell the timers when this elevation next needs attention."""
    if ctx.timers is None:
        return
    with Session(ctx.engine) as session:
        row = get_elevation(session=session, elevation_id=elevation_id)
        ctx.timers.elevation_due(elevation_id, next_moment(row) if row is not None else None)


def live_views(ctx: ServiceContext, *, target_email: str | None = None) -> list[ElevationView]:
    with Session(ctx.engine) as session:
        return [elevation_view(row) for row in live_elevations(session=session, target_email=target_email)]
