"""The life of an access request and of each platform change inside it.

A request is the unit people decide on; it holds one change per platform (one for `add`, several for
`remove <who> all`). Transitions are data: storage turns `(sources, target)` into a conditional UPDATE so that of two
clicks, two approvers or two bot processes exactly one wins.
"""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    PENDING = "pending"  # waiting for an approver
    APPROVED = "approved"  # decided; changes not yet started
    APPLYING = "applying"
    AWAITING_MANUAL = "awaiting_manual"  # what an API can do is done; an admin has manual steps left
    APPLIED = "applied"  # every change applied and verified
    FAILED = "failed"  # at least one change failed; retryable
    DENIED = "denied"
    EXPIRED = "expired"  # nobody decided in time
    CANCELLED = "cancelled"  # withdrawn by the requester


class RequestEvent(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    EXPIRE = "expire"
    CANCEL = "cancel"
    START = "start"
    WAIT_MANUAL = "wait_manual"
    SUCCEED = "succeed"
    FAIL = "fail"


class ChangeStatus(StrEnum):
    WAITING = "waiting"  # approved or not, nothing done yet
    GATED = "gated"  # approved removal; the steps before it (transfer ownership, replacement tokens) are open
    QUEUED = "queued"  # approved; waits for its turn on the person's account (one change at a time per account)
    APPLYING = "applying"  # planned on the account; the platform is being changed
    AWAITING_MANUAL = "awaiting_manual"  # API steps done; manual tasks open for an admin
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"  # the request was denied, expired or cancelled


class ChangeEvent(StrEnum):
    GATE = "gate"
    QUEUE = "queue"
    START = "start"
    WAIT_MANUAL = "wait_manual"
    SUCCEED = "succeed"
    FAIL = "fail"
    SKIP = "skip"


class InvalidTransition(ValueError):
    pass


REQUEST_TRANSITIONS: dict[RequestEvent, tuple[frozenset[RequestStatus], RequestStatus]] = {
    RequestEvent.APPROVE: (frozenset({RequestStatus.PENDING}), RequestStatus.APPROVED),
    RequestEvent.DENY: (frozenset({RequestStatus.PENDING}), RequestStatus.DENIED),
    RequestEvent.EXPIRE: (frozenset({RequestStatus.PENDING}), RequestStatus.EXPIRED),
    RequestEvent.CANCEL: (frozenset({RequestStatus.PENDING}), RequestStatus.CANCELLED),
    RequestEvent.START: (frozenset({RequestStatus.APPROVED, RequestStatus.FAILED}), RequestStatus.APPLYING),
    RequestEvent.WAIT_MANUAL: (frozenset({RequestStatus.APPLYING}), RequestStatus.AWAITING_MANUAL),
    RequestEvent.SUCCEED: (frozenset({RequestStatus.APPLYING, RequestStatus.AWAITING_MANUAL}), RequestStatus.APPLIED),
    RequestEvent.FAIL: (frozenset({RequestStatus.APPLYING, RequestStatus.AWAITING_MANUAL}), RequestStatus.FAILED),
}

CHANGE_TRANSITIONS: dict[ChangeEvent, tuple[frozenset[ChangeStatus], ChangeStatus]] = {
    ChangeEvent.GATE: (frozenset({ChangeStatus.WAITING, ChangeStatus.FAILED}), ChangeStatus.GATED),
    ChangeEvent.QUEUE: (
        frozenset({ChangeStatus.WAITING, ChangeStatus.FAILED, ChangeStatus.GATED}),
        ChangeStatus.QUEUED,
    ),
    ChangeEvent.START: (frozenset({ChangeStatus.QUEUED}), ChangeStatus.APPLYING),
    ChangeEvent.WAIT_MANUAL: (frozenset({ChangeStatus.APPLYING}), ChangeStatus.AWAITING_MANUAL),
    ChangeEvent.SUCCEED: (frozenset({ChangeStatus.APPLYING, ChangeStatus.AWAITING_MANUAL}), ChangeStatus.APPLIED),
    ChangeEvent.FAIL: (
        frozenset({ChangeStatus.QUEUED, ChangeStatus.APPLYING, ChangeStatus.AWAITING_MANUAL}),
        ChangeStatus.FAILED,
    ),
    ChangeEvent.SKIP: (frozenset({ChangeStatus.WAITING}), ChangeStatus.SKIPPED),
}

#: Failures that trying again cannot fix: the platform lacks what the change needs (HTTP 501, a refused filter) or
#: holds a conflict the client could not resolve (409). The platform or the config has to change first.
UNRETRYABLE_ERROR_KINDS = frozenset({"unsupported", "conflict"})

#: Statuses after which nothing more happens to a request.
FINAL_REQUEST_STATUSES = frozenset(
    {RequestStatus.APPLIED, RequestStatus.DENIED, RequestStatus.EXPIRED, RequestStatus.CANCELLED}
)
#: Statuses in which the request is still waiting for a human decision.
OPEN_REQUEST_STATUSES = frozenset({RequestStatus.PENDING})


def next_request_status(current: RequestStatus, event: RequestEvent) -> RequestStatus:
    sources, target = REQUEST_TRANSITIONS[event]
    if current not in sources:
        raise InvalidTransition(f"cannot {event.value} a request that is {current.value}")
    return target


def next_change_status(current: ChangeStatus, event: ChangeEvent) -> ChangeStatus:
    sources, target = CHANGE_TRANSITIONS[event]
    if current not in sources:
        raise InvalidTransition(f"cannot {event.value} a change that is {current.value}")
    return target


#: Change statuses in which the change is still on its way (a gated one waits for the steps before it).
IN_PROGRESS_CHANGES = frozenset({ChangeStatus.GATED, ChangeStatus.QUEUED, ChangeStatus.APPLYING})


def outcome_of(changes: list[ChangeStatus]) -> RequestEvent | None:
    """How a run over a request's changes ends: all applied; or only manual steps left; or something to retry.
    None while a change is still queued or being applied."""
    if any(status in IN_PROGRESS_CHANGES for status in changes):
        return None
    if all(status is ChangeStatus.APPLIED for status in changes):
        return RequestEvent.SUCCEED
    if all(status in (ChangeStatus.APPLIED, ChangeStatus.AWAITING_MANUAL) for status in changes):
        return RequestEvent.WAIT_MANUAL
    return RequestEvent.FAIL


class TaskKind(StrEnum):
    # Part of a change the platform has no API for; the change is applied when all of them are done.
    PLATFORM_STEP = "platform_step"
    # Follow-up work after a removal (revoke tokens, the account note...); the removal is applied already.
    CHECKLIST = "checklist"
    # Work before a removal (transfer ownership, replacement tokens); the removal waits until each is done or skipped.
    BEFORE_REMOVAL = "before_removal"
    # Someone other than the person who used break-glass checks what was done with it.
    BREAK_GLASS_REVIEW = "break_glass_review"
    # A new member has not accepted the platform's invitation yet: closed when the platform says they have (or an
    # admin does), re-sent before it expires. The change is applied already.
    INVITATION = "invitation"
