"""Who sees what: people see their own requests and access; a platform's approvers see its requests and who has
access to it; Slack workspace admins see everything. The same rules for `/access status`, `list` and `evidence`."""

from __future__ import annotations

from collections.abc import Iterable

from services.approvers import eligible_approvers
from services.context import ServiceContext
from services.ports import Person


def approved_platforms(ctx: ServiceContext, person: Person, platforms: Iterable[str] | None = None) -> set[str]:
    """The platforms (of these, or all configured) whose requests and members this person may see: all for a
    workspace admin; else those they approve."""
    names = tuple(platforms) if platforms is not None else tuple(ctx.settings)
    if person.is_workspace_admin:
        return set(names)
    eligible = eligible_approvers(ctx, names)
    return {name for name, people in eligible.items() if people is not None and person.slack_id in people}


def is_about(
    ctx: ServiceContext, person: Person, *, requester_id: str | None, target_slack_id: str | None, target_email: str
) -> bool:
    """Whether a request is this person's: they asked, or it is their access."""
    return person.slack_id in (requester_id, target_slack_id) or ctx.policy.people.same(person.email, target_email)


def may_see(
    ctx: ServiceContext,
    person: Person,
    *,
    platforms: Iterable[str],
    requester_id: str | None,
    target_slack_id: str | None,
    target_email: str,
) -> bool:
    """A request (or what is recorded of it): its requester, the person whose access it is, its platforms'
    approvers and workspace admins."""
    if is_about(ctx, person, requester_id=requester_id, target_slack_id=target_slack_id, target_email=target_email):
        return True
    return bool(approved_platforms(ctx, person, platforms))
