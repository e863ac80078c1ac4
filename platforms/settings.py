"""The settings of every platform type, as the config file gives them: read (and validated) without loading any
client, so that reading the config costs neither the SCIM resource models nor the database layer.

Each client module (sandbox, scim, heap, chartbeat) takes its settings from here.
"""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from domain.catalog import RoleCatalog, ScopeSpec
from platforms.base import PlatformContext, PlatformSettings
from platforms.heap_catalog import (
    ACCOUNT_ROLES,
    DEFAULT_ACCOUNT_ROLE,
    DEFAULT_PROJECTS,
    MODULE_ROLES,
    heap_catalog,
)
from platforms.http import PlatformHttp, RateLimiter, RetryPolicy, SharedRateLimiter, shared_limiter

#: Where a SCIM User carries the account role: the core multi-valued `roles`, or `none` for services without roles.
CORE_ROLES = "roles"
NO_ROLE = "none"

CHARTBEAT_SCIM_URL = "https://chartbeat.com/scim/v2/"
CHARTBEAT_USERS_PAGE = "https://chartbeat.com/publishing/settings/users/"
#: The one "role" on a Chartbeat site: access to it.
SITE_ACCESS = "Access"


class SandboxSettings(PlatformSettings):
    type: Literal["sandbox"] = "sandbox"
    account_roles: tuple[str, ...] = ACCOUNT_ROLES
    default_account_role: str = DEFAULT_ACCOUNT_ROLE
    projects: tuple[str, ...] = DEFAULT_PROJECTS
    modules: dict[str, tuple[str, ...]] = dict(MODULE_ROLES)
    # Seconds each change takes, as a vendor's API would (demos, and the fault tests that kill the bot mid-apply).
    latency_seconds: float = Field(default=0.0, ge=0, le=60)

    def catalog(self) -> RoleCatalog:
        return heap_catalog(
            projects=self.projects,
            account_roles=self.account_roles,
            default_account_role=self.default_account_role,
            modules=self.modules,
        )


class ScimSettings(PlatformSettings):
    type: Literal["scim"] = "scim"
    base_url: str
    # Either a bearer token, or HTTP Basic with username and password.
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    account_roles: tuple[str, ...] = ("Member",)
    default_account_role: str | None = None
    # Where the account role lives: the core `roles` attribute, an extension attribute given by its full path
    # (urn:...:User:role), or `none` when the service has no roles.
    role_attribute: str = CORE_ROLES
    # The account roles that make someone an organisation admin, counted by the guard rails (max_org_admins,
    # min_admins). None is configured unless you say: a generic service's roles say nothing of who administers it.
    admin_roles: tuple[str, ...] = ()
    # scope -> role -> the displayName of the SCIM group that gives that role on that scope.
    groups: dict[str, dict[str, str]] = Field(default_factory=dict)
    scope_kind: str = "group"
    # Where the service invites new users by email and keeps them `active: false` until they accept: how many days
    # an invitation lasts. Such a user then counts as invited (a member, not yet accepted), and is chased until they
    # accept. Unset: `active: false` means no access, as RFC 7643 has it.
    invitation_days: int | None = Field(default=None, ge=1, le=365)
    rate_limit_per_minute: float | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @model_validator(mode="after")
    def _credentials(self) -> ScimSettings:
        if self.token is None and (self.username is None or self.password is None):
            raise ValueError("give a bearer `token`, or `username` and `password` for HTTP Basic")
        if unknown := [role for role in self.admin_roles if role not in self.account_roles]:
            raise ValueError(f"admin_roles names {', '.join(unknown)}, not among account_roles")
        return self

    def catalog(self) -> RoleCatalog:
        scopes = tuple(
            ScopeSpec(name=scope, kind=self.scope_kind, roles=tuple(roles)) for scope, roles in self.groups.items()
        )
        return RoleCatalog(
            account_roles=self.account_roles,
            default_account_role=self.default_account_role or self.account_roles[-1],
            scopes=scopes,
            admin_roles=self.admin_roles,
        )

    def auth(self) -> httpx.Auth | None:
        if self.username is not None and self.password is not None:
            return httpx.BasicAuth(self.username, self.password.get_secret_value())
        return None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.get_secret_value()}"} if self.token is not None else {}

    def limiter(self, shared: PlatformContext | None = None) -> RateLimiter | SharedRateLimiter | None:
        """The host's rate limit: kept in the database where one is given (every process and instance on it then
        shares the budget), else in this process."""
        if self.rate_limit_per_minute is None:
            return None
        host = httpx.URL(self.base_url).host
        if shared is not None:
            return SharedRateLimiter(host, self.rate_limit_per_minute, shared.engine, now=shared.now)
        return shared_limiter(host, self.rate_limit_per_minute)

    def http(
        self, name: str, *, transport: httpx.BaseTransport | None = None, shared: PlatformContext | None = None
    ) -> PlatformHttp:
        what = "token" if self.token is not None else "username and password"
        return PlatformHttp(
            name,
            self.base_url,
            auth=self.auth(),
            headers=self.headers(),
            retry=self.retry,
            limiter=self.limiter(shared),
            auth_hint=f"check platforms.{name}.{what.replace(' and ', '/')} in the config and that it may use SCIM",
            transport=transport,
            slots=self.concurrency,
        )


class HeapSettings(PlatformSettings):
    type: Literal["heap"] = "heap"
    # scim: through Heap's SCIM API (base_url and token); manual: every step is a task an admin does in Heap's UI,
    # for plans without SCIM provisioning. Not set: scim when base_url and token are given, else manual.
    mode: Literal["scim", "manual"] | None = None
    # Heap gives each account its own SCIM base URL.
    base_url: str | None = None
    token: SecretStr | None = None
    account_roles: tuple[str, ...] = ACCOUNT_ROLES
    default_account_role: str = DEFAULT_ACCOUNT_ROLE
    role_attribute: str = CORE_ROLES
    # SCIM: project or module -> role -> Heap team name, e.g. production: {Admin: "Prod admins", Viewer: ...}.
    teams: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Manual mode: the projects (environments) and add-on modules people may ask for.
    projects: tuple[str, ...] = DEFAULT_PROJECTS
    modules: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(MODULE_ROLES))
    min_admins: int = Field(default=2, ge=0)
    # Heap's Admin API allows "60 requests per hour per organization" (the Heap access reference, API Rate Limits).
    # The default keeps under it, shared by every process and instance on the database: 48 an hour, with bursts of
    # up to 8 (so no hour passes 56). Raise it if Heap raised yours.
    rate_limit_per_minute: float | None = 0.8
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @property
    def manual(self) -> bool:
        return self.mode == "manual" or (self.mode is None and not (self.base_url and self.token))

    @model_validator(mode="after")
    def _mode_fits(self) -> HeapSettings:
        if (self.base_url is None) != (self.token is None) and self.mode != "manual":
            missing = "token" if self.token is None else "base_url"
            raise ValueError(
                f"{missing} is missing: SCIM needs both base_url and token; give neither (or mode: manual) to do "
                "every step in Heap's UI instead"
            )
        if self.mode == "scim" and not (self.base_url and self.token):
            raise ValueError(
                "mode scim needs base_url (the account's SCIM URL) and token; without SCIM on your Heap plan, use "
                "mode: manual"
            )
        if self.manual and self.teams:
            raise ValueError(
                "teams map Heap teams to SCIM groups, which manual mode does not use: list projects and modules "
                "instead, or give base_url and token for SCIM"
            )
        return self

    def catalog(self) -> RoleCatalog:
        if self.manual:
            return heap_catalog(
                projects=self.projects,
                account_roles=self.account_roles,
                default_account_role=self.default_account_role,
                modules=self.modules,
            )
        scopes = tuple(
            ScopeSpec(name=scope, kind="module" if scope in MODULE_ROLES else "project", roles=tuple(roles))
            for scope, roles in self.teams.items()
        )
        return RoleCatalog(
            account_roles=self.account_roles, default_account_role=self.default_account_role, scopes=scopes
        )

    def http(self, name: str, *, shared: PlatformContext | None = None) -> PlatformHttp:
        assert self.base_url is not None and self.token is not None, "only SCIM mode talks to Heap's API"
        return ScimSettings(
            type="scim",
            base_url=self.base_url,
            token=self.token,
            rate_limit_per_minute=self.rate_limit_per_minute,
            retry=self.retry,
            concurrency=self.concurrency,
        ).http(name, shared=shared)


class ChartbeatSettings(PlatformSettings):
    type: Literal["chartbeat"] = "chartbeat"
    base_url: str = CHARTBEAT_SCIM_URL
    # An account owner's login: Chartbeat's SCIM API uses HTTP Basic.
    username: str
    password: SecretStr
    account_roles: tuple[str, ...] = ("Owner", "Admin", "Member")
    default_account_role: str = "Member"
    sites: tuple[str, ...] = ()
    site_groups: tuple[str, ...] = ()
    users_page: str = CHARTBEAT_USERS_PAGE
    rate_limit_per_minute: float = 200
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    def catalog(self) -> RoleCatalog:
        scopes = [ScopeSpec(name=site, kind="site", roles=(SITE_ACCESS,)) for site in self.sites]
        scopes += [ScopeSpec(name=group, kind="site group", roles=(SITE_ACCESS,)) for group in self.site_groups]
        admins = tuple(role for role in self.account_roles if role in ("Owner", "Admin", "Administrator"))
        return RoleCatalog(
            account_roles=self.account_roles,
            default_account_role=self.default_account_role,
            scopes=tuple(scopes),
            admin_roles=admins,
        )

    def http(self, name: str, *, shared: PlatformContext | None = None) -> PlatformHttp:
        return ScimSettings(
            type="scim",
            base_url=self.base_url,
            username=self.username,
            password=self.password,
            rate_limit_per_minute=self.rate_limit_per_minute,
            retry=self.retry,
            concurrency=self.concurrency,
        ).http(name, shared=shared)
