"""The append-only audit trail: insert and read, nothing else."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from storage.models import AuditEvent

#: The actor recorded for what the bot does by itself (applying after approval, reverting at expiry).
BOT_ACTOR = "accessbot"


class AuditKind(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    APPROVAL_RECORDED = "approval_recorded"  # one of several approvals a rule needs
    APPROVAL_REFUSED = "approval_refused"
    DENIED = "denied"
    BREAK_GLASS = "break_glass"
    WITHDRAWN = "withdrawn"
    APPLY_STARTED = "apply_started"
    APPLIED = "applied"
    FAILED = "failed"
    RETRIED = "retried"
    AWAITING_MANUAL = "awaiting_manual"
    MANUAL_STEP_DONE = "manual_step_done"
    MANUAL_TASK_REMINDED = "manual_task_reminded"
    EXPIRED = "expired"
    APPROVERS_REMINDED = "approvers_reminded"
    ELEVATION_STARTED = "elevation_started"
    REMINDED = "reminded"
    ELEVATION_EXTENDED = "elevation_extended"
    ELEVATION_KEPT = "elevation_kept"
    ELEVATION_REVOKED_EARLY = "elevation_revoked_early"
    ELEVATION_RELEASED = "elevation_released"
    ELEVATION_SUPERSEDED = "elevation_superseded"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"
    REVERT_ESCALATED = "revert_escalated"
    DRIFT_DETECTED = "drift_detected"


def record(
    *,
    session: Session,
    event: AuditKind,
    actor: str,
    at: datetime,
    request_id: int | None = None,
    platform: str | None = None,
    target_email: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    row = AuditEvent(
        at=at,
        event=event.value,
        actor=actor,
        request_id=request_id,
        platform=platform,
        target_email=target_email,
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    return row


def events_for(*, session: Session, request_id: int) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(col(AuditEvent.id))
    return list(session.exec(statement))
