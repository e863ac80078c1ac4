"""`/access evidence <id>`: the evidence of one request, readable in Slack, complete in `accessbot evidence`."""

from __future__ import annotations

from typing import Any

from handlers.blocks.text import context, escape, field, mention, plain, section, when
from services.evidence import Evidence, PlatformRecord

Message = dict[str, Any]
# The newest events shown in Slack; the CLI and the exports carry every one.
SHOWN_EVENTS = 15


def evidence_message(evidence: Evidence) -> Message:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"Evidence for request #{evidence.request_id} ({evidence.verb})")},
        {"type": "section", "fields": _summary(evidence)},
    ]
    blocks.extend(section(_platform_text(record)) for record in evidence.platforms)
    if evidence.tasks:
        blocks.append(section("*Manual steps and follow-ups*\n" + "\n".join(_task_lines(evidence))))
    blocks.append(context("\n".join(_event_lines(evidence))))
    blocks.append(context(_footer(evidence)))
    return {
        "response_type": "ephemeral",
        "text": f"Evidence for request #{evidence.request_id}",
        "blocks": blocks,
    }


def _summary(evidence: Evidence) -> list[dict[str, str]]:
    requester = mention(evidence.requester)
    if evidence.requester_email:
        requester += f" ({escape(evidence.requester_email)})"
    target = escape(evidence.target_email)
    if evidence.target_slack_id:
        target += f" ({mention(evidence.target_slack_id)})"
    if evidence.approvals:
        decided = "\n".join(f"{mention(a.approver)} {when(a.at)}" for a in evidence.approvals)
    elif evidence.decided_by and evidence.decided_at:
        decided = f"{mention(evidence.decided_by)} {when(evidence.decided_at)}"
    else:
        decided = "—"
    if evidence.break_glass:
        decided += "\n🚨 break-glass: applied without approval"
    if evidence.deny_reason:
        decided += f"\n{escape(evidence.deny_reason)}"
    return [
        field(f"*Requested by*\n{requester}\n{when(evidence.requested_at)}"),
        field(f"*For*\n{target}"),
        field(f"*Status*\n{escape(evidence.status)}"),
        field(f"*Approved / decided by*\n{decided}"),
        field(f"*Reason*\n{escape(evidence.reason)}"),
        field(f"*Ticket*\n{escape(evidence.ticket) if evidence.ticket else '—'}"),
    ]


def _platform_text(record: PlatformRecord) -> str:
    head = f"*{escape(record.platform)}* ({escape(record.change)}): {record.status}"
    if record.applied_at:
        head += f" {when(record.applied_at)}" + (", verified ✓" if record.verified else "")
    lines = [head, f"attempts: {record.attempts}"]
    for label, state in (
        ("shown to the approver", record.shown_to_approver),
        ("before", record.before),
        ("after", record.after),
    ):
        if state is not None:
            lines.append(f"{label}: {escape(state.describe())}")
    if record.error:
        lines.append(f"error: {escape(record.error)}")
    if record.manual_steps:
        lines.append(f"done by hand: {escape('; '.join(record.manual_steps))}")
    if record.responses:
        lines.append(f"platform said: {escape('; '.join(record.responses))}")
    return "\n".join(lines)


def _task_lines(evidence: Evidence) -> list[str]:
    lines = []
    for task in evidence.tasks:
        if task.done_by and task.done_at:
            proof = f": {escape(task.evidence)}" if task.evidence else ""
            word = "skipped" if task.is_skipped else "done"
            lines.append(f"☑ {escape(task.title)}, {word} by {mention(task.done_by)} {when(task.done_at)}{proof}")
        else:
            lines.append(f"☐ {escape(task.title)} (open)")
    return lines


def _event_lines(evidence: Evidence) -> list[str]:
    shown = evidence.events[-SHOWN_EVENTS:]
    lines = []
    if len(evidence.events) > len(shown):
        lines.append(f"(the first {len(evidence.events) - len(shown)} events are in the full record)")
    for event in shown:
        actor = mention(event.actor) if event.actor[:1] in ("U", "W") else escape(event.actor)
        where = f" on {escape(event.platform)}" if event.platform else ""
        mark = "" if event.hash_ok else " ⚠️ does not match its hash"
        lines.append(f"#{event.place} {when(event.at)} {event.event}{where} by {actor} · `{event.hash[:12]}`{mark}")
    return lines or ["no audit events"]


def _footer(evidence: Evidence) -> str:
    integrity = (
        f"All {len(evidence.events)} events match their hashes."
        if evidence.untouched
        else "⚠️ Some events no longer match their hashes: run `accessbot audit verify`."
    )
    return (
        f"{integrity} Full record with snapshots and platform answers: `accessbot evidence {evidence.request_id} "
        "--json`; the whole trail: `accessbot export audit`."
    )
