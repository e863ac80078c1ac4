"""Around a removal: the steps before it that gate it, the follow-up checklist an admin works through after it, and
the notice for the person's organisation."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.lifecycle import TaskKind
from domain.offboarding import FollowUp, RemovalNotice, Stage, checklist_for, fill_notice, filled
from services.context import ServiceContext, logger
from services.ports import Person, PersonNotFound
from services.views import ChangeView, RequestView
from storage.models import ManualTask
from storage.tasks import TaskStatus, add_tasks, tasks_of_change


class PlatformNotice(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    platform_label: str
    notice: RemovalNotice


def steps(ctx: ServiceContext, change: ChangeView, stage: Stage) -> tuple[FollowUp, ...]:
    """The configured checklist of the platform, or its type's own: the items of one stage that fit the method."""
    configured = ctx.settings.get(change.platform)
    platform = ctx.platforms.get(change.platform)
    items = (configured.removal_checklist if configured else ()) or (platform.removal_checklist if platform else ())
    return checklist_for(items, change.method, stage) if change.method else ()


def follow_ups(ctx: ServiceContext, request: RequestView, change: ChangeView) -> tuple[FollowUp, ...]:
    """What is done after the removal: its checklist, and for a security removal the steps that were not done
    before it (transferring ownership and replacing tokens still matter)."""
    before = steps(ctx, change, Stage.BEFORE) if request.security else ()
    return (*before, *steps(ctx, change, Stage.AFTER))


def passes_gate(
    session: Session, ctx: ServiceContext, request: RequestView, change: ChangeView, *, now: datetime
) -> tuple[bool, list[int]]:
    """Whether a removal may be applied now as far as the steps before it go, and the tasks opened for them.

    The first time an approved removal comes here, its steps before are opened as tasks and it waits; it passes once
    each is done or skipped. A security removal and a platform without such steps pass."""
    assert change.action == "remove", "only a removal has steps before it"
    if request.security:
        return True, []
    if (steps_open := steps_before_open(session, change.id)) is not None:
        return not steps_open, []
    opened = _open(session, ctx, request, change, steps(ctx, change, Stage.BEFORE), TaskKind.BEFORE_REMOVAL, now)
    return not opened, opened


def steps_before_open(session: Session, change_id: int) -> bool | None:
    """Whether a removal still has steps before it open; None when none were ever opened for it."""
    before = tasks_of_change(session=session, change_id=change_id, kind=TaskKind.BEFORE_REMOVAL)
    if not before:
        return None
    return any(task.status == TaskStatus.OPEN.value for task in before)


def open_checklist(
    session: Session, ctx: ServiceContext, request: RequestView, change: ChangeView, *, now: datetime
) -> list[int]:
    """Open the follow-up tasks of an applied removal, once (a retry that applies it again opens none)."""
    if change.action != "remove" or tasks_of_change(session=session, change_id=change.id, kind=TaskKind.CHECKLIST):
        return []
    return _open(session, ctx, request, change, follow_ups(ctx, request, change), TaskKind.CHECKLIST, now)


def _open(
    session: Session,
    ctx: ServiceContext,
    request: RequestView,
    change: ChangeView,
    items: tuple[FollowUp, ...],
    kind: TaskKind,
    now: datetime,
) -> list[int]:
    reference = request.ticket or f"request #{request.id}"
    rows = add_tasks(
        session=session,
        tasks=[
            ManualTask(
                request_id=request.id,
                change_id=change.id,
                platform=change.platform,
                target_email=request.target_email,
                kind=kind.value,
                title=f"{change.platform_label}: {item.title}",
                instructions=filled(item, on=now.date(), reference=reference).instructions,
                status=TaskStatus.OPEN.value,
                created_at=now,
                remind_at=now + ctx.task_settings.remind_every,
            )
            for item in items
        ],
    )
    return [row.id for row in rows if row.id is not None]


def removal_notices(ctx: ServiceContext, request: RequestView) -> tuple[PlatformNotice, ...]:
    """The notice of each platform's removal procedure, filled in for this request."""
    name = _target_name(ctx, request)
    contact = ctx.removal_settings.notice_contact or _requester_contact(ctx, request)
    reference = f"ticket {request.ticket}" if request.ticket else "engagement completion"
    notices = []
    for change in request.changes:
        platform = ctx.platforms.get(change.platform)
        if change.action != "remove" or change.applied_at is None or platform is None:
            continue
        template = platform.notice_template()
        configured = ctx.settings.get(change.platform)
        if configured is not None and configured.notice_product:
            template = template.model_copy(update={"product": configured.notice_product})
        notice = fill_notice(
            template,
            name=name,
            email=request.target_email,
            removed_on=change.applied_at.date(),
            reference=reference,
            contact=contact,
        )
        notices.append(PlatformNotice(platform=change.platform, platform_label=change.platform_label, notice=notice))
    return tuple(notices)


def _person(ctx: ServiceContext, slack_id: str | None) -> Person | None:
    """A name makes the notice nicer but is not worth failing it for: any lookup problem leaves a blank."""
    if slack_id is None:
        return None
    try:
        return ctx.directory.person(slack_id)
    except PersonNotFound:
        return None
    except Exception:
        logger.warning("could not look up %s for a removal notice", slack_id, exc_info=True)
        return None


def _target_name(ctx: ServiceContext, request: RequestView) -> str:
    person = _person(ctx, request.target_slack_id)
    return (person.name if person else "") or request.target_email


def _requester_contact(ctx: ServiceContext, request: RequestView) -> str:
    person = _person(ctx, request.requester_id)
    if person is None:
        return "[your name/team]"
    if person.name and person.email:
        return f"{person.name} ({person.email})"
    return person.name or person.email or "[your name/team]"
