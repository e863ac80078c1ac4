"""The service layer's own sections of the config file (`elevations:`, `tasks:`, `removals:`, `reviews:`): plain
settings, read without loading anything else of the services."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PydanticField

from domain.policy import ConfigDuration


class ElevationSettings(BaseModel):
    """How temporary elevations are reminded, swept and retried (the `elevations:` section of the config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Reminders before expiry; those already past when access is granted are skipped.
    reminders: tuple[ConfigDuration, ...] = (timedelta(hours=24), timedelta(hours=1))
    # How often the sweeper looks for anything due that no timer handled (bot down, missed window).
    sweep_seconds: float = PydanticField(default=30.0, gt=0)
    # How many due accounts one sweep claims at once. They are planned and recorded together (one transaction and
    # one append to the audit chain per stage), and sent to each platform a chunk at a time (its `concurrency` times
    # a few rounds), so that a slow platform's first reverts do not wait for the whole batch.
    batch: int = PydanticField(default=500, ge=1)
    # The approvals channel and each requester hear of ended grants at most once this often: those that end
    # meanwhile wait for the next message, which names them all.
    digest_seconds: float = PydanticField(default=60.0, ge=0)
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

    model_config = ConfigDict(frozen=True, extra="forbid")

    # An open task is brought back to the approvers this long after it was opened, and again as long as it stays open.
    remind_every: ConfigDuration = timedelta(hours=24)
    # An invitation a new member has not accepted is brought to the approvers this long before it expires (with the
    # steps to re-send it), then as often as `remind_every`.
    invitation_remind_before: ConfigDuration = timedelta(days=7)
    # How often the bot asks a platform that can say whether an invitation was accepted.
    invitation_check_every: ConfigDuration = timedelta(hours=1)


class RemovalSettings(BaseModel):
    """What follows a removal (the `removals:` section of the config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Who the removed person's organisation should contact, as the notice offered after a removal says it, e.g.
    # "the Acme analytics team (analytics@acme.com)". Default: the person who asked for the removal.
    notice_contact: str | None = None
    # The security or compliance team's channel (id or name), told when a removal is complete. None: nobody.
    compliance_channel: str | None = None
    # A removal whose reason has a word starting with one of these (any case), or with `now` in the command, is for
    # a security reason: it skips the steps before the removal ("remove access first, notify second"), which are
    # then done after it.
    security_words: tuple[str, ...] = ("security", "incident", "compromis", "breach", "leak")


class ReviewSettings(BaseModel):
    """Access reviews (the `reviews:` section of the config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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
