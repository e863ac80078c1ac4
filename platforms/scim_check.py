"""What `accessbot platforms check` finds on a SCIM platform: each capability the config needs, proven by trying it
(reading only), assumed from what the server says, or missing with what to change; and with `--write`, the write path
proven on a probe account that is gone at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scim2_models import Group

from domain.access import AccessState
from platforms.base import Capability, PlatformCheck, PlatformError, PlatformRefused, PlatformUnsupported
from platforms.settings import NO_ROLE

if TYPE_CHECKING:
    from platforms.scim import ScimPlatform

WRITE_FIX = "give the bot's credentials write access to Users and Groups, or fix the server (see the error)"

#: A userName and member id nobody has, for the check's read-only probes.
CHECK_NAME = "accessbot-check@example.invalid"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def _patching(config: dict[str, Any]) -> Capability:
    if (config.get("patch") or {}).get("supported", False):
        return Capability(
            name="change a user and a group (PATCH)",
            status="assumed",
            detail="ServiceProviderConfig says PATCH is supported; untried, since the check only reads",
        )
    return Capability(
        name="change a user and a group (PATCH)",
        status="assumed",
        detail="ServiceProviderConfig says PATCH is not supported: whole users and groups are written with PUT",
    )


class ScimCheck:
    def __init__(self, platform: ScimPlatform) -> None:
        self.platform = platform

    def run(self) -> PlatformCheck:
        """Reachable, credentials accepted, and each capability the config needs: proven by trying it (reads
        only), assumed from what the server says, or missing with what to change."""
        problems: list[str] = []
        notes: list[str] = []
        try:
            config = self.platform.provider_config()
            users = self.platform.http.request_json("GET", "Users", params={"count": 1})
            schema = self._user_schema()
            capabilities = [self._finding_people(), _patching(config), self._role_capability(schema)]
            offered = self._group_resource() if self.platform.mapped_groups else None
            if offered is not None:
                capabilities.append(offered)
            if self.platform.mapped_groups and (offered is None or offered.status != "missing"):
                capabilities.append(self._groups_capability(schema))
                for group in sorted(set(self.platform.mapped_groups.values())):
                    if self.platform.find_group(group) is None:
                        problems.append(f"group {group!r} from the config does not exist")
            notes += self.platform.check_notes()
        except PlatformError as error:
            return PlatformCheck(platform=self.platform.name, ok=False, summary=error.message)
        summary = f"reachable, credentials accepted; {users.get('totalResults', '?')} users"
        if self.platform.mapped_groups:
            summary += f", {len(set(self.platform.mapped_groups.values()))} mapped groups"
        missing = any(capability.status == "missing" for capability in capabilities)
        return PlatformCheck(
            platform=self.platform.name,
            ok=not problems and not missing,
            summary=summary,
            problems=problems,
            notes=notes,
            capabilities=capabilities,
        )

    def prove_writes(self, probe: str) -> list[Capability]:
        """Create the probe account with the lowest role, change its role, join and leave a mapped group, remove it;
        each read back. Whatever happens, the probe is removed at the end, and that is checked too."""
        ordinary = [role for role in self.platform.catalog.account_roles if not self.platform.catalog.is_admin(role)]
        lowest = self.platform.catalog.lowest_account_role
        other = next((role for role in reversed(ordinary) if role != lowest), None)
        steps = [("create a user", AccessState(member=True, account_role=lowest))]
        if other is not None and self.platform.role.attribute != NO_ROLE:
            steps.append(("set its role", AccessState(member=True, account_role=other)))
        last_role = steps[-1][1].account_role
        if self.platform.mapped_groups:
            (scope, role) = sorted(self.platform.mapped_groups)[0]
            group = self.platform.mapped_groups[(scope, role)]
            joined = AccessState(member=True, account_role=last_role, scopes={scope: role})
            steps += [(f"join {group}", joined), (f"leave {group}", AccessState(member=True, account_role=last_role))]
        steps.append(("remove it", AccessState.absent()))
        proven: list[Capability] = []
        try:
            for name, wanted in steps:
                try:
                    self.platform.apply(probe, wanted)
                    held = self.platform.get_access(probe)
                except PlatformError as error:
                    proven.append(Capability(name=name, status="missing", detail=error.message, fix=WRITE_FIX))
                    break
                if held != wanted:
                    detail = f"asked for {wanted.describe()}, read back {held.describe()}"
                    proven.append(Capability(name=name, status="missing", detail=detail, fix=WRITE_FIX))
                    break
                proven.append(Capability(name=name, status="proven", detail=f"read back: {held.describe()}"))
        finally:
            proven.append(self._cleaned_up(probe))
        return proven

    def _cleaned_up(self, probe: str) -> Capability:
        try:
            if self.platform.get_access(probe).member:
                self.platform.apply(probe, AccessState.absent())
            left = self.platform.get_access(probe).member
        except PlatformError as error:
            return Capability(
                name="leave nothing behind", status="missing", detail=error.message, fix=f"remove {probe} by hand"
            )
        if left:
            return Capability(name="leave nothing behind", status="missing", fix=f"remove {probe} by hand")
        return Capability(name="leave nothing behind", status="proven", detail=f"{probe} is gone")

    def _finding_people(self) -> Capability:
        try:
            self.platform.search("Users", f'userName eq "{CHECK_NAME}"', self.platform.role.model)
        except PlatformUnsupported as error:
            return Capability(
                name="find a person by userName",
                status="missing",
                detail=error.message,
                fix="enable SCIM filtering (userName eq) on the server",
            )
        return Capability(name="find a person by userName", status="proven", detail="the userName filter answers")

    def _user_schema(self) -> dict[str, set[str]] | None:
        """The attribute names of each schema the server publishes for Users (/Schemas), or None if it does not."""
        try:
            body = self.platform.http.request_json("GET", "Schemas")
        except PlatformError as error:
            if isinstance(error, PlatformUnsupported) or error.status in (404, 400):
                return None
            raise
        resources = body.get("Resources") if "Resources" in body else [body]
        return {
            str(resource.get("id")): {str(attribute.get("name")) for attribute in resource.get("attributes") or []}
            for resource in resources or []
            if isinstance(resource, dict)
        }

    def _role_capability(self, schema: dict[str, set[str]] | None) -> Capability:
        name = f"account role in {self.platform.role.attribute}"
        if self.platform.role.attribute == NO_ROLE:
            return Capability(name="account role", status="proven", detail="the config keeps no role on the platform")
        where = self.platform.role.urn or USER_SCHEMA
        if schema is None:
            return Capability(name=name, status="assumed", detail="the server publishes no /Schemas to check it by")
        if self.platform.role.name in schema.get(where, set()):
            return Capability(name=name, status="proven", detail=f"{where} has {self.platform.role.name}")
        return Capability(
            name=name,
            status="missing",
            detail=f"the server's {where} schema has no {self.platform.role.name}",
            fix=f"set platforms.{self.platform.name}.role_attribute to the attribute that holds the role there",
        )

    def _group_resource(self) -> Capability | None:
        """Whether the server offers Groups at all (/ResourceTypes), which the config's mapped groups need; None where
        it publishes no resource types to tell by."""
        try:
            body = self.platform.http.request_json("GET", "ResourceTypes")
        except PlatformError:
            return None
        types = body.get("Resources")
        names = {
            str(entry.get("name") or entry.get("id"))
            for entry in (types if isinstance(types, list) else [])
            if isinstance(entry, dict)
        }
        if not names:
            return None
        if "Group" in names:
            return Capability(name="groups", status="proven", detail="/ResourceTypes offers Group")
        return Capability(
            name="groups",
            status="missing",
            detail=f"/ResourceTypes offers {', '.join(sorted(names))}, no Group",
            fix=f"this server has no groups: remove platforms.{self.platform.name}.groups (scopes become manual steps "
            "where the platform type has them) or point base_url at a server that offers Groups",
        )

    def _groups_capability(self, schema: dict[str, set[str]] | None) -> Capability:
        name = "read a person's groups"
        why = ""
        if not self.platform.filters_trusted():
            why = "the server says it supports no filters (its empty answers cannot be trusted)"
        else:
            try:
                self.platform.search("Groups", f'members.value eq "{CHECK_NAME}"', Group)
            except PlatformUnsupported:
                why = "the member filter is refused"
            except PlatformRefused as error:
                if error.status != 400:
                    raise
                why = f"the server fails on the member filter ({error.message})"
        if not why:
            return Capability(name=name, status="proven", detail="the member filter answers")
        if schema is not None and "groups" in schema.get(USER_SCHEMA, set()):
            return Capability(name=name, status="assumed", detail=f"{why}; read from the User's groups")
        return Capability(name=name, status="proven", detail=f"{why}; read from each mapped group's members (slower)")
