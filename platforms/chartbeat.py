"""Chartbeat: SCIM for the account, manual steps for the role and per-site access.

Chartbeat's SCIM API (https://chartbeat.com/scim/v2/, HTTP Basic with an account owner's login) creates, deactivates,
reactivates and deletes users. A user's role (Owner/Admin/Member in the current UI; Administrator/User in older
guides) and which sites they may see have no public API, so `apply` does the account part itself and returns the
rest as manual steps with exact instructions; once an admin marks one done, `record_manual` keeps what they did, and
that record is what this client reports for role and sites. Chartbeat allows 200 requests a minute per host.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from domain.access import AccessState, AccessStep, RemovalMethod, StepKind, diff
from domain.catalog import RoleCatalog
from domain.offboarding import FollowUp, NoticeTemplate, Stage, account_note
from platforms.base import ApplyResult, MemberRecord, Platform, PlatformCheck, PlatformRefused
from platforms.http import PlatformHttp
from platforms.manual import ManualRecords, refuse_unknown
from platforms.scim import ScimPlatform
from platforms.settings import NO_ROLE, ChartbeatSettings

# Chartbeat's removal procedure: "3. Transfer Ownership" comes before the removal ("Before removing the account,
# reassign assets"; "Generate replacement tokens under a service account before revocation"), then the "Post-Removal
# Clean-Up Tasks".
CHARTBEAT_CHECKLIST = (
    FollowUp(
        title="Reassign their dashboards, alerts and saved views",
        instructions=(
            "Before the account goes, reassign or recreate under a current administrator the dashboards, alerts, "
            'saved views and scheduled reports still in use (after a deletion they show "Former User" as owner), '
            "and document the dashboard configurations worth keeping."
        ),
        methods=(RemovalMethod.DELETE,),
        stage=Stage.BEFORE,
    ),
    FollowUp(
        title="Generate replacement Chartbeat API keys under a service account",
        instructions=(
            "List the API keys and webhooks using their credentials (Settings → API), generate replacements under a "
            "service account and switch the integrations to them, so nothing breaks when their access goes."
        ),
        stage=Stage.BEFORE,
    ),
    account_note("In Chartbeat, open Settings → Users and click the collaborator's name"),
    FollowUp(
        title="Rotate Chartbeat API keys and shared secrets",
        instructions=(
            "Rotate the Chartbeat API keys generated for or shared with this account (Settings → API; a deleted "
            "user's keys can work for up to 24 hours), change any shared non-SSO password it used, regenerate "
            "webhook verification tokens they could see, and rotate credentials of automations they set up."
        ),
    ),
    FollowUp(
        title="Remove them from Chartbeat's IdP/SSO groups",
        instructions=(
            "In the identity provider, remove the person from Chartbeat-related groups and role assignments, check "
            "that provisioning (or just-in-time SSO sign-up) will not recreate the account, and that SSO login fails."
        ),
    ),
    FollowUp(
        title="Update distribution lists and report recipients",
        instructions=(
            "Take their address off email digests and automated reports, Slack channels and webhook notifications, "
            "escalation or on-call rotations, shared documentation (Drive, Confluence) and reporting meetings."
        ),
    ),
    FollowUp(
        title="Check the integrations still work",
        instructions=(
            "Confirm scheduled exports and ETL jobs, third-party dashboards (Tableau, Looker, Sheets), alerts and "
            "applications calling the Chartbeat API still run without this account."
        ),
    ),
)

CHARTBEAT_NOTICE = NoticeTemplate(product="Chartbeat", reach="Chartbeat sites or dashboards")


class ChartbeatPlatform(Platform):
    removal_checklist = CHARTBEAT_CHECKLIST

    def notice_template(self) -> NoticeTemplate:
        return CHARTBEAT_NOTICE

    def __init__(
        self,
        name: str,
        settings: ChartbeatSettings,
        http: PlatformHttp,
        *,
        engine: Engine,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(name, settings.catalog())
        # Membership only: Chartbeat's SCIM users carry no role the bot could read or set.
        accounts = RoleCatalog(account_roles=("Member",), default_account_role="Member")
        self.scim = ScimPlatform(name, accounts, http, role_attribute=NO_ROLE)
        self.records = ManualRecords(name, engine, now)
        self._users_page = settings.users_page
        self.operation_seconds = self.scim.operation_seconds

    def close(self) -> None:
        self.scim.close()
        super().close()

    @property
    def degraded(self) -> bool:
        return self.scim.degraded

    def check(self) -> PlatformCheck:
        found = self.scim.check()
        return found.model_copy(update={"notes": [*found.notes, "roles and site access: manual steps (no API)"]})

    def get_access(self, email: str) -> AccessState:
        email = email.lower()
        if not self.scim.get_access(email).member:
            return AccessState.absent()
        return self._recorded(email)

    def list_members(self) -> list[MemberRecord]:
        return [
            MemberRecord(email=record.email, access=self._recorded(record.email)) for record in self.scim.list_members()
        ]

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        email = email.lower()
        refuse_unknown(self.name, self.catalog, desired, scope_word="site")
        if not desired.member:
            result = self.scim.apply(email, AccessState.absent())
            self._forget(email)
            return result
        result = self.scim.apply(email, AccessState(member=True, account_role="Member"))
        # Against what admins recorded doing, not Chartbeat's default for a new account: a new member's role is
        # unknown to the bot until someone sets it, so it is always one of the manual steps.
        manual = tuple(
            step.model_copy(update={"manual": True, "instructions": self._instructions(email, step)})
            for step in diff(self._recorded(email), desired)
        )
        return ApplyResult(applied=result.applied, manual=manual, responses=result.responses)

    def record_manual(self, email: str, step: AccessStep, *, actor: str) -> None:
        if step.kind in (StepKind.CREATE_MEMBER, StepKind.DELETE_MEMBER):
            raise PlatformRefused(self.name, f"cannot record {step.describe()!r} as done by hand")
        self.records.record(email.lower(), step, actor=actor)

    def _recorded(self, email: str) -> AccessState:
        return self.records.state(email)

    def _forget(self, email: str) -> None:
        self.records.forget(email)

    # -- what the admin is asked to do -----------------------------------------------------------------------------

    def _instructions(self, email: str, step: AccessStep) -> str:
        open_user = f"In Chartbeat, open Settings → Users ({self._users_page}) and click {email}."
        match step.kind:
            case StepKind.SET_ACCOUNT_ROLE:
                return f"{open_user} Set Role to {step.after}, then Save Changes."
            case StepKind.SET_SCOPE_ROLE:
                return f"{open_user} Under the site permissions, check {step.scope}, then Save Changes."
            case StepKind.REMOVE_SCOPE:
                return (
                    f"{open_user} Under the site permissions, uncheck {step.scope} (and any site group that "
                    "includes it), then Save Changes."
                )
        return f"{open_user} {step.describe()}."
