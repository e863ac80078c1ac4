"""The evidence an auditor asks for about one request, gathered from the bot's own records.

The removal procedures ask for before and after snapshots, the approval record, the ticket, the business reason, the
method, the times and the administrator who acted; every one of them is already in the request, its platform
changes, its approvals, its tasks and its audit events. This module puts them in one document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.access import AccessState, AccessStep
from services import visibility
from services.context import ServiceContext
from services.ports import Person
from storage.audit import event_hash, events_for
from storage.models import AccessRequest, AuditEvent
from storage.requests import approvals_of, changes_of, get_request
from storage.tasks import TaskStatus, tasks_of


class ApprovalRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    approver: str
    at: datetime


class PlatformRecord(BaseModel):
    """One platform's part: what was asked, what was there before, what was done, and what the platform answered."""

    model_config = ConfigDict(frozen=True)

    platform: str
    action: str
    change: str
    method: str | None = None
    status: str
    attempts: int
    shown_to_approver: AccessState | None = None
    before: AccessState | None = None
    desired: AccessState | None = None
    after: AccessState | None = None
    applied_at: datetime | None = None
    verified: bool
    error: str | None = None
    responses: tuple[str, ...] = ()
    manual_steps: tuple[str, ...] = ()


class TaskRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    title: str
    status: str
    done_by: str | None = None
    done_at: datetime | None = None
    evidence: str | None = None

    @property
    def is_skipped(self) -> bool:
        return self.status == TaskStatus.SKIPPED


class EventRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    chain: int
    seq: int  # the event's place in its chain
    at: datetime
    event: str
    actor: str
    platform: str | None = None
    detail: dict[str, Any]
    hash: str
    # The event still matches its hash (edits show here; `accessbot audit verify` checks the whole chain).
    hash_ok: bool

    @property
    def place(self) -> str:
        return f"{self.chain}.{self.seq}"


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: int
    verb: str
    status: str
    command: str
    requester: str
    requester_email: str | None = None
    target_email: str
    target_slack_id: str | None = None
    reason: str
    ticket: str | None = None
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    deny_reason: str | None = None
    break_glass: bool = False
    approvals: tuple[ApprovalRecord, ...] = ()
    platforms: tuple[PlatformRecord, ...] = ()
    tasks: tuple[TaskRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()
    generated_at: datetime

    @property
    def untouched(self) -> bool:
        return all(event.hash_ok for event in self.events)


def _state(data: dict[str, Any] | None) -> AccessState | None:
    return AccessState.model_validate(data) if data is not None else None


def gather(ctx: ServiceContext, request_id: int) -> Evidence | None:
    with Session(ctx.engine) as session:
        request = get_request(session=session, request_id=request_id)
        if request is None:
            return None
        return _evidence(ctx, session, request)


def _evidence(ctx: ServiceContext, session: Session, request: AccessRequest) -> Evidence:
    assert request.id is not None
    view = ctx.view(session, request.id)
    assert view is not None
    changes = {row.id: row for row in changes_of(session=session, request_id=request.id)}
    platforms = tuple(
        PlatformRecord(
            platform=change.platform,
            action=change.action,
            change=change.describe(),
            method=change.method.value if change.method else None,
            status=change.status.value,
            attempts=change.attempts,
            shown_to_approver=change.access_at_request,
            before=change.before,
            desired=change.desired,
            after=change.after,
            applied_at=change.applied_at,
            verified=change.applied_at is not None and change.after is not None and change.after == change.desired,
            error=change.error,
            responses=tuple(changes[change.id].responses or ()),
            manual_steps=tuple(
                AccessStep.model_validate(step).describe() for step in changes[change.id].manual_steps or ()
            ),
        )
        for change in view.changes
    )
    return Evidence(
        request_id=request.id,
        verb=request.verb,
        status=request.status,
        command=request.command_text,
        requester=request.requester_id,
        requester_email=request.requester_email,
        target_email=request.target_email,
        target_slack_id=request.target_slack_id,
        reason=request.reason,
        ticket=request.ticket,
        requested_at=request.created_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        deny_reason=request.deny_reason,
        break_glass=request.break_glass,
        approvals=tuple(
            ApprovalRecord(approver=row.approver_id, at=row.at)
            for row in approvals_of(session=session, request_id=request.id)
        ),
        platforms=platforms,
        tasks=tuple(
            TaskRecord(
                kind=row.kind,
                title=row.title,
                status=row.status,
                done_by=row.done_by,
                done_at=row.done_at,
                evidence=row.evidence,
            )
            for row in tasks_of(session=session, request_ids=[request.id])
        ),
        events=tuple(event_record(row) for row in events_for(session=session, request_id=request.id)),
        generated_at=ctx.clock.now(),
    )


def event_record(row: AuditEvent) -> EventRecord:
    return EventRecord(
        chain=row.chain,
        seq=row.seq,
        at=row.at,
        event=row.event,
        actor=row.actor,
        platform=row.platform,
        detail=row.detail,
        hash=row.hash,
        hash_ok=event_hash(row) == row.hash,
    )


def may_see(ctx: ServiceContext, evidence: Evidence, person: Person) -> bool:
    """The requester, the person whose access it is, the platforms' approvers and workspace admins."""
    return visibility.may_see(
        ctx,
        person,
        platforms=[record.platform for record in evidence.platforms],
        requester_id=evidence.requester,
        target_slack_id=evidence.target_slack_id,
        target_email=evidence.target_email,
    )
