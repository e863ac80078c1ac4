from __future__ import annotations

from domain.access import (
    AccessChange,
    AccessState,
    AccessStep,
    RemovalMethod,
    StepKind,
    diff,
    mismatches,
    removed_state,
)
from platforms.heap_catalog import heap_catalog

CATALOG = heap_catalog()
MEMBER = AccessState(member=True, account_role="Analyst", scopes={"production": "Viewer", "staging": "Admin"})


def test_a_grant_changes_only_what_it_names() -> None:
    change = AccessChange(scopes={"production": "Contributor"})
    assert change.desired_from(MEMBER, CATALOG) == AccessState(
        member=True, account_role="Analyst", scopes={"production": "Contributor", "staging": "Admin"}
    )


def test_a_grant_to_someone_new_invites_them_with_the_default_account_role() -> None:
    desired = AccessChange(scopes={"production": "Viewer"}).desired_from(AccessState.absent(), CATALOG)
    assert desired == AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"})
    assert diff(AccessState.absent(), desired) == [
        AccessStep(kind=StepKind.CREATE_MEMBER, after="Consumer"),
        AccessStep(kind=StepKind.SET_SCOPE_ROLE, scope="production", before=None, after="Viewer"),
    ]


def test_none_takes_a_scope_away() -> None:
    desired = AccessChange(scopes={"staging": None}).desired_from(MEMBER, CATALOG)
    assert desired.scopes == {"production": "Viewer"}
    assert diff(MEMBER, desired) == [AccessStep(kind=StepKind.REMOVE_SCOPE, scope="staging", before="Admin")]


def test_revoke_keeps_the_account_with_the_lowest_role_and_no_scopes() -> None:
    assert removed_state(RemovalMethod.REVOKE, MEMBER, CATALOG) == AccessState(
        member=True, account_role="Read-Only", scopes={}
    )
    assert removed_state(RemovalMethod.DELETE, MEMBER, CATALOG) == AccessState.absent()
    assert removed_state(RemovalMethod.REVOKE, AccessState.absent(), CATALOG) == AccessState.absent()


def test_diff_of_equal_states_is_empty_and_delete_is_one_step() -> None:
    assert diff(MEMBER, MEMBER) == []
    assert diff(MEMBER, AccessState.absent()) == [AccessStep(kind=StepKind.DELETE_MEMBER)]
    assert diff(AccessState.absent(), AccessState.absent()) == []


def test_mismatches_name_what_still_differs() -> None:
    lowered = MEMBER.model_copy(update={"account_role": "Consumer"})
    assert mismatches(lowered, MEMBER) == ["account role Consumer → Analyst"]
    assert mismatches(MEMBER, MEMBER) == []


def test_descriptions_read_like_the_platform_ui() -> None:
    assert MEMBER.describe() == "Analyst; production: Viewer, staging: Admin"
    assert AccessState.absent().describe() == "not a member"
    assert AccessChange(account_role="Admin", scopes={"staging": None}).describe() == (
        "account role Admin, no access to staging"
    )


def test_catalog_ranks_roles_and_spells_them_canonically() -> None:
    assert CATALOG.account_role("read only") == "Read-Only"
    assert CATALOG.account_rank("Admin") > CATALOG.account_rank("Analyst") > CATALOG.account_rank(None)
    assert CATALOG.scope_rank("production", "Admin") > CATALOG.scope_rank("production", "Viewer")
    assert CATALOG.lowest_account_role == "Read-Only"
