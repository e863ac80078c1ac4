"""A Heap change that stops part-way: the request says exactly what was and was not done, and a retry converges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from domain.access import AccessState
from domain.lifecycle import RequestStatus
from platforms.settings import HeapSettings
from services.decisions import approve, retry
from storage.audit import events_for
from tests.scim_server import ScimServer, running
from tests.services.desk import Desk, make_desk

ANA = "ana@agency.example"
TEAMS = {
    "production": {"Admin": "Prod admins", "Viewer": "Prod viewers"},
    "staging": {"Admin": "Staging admins", "Viewer": "Staging viewers"},
}


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running(TEAMS) as heap:
        yield heap


@pytest.fixture
def desk(server: ScimServer, tmp_path: Path) -> Desk:
    heap = HeapSettings.model_validate(
        {
            "base_url": server.url,
            "token": server.token,
            "teams": TEAMS,
            "approvers": ["UBOB"],
            "rate_limit_per_minute": None,
        }
    )
    return make_desk(tmp_path, settings={"heap": heap})


def test_a_change_stopped_part_way_is_reported_exactly_and_a_retry_converges(desk: Desk, server: ScimServer) -> None:
    heap = desk.ctx.platforms["heap"]
    heap.apply(ANA, AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"}))
    request_id = desk.submit(f"update {ANA} heap admin on production,staging reason: release")
    server.fail("PATCH", "/Groups/", 400, times=1)  # the first team change is refused
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None and view.status is RequestStatus.FAILED
    error = view.changes[0].error or ""
    assert "HTTP 400" in error
    assert "Not done: production: Viewer → Admin; staging: no access → Admin" in error
    with Session(desk.ctx.engine) as session:
        failed = [event for event in events_for(session=session, request_id=request_id) if event.event == "failed"]
    assert failed[0].detail["not_applied"] == ["production: Viewer → Admin", "staging: no access → Admin"]
    assert view.changes[0].before == AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"})

    again = retry(desk.ctx, request_id, actor=desk.approver).view
    assert again is not None and again.status is RequestStatus.APPLIED
    assert heap.get_access(ANA) == AccessState(
        member=True, account_role="Consumer", scopes={"production": "Admin", "staging": "Admin"}
    )
