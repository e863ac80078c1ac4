"""Manual tasks: the steps of a change no API can make, and follow-up work, tracked until an admin is done."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from domain.access import AccessStep
from domain.lifecycle import TaskKind
from services.context import ServiceContext
from services.views import ChangeView, RequestView
from storage.models import ManualTask, RevertReminder
from storage.tasks import TaskStatus, add_tasks


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


def open_platform_tasks(
    session: Session,
    ctx: ServiceContext,
    request: RequestView,
    change: ChangeView,
    steps: tuple[AccessStep, ...],
    *,
    now: datetime,
) -> list[int]:
    """One open task per manual step a platform returned. Returns their ids."""
    rows = add_tasks(
        session=session,
        tasks=[
            _task(
                ctx,
                request_id=request.id,
                change_id=change.id,
                platform=change.platform,
                label=change.platform_label,
                email=request.target_email,
                step=step,
                now=now,
            )
            for step in steps
        ],
    )
    return [row.id for row in rows if row.id is not None]


def open_revert_tasks(
    session: Session, ctx: ServiceContext, elevation: RevertReminder, steps: tuple[AccessStep, ...], *, now: datetime
) -> list[int]:
    """The parts of ending an elevation an admin must do by hand, under the request that started it."""
    rows = add_tasks(
        session=session,
        tasks=[
            _task(
                ctx,
                request_id=elevation.request_id,
                change_id=None,
                platform=elevation.platform,
                label=f"{elevation.platform} (end of temporary access)",
                email=elevation.target_email,
                step=step,
                now=now,
            )
            for step in steps
        ],
    )
    return [row.id for row in rows if row.id is not None]
