"""The audit events a reconcile step records about a change, or about a grant under the request that made it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from storage.audit import BOT_ACTOR, AuditKind, record
from storage.models import AccessRequest, Grant, PlatformChange


def audit_change(
    session: Session,
    event: AuditKind,
    request: AccessRequest,
    change: PlatformChange,
    at: datetime,
    *,
    actor: str = BOT_ACTOR,
    **detail: Any,
) -> None:
    record(
        session=session,
        event=event,
        actor=actor,
        at=at,
        request_id=request.id,
        platform=change.platform,
        target_email=request.target_email,
        detail=detail,
    )


def audit_grant(session: Session, grant: Grant, event: AuditKind, *, actor: str, at: datetime, **detail: Any) -> None:
    """An event about a grant, under the request that made it."""
    record(
        session=session,
        event=event,
        actor=actor,
        at=at,
        request_id=grant.request_id,
        platform=grant.platform,
        target_email=grant.email,
        detail={"grant": grant.id, **detail},
    )
