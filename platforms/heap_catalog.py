"""Heap's roles, from the Heap references in shared/domain.

Account roles are Heap's five defaults, most privileged first. Projects (environments such as production and staging)
carry the project roles Admin, Contributor and Viewer. The add-on modules are scopes of their own, with the roles the
references give them: Govern (Data Manager, Reviewer, Viewer), Activate (Admin, Contributor, Viewer) and Illuminate
(session replay; access or none).
"""

from __future__ import annotations

from domain.catalog import RoleCatalog, ScopeSpec

ACCOUNT_ROLES: tuple[str, ...] = ("Admin", "Architect", "Analyst", "Consumer", "Read-Only")
# Least privilege that still lets a collaborator work in the projects they are given ("default to Org Member with
# project-level access"); Read-Only, the lowest, is what a revoked account keeps.
DEFAULT_ACCOUNT_ROLE = "Consumer"
PROJECT_ROLES: tuple[str, ...] = ("Admin", "Contributor", "Viewer")
DEFAULT_PROJECTS: tuple[str, ...] = ("production", "staging", "development")
MODULE_ROLES: dict[str, tuple[str, ...]] = {
    "govern": ("Data Manager", "Reviewer", "Viewer"),
    "activate": ("Admin", "Contributor", "Viewer"),
    "illuminate": ("Viewer",),
}


def heap_catalog(
    *,
    projects: tuple[str, ...] = DEFAULT_PROJECTS,
    account_roles: tuple[str, ...] = ACCOUNT_ROLES,
    default_account_role: str = DEFAULT_ACCOUNT_ROLE,
    modules: dict[str, tuple[str, ...]] | None = None,
) -> RoleCatalog:
    module_roles = MODULE_ROLES if modules is None else modules
    scopes = [ScopeSpec(name=project, kind="project", roles=PROJECT_ROLES) for project in projects]
    scopes += [ScopeSpec(name=module, kind="module", roles=roles) for module, roles in module_roles.items()]
    return RoleCatalog(account_roles=account_roles, default_account_role=default_account_role, scopes=tuple(scopes))
