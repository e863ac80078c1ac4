"""Manual tasks: the steps of a change no API can make, and follow-up work, tracked until an admin is done."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from domain.access import AccessStep
from domain.lifecycle import TaskKind
from services.context import ServiceContext
from storage.models import AccessRequest, Grant, ManualTask, PlatformChange
from storage.tasks import TaskStatus, add_tasks, open_step_tasks_of


def _task(
    ctx: ServiceContext,
    *,
    request_id: int,
    change_id: int | None,
    platform: str,
    label: str,
    email: str,
    step: AccessStep,
    now: datetime,
) -> ManualTask:
    return ManualTask(
        request_id=request_id,
        change_id=change_id,
        platform=platform,
        target_email=email,
        kind=TaskKind.PLATFORM_STEP.value,
        title=f"{label}: {step.model_copy(update={'manual': False}).describe()}",
        instructions=step.instructions or step.describe(),
        step=step.model_dump(mode="json"),
        status=TaskStatus.OPEN.value,
        created_at=now,
        remind_at=now + ctx.task_settings.remind_every,
    )


def open_step_tasks(
    session: Session,
    ctx: ServiceContext,
    request: AccessRequest,
    change: PlatformChange | None,
    steps: tuple[AccessStep, ...],
    *,
    now: datetime,
    ending: Grant | None = None,
) -> list[int]:
    """One open task per manual step a platform returned, under the change it is part of (or, for the end of a
    grant, under the request that made it). A step that already has an open task for the same person, platform and
    value gets no second one: a later reconcile asks for the same steps again until they are done. Returns the ids
    of the tasks it opened."""
    assert request.id is not None
    platform = change.platform if change is not None else ending.platform if ending is not None else None
    assert platform is not None
    configured = ctx.settings.get(platform)
    label = configured.label if configured and configured.label else platform
    if change is None:
        label = f"{label} (end of temporary access)"
    already = {
        _step_key(AccessStep.model_validate(task.step))
        for task in open_step_tasks_of(session=session, platform=platform, email=request.target_email)
        if task.step
    }
    fresh = [step for step in steps if _step_key(step) not in already]
    rows = add_tasks(
        session=session,
        tasks=[
            _task(
                ctx,
                request_id=request.id,
                change_id=change.id if change is not None else None,
                platform=platform,
                label=label,
                email=request.target_email,
                step=step,
                now=now,
            )
            for step in fresh
        ],
    )
    return [row.id for row in rows if row.id is not None]


def _step_key(step: AccessStep) -> tuple[str, str | None, str | None]:
    return (step.kind.value, step.scope, step.after)
