"""Access reviews: everyone with access on each platform, flagged where it deserves a look, for approvers to keep or
remove, on a schedule and on demand.

A scheduled review belongs to one fire time of the cron schedule. The review row for it is unique, so however many
bot processes sweep, one posts it; and a fire time missed while the bot was down is caught up at the next sweep
(only the latest one, not every missed month).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.access import AccessState
from domain.review import Finding, ReviewLimits, findings
from platforms.base import MemberRecord, PlatformError
from services.context import ServiceContext, logger
from services.ports import MessageRef
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.ledger import overdue_grants
from storage.models import AccessReview, ReviewItem
from storage.reviews import add_items, claim_review, get_review, items_of, last_scheduled, place_items, state_once

SCHEDULE_SINCE = "reviews.schedule_since"


class ReviewItemView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    review_id: int
    platform: str
    platform_label: str
    email: str
    access: AccessState
    last_active: datetime | None = None
    findings: tuple[Finding, ...] = ()
    decision: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    request_id: int | None = None
    message: MessageRef | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.findings)


class ReviewView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    scheduled_for: datetime | None = None
    started_at: datetime
    started_by: str
    items: tuple[ReviewItemView, ...] = ()
    # Every platform whose members were listed, even when nobody has access there.
    listed: tuple[str, ...] = ()
    errors: dict[str, str] = {}
    # Platforms that report activity (the others cannot be checked for dormant accounts).
    reports_activity: tuple[str, ...] = ()

    def platforms(self) -> list[str]:
        return list(dict.fromkeys([*self.listed, *(item.platform for item in self.items)]))

    def label(self, platform: str) -> str:
        return next((item.platform_label for item in self.items if item.platform == platform), platform)

    def items_on(self, platform: str) -> list[ReviewItemView]:
        """Flagged people first, then by email: what needs a look is at the top."""
        rows = [item for item in self.items if item.platform == platform]
        return sorted(rows, key=lambda item: (not item.flagged, item.email))

    def in_message(self, message: MessageRef) -> list[ReviewItemView]:
        """The rows one message shows, in the order it shows them."""
        rows = [item for item in self.items if item.message == message]
        return sorted(rows, key=lambda item: (not item.flagged, item.email))


def _label(ctx: ServiceContext, platform: str) -> str:
    configured = ctx.settings.get(platform)
    return configured.label if configured is not None and configured.label else platform


def item_view(ctx: ServiceContext, row: ReviewItem) -> ReviewItemView:
    assert row.id is not None
    message = (
        MessageRef(channel=row.message_channel, ts=row.message_ts) if row.message_channel and row.message_ts else None
    )
    return ReviewItemView(
        id=row.id,
        review_id=row.review_id,
        platform=row.platform,
        platform_label=_label(ctx, row.platform),
        email=row.email,
        access=AccessState.model_validate(row.access),
        last_active=row.last_active,
        findings=tuple(Finding.model_validate(finding) for finding in row.findings),
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        request_id=row.request_id,
        message=message,
    )


def review_view(ctx: ServiceContext, session: Session, review_id: int) -> ReviewView | None:
    review = get_review(session=session, review_id=review_id)
    if review is None or review.id is None:
        return None
    items = tuple(item_view(ctx, row) for row in items_of(session=session, review_id=review.id))
    return ReviewView(
        id=review.id,
        scheduled_for=review.scheduled_for,
        started_at=review.started_at,
        started_by=review.started_by,
        items=items,
        listed=tuple(review.platforms),
        errors=dict(review.errors),
        reports_activity=tuple(name for name, facts in review.platforms.items() if facts.get("reports_activity")),
    )


def load_review(ctx: ServiceContext, review_id: int) -> ReviewView | None:
    with Session(ctx.engine) as session:
        return review_view(ctx, session, review_id)


# --- gathering -----------------------------------------------------------------------------------------------------


class Snapshot(BaseModel):
    """Everyone on every platform right now, with findings; not stored (what `accessbot review --print` shows)."""

    model_config = ConfigDict(frozen=True)

    taken_at: datetime
    members: dict[str, tuple[tuple[MemberRecord, tuple[Finding, ...]], ...]]
    errors: dict[str, str]
    reports_activity: tuple[str, ...] = ()


def snapshot(ctx: ServiceContext, platforms: list[str] | None = None) -> Snapshot:
    now = ctx.clock.now()
    limits = ReviewLimits(
        dormant_after=ctx.review_settings.dormant_after, max_admins=ctx.policy.guard_rails.max_org_admins
    )
    overdue: dict[tuple[str, str], list[datetime]] = {}
    with Session(ctx.engine) as session:
        for grant in overdue_grants(session=session, now=now):
            assert grant.ends_at is not None
            overdue.setdefault((grant.platform, grant.email), []).append(grant.ends_at)
    members: dict[str, tuple[tuple[MemberRecord, tuple[Finding, ...]], ...]] = {}
    errors: dict[str, str] = {}
    for name in platforms or list(ctx.platforms):
        platform = ctx.platforms[name]
        try:
            # A record the platform sent malformed is not a person to keep or remove: the members export marks it.
            listed = [member for member in platform.list_members() if member.problem is None]
        except PlatformError as error:
            errors[name] = error.message
            continue
        admins = sum(1 for member in listed if platform.catalog.is_admin(member.access.account_role))
        members[name] = tuple(
            (
                member,
                findings(
                    access=member.access,
                    last_active=member.last_active,
                    now=now,
                    limits=limits,
                    overdue_elevations=overdue.get((name, member.email), ()),
                    is_admin=platform.catalog.is_admin(member.access.account_role),
                    admin_count=admins,
                ),
            )
            for member in sorted(listed, key=lambda record: record.email)
        )
    reporting = tuple(name for name in members if ctx.platforms[name].reports_activity)
    return Snapshot(taken_at=now, members=members, errors=errors, reports_activity=reporting)


# --- starting one --------------------------------------------------------------------------------------------------


def start(ctx: ServiceContext, *, started_by: str, scheduled_for: datetime | None = None) -> ReviewView | None:
    """Take the snapshot, store it and post it. None when another process already started this scheduled one.

    The snapshot is taken before the review is claimed, so that the claim, the rows and the audit event are one
    transaction: a crash leaves either a whole review or none (and then the next sweep starts it again).
    """
    taken = snapshot(ctx)
    with session_scope(ctx.engine) as session:
        review = claim_review(
            session=session,
            review=AccessReview(
                scheduled_for=scheduled_for,
                started_at=taken.taken_at,
                started_by=started_by,
                platforms={name: {"reports_activity": name in taken.reports_activity} for name in taken.members},
                errors=taken.errors,
            ),
        )
        if review is None or review.id is None:
            return None
        items = add_items(session=session, items=_items(review.id, taken.members))
        record(
            session=session,
            event=AuditKind.REVIEW_STARTED,
            actor=started_by,
            at=taken.taken_at,
            detail={
                "review": review.id,
                "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
                "people": {name: len(rows) for name, rows in taken.members.items()},
                "flagged": sum(1 for item in items if item.findings),
                "errors": taken.errors,
            },
        )
    view = load_review(ctx, review.id)
    assert view is not None
    placed = ctx.notifier.review_posted(view)
    by_message: dict[MessageRef, list[int]] = {}
    for item_id, message in placed.items():
        by_message.setdefault(message, []).append(item_id)
    with session_scope(ctx.engine) as session:
        for message, item_ids in by_message.items():
            place_items(session=session, item_ids=item_ids, channel=message.channel, ts=message.ts)
    return load_review(ctx, review.id)


def _items(
    review_id: int, members: Mapping[str, tuple[tuple[MemberRecord, tuple[Finding, ...]], ...]]
) -> list[ReviewItem]:
    return [
        ReviewItem(
            review_id=review_id,
            platform=platform,
            email=member.email,
            access=member.access.model_dump(mode="json"),
            last_active=member.last_active,
            findings=[finding.model_dump(mode="json") for finding in found],
        )
        for platform, rows in members.items()
        for member, found in rows
    ]


# --- the schedule --------------------------------------------------------------------------------------------------


def due_slot(ctx: ServiceContext) -> datetime | None:
    """The latest fire time of the schedule that has passed and has no review yet, if any.

    Fire times before the schedule was first seen by this database do not count: a new installation does not post
    a review for last month the moment it starts.
    """
    trigger = ctx.review_settings.trigger()
    if trigger is None:
        return None
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        since = datetime.fromisoformat(
            state_once(session=session, key=SCHEDULE_SINCE, value={"at": now.isoformat()}, at=now)["at"]
        )
        last = last_scheduled(session=session)
    after = max(since, last) if last is not None else since
    slot = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    if slot is None or slot > now:
        return None
    while (following := trigger.get_next_fire_time(None, slot + timedelta(seconds=1))) is not None and following <= now:
        slot = following
    return slot


def run_due(ctx: ServiceContext) -> ReviewView | None:
    """Start the scheduled review that is due, if any (called by the sweeper)."""
    slot = due_slot(ctx)
    if slot is None:
        return None
    logger.info("starting the access review scheduled for %s", slot.isoformat())
    return start(ctx, started_by=BOT_ACTOR, scheduled_for=slot)
