"""Heap without SCIM: every step of an add, update or removal is a task an admin does in Heap's UI.

SCIM provisioning is not on every Heap plan. In manual mode (`mode: manual`, or no `base_url` and `token`) `apply`
changes nothing itself: it returns each step, in the order the references give them, with the exact place in Heap's
UI and the values to set. An admin does it and presses Done; what they record is what this client then reports
(platforms/manual.py). A request counts as applied once every step is done, and a temporary grant's revert is posted
the same way at expiry, and chased until done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from domain.access import AccessState, AccessStep, StepKind, diff
from domain.offboarding import NoticeTemplate
from platforms.base import ApplyResult, MemberRecord, Platform, PlatformCheck
from platforms.heap import ADMIN, HEAP_CHECKLIST, HEAP_NOTICE, admin_warnings
from platforms.manual import MEMBERSHIP, ManualRecords, refuse_unknown
from platforms.settings import HeapSettings

MEMBERS = "In Heap, go to Account → Manage → Members"
#: "Note that this email invite expires a month from when it's sent." (Heap, Roles and Permissions)
INVITATION_DAYS = 30


class HeapManualPlatform(Platform):
    removal_checklist = HEAP_CHECKLIST
    invitation_days = INVITATION_DAYS

    def __init__(self, name: str, settings: HeapSettings, *, engine: Engine, now: Callable[[], datetime]) -> None:
        super().__init__(name, settings.catalog())
        self.records = ManualRecords(name, engine, now)
        self.min_admins = settings.min_admins

    def notice_template(self) -> NoticeTemplate:
        return HEAP_NOTICE

    def get_access(self, email: str) -> AccessState:
        email = email.lower()
        if MEMBERSHIP not in self.records.fields(email):
            return AccessState.absent()
        return self.records.state(email)

    def list_members(self) -> list[MemberRecord]:
        return [MemberRecord(email=email, access=self.records.state(email)) for email in self.records.emails()]

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        email = email.lower()
        refuse_unknown(self.name, self.catalog, desired, scope_word="project or module")
        current = self.get_access(email)
        steps = tuple(
            step.model_copy(update={"manual": True, "instructions": self._instructions(email, step, current)})
            for step in diff(current, desired)
        )
        return ApplyResult(manual=steps)

    def resend_instructions(self, email: str) -> str:
        return (
            f"{MEMBERS}, click {email} to open the teammate details pane, and click the envelope icon in the top "
            "navigation to re-send the invitation. The new invitation expires a month from when it is sent."
        )

    def record_manual(self, email: str, step: AccessStep, *, actor: str) -> None:
        self.records.record(email.lower(), step, actor=actor)

    def check(self) -> PlatformCheck:
        members = len(self.records.emails())
        return PlatformCheck(
            platform=self.name,
            ok=True,
            summary=f"manual mode: {members} member(s) recorded",
            notes=["no SCIM: every add, update and removal is a task done in Heap's UI (Account → Manage → Members)"],
        )

    def warnings(self, current: AccessState, desired: AccessState) -> list[str]:
        return admin_warnings(current, desired)

    # -- what the admin is asked to do, in the references' words -------------------------------------------------

    def _instructions(self, email: str, step: AccessStep, current: AccessState) -> str:
        profile = f"{MEMBERS}, find {email} and click their name to open the user profile."
        match step.kind:
            case StepKind.CREATE_MEMBER:
                return (
                    f"{MEMBERS} and invite {email} as a new member with the Organization Role {step.after}. They "
                    "receive an email invitation; the account counts once they accept it."
                )
            case StepKind.DELETE_MEMBER:
                return (
                    f"{MEMBERS}, find {email}, click the three-dot menu (⋮) or Actions next to them, select Remove "
                    'Member (or Delete User) and confirm ("Are you sure you want to remove this member?"). Check '
                    f"that they are gone from the member list.{self._last_admins(current)}"
                )
            case StepKind.SET_ACCOUNT_ROLE:
                return f"{profile} In the Organization Role section select {step.after}, then save." + (
                    self._last_admins(current)
                )
            case StepKind.SET_SCOPE_ROLE:
                return f"{profile} {self._scope_change(step)} Save changes."
            case StepKind.REMOVE_SCOPE:
                return f"{profile} {self._scope_removal(step)} Save changes."
        return f"{profile} {step.describe()}, then save."

    def _scope_change(self, step: AccessStep) -> str:
        if self._is_module(step):
            return f"In the Module Permissions section, enable {step.scope} with the role {step.after}."
        if step.before:
            return f"In the Projects section, change the role on {step.scope} from {step.before} to {step.after}."
        return f"In the Projects section, click + Add (or check {step.scope}) and give it the role {step.after}."

    def _scope_removal(self, step: AccessStep) -> str:
        if self._is_module(step):
            return f"In the Module Permissions section, disable {step.scope}."
        return f"In the Projects section, uncheck {step.scope} (or delete the project assignment)."

    def _is_module(self, step: AccessStep) -> bool:
        """Modules (Govern, Activate, Illuminate) are set in their own section of the profile, projects in another."""
        spec = self.catalog.scope(step.scope or "")
        return spec is not None and spec.kind == "module"

    def _last_admins(self, current: AccessState) -> str:
        if current.account_role != ADMIN or not self.min_admins:
            return ""
        return (
            f" They are an Organization Admin: first check that at least {self.min_admins} other Admins remain "
            "(Heap's guidance: maintain at least two client admins)."
        )
