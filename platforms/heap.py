"""Heap over SCIM: a bearer token, the account role as a user attribute, projects and modules as Heap teams.

From the Heap references: the account role is one of Admin, Architect, Analyst, Consumer, Read-Only (or a custom role
on the Premier plan); access to a project (environment) or an add-on module comes from membership of a Heap team,
which SCIM exposes as a group, so the config maps each (project or module, role) to a team. Guard rails: granting
Admin is warned about, and removing or downgrading an Admin is refused when fewer than two would remain ("maintain at
least two client admins").
"""

from __future__ import annotations

from domain.access import AccessState, RemovalMethod
from domain.offboarding import FollowUp, NoticeTemplate, Stage, account_note
from platforms.base import ApplyResult, PlatformRefused
from platforms.http import PlatformHttp
from platforms.scim import ScimPlatform
from platforms.settings import HeapSettings

ADMIN = "Admin"

# Heap's removal procedure: "3. Transfer Ownership and Content" comes before the removal ("Before removing the
# account, preserve critical work"; "Generate replacement tokens under a service account before removal"), then the
# "Post-Removal Clean-Up Tasks".
HEAP_CHECKLIST = (
    FollowUp(
        title="Transfer their dashboards, analyses and tracking-plan ownership",
        instructions=(
            "Duplicate the dashboards and saved analyses (funnels, retention, segments) still in use to an "
            "administrator account, save the SQL Lab queries still of value, and transfer ownership of the custom "
            "event definitions, data-steward roles and warehouse integrations or destinations they held to a "
            "permanent account."
        ),
        methods=(RemovalMethod.DELETE,),
        stage=Stage.BEFORE,
    ),
    FollowUp(
        title="Generate replacement Heap API tokens under a service account",
        instructions=(
            "List the API tokens, service accounts and automation workflows using their credentials (Account → "
            "Settings → API Tokens), generate replacement tokens under a service account, switch the integrations "
            "to them and test them, so nothing breaks when their access goes."
        ),
        stage=Stage.BEFORE,
    ),
    account_note("In Heap, go to Account → Manage → Members, click the user's name"),
    FollowUp(
        title="Revoke the Heap API tokens they owned",
        instructions=(
            "Revoke the Heap API tokens associated with this account explicitly (Account → Settings → API Tokens; "
            "after a deletion they can keep working for up to 30 minutes) and check the integrations still run on "
            "their replacements."
        ),
    ),
    FollowUp(
        title="Remove them from Heap's IdP/SSO groups",
        instructions=(
            "In the identity provider (Okta, Azure AD, OneLogin...), remove the person from every Heap-related group, "
            "make sure SCIM will not recreate the account on the next sync (force a sync if you can), and check that "
            "their SSO login now fails."
        ),
    ),
    FollowUp(
        title="Update report recipients, alerts and distribution lists",
        instructions=(
            "Take their address off automated Heap report emails, alert configurations, Slack integration mentions "
            "and scheduled data exports."
        ),
    ),
    FollowUp(
        title="Revoke SQL Lab and warehouse credentials",
        instructions=(
            "If they had SQL Lab or direct warehouse access, revoke those database credentials and check that no "
            "warehouse integration authenticates as them."
        ),
    ),
)

# The "To the Collaborator's Organization" template of the same procedure.
HEAP_NOTICE = NoticeTemplate(
    product="Heap Analytics",
    reach="Heap projects or data",
    preserved="All dashboards and analyses created by this user have been preserved.",
)


class HeapPlatform(ScimPlatform):
    removal_checklist = HEAP_CHECKLIST

    def notice_template(self) -> NoticeTemplate:
        return HEAP_NOTICE

    def __init__(self, name: str, settings: HeapSettings, http: PlatformHttp) -> None:
        super().__init__(name, settings.catalog(), http, role_attribute=settings.role_attribute, groups=settings.teams)
        self.min_admins = settings.min_admins

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        current = self.get_access(email)
        losing_admin = current.account_role == ADMIN and (not desired.member or desired.account_role != ADMIN)
        if losing_admin and self.min_admins:
            left = self.admin_count() - 1
            if left < self.min_admins:
                raise PlatformRefused(
                    self.name,
                    f"refusing to remove or downgrade {email}: {self.name} would be left with {left} Admin(s), and "
                    f"at least {self.min_admins} must remain. Make someone else an Admin first.",
                )
        return super().apply(email, desired)

    def check_notes(self) -> list[str]:
        admins = self.admin_count()
        note = f"{admins} Admin(s)"
        if admins < self.min_admins:
            note += f": fewer than the {self.min_admins} the bot keeps; it will refuse to remove or downgrade any"
        return [note]

    def admin_count(self) -> int:
        return sum(1 for member in self.list_members() if member.access.account_role == ADMIN)

    def warnings(self, current: AccessState, desired: AccessState) -> list[str]:
        return admin_warnings(current, desired)


def admin_warnings(current: AccessState, desired: AccessState) -> list[str]:
    """What an approver of a Heap change should know: granting Admin is rarely what a collaborator needs."""
    if desired.member and desired.account_role == ADMIN and current.account_role != ADMIN:
        return [
            "Heap Admin controls billing, SSO/SCIM, projects and teammates across every project. Heap's guidance "
            "is to keep Admins to two or three trusted people and give collaborators project roles instead."
        ]
    return []
