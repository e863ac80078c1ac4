"""Read models of requests, built from the tables, for cards, `/access status` and the admin CLI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from domain.access import AccessChange, AccessState, AccessStep, RemovalMethod, diff, removed_state
from domain.catalog import RoleCatalog
from domain.durations import format_duration
from domain.ledger import LIVE, MEMBER, EndReason, GrantState, Layer, Value, describe_changes, describe_parts
from domain.lifecycle import UNRETRYABLE_ERROR_KINDS, ChangeStatus, RequestStatus, TaskKind
from domain.policy import Requirements
from platforms.base import PlatformSettings
from services.ports import MessageRef
from storage.ledger import accounts_by_id, grants_by_id
from storage.models import AccessRequest, Grant, ManualTask, PlatformAccount, PlatformChange
from storage.requests import approvals_for, changes_by_request
from storage.tasks import TaskStatus, tasks_of


class GrantView(BaseModel):
    """One grant of the ledger: what it covers, since and until when, and how it ended. A temporary grant is what
    people call an elevation."""

    model_config = ConfigDict(frozen=True)

    id: int
    request_id: int
    change_id: int | None = None
    platform: str
    target_email: str
    seq: int
    parts: dict[str, Value]
    before: dict[str, Value] = Field(default_factory=dict)
    state: GrantState
    permanent: bool
    started_at: datetime | None = None
    ends_at: datetime | None = None
    remind_at: tuple[datetime, ...] = ()
    next_remind_at: datetime | None = None
    reminders_sent: int = 0
    answered_round: int = 0
    answer: str | None = None
    answered_by: str | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    end_reason: EndReason | None = None
    reverted: dict[str, tuple[Value, Value]] = Field(default_factory=dict)
    kept_for: dict[str, int] = Field(default_factory=dict)
    drift: dict[str, tuple[Value, Value]] = Field(default_factory=dict)
    # While an ended grant's access is still in place because reconciling its account keeps failing.
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    escalated_at: datetime | None = None

    @property
    def is_live(self) -> bool:
        return self.state in LIVE

    @property
    def is_temporary(self) -> bool:
        return not self.permanent

    def layer(self) -> Layer:
        return Layer(id=self.id, seq=self.seq, parts=self.parts, permanent=self.permanent)

    def time_left(self, now: datetime) -> timedelta:
        return max(self.ends_at - now, timedelta()) if self.ends_at else timedelta()

    def describe_held(self) -> str:
        """What it gives, from what: `account role: Consumer → Admin`."""
        held = {part: (self.before.get(part), value) for part, value in self.parts.items() if part != MEMBER}
        if self.parts.get(MEMBER) and not self.before.get(MEMBER):
            held = {MEMBER: (False, True), **held}
        return describe_changes(held) if held else "nothing any more"

    def describe_covers(self) -> str:
        return describe_parts(self.parts)

    def describe_outcome(self) -> str:
        return describe_changes(self.reverted) or "nothing needed changing"


def grant_view(row: Grant, account: PlatformAccount | None = None) -> GrantView:
    assert row.id is not None
    outcome = row.outcome or {}
    failing = account is not None and row.state == GrantState.ENDING.value and account.last_error is not None
    return GrantView(
        id=row.id,
        request_id=row.request_id,
        change_id=row.change_id,
        platform=row.platform,
        target_email=row.email,
        seq=row.seq,
        parts=row.parts,
        before=row.before or {},
        state=GrantState(row.state),
        permanent=row.permanent,
        started_at=row.started_at,
        ends_at=row.ends_at,
        remind_at=tuple(datetime.fromisoformat(moment) for moment in row.remind_at),
        next_remind_at=row.next_remind_at,
        reminders_sent=row.reminders_sent,
        answered_round=row.answered_round,
        answer=row.answer,
        answered_by=row.answered_by,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        reverted={part: (pair[0], pair[1]) for part, pair in outcome.get("reverted", {}).items()},
        kept_for=outcome.get("kept_for", {}),
        drift={part: (pair[0], pair[1]) for part, pair in outcome.get("drift", {}).items()},
        attempts=account.attempts if failing and account else 0,
        last_error=account.last_error if failing and account else None,
        next_attempt_at=account.due_at if failing and account else None,
        escalated_at=account.escalated_at if failing and account else None,
    )


class DriftReport(BaseModel):
    """Access changed on a platform outside the bot, found while reconciling the account."""

    model_config = ConfigDict(frozen=True)

    platform: str
    platform_label: str
    target_email: str
    changes: dict[str, tuple[Value, Value]]  # part -> (what the bot had verified, what it found)
    approvers: tuple[str, ...] = ()
    # The grants that stopped covering a drifted part, with their requests.
    grants: tuple[GrantView, ...] = ()

    def describe(self) -> str:
        return describe_changes(self.changes)


class TaskView(BaseModel):
    """Something an admin has to do by hand, and whether it is done."""

    model_config = ConfigDict(frozen=True)

    id: int
    request_id: int
    change_id: int | None = None
    platform: str | None = None
    target_email: str
    kind: TaskKind
    title: str
    instructions: str
    step: AccessStep | None = None
    status: str
    created_at: datetime
    # When it must be done by: an invitation's expiry.
    due_by: datetime | None = None
    reminders_sent: int = 0
    done_by: str | None = None
    done_at: datetime | None = None
    evidence: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN

    @property
    def is_skipped(self) -> bool:
        return self.status == TaskStatus.SKIPPED


def task_view(row: ManualTask) -> TaskView:
    assert row.id is not None
    return TaskView(
        id=row.id,
        request_id=row.request_id,
        change_id=row.change_id,
        platform=row.platform,
        target_email=row.target_email,
        kind=row.kind,
        title=row.title,
        instructions=row.instructions,
        step=AccessStep.model_validate(row.step) if row.step else None,
        status=row.status,
        created_at=row.created_at,
        due_by=row.due_by,
        reminders_sent=row.reminders_sent,
        done_by=row.done_by,
        done_at=row.done_at,
        evidence=row.evidence,
    )


class ChangeView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    platform: str
    platform_label: str
    action: str
    grant: AccessChange | None = None
    method: RemovalMethod | None = None
    status: ChangeStatus
    attempts: int = 0
    access_at_request: AccessState | None = None
    before: AccessState | None = None
    desired: AccessState | None = None
    after: AccessState | None = None
    error: str | None = None
    error_kind: str | None = None  # platforms.base.PlatformError.kind of the failure
    retry_at: datetime | None = None  # the platform asked to wait: tried again then
    applied_at: datetime | None = None
    approvers: tuple[str, ...] = ()
    # What approving would change, judged from the access shown on the card.
    preview: tuple[AccessStep, ...] = ()
    # For an `extend` change: the grant whose end it moves.
    extends: GrantView | None = None
    warnings: tuple[str, ...] = ()
    # The role a `revoke` removal leaves the member with.
    lowest_role: str | None = None

    def describe(self) -> str:
        if self.action == "extend":
            return f"extend temporary access #{self.extends.id}" if self.extends else "extend temporary access"
        if self.action == "remove":
            return f"remove ({self.method.value if self.method else 'default method'})"
        return self.grant.describe() if self.grant else "no change"


class EndedGrant(BaseModel):
    """A temporary grant that ended, with what telling of it needs of its request: who asked, whose access it was
    and where its card is (its card is drawn afresh when the redraw is sent)."""

    model_config = ConfigDict(frozen=True)

    request_id: int
    requester_id: str
    target_slack_id: str | None = None
    card: MessageRef | None = None
    grant: GrantView


class RequestView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    verb: str
    status: RequestStatus
    requester_id: str
    target_email: str
    target_slack_id: str | None = None
    reason: str
    ticket: str | None = None
    duration: timedelta | None = None
    until_at: datetime | None = None
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    deny_reason: str | None = None
    card: MessageRef | None = None
    changes: tuple[ChangeView, ...] = ()
    grants: tuple[GrantView, ...] = ()
    tasks: tuple[TaskView, ...] = ()
    requirements: Requirements = Field(default_factory=Requirements)
    approvals: tuple[str, ...] = ()
    break_glass: bool = False
    security: bool = False  # a removal for a security reason: applied at once, its steps before done after
    expires_at: datetime | None = None
    # When the approvers are (next) reminded; for a removal, its deadline (it never expires).
    decide_by: datetime | None = None

    @property
    def elevations(self) -> tuple[GrantView, ...]:
        """The temporary grants this request made."""
        return tuple(grant for grant in self.grants if grant.is_temporary)

    def change(self, change_id: int) -> ChangeView:
        return next(change for change in self.changes if change.id == change_id)

    @property
    def retry_helps(self) -> bool:
        """Whether some failed change could succeed when tried again (not one the platform cannot do at all)."""
        return any(
            change.status is ChangeStatus.FAILED and change.error_kind not in UNRETRYABLE_ERROR_KINDS
            for change in self.changes
        )

    def tasks_of(self, change_id: int) -> tuple[TaskView, ...]:
        return tuple(task for task in self.tasks if task.change_id == change_id)

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(change.platform for change in self.changes)

    @property
    def is_temporary(self) -> bool:
        return self.duration is not None or self.until_at is not None

    def describe_expiry(self) -> str:
        if self.duration is not None:
            return f"for {format_duration(self.duration)} from when it is applied"
        if self.until_at is not None:
            return f"until {self.until_at.isoformat(sep=' ', timespec='minutes')}"
        return "permanent"


def _state(data: dict[str, Any] | None) -> AccessState | None:
    return AccessState.model_validate(data) if data is not None else None


def desired_state(
    grant: AccessChange | None, method: RemovalMethod | None, current: AccessState, catalog: RoleCatalog
) -> AccessState:
    """The whole access a change asks for, given what the member has now."""
    if grant is not None:
        return grant.desired_from(current, catalog)
    assert method is not None, "a change is either a grant or a removal"
    return removed_state(method, current, catalog)


def change_view(
    change: PlatformChange,
    settings: Mapping[str, PlatformSettings],
    catalogs: Mapping[str, RoleCatalog],
    extends: GrantView | None = None,
) -> ChangeView:
    assert change.id is not None
    configured = settings.get(change.platform)
    grant = AccessChange.model_validate(change.grant) if change.grant is not None else None
    method = RemovalMethod(change.method) if change.method else None
    shown = _state(change.access_at_request)
    catalog = catalogs.get(change.platform)
    preview: list[AccessStep] = []
    if shown is not None and catalog is not None and change.action != "extend":
        preview = diff(shown, desired_state(grant, method, shown, catalog))
    return ChangeView(
        id=change.id,
        platform=change.platform,
        platform_label=(configured.label if configured and configured.label else change.platform),
        action=change.action,
        grant=grant,
        method=method,
        status=ChangeStatus(change.status),
        attempts=change.attempts,
        access_at_request=shown,
        before=_state(change.before),
        desired=_state(change.desired),
        after=_state(change.after),
        error=change.error,
        error_kind=change.error_kind,
        retry_at=change.retry_at,
        applied_at=change.applied_at,
        approvers=configured.approvers if configured else (),
        preview=tuple(preview),
        extends=extends,
        warnings=tuple(change.warnings or ()),
        lowest_role=catalog.lowest_account_role if catalog is not None else None,
    )


def _extended(rows: Mapping[int, Grant], grant_id: int | None) -> GrantView | None:
    row = rows.get(grant_id) if grant_id is not None else None
    return grant_view(row) if row is not None else None


def request_view(
    request: AccessRequest,
    changes: list[PlatformChange],
    settings: Mapping[str, PlatformSettings],
    catalogs: Mapping[str, RoleCatalog],
    grants: Mapping[int, Grant] | None = None,
    tasks: Iterable[ManualTask] = (),
    approvals: Iterable[str] = (),
    accounts: Mapping[int, PlatformAccount] | None = None,
) -> RequestView:
    """`grants`: the rows this request made and those its `extend` changes refer to, by id; `accounts`: their
    accounts, by id (for a revert that keeps failing)."""
    rows = grants or {}
    found = accounts or {}
    assert request.id is not None
    card = card_of_request(request)
    return RequestView(
        id=request.id,
        verb=request.verb,
        status=RequestStatus(request.status),
        requester_id=request.requester_id,
        target_email=request.target_email,
        target_slack_id=request.target_slack_id,
        reason=request.reason,
        ticket=request.ticket,
        duration=timedelta(seconds=request.duration_seconds) if request.duration_seconds is not None else None,
        until_at=request.until_at,
        created_at=request.created_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        deny_reason=request.deny_reason,
        card=card,
        changes=tuple(
            change_view(
                change,
                settings,
                catalogs,
                _extended(rows, change.grant_id),
            )
            for change in changes
        ),
        grants=tuple(
            grant_view(row, found.get(row.account_id)) for row in rows.values() if row.request_id == request.id
        ),
        tasks=tuple(task_view(task) for task in tasks if task.request_id == request.id),
        requirements=Requirements.model_validate(request.requirements or {}),
        approvals=tuple(approvals),
        break_glass=request.break_glass,
        security=request.security,
        expires_at=request.expires_at,
        decide_by=request.remind_at,
    )


def card_of_request(request: AccessRequest) -> MessageRef | None:
    """Where a request's approval card is, once it is posted."""
    return card_at(request.card_channel, request.card_ts)


def card_at(channel: str | None, ts: str | None) -> MessageRef | None:
    return MessageRef(channel=channel, ts=ts) if channel and ts else None


def load_views(
    session: Session,
    requests: Sequence[AccessRequest],
    settings: Mapping[str, PlatformSettings],
    catalogs: Mapping[str, RoleCatalog],
) -> dict[int, RequestView]:
    """The views of these requests, each with its changes, grants, tasks and approvals, read together: a few
    queries however many requests."""
    ids = [request.id for request in requests if request.id is not None]
    grouped = changes_by_request(session=session, request_ids=ids)
    extended = [change.grant_id for changes in grouped.values() for change in changes if change.grant_id is not None]
    grants = grants_by_id(session=session, request_ids=ids, grant_ids=extended)
    accounts = accounts_by_id(session=session, account_ids={grant.account_id for grant in grants.values()})
    approvals = approvals_for(session=session, request_ids=ids)
    # Each request is given only its own rows: building many views stays linear in what was read.
    own_grants: dict[int, dict[int, Grant]] = {}
    for grant_id, grant in grants.items():
        own_grants.setdefault(grant.request_id, {})[grant_id] = grant
    own_tasks: dict[int, list[ManualTask]] = {}
    for task in tasks_of(session=session, request_ids=ids):
        own_tasks.setdefault(task.request_id, []).append(task)
    views: dict[int, RequestView] = {}
    for request in requests:
        assert request.id is not None
        changes = grouped[request.id]
        mine = own_grants.get(request.id, {})
        mine |= {change.grant_id: grants[change.grant_id] for change in changes if change.grant_id in grants}
        views[request.id] = request_view(
            request, changes, settings, catalogs, mine, own_tasks.get(request.id, []), approvals[request.id], accounts
        )
    return views
