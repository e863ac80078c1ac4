"""What the service layer needs from the outside world, as small protocols.

The Slack implementations live in `handlers/`; tests and the console can pass their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from services.offboarding import PlatformNotice
    from services.reviews import ReviewView
    from services.views import DriftReport, EndedGrant, GrantView, RequestView, TaskView


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC now."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Person(BaseModel):
    """Someone in the Slack workspace."""

    model_config = ConfigDict(frozen=True)

    slack_id: str
    email: str | None = None
    name: str = ""
    tz: str | None = None
    is_workspace_admin: bool = False

    def label(self) -> str:
        return self.name or self.email or self.slack_id


class PersonNotFound(LookupError):
    pass


class Directory(Protocol):
    def person(self, slack_id: str) -> Person:
        """Raises PersonNotFound when Slack does not know the id."""
        ...

    def person_by_email(self, email: str) -> Person | None: ...

    def group_members(self, group_id: str) -> frozenset[str]: ...


class MessageRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: str
    ts: str


class Notifier(Protocol):
    """Tells people what happened to a request. Implementations must not raise on delivery failures they log."""

    def request_submitted(self, view: RequestView) -> MessageRef | None:
        """Post the approval card; returns where it is."""
        ...

    def request_progressed(self, view: RequestView) -> None:
        """Redraw the card (approved, applying...)."""
        ...

    def request_concluded(self, view: RequestView) -> None:
        """Redraw the card and tell the thread and the requester how it ended (applied, failed, denied)."""
        ...

    def request_reminder(self, view: RequestView, *, escalate_to: str | None = None) -> None:
        """Remind the approvers of a request nobody has decided: once before it expires; a removal, from its
        deadline on until someone decides, and after the first time also `escalate_to` (the security group)."""
        ...

    def break_glass_used(self, view: RequestView, channel: str | None) -> None:
        """Tell the team at once (in `channel`, else the approvals channel) that break-glass was used."""
        ...

    def manual_tasks_opened(self, view: RequestView, tasks: tuple[TaskView, ...]) -> None:
        """Post each manual task for the approvers, with exact instructions and a Done button."""
        ...

    def removal_notices(self, view: RequestView, notices: tuple[PlatformNotice, ...]) -> None:
        """Offer the filled-in notice for the removed person's organisation, ready to copy, in the thread."""
        ...

    def manual_task_reminder(self, view: RequestView, task: TaskView, now: datetime) -> None:
        """Bring a task that is still open back to the approvers."""
        ...

    def elevation_reminder(self, view: RequestView, elevation: GrantView, now: datetime) -> None:
        """Tell the requester and the approvers that a temporary grant ends soon, with Extend / Revoke / Keep."""
        ...

    def elevations_ended(self, ended: Sequence[EndedGrant]) -> None:
        """Temporary access that ended (one, or many at once): redraw each card and say who was reverted from what to
        what, in the cards' threads and to the requesters, or in digests when many ended together."""
        ...

    def elevation_revert_failed(self, view: RequestView, elevation: GrantView, *, escalate: bool) -> None:
        """Redraw the card; when `escalate`, ask the approvers to look (the bot keeps retrying)."""
        ...

    def elevation_extended(self, view: RequestView, elevation: GrantView) -> None:
        """Redraw the card and say the grant now lasts longer."""
        ...

    def drift_found(self, report: DriftReport) -> None:
        """Tell the platform's approvers that someone changed this access outside the bot, and what the bot now
        takes as the account's baseline."""
        ...

    def review_posted(self, review: ReviewView) -> dict[int, MessageRef]:
        """Post an access review to the approvers, each person with Keep / Remove; returns where each row is."""
        ...

    def review_decided(self, review: ReviewView, message: MessageRef) -> None:
        """Redraw the review message at `message` after one of its rows was decided."""
        ...


class Timers(Protocol):
    """A punctual wake-up. Optional: the periodic sweep alone already guarantees every reminder and revert runs,
    and runs once; the timer only makes them happen on the second."""

    def due(self, at: datetime) -> None:
        """Something (a grant's end, a reminder) is due at `at`: sweep then, if that is earlier than planned."""
        ...
