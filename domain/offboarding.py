"""What removing someone involves beyond the platform's API: the steps before it (transfer ownership, replacement
tokens), the follow-up checklist after it and the notice to their organisation, as the Heap and Chartbeat removal
procedures describe them.

The steps before a removal gate it: the removal is applied once each is done, or skipped by an approver with a
reason. A removal for a security reason skips the gate ("remove access first, notify second"): its steps before are
then done after, with the checklist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.access import RemovalMethod


class Stage(StrEnum):
    BEFORE = "before"  # done (or skipped with a reason) before the removal is applied
    AFTER = "after"  # the follow-up checklist, once the removal is applied


class FollowUp(BaseModel):
    """One step of a removal the bot cannot do itself; it becomes a tracked task with a Done button."""

    model_config = ConfigDict(frozen=True)

    title: str
    instructions: str
    # The methods it applies to: moving content matters when the member is deleted, not when the account is kept.
    methods: tuple[RemovalMethod, ...] = (RemovalMethod.DELETE, RemovalMethod.REVOKE)
    stage: Stage = Stage.AFTER


class NoticeTemplate(BaseModel):
    """The wording of the notice sent to the collaborator's organisation after a removal."""

    model_config = ConfigDict(frozen=True)

    product: str  # "Heap Analytics", "Chartbeat"
    # What the account can no longer reach, completing "The account no longer has access to any ...".
    reach: str
    # An extra paragraph some products' templates carry (Heap: content was preserved).
    preserved: str | None = None


class RemovalNotice(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    body: str

    def as_text(self) -> str:
        return f"Subject: {self.subject}\n\n{self.body}"


def account_note(where: str) -> FollowUp:
    """The note both removal procedures ask for on a revoke ("Add a note: Access revoked [date] per [ticket]"), so
    that whoever finds the kept account knows why it has no access. `where`: how to open the account there."""
    return FollowUp(
        title="Add the account note",
        instructions=f'{where} and add the note "Access revoked [date] per [reference]." Save the profile.',
        methods=(RemovalMethod.REVOKE,),
    )


def filled(item: FollowUp, *, on: date, reference: str) -> FollowUp:
    """A follow-up with its placeholders filled: [date] (the removal's) and [reference] (its ticket, or request)."""
    text = item.instructions.replace("[date]", on.isoformat()).replace("[reference]", reference)
    return item.model_copy(update={"instructions": text})


GENERIC_CHECKLIST: tuple[FollowUp, ...] = (
    FollowUp(
        title="Transfer dashboards and saved work",
        instructions=(
            "Find the dashboards, reports and saved analyses this person created that are still in use, and "
            "duplicate or reassign them to a permanent owner."
        ),
        methods=(RemovalMethod.DELETE,),
        stage=Stage.BEFORE,
    ),
    FollowUp(
        title="Replace the API tokens integrations use",
        instructions=(
            "List the API tokens, keys and webhooks created by or shared with this person that integrations use, "
            "generate replacements under a service account, and switch those systems to them."
        ),
        stage=Stage.BEFORE,
    ),
    account_note("In the platform, open the kept account"),
    FollowUp(
        title="Revoke the API tokens and keys they owned",
        instructions=(
            "Revoke the tokens, keys and webhooks created by or shared with this person explicitly: deleting a "
            "user does not always revoke them at once."
        ),
    ),
    FollowUp(
        title="Remove from IdP/SSO groups",
        instructions=(
            "In the identity provider (Okta, Entra ID, Google...), remove the person from the groups that grant "
            "this platform, so single sign-on or SCIM provisioning does not bring the account back."
        ),
    ),
    FollowUp(
        title="Update distribution lists and report recipients",
        instructions=(
            "Take the address off scheduled reports, email digests, alert recipients and integration mentions."
        ),
    ),
)


def checklist_for(items: Iterable[FollowUp], method: RemovalMethod, stage: Stage | None = None) -> tuple[FollowUp, ...]:
    """The items that fit the method used, and of one stage if given."""
    return tuple(item for item in items if method in item.methods and stage in (None, item.stage))


def is_security_reason(reason: str, words: Iterable[str]) -> bool:
    """Whether a removal's reason has a word starting with one of the configured ones (any case): `compromis`
    finds "compromised" and "compromise"."""
    return any(re.search(rf"(?<!\w){re.escape(word)}", reason, re.IGNORECASE) for word in words if word)


def fill_notice(
    template: NoticeTemplate,
    *,
    name: str,
    email: str,
    removed_on: date,
    reference: str,
    contact: str,
) -> RemovalNotice:
    """The template of the removal procedure with its blanks filled: ready to paste into an email."""
    paragraphs = [
        f"We have removed {template.product} access for {email} as of {removed_on:%d %B %Y}\nper {reference}.",
        f"The account no longer has access to any {template.reach}.",
    ]
    if template.preserved:
        paragraphs.append(template.preserved)
    paragraphs.append(f"If you believe this was done in error, please contact\n{contact} within 5 business days.")
    return RemovalNotice(subject=f"{template.product} Access Removed for {name}", body="\n\n".join(paragraphs))
