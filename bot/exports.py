"""Files an auditor can file: the audit trail and a platform's member list, as CSV or JSON, plus the evidence of one
request and the result of checking the audit chain as text."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from platforms.base import MemberRecord
from services.evidence import Evidence
from storage.audit import ChainReport
from storage.models import AuditEvent

AUDIT_COLUMNS = (
    "chain",
    "seq",
    "at",
    "event",
    "actor",
    "request_id",
    "platform",
    "target_email",
    "detail",
    "prev_hash",
)
MEMBER_COLUMNS = (
    "platform",
    "email",
    "member",
    "account_role",
    "scopes",
    "last_active",
    "exported_at",
    "problem",
)


#: A spreadsheet reads a cell that starts with one of these as a formula (OWASP's CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Control characters a terminal acts on (escape sequences, bells, backspaces), all but newline and tab.
_TERMINAL_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)])


def cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: one that would read as a formula gets a leading apostrophe, as
    OWASP advises (the JSON exports keep every value exact)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def terminal_safe(text: str) -> str:
    """Text to print: what people typed (a reason, a name) cannot move the cursor, clear the screen or ring."""
    return text.translate(_TERMINAL_CONTROLS)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def audit_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "chain": event.chain,
        "seq": event.seq,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "event": event.event,
        "actor": event.actor,
        "request_id": event.request_id,
        "platform": event.platform,
        "target_email": event.target_email,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def write_audit_csv(events: Iterable[AuditEvent], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=[*AUDIT_COLUMNS, "hash"])
    writer.writeheader()
    count = 0
    for event in events:
        row = audit_row(event)
        row["detail"] = json.dumps(row["detail"], sort_keys=True, ensure_ascii=False)
        writer.writerow({key: cell(value) for key, value in row.items()})
        count += 1
    return count


def write_audit_json(
    events: Iterable[AuditEvent],
    out: TextIO,
    *,
    since: datetime | None,
    until: datetime | None,
    chain: ChainReport,
    exported_at: datetime,
) -> int:
    """One JSON document, written as it streams so a large trail does not have to fit in memory."""
    header = {
        "exported_at": _iso(exported_at),
        "since": _iso(since) or None,
        "until": _iso(until) or None,
        "chain": chain_json(chain),
    }
    out.write(json.dumps(header, indent=2)[:-2] + ',\n  "events": [')
    count = 0
    for event in events:
        out.write(("," if count else "") + "\n    " + json.dumps(audit_row(event), sort_keys=True, ensure_ascii=False))
        count += 1
    out.write("\n  ]\n}\n" if count else "]\n}\n")
    return count


def write_members_csv(platform: str, members: Iterable[MemberRecord], out: TextIO, *, exported_at: datetime) -> int:
    writer = csv.DictWriter(out, fieldnames=MEMBER_COLUMNS)
    writer.writeheader()
    count = 0
    for member in sorted(members, key=lambda record: record.email):
        row = {
            "platform": platform,
            "email": member.email,
            "member": "unknown" if member.problem else "yes" if member.access.member else "no",
            "account_role": member.access.account_role or "",
            "scopes": "; ".join(f"{scope}={role}" for scope, role in sorted(member.access.scopes.items())),
            "last_active": _iso(member.last_active),
            "exported_at": _iso(exported_at),
            "problem": member.problem or "",
        }
        writer.writerow({key: cell(value) for key, value in row.items()})
        count += 1
    return count


def write_members_json(platform: str, members: Iterable[MemberRecord], out: TextIO, *, exported_at: datetime) -> int:
    records = sorted(members, key=lambda record: record.email)
    document = {
        "platform": platform,
        "exported_at": _iso(exported_at),
        "members": [record.model_dump(mode="json") for record in records],
    }
    json.dump(document, out, indent=2)
    out.write("\n")
    return len(records)


def chain_json(report: ChainReport) -> dict[str, Any]:
    return {
        "intact": report.intact,
        "events": report.events,
        "heads": [head.model_dump() for head in report.heads],
        "anchor": report.anchor,
        "problem": report.problem,
        "broken_at": None if report.broken_at is None else {"chain": report.broken_chain, "seq": report.broken_at},
    }


def chain_text(report: ChainReport) -> str:
    if report.intact:
        return (
            f"audit trail intact: {report.events} events in {len(report.heads)} chains, each linked to the one "
            f"before.\nanchor: {report.anchor}\n"
            "Keep the anchor somewhere else (the ticket, the auditors' file): `accessbot audit verify --anchor "
            "ANCHOR` later proves the events it names, and all before them, were not rewritten since."
        )
    return f"audit trail BROKEN at #{report.broken_chain}.{report.broken_at}: {report.problem}"


def evidence_text(evidence: Evidence) -> str:
    lines = [
        f"Request #{evidence.request_id}: {evidence.verb} for {evidence.target_email} ({evidence.status})",
        f"  command:    {evidence.command}",
        f"  requested:  {_iso(evidence.requested_at)} by {evidence.requester}"
        + (f" ({evidence.requester_email})" if evidence.requester_email else ""),
        f"  reason:     {evidence.reason}",
        f"  ticket:     {evidence.ticket or '-'}",
    ]
    for approval in evidence.approvals:
        lines.append(f"  approved:   {_iso(approval.at)} by {approval.approver}")
    if evidence.decided_by and not evidence.approvals:
        lines.append(f"  decided:    {_iso(evidence.decided_at)} by {evidence.decided_by}")
    if evidence.deny_reason:
        lines.append(f"  note:       {evidence.deny_reason}")
    if evidence.break_glass:
        lines.append("  break-glass: applied without approval")
    for record in evidence.platforms:
        lines.append(f"  {record.platform}: {record.change}")
        lines.append(f"    status:   {record.status} after {record.attempts} attempt(s)")
        for label, state in (("before", record.before), ("after", record.after)):
            if state is not None:
                lines.append(f"    {label + ':':<9} {state.describe()}")
        if record.applied_at:
            lines.append(f"    applied:  {_iso(record.applied_at)}" + (" (verified)" if record.verified else ""))
        if record.error:
            lines.append(f"    error:    {record.error}")
        lines += [f"    platform: {response}" for response in record.responses]
    for task in evidence.tasks:
        word = "skipped" if task.is_skipped else "done"
        done = f"{word} {_iso(task.done_at)} by {task.done_by}" if task.done_by else "OPEN"
        lines.append(f"  task: {task.title}: {done}" + (f": {task.evidence}" if task.evidence else ""))
    lines.append("  events:")
    for event in evidence.events:
        mark = "" if event.hash_ok else "  << does not match its hash"
        where = f" {event.platform}" if event.platform else ""
        by = f"by {event.actor} {event.hash[:16]}"
        lines.append(f"    #{event.place} {_iso(event.at)} {event.event}{where} {by}{mark}")
    return "\n".join(lines)
