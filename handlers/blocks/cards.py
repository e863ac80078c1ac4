"""The approval card and the messages that follow it, as pure functions of a request view."""

from __future__ import annotations

from typing import Any

from domain.access import RemovalMethod
from domain.durations import format_duration
from domain.lifecycle import ChangeStatus, RequestStatus
from handlers import ids
from handlers.blocks.elevations import elevation_lines
from handlers.blocks.tasks import task_lines
from handlers.blocks.text import context, escape, field, mention, mrkdwn, plain, section, when
from services.views import ChangeView, RequestView

Message = dict[str, Any]

METHOD_EXPLAINED = {
    RemovalMethod.DELETE: (
        "*delete*: the member is deleted. Permanent: what they made stays (shown as by a removed user), their API "
        "tokens stop working, and restoring access needs a new invitation"
    ),
    RemovalMethod.REVOKE: (
        "*revoke*: the account is kept with the lowest role{roles} and no projects or sites. It can be restored by "
        "granting access again, and what they made keeps its owner"
    ),
}
_CHANGE_ICONS = {
    ChangeStatus.WAITING: "⏳",
    ChangeStatus.GATED: "🚧",
    # Queued is how every approved change starts (one change at a time per person and platform, usually for a
    # moment): on the card it reads as what it is about to be.
    ChangeStatus.QUEUED: "⚙️",
    ChangeStatus.APPLYING: "⚙️",
    ChangeStatus.AWAITING_MANUAL: "🛠️",
    ChangeStatus.APPLIED: "✅",
    ChangeStatus.FAILED: "❌",
    ChangeStatus.SKIPPED: "⏹️",
}
VERB_PHRASES = {
    "add": "add access",
    "update": "change access",
    "remove": "remove access",
    "extend": "extend temporary access",
}


def approval_card(view: RequestView, *, compliance_channel: str | None = None) -> Message:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"Access request #{view.id}: {VERB_PHRASES.get(view.verb, view.verb)}")},
        section(
            f"{mention(view.requester_id)} asks to {VERB_PHRASES.get(view.verb, view.verb)} for {target_text(view)}"
        ),
        {"type": "section", "fields": _summary_fields(view)},
    ]
    for change in view.changes:
        blocks.append(section(_change_text(view, change)))
    if view.verb == "remove" and view.status is RequestStatus.PENDING:
        blocks.append(context(removal_methods_text(view)))
    blocks.extend(context(line) for line in elevation_lines(view))
    blocks.append(context(status_line(view)))
    if view.status is RequestStatus.APPLIED:
        blocks.append(context(told_text(view, compliance_channel)))
    actions = decision_buttons(view)
    if actions:
        blocks.append({"type": "actions", "block_id": f"request_{view.id}", "elements": actions})
    return {"text": f"Access request #{view.id} for {view.target_email}: {view.status.value}", "blocks": blocks}


def removal_methods_text(view: RequestView) -> str:
    """Both removal methods, the one this request uses marked, so the approver knows what the other would do."""
    chosen = {change.method for change in view.changes if change.method}
    lowest = dict.fromkeys(
        f"{change.platform_label}: {change.lowest_role}" for change in view.changes if change.lowest_role
    )
    roles = f" ({', '.join(lowest)})" if lowest else ""
    lines = ["*Removal methods* (▶ = what approving does):"]
    for method in RemovalMethod:
        mark = "▶" if method in chosen else "◦"
        lines.append(f"{mark} {METHOD_EXPLAINED[method].format(roles=escape(roles))}")
    other = next((method for method in RemovalMethod if method not in chosen), None)
    if other is not None:
        lines.append(f"To {other.value} instead, deny this and ask again with `{other.value}` after the platform.")
    return "\n".join(lines)


def target_text(view: RequestView) -> str:
    who = f"*{escape(view.target_email)}*"
    return f"{who} ({mention(view.target_slack_id)})" if view.target_slack_id else who


def _summary_fields(view: RequestView) -> list[dict[str, str]]:
    fields = [field(f"*Platform*\n{', '.join(change.platform_label for change in view.changes)}")]
    if view.verb == "remove":
        methods = sorted({change.method.value for change in view.changes if change.method})
        fields.append(field(f"*Method*\n{', '.join(methods)}"))
    elif view.verb == "extend":
        fields.append(field(f"*Extension*\n{extension_text(view)}"))
    else:
        fields.append(field(f"*Access*\n{escape(_grant_text(view))}"))
        fields.append(field(f"*Duration*\n{expiry_text(view)}"))
    fields.append(field(f"*Reason*\n{escape(view.reason)}"))
    fields.append(field(f"*Ticket*\n{escape(view.ticket) if view.ticket else '—'}"))
    return fields


def _grant_text(view: RequestView) -> str:
    grants = [change.grant for change in view.changes if change.grant is not None]
    return "; ".join(grant.describe() for grant in grants) or "—"


def extension_text(view: RequestView) -> str:
    span = f"+{format_duration(view.duration)}" if view.duration else "?"
    ends = [change.extends.ends_at for change in view.changes if change.extends is not None and change.extends.ends_at]
    return f"{span}; it ends {when(ends[0])} now" if ends and view.status is RequestStatus.PENDING else span


def expiry_text(view: RequestView) -> str:
    live = [elevation.ends_at for elevation in view.elevations if elevation.is_live and elevation.ends_at]
    if live:
        return f"until {when(max(live))}"
    if view.until_at is not None:
        return f"until {when(view.until_at)}"
    applied = [change.applied_at for change in view.changes if change.applied_at is not None]
    if view.duration is not None and applied:
        return f"until {when(max(applied) + view.duration)}"
    return view.describe_expiry()


def _change_text(view: RequestView, change: ChangeView) -> str:
    label = "now" if view.status is RequestStatus.PENDING else "when requested"
    lines = [f"*{escape(change.platform_label)}*  {label}: {escape(_now_text(change))}"]
    lines.extend(f"⚠️ {escape(warning)}" for warning in change.warnings if view.status is RequestStatus.PENDING)
    if view.status is RequestStatus.PENDING and change.action == "extend":
        if change.extends is not None and change.extends.ends_at is not None and view.duration is not None:
            old, new = change.extends.ends_at, change.extends.ends_at + view.duration
            lines.append(f"after approval: ends {when(new)} instead of {when(old)}")
    elif view.status is RequestStatus.PENDING:
        if change.preview:
            lines.append("after approval: " + escape("; ".join(step.describe() for step in change.preview)))
        elif change.access_at_request is not None:
            lines.append("after approval: no change to the current access (extends or confirms it)")
    elif change.status is not ChangeStatus.WAITING:
        lines.append(f"{_CHANGE_ICONS[change.status]} {_change_outcome(change)}")
    lines.extend(task_lines(view, change.id))
    return "\n".join(lines)


def _now_text(change: ChangeView) -> str:
    if change.access_at_request is None:
        return "could not be read when the request was made"
    return change.access_at_request.describe()


def _change_outcome(change: ChangeView) -> str:
    match change.status:
        case ChangeStatus.GATED:
            return (
                "not removed yet: the steps before the removal come first (in the thread); it is applied once each "
                "is done or skipped"
            )
        case ChangeStatus.QUEUED | ChangeStatus.APPLYING if change.retry_at is not None:
            label = escape(change.platform_label)
            if change.error_kind == "throttled":
                return f"⏳ queued behind {label}'s rate limit; expected to go ahead {when(change.retry_at)}"
            return f"⏳ {label} asked to wait until {when(change.retry_at)}; will retry then"
        case ChangeStatus.QUEUED | ChangeStatus.APPLYING:
            return "applying…"
        case ChangeStatus.AWAITING_MANUAL:
            return "done by API where an API exists; manual steps left for an admin (in the thread):"
        case ChangeStatus.APPLIED:
            after = change.after.describe() if change.after else "?"
            return f"applied and verified: {escape(after)}"
        case ChangeStatus.FAILED:
            return f"failed (attempt {change.attempts}): {escape(change.error or 'unknown error')}"
        case ChangeStatus.SKIPPED:
            return "not applied"
    return ""


def status_line(view: RequestView) -> str:
    decided = f"{mention(view.decided_by)} {when(view.decided_at)}" if view.decided_by and view.decided_at else ""
    match view.status:
        case RequestStatus.PENDING:
            return pending_text(view)
        case RequestStatus.APPLYING if any(change.status is ChangeStatus.GATED for change in view.changes):
            return f"🚧 Approved by {approved_by(view)}; waiting for the steps before the removal. Nothing removed yet."
        case RequestStatus.APPROVED | RequestStatus.APPLYING:
            return f"⚙️ Approved by {approved_by(view)}; applying…"
        case RequestStatus.AWAITING_MANUAL:
            return f"🛠️ Approved by {approved_by(view)}; waiting for an admin to do the manual steps. Not applied yet."
        case RequestStatus.APPLIED:
            return f"✅ Applied. Approved by {approved_by(view)}."
        case RequestStatus.FAILED if not view.retry_helps:
            return (
                f"❌ Not applied, and trying again cannot help: the platform lacks what it needs (see below). Change "
                f"the platform or the config, then make a new request. Approved by {approved_by(view)}."
            )
        case RequestStatus.FAILED:
            return f"❌ Not fully applied; an approver can retry. Approved by {approved_by(view)}."
        case RequestStatus.DENIED:
            why = f": {escape(view.deny_reason)}" if view.deny_reason else ""
            return f"🚫 Denied by {decided}{why}"
        case RequestStatus.EXPIRED:
            why = f": {escape(view.deny_reason)}" if view.deny_reason else " without a decision"
            return f"⌛ Expired{why}."
        case RequestStatus.CANCELLED:
            why = f": {escape(view.deny_reason)}" if view.deny_reason else ""
            return f"↩️ Withdrawn by the requester {when(view.decided_at) if view.decided_at else ''}{why}"
    return view.status.value


def approvers_text(view: RequestView) -> str:
    """Who may approve, as the request's rules set it (the platforms' approvers unless a rule names others)."""
    configured = view.requirements.approvers.values() or [change.approvers for change in view.changes]
    named = list(dict.fromkeys(approver for approvers in configured for approver in approvers))
    if not named:
        return "a Slack workspace admin"
    if not view.requirements.allow_self_approval:
        # Nobody approves their own request or their own access: the card does not ask them to.
        themselves = {view.requester_id, view.target_slack_id}
        others = [approver for approver in named if approver not in themselves]
        if not others:
            return "another approver (the only one configured asked for this, and may not approve it)"
        named = others
    return ", ".join(mention(approver) for approver in named)


def pending_text(view: RequestView) -> str:
    needed = view.requirements.approvals
    lines = [f"⏳ Waiting for approval by {approvers_text(view)}"]
    if needed > 1:
        so_far = ", ".join(mention(approver) for approver in view.approvals) or "none yet"
        lines.append(f"needs {needed} approvals from different people ({len(view.approvals)} so far: {so_far})")
    for group in view.requirements.require_one_of:
        lines.append(f"at least one approval from {' or '.join(mention(member) for member in group)}")
    if view.requirements.rules:
        lines.append(f"rules: {', '.join(view.requirements.rules)}")
    if view.expires_at is not None:
        lines.append(f"expires {when(view.expires_at)} if nobody decides")
    elif view.verb == "remove" and view.decide_by is not None:
        lines.append(f"to be decided by {when(view.decide_by)}; a removal never expires: the approvers are chased")
    if view.security:
        lines.append("🔒 a security removal: applied as soon as it is approved; the steps before it are done after")
    return "\n".join(lines)


def approved_by(view: RequestView) -> str:
    who = ", ".join(mention(approver) for approver in view.approvals) or (
        mention(view.decided_by) if view.decided_by else "?"
    )
    at = f" {when(view.decided_at)}" if view.decided_at else ""
    if view.break_glass:
        return f"{who}{at} (🚨 break-glass: no approver)"
    return f"{who}{at}"


def pending_reminder_text(view: RequestView, *, escalate_to: str | None = None) -> str:
    if view.verb == "remove":
        also = f" {mention(escalate_to)}, please see that someone decides." if escalate_to else ""
        return (
            f"⏰ {approvers_text(view)}: the removal #{view.id} of {escape(view.target_email)} is past its deadline "
            f"and still needs a decision: their access stays until someone approves it.{also}"
        )
    ends = f"; it expires {when(view.expires_at)}" if view.expires_at else ""
    return (
        f"⏳ {approvers_text(view)}: request #{view.id} for {escape(view.target_email)} still needs a decision{ends}."
    )


def break_glass_text(view: RequestView) -> str:
    what = "; ".join(f"{escape(change.describe())} on {escape(change.platform_label)}" for change in view.changes)
    span = f"for {format_duration(view.duration)}" if view.duration else expiry_text(view)
    return (
        f"🚨 Break-glass: {mention(view.requester_id)} took {what} for {escape(view.target_email)}, {span}, "
        f"without approval. Reason: {escape(view.reason)}. An approver has to review it afterwards "
        f"(request #{view.id})."
    )


def decision_buttons(view: RequestView) -> list[dict[str, Any]]:
    """Approve and Deny while the request waits, Retry once it failed (on the card and in the App Home)."""
    value = str(view.id)
    if view.status is RequestStatus.PENDING:
        approve: dict[str, Any] = {
            "type": "button",
            "action_id": ids.APPROVE,
            "text": plain("Approve"),
            "style": "primary",
            "value": value,
        }
        if any(change.method is RemovalMethod.DELETE for change in view.changes):
            approve["confirm"] = {
                "title": plain("Delete the member?"),
                "text": mrkdwn(f"{escape(view.target_email)} will be deleted; restoring needs a new invitation."),
                "confirm": plain("Approve and delete"),
                "deny": plain("Cancel"),
                "style": "danger",
            }
        deny = {"type": "button", "action_id": ids.DENY, "text": plain("Deny"), "style": "danger", "value": value}
        return [approve, deny]
    if view.status is RequestStatus.FAILED and view.retry_helps:
        return [{"type": "button", "action_id": ids.RETRY, "text": plain("Retry"), "value": value}]
    return []


def outcome_text(view: RequestView) -> str:
    """The thread reply when a request ends."""
    target = escape(view.target_email)
    match view.status:
        case RequestStatus.APPLIED if view.verb == "extend":
            return f"✅ Request #{view.id} applied: {target}'s temporary access lasts {expiry_of_extended(view)}."
        case RequestStatus.APPLIED:
            done = "; ".join(
                f"{escape(change.platform_label)}: {escape(change.after.describe() if change.after else '?')}"
                for change in view.changes
            )
            tail = f" Access lasts {expiry_text(view)}." if view.is_temporary else ""
            return f"✅ Request #{view.id} applied for {target}. Now: {done}.{tail}"
        case RequestStatus.FAILED:
            failures = "; ".join(
                f"{escape(change.platform_label)}: {escape(change.error or 'unknown error')}"
                for change in view.changes
                if change.status is ChangeStatus.FAILED
            )
            return (
                f"❌ Request #{view.id} for {target} did not fully apply. {failures}. "
                "Nothing else was changed; an approver can press Retry on the card."
            )
        case RequestStatus.DENIED:
            why = f" Reason: {escape(view.deny_reason)}" if view.deny_reason else ""
            return f"🚫 Request #{view.id} for {target} was denied by {mention(view.decided_by or '')}.{why}"
        case RequestStatus.EXPIRED:
            return f"⌛ Request #{view.id} for {target} expired: {escape(view.deny_reason or 'no decision in time')}."
        case RequestStatus.AWAITING_MANUAL:
            steps = sum(1 for task in view.tasks if task.is_open)
            return (
                f"🛠️ Request #{view.id} for {target}: what an API can do is done; {steps} manual step(s) for an "
                f"admin follow in this thread. The request counts as applied once they are done."
            )
        case RequestStatus.CANCELLED:
            who = mention(view.requester_id)
            return f"↩️ Request #{view.id} for {target} was withdrawn by {who}. Nothing was changed."
    return f"Request #{view.id} for {target} is {view.status.value}."


def expiry_of_extended(view: RequestView) -> str:
    ends = [change.extends.ends_at for change in view.changes if change.extends is not None and change.extends.ends_at]
    return f"until {when(ends[0])}" if ends else "longer"


def told_people(view: RequestView) -> list[str]:
    """Who is told by DM that a request was applied: the requester, and the person whose access it is (after the
    change, so never before a removal)."""
    people = [view.requester_id]
    if view.target_slack_id and view.target_slack_id != view.requester_id:
        people.append(view.target_slack_id)
    return people


def told_text(view: RequestView, compliance_channel: str | None) -> str:
    """The card's line naming who was told."""
    told = f"📣 Told: {' and '.join(mention(person) for person in told_people(view))} by DM"
    if view.verb == "remove" and compliance_channel:
        told += f"; {channel_mention(compliance_channel)} that the removal is complete"
    return told


def channel_mention(channel: str) -> str:
    return f"<#{channel}>" if channel[:1] in ("C", "G") and channel.isalnum() else escape(channel)


def target_text_dm(view: RequestView) -> str:
    """The DM to the person whose access changed, once it has."""
    return f"{outcome_text(view)} You are told because it is your access; {mention(view.requester_id)} asked for it."


def removal_complete_text(view: RequestView) -> str:
    """What the security or compliance channel is told when a removal is done."""
    methods = ", ".join(sorted({change.method.value for change in view.changes if change.method}))
    where = ", ".join(change.platform_label for change in view.changes)
    return (
        f"✅ Removal complete: {escape(view.target_email)} from {escape(where)} ({methods}), request #{view.id}, "
        f"asked by {mention(view.requester_id)}, approved by {approved_by(view)}. Reason: {escape(view.reason)}"
    )


def requester_text(view: RequestView) -> str:
    """The DM to the requester when a request ends."""
    return f"{outcome_text(view)} (you asked on {when(view.created_at)}: {escape(view.reason)})"
