"""Everything a service function needs, built once by the composition root."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PydanticField
from sqlalchemy.engine import Engine
from sqlmodel import Session

from domain.catalog import RoleCatalog
from domain.policy import ConfigDuration, PolicyConfig
from platforms.base import Platform, PlatformSettings
from services.leases import LeaseKeeper
from services.ports import Clock, Directory, Notifier, Timers
from services.views import RequestView, request_view
from storage.ledger import grants_by_id
from storage.models import PlatformAccount
from storage.requests import approvals_of, changes_of, get_request
from storage.tasks import tasks_of

logger = logging.getLogger("accessbot.services")

INSTANCE_ENV = "ACCESSBOT_INSTANCE"


def worker_name() -> str:
    """This instance's name in claims, log lines and health: host:pid, unless ACCESSBOT_INSTANCE names it (serve's
    worker process takes its front's name, so that the two are one instance)."""
    return os.environ.get(INSTANCE_ENV) or f"{socket.gethostname()}:{os.getpid()}"


class ElevationSettings(BaseModel):
    """How temporary elevations are reminded, swept and retried (the `elevations:` section of the config)."""

    model_config = ConfigDict(frozen=True)

    # Reminders before expiry; those already past when access is granted are skipped.
    reminders: tuple[ConfigDuration, ...] = (timedelta(hours=24), timedelta(hours=1))
    # How often the sweeper looks for anything due that no timer handled (bot down, missed window).
    sweep_seconds: float = PydanticField(default=30.0, gt=0)
    # How many due reverts one claim takes.
    batch: int = PydanticField(default=100, ge=1)
    # A failed revert is retried after retry_initial_seconds, doubling up to retry_max_seconds, forever.
    retry_initial_seconds: float = PydanticField(default=60.0, gt=0)
    retry_max_seconds: float = PydanticField(default=3600.0, gt=0)
    # After this many failed attempts the approvers are asked to look.
    escalate_after: int = PydanticField(default=3, ge=1)
    # A claim on a person's account lasts this long unless its holder renews it, which it does every third of it
    # while it works; a claim not renewed (its holder crashed) is taken over by another worker, which reads the
    # platform and finishes the work.
    lease_seconds: float = PydanticField(default=60.0, gt=0)


class TaskSettings(BaseModel):
    """Manual tasks (the `tasks:` section of the config)."""

    model_config = ConfigDict(frozen=True)

    # An open task is brought back to the approvers this long after it was opened, and again as long as it stays open.
    remind_every: ConfigDuration = timedelta(hours=24)


class RemovalSettings(BaseModel):
    """What follows a removal (the `removals:` section of the config)."""

    model_config = ConfigDict(frozen=True)

    # Who the removed person's organisation should contact, as the notice offered after a removal says it, e.g.
    # "the Acme analytics team (analytics@acme.com)". Default: the person who asked for the removal.
    notice_contact: str | None = None


class ReviewSettings(BaseModel):
    """Access reviews (the `reviews:` section of the config)."""

    model_config = ConfigDict(frozen=True)

    # When a review is posted: a cron expression (minute hour day-of-month month day-of-week) in `timezone`.
    # Default: 09:00 on the first of every month. None turns scheduled reviews off (`accessbot review` still works).
    schedule: str | None = "0 9 1 * *"
    timezone: str = "UTC"
    # Flag members with no activity for this long, where the platform reports activity.
    dormant_after: ConfigDuration = timedelta(days=60)
    # Where reviews go (default: the approvals channel).
    channel: str | None = None
    # People per Slack message (each row has its own buttons; Slack allows 50 blocks per message).
    rows_per_message: int = PydanticField(default=20, ge=1, le=24)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, schedule: str | None) -> str | None:
        if schedule is not None:
            cron_trigger(schedule, "UTC")
        return schedule

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r}; use a name such as UTC or Europe/Paris") from None
        return timezone

    def trigger(self) -> CronTrigger | None:
        return cron_trigger(self.schedule, self.timezone) if self.schedule else None


def cron_trigger(schedule: str, timezone: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(schedule, timezone=timezone)
    except ValueError as error:
        raise ValueError(
            f"{schedule!r} is not a cron schedule ({error}); give minute hour day month weekday, "
            "for example '0 9 1 * *' for 09:00 on the first of each month"
        ) from None


class RequestRefused(Exception):
    """A request that cannot be made as asked; the message tells the requester why and what to do instead."""


@dataclass(frozen=True)
class ServiceContext:
    engine: Engine
    platforms: Mapping[str, Platform]
    settings: Mapping[str, PlatformSettings]
    directory: Directory
    notifier: Notifier
    clock: Clock
    elevation_settings: ElevationSettings = field(default_factory=lambda: ElevationSettings())
    task_settings: TaskSettings = field(default_factory=lambda: TaskSettings())
    removal_settings: RemovalSettings = field(default_factory=lambda: RemovalSettings())
    review_settings: ReviewSettings = field(default_factory=lambda: ReviewSettings())
    policy: PolicyConfig = field(default_factory=lambda: PolicyConfig())
    timers: Timers | None = None
    catalogs: Mapping[str, RoleCatalog] = field(init=False)
    leases: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalogs", {name: p.catalog for name, p in self.platforms.items()})
        lease = timedelta(seconds=self.elevation_settings.lease_seconds)
        object.__setattr__(self, "leases", LeaseKeeper(self.engine, self.clock, lease))

    def view(self, session: Session, request_id: int) -> RequestView | None:
        request = get_request(session=session, request_id=request_id)
        if request is None:
            return None
        changes = changes_of(session=session, request_id=request_id)
        extended = [change.grant_id for change in changes if change.grant_id is not None]
        grants = grants_by_id(session=session, request_ids=[request_id], grant_ids=extended)
        accounts = {
            account_id: account
            for account_id in {grant.account_id for grant in grants.values()}
            if (account := session.get(PlatformAccount, account_id)) is not None
        }
        tasks = tasks_of(session=session, request_ids=[request_id])
        approvals = [row.approver_id for row in approvals_of(session=session, request_id=request_id)]
        return request_view(request, changes, self.settings, self.catalogs, grants, tasks, approvals, accounts)

    def load_view(self, request_id: int) -> RequestView | None:
        with Session(self.engine) as session:
            return self.view(session, request_id)
