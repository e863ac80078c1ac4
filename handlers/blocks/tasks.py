"""Block Kit for manual tasks: what to do, where to click, and who did it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.lifecycle import TaskKind
from handlers import ids
from handlers.blocks.text import context, escape, mention, plain, section, when
from services.offboarding import PlatformNotice
from services.task_actions import TaskOutcome, TaskResult
from services.views import RequestView, TaskView

Message = dict[str, Any]


_LEADS = {
    TaskKind.PLATFORM_STEP: "🛠️ Manual step",
    TaskKind.CHECKLIST: "📋 After the removal",
    TaskKind.BEFORE_REMOVAL: "🚧 Before the removal",
    TaskKind.BREAK_GLASS_REVIEW: "🚨 Break-glass review",
    TaskKind.INVITATION: "✉️ Invitation sent",
}
_WHY = {
    TaskKind.PLATFORM_STEP: "only you can do this; the request is not applied until it is done.",
    TaskKind.CHECKLIST: "the bot cannot do this itself. Mark it done with what you did; that is kept as evidence.",
    TaskKind.BEFORE_REMOVAL: "the removal waits until this is done, or skipped by an approver with a reason "
    "(kept as evidence).",
    TaskKind.BREAK_GLASS_REVIEW: "someone other than the person who used break-glass has to close this.",
    TaskKind.INVITATION: "the account counts only once the invitation is accepted. Press Accepted… when it is, or "
    "Re-sent after sending it again (its time then starts again).",
}
_LINE_LABELS = {
    TaskKind.PLATFORM_STEP: "manual step",
    TaskKind.CHECKLIST: "follow-up",
    TaskKind.BEFORE_REMOVAL: "before the removal",
    TaskKind.BREAK_GLASS_REVIEW: "review",
    TaskKind.INVITATION: "invitation",
}


def task_message(
    view: RequestView, task: TaskView, *, approvers: str, reminder: bool = False, now: datetime | None = None
) -> Message:
    kind = TaskKind(task.kind)
    lead = "⏰ Still open" if reminder else _LEADS[kind]
    text = (
        f"{lead} for request #{view.id} ({escape(task.target_email)}): *{escape(task.title)}*\n"
        f"{escape(task.instructions)}"
    )
    if kind is TaskKind.INVITATION and task.due_by is not None:
        text += f"\n{invitation_deadline(task, now)}"
    invitation = kind is TaskKind.INVITATION
    button = {
        "type": "button",
        "action_id": ids.TASK_DONE,
        "text": plain("Accepted…" if invitation else "Done…"),
        "style": "primary",
        "value": str(task.id),
    }
    buttons = [button]
    if kind is TaskKind.BEFORE_REMOVAL:
        buttons.append({"type": "button", "action_id": ids.TASK_SKIP, "text": plain("Skip…"), "value": str(task.id)})
    if invitation:
        resend = {"type": "button", "action_id": ids.TASK_RESENT, "text": plain("Re-sent"), "value": str(task.id)}
        buttons.append(resend)
    return {
        "text": f"Manual step for request #{view.id}: {escape(task.title)}",
        "blocks": [
            section(text),
            context(f"{approvers}: {_WHY[kind]}"),
            {"type": "actions", "block_id": f"task_{task.id}", "elements": buttons},
        ],
    }


def invitation_deadline(task: TaskView, now: datetime | None) -> str:
    """When an open invitation expires, or that it has."""
    assert task.due_by is not None
    if now is not None and task.due_by <= now:
        return f"⌛ The invitation expired {when(task.due_by)}: re-send it."
    return f"The invitation expires {when(task.due_by)}."


def task_done_message(task: TaskView) -> Message:
    evidence = f": {escape(task.evidence)}" if task.evidence else ""
    by = f" by {mention(task.done_by)}" if task.done_by else ""
    at = f" {when(task.done_at)}" if task.done_at else ""
    mark, word = ("⏭️", "skipped") if task.is_skipped else ("✅", "done")
    text = f"{mark} *{escape(task.title)}*: {word}{by}{at}{evidence}"
    return {"text": f"{word.capitalize()}: {escape(task.title)}", "blocks": [section(text)]}


def task_lines(view: RequestView, change_id: int) -> list[str]:
    """One line per task of a change, for the approval card."""
    lines = []
    for task in view.tasks_of(change_id):
        if task.is_open and task.kind is TaskKind.INVITATION:
            expires = f"; the invitation expires {when(task.due_by)}" if task.due_by else ""
            lines.append(f"✉️ {escape(task.target_email)} is invited and has not accepted yet{expires}")
        elif task.is_open:
            lines.append(f"☐ {escape(task.title)} ({_LINE_LABELS[TaskKind(task.kind)]}, open)")
        else:
            by = f" by {mention(task.done_by)}" if task.done_by else ""
            why = f" ({escape(task.evidence)})" if task.is_skipped and task.evidence else ""
            lines.append(f"☑ {escape(task.title)}: {'skipped' if task.is_skipped else 'done'}{by}{why}")
    return lines


def task_form(task: TaskView, *, channel: str | None, ts: str | None, skip: bool = False) -> dict[str, Any]:
    """Done (evidence optional) or, for a step before a removal, Skip (a reason required)."""
    label = "Why is it skipped? (kept in the evidence)" if skip else "Evidence: what you did, or a link to a screenshot"
    title = "Skip this step" if skip else "Mark as done"
    if task.kind is TaskKind.INVITATION:
        label, title = "How do you know? (they appear as a member in the platform, they logged in...)", "They accepted"
    return {
        "type": "modal",
        "callback_id": ids.TASK_FORM,
        "private_metadata": json.dumps({"task": task.id, "channel": channel, "ts": ts, "skip": skip}),
        "title": plain(title),
        "submit": plain("Skip" if skip else "Done"),
        "close": plain("Cancel"),
        "blocks": [
            section(f"*{escape(task.title)}*\n{escape(task.instructions)}"),
            {
                "type": "input",
                "block_id": ids.TASK_EVIDENCE,
                "optional": not skip,
                "label": plain(label),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.TASK_EVIDENCE,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
            context("Kept in the audit trail with your name and the time."),
        ],
    }


def task_notice(result: TaskResult) -> str:
    match result.outcome:
        case TaskOutcome.NOT_FOUND:
            return "That task no longer exists."
        case TaskOutcome.ALREADY_DONE:
            task = result.task
            by = f" by {mention(task.done_by)}" if task and task.done_by else ""
            return f"That step was already marked done{by}."
        case TaskOutcome.REFUSED:
            return f"🚫 {escape(result.reason)} Nothing was recorded."
        case TaskOutcome.FAILED:
            return f"⚠️ Could not record it: {escape(result.reason)}. The task stays open; try again."
        case TaskOutcome.DONE:
            return "⏭️ Skipped; the reason is kept." if result.task and result.task.is_skipped else "✅ Recorded."
    return result.outcome.value


def notices_message(view: RequestView, notices: tuple[PlatformNotice, ...]) -> Message:
    """The notice for the removed person's organisation, one per platform, as copyable text."""
    intro = (
        f"📨 Notice for {escape(view.target_email)}'s organisation, filled in and ready to copy into an email. "
        "Send it once the follow-up tasks that matter to you are done; keep it neutral (the procedures advise "
        "removing first and notifying second)."
    )
    blocks: list[dict[str, Any]] = [section(intro)]
    for item in notices:
        blocks.append(section(f"*{escape(item.platform_label)}*\n```{escape(item.notice.as_text())}```"))
    return {"text": f"Removal notice for {view.target_email}", "blocks": blocks}
