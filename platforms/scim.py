"""A SCIM 2.0 client (RFC 7643/7644) over httpx, with scim2-models for the resources.

Access maps onto SCIM like this: a member is an active User whose userName is their email; the account role is a
User attribute (the core multi-valued `roles`, or an extension attribute such as
`urn:...:extension:heap:2.0:User:role`); a role on a scope is membership of the Group the config maps that
(scope, role) to. Groups the config does not map are none of the bot's business and are never touched.

Servers differ, and the client adapts. A person's groups are read with the `members.value` filter; a server that
refuses it (400 `invalidFilter`, RFC 7644 §3.4.2.2) is asked once, and then the User's read-only `groups` attribute
(RFC 7643 §4.1.2) is read, or else the mapped groups' members. A malformed record does not stop a listing: it is
skipped with a warning naming its id and field (a members export marks it); reading one person whose record is
malformed is a typed error that says so. An empty email value (django-scim2 writes one for a user without an
email) is dropped before reading, since the client keys people by userName.

A service that invites new users by email and keeps them `active: false` until they accept (`invitation_days` set)
has its inactive users counted as members, invited and not accepted yet; `active: true` is their acceptance.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, cast

from pydantic import ValidationError
from scim2_models import (
    Context,
    Email,
    Extension,
    Group,
    GroupMember,
    ListResponse,
    PatchOp,
    PatchOperation,
    Role,
    User,
)

from domain.access import AccessState, AccessStep, StepKind, diff
from domain.catalog import RoleCatalog
from platforms.base import (
    ApplyResult,
    Capability,
    MemberNotFound,
    MemberRecord,
    Platform,
    PlatformCheck,
    PlatformConflict,
    PlatformError,
    PlatformRefused,
    PlatformUnsupported,
)
from platforms.http import PlatformHttp
from platforms.scim_check import USER_SCHEMA, ScimCheck
from platforms.settings import CORE_ROLES, NO_ROLE

logger = logging.getLogger("accessbot.platforms.scim")

CORE_SCHEMAS = "urn:ietf:params:scim:schemas:core:"
PAGE = 100


class RoleAttribute:
    """Reads and writes the account role on a SCIM User."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute
        self.urn, _, self.name = attribute.rpartition(":") if attribute.startswith("urn:") else ("", "", attribute)
        self.extension: type[Extension] | None = None
        if self.urn:
            # scim2-models validates extension data against a model; this one holds just the role.
            self.extension = type(
                "RoleExtension",
                (Extension,),
                {
                    "__schema__": self.urn,
                    "__annotations__": {self.name: "str | None"},
                    self.name: None,
                    "__module__": __name__,
                },
            )

    @property
    def model(self) -> type[User[Any]]:
        if self.extension is None:
            return User
        return cast("type[User[Any]]", User.__class_getitem__(self.extension))

    def read(self, user: User[Any]) -> str | None:
        if self.attribute == NO_ROLE:
            return None
        if self.extension is not None:
            held = user[self.extension]
            return getattr(held, self.name, None) if held is not None else None
        if self.attribute == CORE_ROLES:
            roles = user.roles or []
            chosen = next((role for role in roles if role.primary), roles[0] if roles else None)
            return chosen.value if chosen is not None else None
        value = getattr(user, self.attribute, None)
        return str(value) if value is not None else None

    def set_on(self, user: User[Any], role: str) -> None:
        if self.attribute == NO_ROLE:
            return
        if self.extension is not None:
            user[self.extension] = self.extension(**{self.name: role})
        elif self.attribute == CORE_ROLES:
            user.roles = [Role(value=role, primary=True)]
        else:
            setattr(user, self.attribute, role)

    def patch(self, role: str) -> PatchOperation[Any]:
        value: Any = [{"value": role, "primary": True}] if self.attribute == CORE_ROLES else role
        return PatchOperation(op=PatchOperation.Op.replace_, path=self.attribute, value=value)


class ScimPlatform(Platform):
    def __init__(
        self,
        name: str,
        catalog: RoleCatalog,
        http: PlatformHttp,
        *,
        role_attribute: str = CORE_ROLES,
        groups: Mapping[str, Mapping[str, str]] | None = None,
        invitation_days: int | None = None,
    ) -> None:
        super().__init__(name, catalog)
        self.invitation_days = invitation_days
        self.operation_seconds = http.retry.max_total_wait_seconds
        self.reports_invitations = invitation_days is not None
        self.http = http
        self.role = RoleAttribute(role_attribute)
        # (scope, role) -> group displayName, and back.
        self._groups = {
            (scope, role): group for scope, roles in (groups or {}).items() for role, group in roles.items()
        }
        self._group_ids: dict[str, str] = {}
        # What the server does, each unknown until first needed: the `members.value` filter on Groups, PATCH
        # (else whole resources are written with PUT), case-exact userNames, and its /ServiceProviderConfig (which
        # says whether it offers ETags, for If-Match on writes that replace what was read, and filters).
        self._member_filter: bool | None = None
        self._patching: bool | None = None
        self._exact_names: bool | None = None
        self._provider_config: dict[str, Any] | None = None
        # How the server removes one member from a group: the RFC's filtered path, or the member in `value`.
        self._member_removal: Literal["filter", "value"] | None = None

    @property
    def mapped_groups(self) -> Mapping[tuple[str, str], str]:
        """(scope, role) -> the group that holds that role on that scope, from the config."""
        return self._groups

    def close(self) -> None:
        self.http.close()
        super().close()

    @property
    def degraded(self) -> bool:
        return self.http.degraded

    # -- reading -----------------------------------------------------------------------------------------------

    def get_access(self, email: str) -> AccessState:
        user = self.find_user(email)
        if not self._holds(user):
            return AccessState.absent()
        assert user is not None
        return self._access_of(user, self._groups_of(user))

    def invitation_accepted(self, email: str) -> bool | None:
        if self.invitation_days is None:
            return None
        user = self.find_user(email)
        return user is not None and user.active is not False

    def _holds(self, user: User[Any] | None) -> bool:
        """Whether this user has an account here: an active one, or (where the service invites) an invited one."""
        return user is not None and (user.active is not False or self.invitation_days is not None)

    def find_user(self, email: str) -> User[Any] | None:
        """The user whose userName is this email (compared without case). What the filter returns is checked: a
        server that ignores a filter answers with other people, and acting on one of them would be the worst
        mistake this client could make."""
        found = self.search("Users", f'userName eq "{_quoted(email.lower())}"', self.role.model)
        user = _named(found, email)
        if user is None and (not self.filters_trusted() or self._usernames_exact()):
            # The server compares userNames with their case, and people's addresses reach it spelled any way
            # (Ana@Client.example): a miss is not proof of absence. A removal must not report done while the
            # account stays, so every user is read and compared without case.
            user = _named(self._all("Users", self.role.model), email)
        return user

    def _usernames_exact(self) -> bool:
        """Whether the server's schema says it compares userNames with their case (RFC 7643 says it should not)."""
        if self._exact_names is None:
            self._exact_names = False
            try:
                body = self.http.request_json("GET", f"Schemas/{USER_SCHEMA}")
            except PlatformError:
                return False
            for attribute in body.get("attributes") or []:
                if isinstance(attribute, dict) and attribute.get("name") == "userName":
                    self._exact_names = attribute.get("caseExact") is True
            if self._exact_names:
                logger.warning(
                    "%s compares userNames with their case: a person not found is looked for in every user", self.name
                )
        return self._exact_names

    def list_members(self) -> list[MemberRecord]:
        members_of = {group: self._members_of(group) for group in set(self._groups.values())}
        records = []
        skipped: list[tuple[str, str]] = []
        for user in self._all("Users", self.role.model, skipped=skipped):
            if not self._holds(user) or user.user_name is None:
                continue
            held = {group for group, ids in members_of.items() if user.id in ids}
            records.append(MemberRecord(email=user.user_name.lower(), access=self._access_of(user, held)))
        records += [MemberRecord(email=name, access=AccessState.absent(), problem=problem) for name, problem in skipped]
        return sorted(records, key=lambda record: record.email)

    def _access_of(self, user: User[Any], groups: set[str]) -> AccessState:
        scopes: dict[str, str] = {}
        for (scope, role), group in self._groups.items():
            if group in groups and self.catalog.scope_rank(scope, role) > self.catalog.scope_rank(
                scope, scopes.get(scope)
            ):
                scopes[scope] = role
        return AccessState(member=True, account_role=self.role.read(user) or self._role_when_unset(), scopes=scopes)

    def _role_when_unset(self) -> str | None:
        return self.catalog.default_account_role if self.role.attribute == NO_ROLE else None

    def _groups_of(self, user: User[Any]) -> set[str]:
        """The mapped groups a user is in: by the member filter, else the User's `groups`, else the groups' members."""
        if not self._groups:
            return set()
        user_id = str(user.id)
        if self._member_filter is None and not self.filters_trusted():
            logger.info("%s says it does not support filters; reading each user's groups another way", self.name)
            self._member_filter = False
        if self._member_filter is not False:
            try:
                found = self.search("Groups", f'members.value eq "{_quoted(user_id)}"', Group)
            except (PlatformUnsupported, PlatformRefused) as error:
                if isinstance(error, PlatformRefused) and (error.status != 400 or self._member_filter):
                    raise
                # A refused filter (invalidFilter), or one the server fails on (SCIMMY answers 400 invalidValue
                # when a group has no members): only a read, so the groups are read another way.
                logger.info("%s: %s; reading each user's groups another way from now on", self.name, error.message)
                self._member_filter = False
            else:
                self._member_filter = True
                # Groups listed without their members are taken on the filter's word; with them, checked.
                return {
                    group.display_name
                    for group in found
                    if group.display_name
                    and (group.members is None or any(member.value == user_id for member in group.members))
                }
        mapped = set(self._groups.values())
        if user.groups is not None:
            ids = {self._group_id(name): name for name in mapped}
            return {ids.get(str(entry.value), entry.display or "") for entry in user.groups} & mapped
        return {group for group in mapped if user_id in self._members_of(group)}

    def _members_of(self, display_name: str) -> set[str]:
        group = self.find_group(display_name)
        return {member.value for member in (group.members or []) if member.value} if group else set()

    def find_group(self, display_name: str) -> Group | None:
        """The group of this displayName: by filter, the answer checked; by listing every group where the server
        refuses the filter."""
        try:
            if not self.filters_trusted():
                raise PlatformUnsupported(self.name, "filters are not supported (ServiceProviderConfig)")
            found = self.search("Groups", f'displayName eq "{_quoted(display_name)}"', Group)
        except PlatformUnsupported:
            found = list(self._all("Groups", Group))
        return next((group for group in found if group.display_name == display_name), None)

    def check(self) -> PlatformCheck:
        """Reachable, credentials accepted, and each capability the config needs (platforms.scim_check)."""
        return ScimCheck(self).run()

    def prove_writes(self, probe: str) -> list[Capability]:
        return ScimCheck(self).prove_writes(probe)

    def check_notes(self) -> list[str]:
        """Lines `platforms check` adds for this platform (Heap: how many Admins)."""
        return []

    # -- writing -----------------------------------------------------------------------------------------------

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        email = email.lower()
        self._check_known(desired)
        done: list[AccessStep] = []
        responses: list[str] = []
        user = self.find_user(email)
        current = self.get_access(email) if self._holds(user) else AccessState.absent()
        steps = diff(current, desired)
        try:
            if not desired.member:
                if user is not None:
                    self._delete_user(str(user.id))
                    done.append(AccessStep(kind=StepKind.DELETE_MEMBER))
                    responses.append(f"deleted user {user.id}")
                return ApplyResult(applied=tuple(done), responses=tuple(responses))
            assert desired.account_role is not None
            if user is None:
                user = self._create_user(email, desired.account_role, responses)
                done.append(AccessStep(kind=StepKind.CREATE_MEMBER, after=desired.account_role))
            elif not self._holds(user):
                self._write_user(user, active=True)
                responses.append(f"reactivated user {user.id}")
            if self.role.read(user) != desired.account_role and self.role.attribute != NO_ROLE:
                self._write_user(user, role=desired.account_role)
                done.append(
                    AccessStep(kind=StepKind.SET_ACCOUNT_ROLE, before=current.account_role, after=desired.account_role)
                )
                responses.append(f"set {self.role.attribute} of {user.id} to {desired.account_role}")
            for step in self._scope_steps(user, desired):
                done.append(step)
            return ApplyResult(applied=tuple(done), responses=tuple(responses))
        except PlatformError as error:
            error.applied = tuple(done)
            error.pending = tuple(step for step in steps if not any(_same(step, made) for made in done))
            raise

    def _scope_steps(self, user: User[Any], desired: AccessState) -> Iterator[AccessStep]:
        """Join the groups of the desired scope roles and leave the other mapped groups, one PATCH at a time."""
        user_id = str(user.id)
        held = self._groups_of(user)
        wanted = {self._groups[(scope, role)] for scope, role in desired.scopes.items()}
        for (scope, role), group in sorted(self._groups.items()):
            if group in held and group not in wanted:
                self._change_membership(group, user_id, join=False)
                yield AccessStep(kind=StepKind.REMOVE_SCOPE, scope=scope, before=role)
        for scope, role in sorted(desired.scopes.items()):
            group = self._groups[(scope, role)]
            if group not in held:
                self._change_membership(group, user_id, join=True)
                yield AccessStep(kind=StepKind.SET_SCOPE_ROLE, scope=scope, after=role)

    def _create_user(self, email: str, role: str, responses: list[str]) -> User[Any]:
        try:
            emails = [Email(value=email, primary=True)]
        except ValidationError:
            # Valid for the platform's userName but not for the strict email type (a quoted or escaped local part,
            # e.g. from a Slack profile): the userName carries it.
            emails = None
        user = self.role.model(user_name=email, active=True, emails=emails)
        self.role.set_on(user, role)
        payload = user.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        try:
            body = self.http.request_json("POST", "Users", json=payload, ok=(201, 200))
        except PlatformConflict:
            # The account exists already (an earlier attempt that timed out, or made by hand): reuse it.
            existing = self.find_user(email)
            if existing is None:
                raise
            responses.append(f"user {email} already existed as {existing.id}; reused it")
            if not self._holds(existing):
                self._write_user(existing, active=True)
            return existing
        created = self._parse(body, self.role.model)
        responses.append(f"created user {created.id}")
        return created

    def _delete_user(self, user_id: str) -> None:
        with contextlib.suppress(MemberNotFound):  # already gone: what was asked
            self.http.request("DELETE", f"Users/{user_id}", ok=(204, 200))

    def _write_user(self, user: User[Any], *, active: bool | None = None, role: str | None = None) -> None:
        """Set a user's `active` and role: by PATCH, or by PUT of the whole user where the server does not implement
        PATCH. Where the server offers ETags the write names the version it read (If-Match), and a user changed
        by someone else meanwhile is read again and written again."""
        operations: list[PatchOperation[Any]] = []
        if active is not None:
            operations.append(PatchOperation(op=PatchOperation.Op.replace_, path="active", value=active))
        if role is not None:
            operations.append(self.role.patch(role))
        current = user
        for _ in range(WRITE_ATTEMPTS):
            try:
                if self._patching is not False:
                    if self._patched("Users", str(current.id), operations, version=self._version(current)):
                        return
                    current = self._read("Users", str(current.id), self.role.model)
                if active is not None:
                    current.active = active
                if role is not None:
                    self.role.set_on(current, role)
                self._put("Users", str(current.id), current, version=self._version(current))
                return
            except PlatformError as error:
                if error.status != 412:
                    raise
                self._refuse_412_without_etags(f"user {user.id}")
                current = self._read("Users", str(current.id), self.role.model)  # changed meanwhile: read again
        raise PlatformConflict(self.name, f"user {user.id} kept changing while it was written; try again later")

    def _change_membership(self, group: str, user_id: str, *, join: bool) -> None:
        group_id = self._group_id(group)
        if self._patching is not False:
            operation: PatchOperation[Any]
            if join:
                operation = PatchOperation(op=PatchOperation.Op.add, path="members", value=[{"value": user_id}])
            elif self._member_removal == "value":
                operation = self._removal_by_value(user_id)
            else:
                path = f'members[value eq "{_quoted(user_id)}"]'
                operation = PatchOperation(op=PatchOperation.Op.remove, path=path)
            # Adding or removing one member changes nothing else: no version to name.
            if not join and self._member_removal is None:
                if self._remove_member_learning(group, group_id, user_id, operation):
                    return
            elif self._patched("Groups", group_id, [operation], version=None):
                return
        for _ in range(WRITE_ATTEMPTS):
            # The whole member list is written back: it must be the version read, or others' changes would be lost.
            current = self._read("Groups", group_id, Group)
            members = [member for member in current.members or [] if member.value != user_id]
            if join:
                members.append(GroupMember(value=user_id))
            current.members = members
            try:
                self._put("Groups", group_id, current, version=self._version(current))
                return
            except PlatformError as error:
                if error.status != 412:
                    raise
                self._refuse_412_without_etags(f"group {group}")
        raise PlatformConflict(self.name, f"group {group} kept changing while it was written; try again later")

    def _refuse_412_without_etags(self, what: str) -> None:
        """A 412 (Precondition Failed) answers an If-Match; a server that offers no ETags sent it to a write that
        named none, and will again: trying again cannot help."""
        if not self._offers_etags():
            raise PlatformUnsupported(
                self.name,
                f"writing {what} was answered 412 Precondition Failed, though the server offers no ETags "
                "(ServiceProviderConfig etag.supported is false) to name in If-Match: it cannot be written safely; "
                "enable ETags on the server, or fix its precondition check",
            )

    def _removal_by_value(self, user_id: str) -> PatchOperation[Any]:
        return PatchOperation(op=PatchOperation.Op.remove, path="members", value=[{"value": user_id}])

    def _remove_member_learning(self, group: str, group_id: str, user_id: str, filtered: PatchOperation[Any]) -> bool:
        """The first removal from a group finds out how the server removes one member. RFC 7644 names the member in
        a filtered path (`members[value eq "..."]`); some servers (django-scim2) refuse that (501), or answer 204
        and remove nobody, and take the member in `value` instead. That form is used only where the RFC's did not
        work, and is checked too: a server that took it as "remove every member" gets the others back and is
        refused. False where neither form is implemented (whole groups are then written with PUT)."""
        try:
            self._patch("Groups", group_id, [filtered], version=None)
        except PlatformUnsupported as error:
            logger.info("%s refused a filtered member removal (%s); trying the member in value", self.name, error)
        else:
            if user_id not in self._member_ids(group_id):
                self._member_removal = "filter"
                return True
            logger.warning("%s answered a filtered member removal but removed nobody; trying value instead", self.name)
        before = self._member_ids(group_id)
        if user_id not in before:
            return True
        try:
            self._patch("Groups", group_id, [self._removal_by_value(user_id)], version=None)
        except PlatformUnsupported:
            logger.info("%s: PATCH cannot remove a member; writing whole groups (PUT)", self.name)
            self._patching = False
            return False
        after = self._member_ids(group_id)
        lost = before - after - {user_id}
        if lost:
            restore: PatchOperation[Any] = PatchOperation(
                op=PatchOperation.Op.add, path="members", value=[{"value": v} for v in lost]
            )
            self._patch("Groups", group_id, [restore], version=None)
            raise PlatformRefused(
                self.name,
                f"removing one member from group {group} removed {len(lost)} others too (they were added back); "
                "this server cannot remove a single member by PATCH",
            )
        if user_id in after:
            raise PlatformUnsupported(self.name, f"the server did not remove the member from group {group}")
        self._member_removal = "value"
        return True

    def _member_ids(self, group_id: str) -> set[str]:
        return {member.value for member in self._read("Groups", group_id, Group).members or [] if member.value}

    def _patched(
        self, endpoint: str, resource_id: str, operations: list[PatchOperation[Any]], *, version: str | None
    ) -> bool:
        """PATCH; False (and PUT from now on) when the server does not implement it."""
        try:
            self._patch(endpoint, resource_id, operations, version=version)
        except PlatformUnsupported:
            logger.info("%s: PATCH is not implemented; writing whole users and groups (PUT)", self.name)
            self._patching = False
            return False
        return True

    def _version(self, resource: Any) -> str | None:
        """The version to name in If-Match, where the server offers ETags."""
        if not self._offers_etags():
            return None
        meta = getattr(resource, "meta", None)
        return getattr(meta, "version", None)

    def _offers_etags(self) -> bool:
        return bool((self._config().get("etag") or {}).get("supported", False))

    def provider_config(self) -> dict[str, Any]:
        """The server's /ServiceProviderConfig, read once; a read that fails raises (and is tried again next time)."""
        if self._provider_config is None:
            self._provider_config = self.http.request_json("GET", "ServiceProviderConfig")
        return self._provider_config

    def _config(self) -> dict[str, Any]:
        """What the server says of itself, as `provider_config`, or {} where it says nothing (a read that failed for
        the moment is tried again next time)."""
        try:
            return self.provider_config()
        except PlatformError as error:
            if error.retryable:
                return {}  # unreachable for now: asked again next time, not taken as "says nothing"
            self._provider_config = {}
            return self._provider_config

    def filters_trusted(self) -> bool:
        """Whether a filter's empty answer can be taken as "none": not on a server that says it does not support
        filtering (django-scim2 says so, answers a userName filter, and answers any Group filter with nothing)."""
        return (self._config().get("filter") or {}).get("supported") is not False

    def _read(self, endpoint: str, resource_id: str, model: type[Any]) -> Any:
        return self._parse(self.http.request_json("GET", f"{endpoint}/{resource_id}"), model)

    def _put(self, endpoint: str, resource_id: str, resource: Any, *, version: str | None) -> None:
        body = resource.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
        headers = {"If-Match": version} if version else None
        self.http.request("PUT", f"{endpoint}/{resource_id}", json=body, ok=(200, 204), headers=headers)

    def _patch(
        self, endpoint: str, resource_id: str, operations: list[PatchOperation[Any]], *, version: str | None
    ) -> None:
        model = Group if endpoint == "Groups" else self.role.model
        body = PatchOp[model](operations=operations).model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST)  # type: ignore[valid-type]
        headers = {"If-Match": version} if version else None
        self.http.request("PATCH", f"{endpoint}/{resource_id}", json=body, ok=(200, 204), headers=headers)

    def _group_id(self, display_name: str) -> str:
        if display_name not in self._group_ids:
            group = self.find_group(display_name)
            if group is None:
                raise PlatformRefused(
                    self.name,
                    f"group {display_name!r} does not exist; create it on the platform "
                    f"or fix platforms.{self.name}.groups in the config",
                )
            self._group_ids[display_name] = str(group.id)
        return self._group_ids[display_name]

    def _check_known(self, desired: AccessState) -> None:
        if not desired.member:
            return
        if desired.account_role is None or self.catalog.account_role(desired.account_role) != desired.account_role:
            raise PlatformRefused(self.name, f"unknown account role {desired.account_role!r}")
        for scope, role in desired.scopes.items():
            if (scope, role) not in self._groups:
                raise PlatformRefused(self.name, f"no group is configured for {role!r} on {scope!r}")

    # -- SCIM plumbing -----------------------------------------------------------------------------------------

    def search(self, endpoint: str, filter_: str, model: type[Any]) -> list[Any]:
        """The resources a filter finds; one of them malformed is an error (it is the one being looked for)."""
        body = self.http.request_json("GET", endpoint, params={"filter": filter_, "count": PAGE})
        resources, problems = self._parse_list(body, model)
        if problems:
            raise MalformedRecord(self.name, f"looking up {filter_}: {problems[0][1]}; correct it on the platform")
        return resources

    def _all(self, endpoint: str, model: type[Any], *, skipped: list[tuple[str, str]] | None = None) -> Iterator[Any]:
        """Every resource, page by page; malformed ones are logged and noted in `skipped` (name, problem)."""
        start = 1
        while True:
            body = self.http.request_json("GET", endpoint, params={"startIndex": start, "count": PAGE})
            page, problems = self._parse_list(body, model)
            for name, problem in problems:
                logger.warning("%s: skipped a malformed record: %s", self.name, problem)
                if skipped is not None:
                    skipped.append((name, problem))
            yield from page
            start += len(page) + len(problems)
            if not (page or problems) or start > int(body.get("totalResults", 0)):
                return

    def _parse_list(self, body: dict[str, Any], model: type[Any]) -> tuple[list[Any], list[tuple[str, str]]]:
        """The resources of a list answer that are well formed, and (name, problem) for each that is not."""
        raw = body.get("Resources") or []
        ListResponse[model].model_validate({**body, "Resources": []}, scim_ctx=Context.SEARCH_RESPONSE)  # type: ignore[valid-type]
        resources, problems = [], []
        for resource in raw if isinstance(raw, list) else []:
            try:
                resources.append(self._parse(resource, model, context=Context.SEARCH_RESPONSE))
            except MalformedRecord as error:
                name = resource.get("userName") or resource.get("displayName") if isinstance(resource, dict) else None
                problems.append((str(name or "?"), error.message))
        return resources, problems

    def _parse(self, resource: Any, model: type[Any], *, context: Context = Context.RESOURCE_QUERY_RESPONSE) -> Any:
        if not isinstance(resource, dict):
            raise MalformedRecord(self.name, f"a {model.__name__} record is not a JSON object")
        try:
            return model.model_validate(self._known(_tolerated(resource)), scim_ctx=context)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "the record"
            raise MalformedRecord(
                self.name, f"record {resource.get('id', '?')} has a malformed {field}: {first['msg']}"
            ) from None

    def _known(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Drop extensions this client does not model: a vendor may add its own, and they are not ours to read."""
        keep = {self.role.urn} if self.role.urn else set()
        known: dict[str, Any] = {k: v for k, v in resource.items() if not k.startswith("urn:") or k in keep}
        known["schemas"] = [s for s in resource.get("schemas", []) if s.startswith(CORE_SCHEMAS) or s in keep]
        return known


#: How many times a write is tried against a resource someone else keeps changing (HTTP 412 to its If-Match).
WRITE_ATTEMPTS = 3


class MalformedRecord(PlatformError):
    """A record the platform sent does not follow SCIM; correcting it on the platform is the fix."""

    retryable = False
    kind = "refused"


def _named(users: Iterable[User[Any]], email: str) -> User[Any] | None:
    """The user whose userName is this email, compared without case."""
    wanted = email.casefold()
    return next((user for user in users if (user.user_name or "").casefold() == wanted), None)


def _tolerated(resource: dict[str, Any]) -> dict[str, Any]:
    """Drop what some servers send that SCIM does not allow and the client does not read: email entries without a
    value (django-scim2, for a user without an email)."""
    emails = resource.get("emails")
    if not isinstance(emails, list):
        return resource
    kept = [entry for entry in emails if not (isinstance(entry, dict) and not entry.get("value"))]
    tolerated = {key: value for key, value in resource.items() if key != "emails"}
    return {**tolerated, "emails": kept} if kept else tolerated


def _quoted(value: str) -> str:
    """A value inside a SCIM filter's double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _same(step: AccessStep, made: AccessStep) -> bool:
    return (step.kind, step.scope) == (made.kind, made.scope)
