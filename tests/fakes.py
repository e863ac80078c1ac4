"""Hand-written stand-ins for the service ports, with real behaviour rather than mocks."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.access import AccessState
from domain.ledger import EndReason, GrantState
from domain.offboarding import NoticeTemplate
from platforms.base import ApplyResult, MemberRecord, Platform, PlatformError, PlatformUnavailable
from services.offboarding import PlatformNotice
from services.ports import MessageRef, Person, PersonNotFound
from services.reviews import ReviewView
from services.views import DriftReport, EndedGrant, GrantView, RequestView, TaskView


def reverted_grant(number: int) -> GrantView:
    """Grant `number` (made by request `number`) of person `number` on the sandbox, ended at its time and reverted
    from Analyst to Consumer."""
    return GrantView(
        id=number,
        request_id=number,
        platform="sandbox",
        target_email=f"person{number}@agency.example",
        seq=0,
        parts={"account_role": "Analyst"},
        state=GrantState.ENDED,
        permanent=False,
        end_reason=EndReason.EXPIRED,
        reverted={"account_role": ("Analyst", "Consumer")},
    )


class FakeClock:
    def __init__(self, start: datetime = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, span: timedelta) -> None:
        self.current += span


@dataclass
class FakeDirectory:
    people: dict[str, Person] = field(default_factory=dict)
    groups: dict[str, frozenset[str]] = field(default_factory=dict)

    def add(self, slack_id: str, email: str, *, admin: bool = False, tz: str | None = None) -> Person:
        person = Person(slack_id=slack_id, email=email, name=email.split("@")[0], is_workspace_admin=admin, tz=tz)
        self.people[slack_id] = person
        return person

    def person(self, slack_id: str) -> Person:
        if slack_id not in self.people:
            raise PersonNotFound(slack_id)
        return self.people[slack_id]

    def person_by_email(self, email: str) -> Person | None:
        return next((p for p in self.people.values() if p.email == email.lower()), None)

    def group_members(self, group_id: str) -> frozenset[str]:
        return self.groups.get(group_id, frozenset())


@dataclass
class RecordingNotifier:
    """Keeps every notification, in order, as (kind, view)."""

    events: list[tuple[str, RequestView]] = field(default_factory=list)
    elevations: list[tuple[str, GrantView]] = field(default_factory=list)
    tasks: list[tuple[str, TaskView]] = field(default_factory=list)
    notices: list[PlatformNotice] = field(default_factory=list)
    reviews: list[tuple[str, ReviewView]] = field(default_factory=list)
    drifts: list[DriftReport] = field(default_factory=list)
    escalations: list[str | None] = field(default_factory=list)  # whom each request reminder also called on
    ended: list[EndedGrant] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request_submitted(self, view: RequestView) -> MessageRef | None:
        with self.lock:
            self.events.append(("submitted", view))
        return MessageRef(channel="C0APPROVALS", ts=f"1.{view.id:06d}")

    def request_progressed(self, view: RequestView) -> None:
        with self.lock:
            self.events.append(("progressed", view))

    def request_concluded(self, view: RequestView) -> None:
        with self.lock:
            self.events.append(("concluded", view))

    def request_reminder(self, view: RequestView, *, escalate_to: str | None = None) -> None:
        with self.lock:
            self.events.append(("request_reminder", view))
            self.escalations.append(escalate_to)

    def break_glass_used(self, view: RequestView, channel: str | None) -> None:
        with self.lock:
            self.events.append(("break_glass", view))

    def manual_tasks_opened(self, view: RequestView, tasks: tuple[TaskView, ...]) -> None:
        with self.lock:
            self.events.append(("tasks_opened", view))
            self.tasks.extend(("opened", task) for task in tasks)

    def removal_notices(self, view: RequestView, notices: tuple[PlatformNotice, ...]) -> None:
        with self.lock:
            self.events.append(("removal_notices", view))
            self.notices.extend(notices)

    def manual_task_reminder(self, view: RequestView, task: TaskView, now: datetime) -> None:
        with self.lock:
            self.events.append(("task_reminder", view))
            self.tasks.append(("reminder", task))

    def elevation_reminder(self, view: RequestView, elevation: GrantView, now: datetime) -> None:
        with self.lock:
            self.events.append(("reminder", view))
            self.elevations.append(("reminder", elevation))

    def elevations_ended(self, ended: Sequence[EndedGrant]) -> None:
        with self.lock:
            self.ended.extend(ended)
            self.elevations.extend(("ended", item.grant) for item in ended)

    def elevation_revert_failed(self, view: RequestView, elevation: GrantView, *, escalate: bool) -> None:
        with self.lock:
            self.events.append(("revert_escalated" if escalate else "revert_failed", view))
            self.elevations.append(("failed", elevation))

    def elevation_extended(self, view: RequestView, elevation: GrantView) -> None:
        with self.lock:
            self.events.append(("elevation_extended", view))
            self.elevations.append(("extended", elevation))

    def drift_found(self, report: DriftReport) -> None:
        with self.lock:
            self.drifts.append(report)

    def review_posted(self, review: ReviewView) -> dict[int, MessageRef]:
        """One message per platform, as the Slack notifier posts a short review."""
        with self.lock:
            self.reviews.append(("posted", review))
        platforms = review.platforms()
        return {
            item.id: MessageRef(channel="C0REVIEWS", ts=f"{review.id}.{platforms.index(item.platform):06d}")
            for item in review.items
        }

    def review_decided(self, review: ReviewView, message: MessageRef) -> None:
        with self.lock:
            self.reviews.append(("decided", review))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


class Killed(BaseException):
    """The process dies here (kill -9): nothing after this line runs, no handler sees it."""


class FlakyPlatform(Platform):
    """A real platform that fails its next `failures` applies, or whenever `down` is set."""

    def __init__(self, inner: Platform, *, failures: int = 0, error: type[PlatformError] = PlatformUnavailable) -> None:
        super().__init__(inner.name, inner.catalog)
        self.inner = inner
        self.removal_checklist = inner.removal_checklist
        self.reports_activity = inner.reports_activity
        self.failures = failures
        self.error = error
        self.applies = 0
        self._lock = threading.Lock()

    def get_access(self, email: str) -> AccessState:
        return self.inner.get_access(email)

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        with self._lock:
            self.applies += 1
            if self.failures > 0:
                self.failures -= 1
                raise self.error(self.name, "HTTP 503 from the platform (service unavailable)")
        return self.inner.apply(email, desired)

    def list_members(self) -> list[MemberRecord]:
        return self.inner.list_members()

    def notice_template(self) -> NoticeTemplate:
        return self.inner.notice_template()


class DriftingPlatform(Platform):
    """Says it applied, but the platform keeps something else: what verification exists to catch."""

    def __init__(self, inner: Platform) -> None:
        super().__init__(inner.name, inner.catalog)
        self.inner = inner

    def get_access(self, email: str) -> AccessState:
        return self.inner.get_access(email)

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        lowest = desired.model_copy(update={"account_role": self.catalog.lowest_account_role})
        return self.inner.apply(email, lowest)

    def list_members(self) -> list[MemberRecord]:
        return self.inner.list_members()
