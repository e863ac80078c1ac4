"""What `accessbot policy check` and `accessbot policy explain` print."""

from __future__ import annotations

from domain.durations import format_duration
from domain.policy import PolicyConfig, Rule
from services.explain import Explanation


def describe_rule(rule: Rule) -> str:
    match = rule.match
    what = []
    if match.admin:
        what.append("organisation admin roles")
    if match.roles:
        what.append(f"roles {', '.join(match.roles)}")
    if match.level != "any":
        what.append(f"on the {match.level}")
    if match.scopes:
        what.append(f"on {', '.join(match.scopes)}")
    if match.platforms:
        what.append(f"platforms {', '.join(match.platforms)}")
    if match.permanent is not None:
        what.append("permanent grants" if match.permanent else "temporary grants")
    needs = [f"{rule.approvals} approval(s)"]
    if rule.require_one_of:
        needs.append(f"one from {' or '.join(rule.require_one_of)}")
    if rule.approvers:
        needs.append(f"approvers {', '.join(rule.approvers)}")
    if rule.ticket_pattern:
        needs.append(f"ticket matching {rule.ticket_pattern}")
    if rule.max_duration:
        needs.append(f"at most {format_duration(rule.max_duration)}")
    if rule.permanent == "refuse":
        needs.append("no permanent grants")
    if rule.allow_self_approval:
        needs.append("self-approval allowed")
    return f"{rule.name}: {', '.join(what) or 'everything'} ({'/'.join(match.verbs)}) → {', '.join(needs)}"


def policy_summary(policy: PolicyConfig, approvers: dict[str, tuple[str, ...]]) -> str:
    lines = ["rules:"] + [f"  {describe_rule(rule)}" for rule in policy.effective_rules]
    rails = policy.guard_rails
    lines.append(
        f"guard rails: at most {rails.max_org_admins} organisation admins per platform; at least {rails.min_admins} "
        f"kept after a downgrade or removal; the highest role on {', '.join(rails.sensitive_scopes)} is warned about"
    )
    glass = policy.break_glass
    if glass.members:
        where = glass.notify_channel or "the approvals channel"
        lines.append(
            f"break-glass: {', '.join(glass.members)} may self-approve up to {format_duration(glass.max_duration)}, "
            f"{glass.per_person_per_day} time(s) a day each; {where} is told at once"
        )
    else:
        lines.append("break-glass: off")
    lines.append(
        f"undecided requests expire after {format_duration(policy.pending_expiry)}; approvers are reminded "
        f"{format_duration(policy.remind_before)} before"
    )
    lines.append("approvers:")
    for platform, listed in approvers.items():
        lines.append(f"  {platform}: {', '.join(listed) if listed else '(none: Slack workspace admins and owners)'}")
    notes = []
    if policy.rules is None and policy.security_group is None:
        notes.append(
            "no security_group: the default rule asks 2 approvers for an admin grant, but none of them "
            "has to be from security; set policy.security_group"
        )
    notes += [
        f"{platform} names no approvers, so any Slack workspace admin or owner may approve"
        for platform, listed in approvers.items()
        if not listed
    ]
    if notes:
        lines.append("notes:")
        lines += [f"  - {note}" for note in notes]
    return "\n".join(lines)


def explanation_text(explanation: Explanation) -> str:
    lines = [*explanation.requirements.explain()]
    if explanation.refusals:
        lines.append("would be refused:")
        lines += [f"  ✗ {refusal}" for refusal in explanation.refusals]
    else:
        lines.append("would be accepted and sent for approval")
    lines += [f"  ⚠ {warning}" for warning in explanation.warnings]
    lines += [f"  · {note}" for note in explanation.notes]
    return "\n".join(lines)
