"""An approver answers a review row: Keep (recorded, nothing changes) or Remove (an ordinary removal request, with
its own card and approval: the reviewer proposes, another approver decides)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.commands import RemoveCommand, Target
from domain.policy import Approver, Verdict, may_review
from services.approvers import eligible_approvers
from services.context import RequestRefused, ServiceContext
from services.ports import Person
from services.reviews import ReviewItemView, item_view, load_review
from services.submit import submit
from services.views import RequestView
from storage.audit import AuditKind, record
from storage.db import session_scope
from storage.reviews import decide_item, get_item, link_request, release_item

KEEP = "keep"
REMOVING = "removing"  # claimed by a Remove click whose request is being made
REMOVE = "remove"


class ReviewOutcome(StrEnum):
    KEPT = "kept"
    REMOVAL_REQUESTED = "removal_requested"
    ALREADY_DECIDED = "already_decided"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


class ReviewResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: ReviewOutcome
    reason: str = ""
    item: ReviewItemView | None = None
    request: RequestView | None = None


def _item(ctx: ServiceContext, item_id: int) -> ReviewItemView | None:
    with Session(ctx.engine) as session:
        row = get_item(session=session, item_id=item_id)
        return item_view(ctx, row) if row is not None else None


def _verdict(ctx: ServiceContext, item: ReviewItemView, person: Person) -> Verdict:
    if item.platform not in ctx.platforms:
        return Verdict.refuse(f"{item.platform} is no longer configured.")
    eligible = eligible_approvers(ctx, (item.platform,))[item.platform]
    doer = Approver(slack_id=person.slack_id, email=person.email, is_workspace_admin=person.is_workspace_admin)
    return may_review(target_email=item.email, doer=doer, eligible=eligible, mailboxes=ctx.policy.people)


def _open_item(ctx: ServiceContext, item_id: int, person: Person) -> ReviewItemView | ReviewResult:
    """The row, when it is undecided and `person` may decide it; otherwise the answer to give them."""
    item = _item(ctx, item_id)
    if item is None:
        return ReviewResult(outcome=ReviewOutcome.NOT_FOUND)
    if item.decision is not None:
        return ReviewResult(outcome=ReviewOutcome.ALREADY_DECIDED, item=item)
    verdict = _verdict(ctx, item, person)
    if not verdict.allowed:
        return ReviewResult(outcome=ReviewOutcome.REFUSED, reason=verdict.reason, item=item)
    return item


def keep(ctx: ServiceContext, item_id: int, *, person: Person) -> ReviewResult:
    item = _open_item(ctx, item_id, person)
    if isinstance(item, ReviewResult):
        return item
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        if not decide_item(session=session, item_id=item_id, decision=KEEP, by=person.slack_id, at=now):
            return ReviewResult(outcome=ReviewOutcome.ALREADY_DECIDED, item=_item(ctx, item_id))
        record(
            session=session,
            event=AuditKind.REVIEW_KEPT,
            actor=person.slack_id,
            at=now,
            platform=item.platform,
            target_email=item.email,
            detail={
                "review": item.review_id,
                "access": item.access.model_dump(mode="json"),
                "findings": [finding.text for finding in item.findings],
            },
        )
    return _decided(ctx, item_id, ReviewOutcome.KEPT)


def remove(ctx: ServiceContext, item_id: int, *, person: Person) -> ReviewResult:
    item = _open_item(ctx, item_id, person)
    if isinstance(item, ReviewResult):
        return item
    with session_scope(ctx.engine) as session:
        if not decide_item(session=session, item_id=item_id, decision=REMOVING, by=person.slack_id, at=ctx.clock.now()):
            return ReviewResult(outcome=ReviewOutcome.ALREADY_DECIDED, item=_item(ctx, item_id))
    command = RemoveCommand(target=Target(email=item.email), platform=item.platform, reason=_reason(item))
    try:
        request = submit(ctx, command, requester=person, target_email=item.email, text=f"/access {command.canonical()}")
    except RequestRefused as refusal:
        with session_scope(ctx.engine) as session:
            release_item(session=session, item_id=item_id)
        return ReviewResult(outcome=ReviewOutcome.REFUSED, reason=str(refusal), item=_item(ctx, item_id))
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        decide_item(session=session, item_id=item_id, decision=REMOVE, by=person.slack_id, at=now, expected=REMOVING)
        link_request(session=session, item_id=item_id, request_id=request.id)
        record(
            session=session,
            event=AuditKind.REVIEW_REMOVAL_REQUESTED,
            actor=person.slack_id,
            at=now,
            request_id=request.id,
            platform=item.platform,
            target_email=item.email,
            detail={"review": item.review_id, "findings": [finding.text for finding in item.findings]},
        )
    result = _decided(ctx, item_id, ReviewOutcome.REMOVAL_REQUESTED)
    return result.model_copy(update={"request": request})


def _reason(item: ReviewItemView) -> str:
    why = "; ".join(finding.text for finding in item.findings) or "no longer needed"
    return f"access review #{item.review_id}: {why}"


def _decided(ctx: ServiceContext, item_id: int, outcome: ReviewOutcome) -> ReviewResult:
    item = _item(ctx, item_id)
    assert item is not None
    if item.message is not None:
        review = load_review(ctx, item.review_id)
        if review is not None:
            ctx.notifier.review_decided(review, item.message)
    return ReviewResult(outcome=outcome, item=item)
