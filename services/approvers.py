"""Who may decide on a request: the policy's facts gathered from the config and Slack's user groups."""

from __future__ import annotations

from domain.policy import Approver, RequestFacts, Verdict, group_ids, may_approve
from services.context import ServiceContext
from services.ports import Person
from services.views import RequestView


def eligible_approvers(ctx: ServiceContext, platforms: tuple[str, ...]) -> dict[str, frozenset[str] | None]:
    """Each platform's approvers as Slack user ids, user groups expanded; None where none are configured."""
    eligible: dict[str, frozenset[str] | None] = {}
    for platform in platforms:
        configured = ctx.settings[platform].approvers if platform in ctx.settings else ()
        if not configured:
            eligible[platform] = None
            continue
        users = {entry for entry in configured if not entry.startswith("S")}
        for group in group_ids(configured):
            users |= ctx.directory.group_members(group)
        eligible[platform] = frozenset(users)
    return eligible


def decision_verdict(ctx: ServiceContext, view: RequestView, person: Person) -> Verdict:
    facts = RequestFacts(
        requester_id=view.requester_id,
        target_email=view.target_email,
        target_slack_id=view.target_slack_id,
        platforms=view.platforms,
    )
    approver = Approver(slack_id=person.slack_id, email=person.email, is_workspace_admin=person.is_workspace_admin)
    return may_approve(request=facts, approver=approver, eligible=eligible_approvers(ctx, view.platforms))
