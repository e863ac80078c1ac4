"""Heap in manual mode: apply returns each step for an admin, in the references' order and words; what the admin
records doing is what the client reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.access import AccessState, RemovalMethod, StepKind, removed_state
from platforms.base import PlatformRefused
from platforms.heap_manual import HeapManualPlatform
from platforms.settings import HeapSettings
from storage.db import make_engine
from storage.schema import ensure_schema

ANA = "ana@agency.example"


@pytest.fixture
def heap(tmp_path: Path) -> HeapManualPlatform:
    engine = make_engine(f"sqlite:///{tmp_path}/manual.db")
    ensure_schema(engine)
    return HeapManualPlatform("heap", HeapSettings(), engine=engine, now=lambda: datetime.now(UTC))


def do_everything(heap: HeapManualPlatform, desired: AccessState) -> list[StepKind]:
    """Apply, then record every step as an admin would; the kinds of steps asked for, in order."""
    result = heap.apply(ANA, desired)
    assert not result.applied and all(step.manual and step.instructions for step in result.manual)
    for step in result.manual:
        heap.record_manual(ANA, step, actor="U0BOB")
    return [step.kind for step in result.manual]


def test_an_add_an_update_and_a_delete_are_all_tasks_and_the_records_are_the_state(heap: HeapManualPlatform) -> None:
    wanted = AccessState(member=True, account_role="Analyst", scopes={"production": "Viewer", "govern": "Viewer"})
    assert do_everything(heap, wanted) == [StepKind.CREATE_MEMBER, StepKind.SET_SCOPE_ROLE, StepKind.SET_SCOPE_ROLE]
    assert heap.get_access(ANA) == wanted
    assert [member.email for member in heap.list_members()] == [ANA]

    changed = AccessState(member=True, account_role="Consumer", scopes={"production": "Contributor"})
    assert do_everything(heap, changed) == [StepKind.SET_ACCOUNT_ROLE, StepKind.REMOVE_SCOPE, StepKind.SET_SCOPE_ROLE]
    assert heap.get_access(ANA) == changed

    assert do_everything(heap, AccessState.absent()) == [StepKind.DELETE_MEMBER]
    assert heap.get_access(ANA) == AccessState.absent() and heap.list_members() == []


def test_the_steps_say_where_in_heaps_ui_and_what_to_set(heap: HeapManualPlatform) -> None:
    wanted = AccessState(member=True, account_role="Admin", scopes={"production": "Admin", "govern": "Reviewer"})
    invite, module, project = (step.instructions or "" for step in heap.apply(ANA, wanted).manual)
    assert invite.startswith("In Heap, go to Account → Manage → Members and invite ana@agency.example")
    assert "Organization Role Admin" in invite
    assert "Module Permissions section, enable govern with the role Reviewer" in module
    assert "Projects section, click + Add (or check production) and give it the role Admin" in project
    do_everything(heap, wanted)

    revoked = removed_state(RemovalMethod.REVOKE, wanted, heap.catalog)
    steps = heap.apply(ANA, revoked).manual
    role = next(step.instructions or "" for step in steps if step.kind is StepKind.SET_ACCOUNT_ROLE)
    assert "In the Organization Role section select Read-Only" in role
    assert "check that at least 2 other Admins remain" in role
    removals = [step.instructions or "" for step in steps if step.kind is StepKind.REMOVE_SCOPE]
    assert any("uncheck production (or delete the project assignment)" in text for text in removals)
    assert any("disable govern" in text for text in removals)
    deleted = heap.apply(ANA, AccessState.absent()).manual[0].instructions or ""
    assert "three-dot menu (⋮) or Actions next to them, select Remove Member (or Delete User) and confirm" in deleted


def test_an_unknown_role_or_project_is_refused_before_any_task(heap: HeapManualPlatform) -> None:
    with pytest.raises(PlatformRefused, match="unknown project or module 'prod'"):
        heap.apply(ANA, AccessState(member=True, account_role="Consumer", scopes={"prod": "Viewer"}))
    with pytest.raises(PlatformRefused, match="unknown account role 'Wizard'"):
        heap.apply(ANA, AccessState(member=True, account_role="Wizard"))


def test_check_says_it_is_manual(heap: HeapManualPlatform) -> None:
    checked = heap.check()
    assert checked.ok and checked.summary == "manual mode: 0 member(s) recorded"
    assert "every add, update and removal is a task done in Heap's UI" in checked.notes[0]
