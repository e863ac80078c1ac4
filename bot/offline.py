"""The admin commands' stand-in for Slack: they read the database and the platforms, and never talk to Slack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.offboarding import PlatformNotice
from services.ports import MessageRef, Person
from services.reviews import ReviewView
from services.views import DriftReport, EndedGrant, GrantView, RequestView, TaskView


class NoSlack:
    """Admin commands read the database and platforms only; reaching Slack from them would be a bug."""

    def person(self, slack_id: str) -> Person:
        raise RuntimeError("admin commands do not talk to Slack")

    def person_by_email(self, email: str) -> Person | None:
        raise RuntimeError("admin commands do not talk to Slack")

    def group_members(self, group_id: str) -> frozenset[str]:
        raise RuntimeError("admin commands do not talk to Slack")

    def request_submitted(self, view: RequestView) -> MessageRef | None:
        raise RuntimeError("admin commands do not talk to Slack")

    def request_progressed(self, view: RequestView) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def request_concluded(self, view: RequestView) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def request_reminder(self, view: RequestView, *, escalate_to: str | None = None) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def break_glass_used(self, view: RequestView, channel: str | None) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def manual_tasks_opened(self, view: RequestView, tasks: tuple[TaskView, ...]) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def removal_notices(self, view: RequestView, notices: tuple[PlatformNotice, ...]) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def manual_task_reminder(self, view: RequestView, task: TaskView, now: datetime) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def elevation_reminder(self, view: RequestView, elevation: GrantView, now: datetime) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def elevations_ended(self, ended: Sequence[EndedGrant]) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def elevation_revert_failed(self, view: RequestView, elevation: GrantView, *, escalate: bool) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def elevation_extended(self, view: RequestView, elevation: GrantView) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def drift_found(self, report: DriftReport) -> None:
        raise RuntimeError("admin commands do not talk to Slack")

    def review_posted(self, review: ReviewView) -> dict[int, MessageRef]:
        raise RuntimeError("admin commands do not talk to Slack")

    def review_decided(self, review: ReviewView, message: MessageRef) -> None:
        raise RuntimeError("admin commands do not talk to Slack")
