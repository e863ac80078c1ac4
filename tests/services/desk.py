"""A service context over a real sandbox on SQLite, with hand-written fakes for Slack and the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from domain.access import AccessState
from domain.commands import GrantCommand, RemoveCommand, parse_command
from domain.lifecycle import TaskKind
from platforms.base import Platform
from platforms.registry import PlatformContext, build_platforms
from platforms.settings import SandboxSettings
from services.context import ServiceContext
from services.decisions import Outcome, approve
from services.ports import Person
from services.settings import ElevationSettings
from services.submit import submit
from services.task_actions import TaskOutcome, complete
from services.views import RequestView
from storage.audit import events_for
from storage.db import make_engine
from storage.schema import ensure_schema
from tests.fakes import FakeClock, FakeDirectory, FlakyPlatform, RecordingNotifier

ANA = "ana@agency.example"


@dataclass
class Desk:
    ctx: ServiceContext
    directory: FakeDirectory
    notifier: RecordingNotifier
    clock: FakeClock
    requester: Person
    approver: Person
    other_approver: Person

    def command(self, text: str) -> GrantCommand | RemoveCommand:
        parsed = parse_command(text, self.ctx.catalogs)
        assert isinstance(parsed, GrantCommand | RemoveCommand)
        return parsed

    def submit(self, text: str) -> int:
        command = self.command(text)
        assert command.target.email is not None
        return submit(self.ctx, command, requester=self.requester, target_email=command.target.email, text=text).id

    def clear_gate(self, request_id: int) -> RequestView:
        """Do the steps before a removal that are open, as its approver; the removal is then applied."""
        view = self.ctx.load_view(request_id)
        assert view is not None
        for task in view.tasks:
            if task.kind is TaskKind.BEFORE_REMOVAL and task.is_open:
                done = complete(self.ctx, task.id, person=self.approver, evidence="done before the removal")
                assert done.outcome is TaskOutcome.DONE, done
        cleared = self.ctx.load_view(request_id)
        assert cleared is not None
        return cleared

    def audit(self, request_id: int) -> list[str]:
        with Session(self.ctx.engine) as session:
            return [event.event for event in events_for(session=session, request_id=request_id)]


def make_desk(
    tmp_path: Path,
    wrap: Mapping[str, type] | None = None,
    *,
    elevations: ElevationSettings | None = None,
    clock: FakeClock | None = None,
    settings: Mapping[str, SandboxSettings] | None = None,
    database_url: str | None = None,
    **flaky: int,
) -> Desk:
    """`database_url`: where it keeps everything (default: SQLite in `tmp_path`); two desks on one URL are two bot
    processes on one database."""
    engine = make_engine(database_url or f"sqlite:///{tmp_path}/bot.db")
    ensure_schema(engine)
    clock = clock or FakeClock()
    settings = dict(
        settings
        or {
            "sandbox": SandboxSettings(approvers=("UBOB", "S0SECURITY"), role_max_duration={"admin": "8h"}),
            "sandbox-eu": SandboxSettings(approvers=("UBOB",)),
        }
    )
    platforms: dict[str, Platform] = build_platforms(settings, PlatformContext(engine=engine, now=clock.now))
    for name, wrapper in (wrap or {}).items():
        platforms[name] = wrapper(platforms[name])
    for name, failures in flaky.items():
        platforms[name.replace("_", "-")] = FlakyPlatform(platforms[name.replace("_", "-")], failures=failures)
    directory = FakeDirectory(groups={"S0SECURITY": frozenset({"UCAROL"})})
    notifier = RecordingNotifier()
    ctx = ServiceContext(
        engine=engine,
        platforms=platforms,
        settings=settings,
        directory=directory,
        notifier=notifier,
        clock=clock,
        elevation_settings=elevations or ElevationSettings(),
    )
    return Desk(
        ctx=ctx,
        directory=directory,
        notifier=notifier,
        clock=clock,
        requester=directory.add("UALICE", "alice@agency.example", tz="Europe/Paris"),
        approver=directory.add("UBOB", "bob@client.example"),
        other_approver=directory.add("UCAROL", "carol@client.example"),
    )


def access(desk: Desk, platform: str = "sandbox", email: str = ANA) -> AccessState:
    return desk.ctx.platforms[platform].get_access(email)


def seed(desk: Desk, state: AccessState, platform: str = "sandbox") -> None:
    """Give ANA some access directly on the platform, past any failure the test injected."""
    client = desk.ctx.platforms[platform]
    while isinstance(client, FlakyPlatform):
        client = client.inner
    client.apply(ANA, state)


def approve_fully(desk: Desk, request_id: int) -> RequestView:
    """Approve as the rules require: a second, different approver when one approval is not enough."""
    result = approve(desk.ctx, request_id, approver=desk.approver)
    if result.outcome is Outcome.RECORDED:
        result = approve(desk.ctx, request_id, approver=desk.other_approver)
    assert result.view is not None, result
    return result.view
