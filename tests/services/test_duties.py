"""Optional duties per platform: separation of duties (who granted cannot approve the removal; who approved does not
do the manual steps) and no granting above one's own role."""

from __future__ import annotations

from pathlib import Path

from domain.access import AccessState
from domain.lifecycle import RequestStatus, TaskKind
from domain.offboarding import GENERIC_CHECKLIST
from platforms.settings import SandboxSettings
from services.decisions import Outcome, approve
from services.task_actions import TaskOutcome, complete
from tests.services.desk import ANA, Desk, access, make_desk


def desk_with(tmp_path: Path, **duties: bool) -> Desk:
    settings = SandboxSettings(approvers=("UBOB", "S0SECURITY"), removal_checklist=GENERIC_CHECKLIST, **duties)
    return make_desk(tmp_path, settings={"sandbox": settings})


def test_who_approved_the_access_cannot_approve_its_removal_with_separation_of_duties(tmp_path: Path) -> None:
    desk = desk_with(tmp_path, separation_of_duties=True)
    granted = desk.submit(f"add {ANA} sandbox viewer on staging reason: project")
    assert approve(desk.ctx, granted, approver=desk.approver).outcome is Outcome.DONE  # bob granted it
    removal = desk.submit(f"remove {ANA} sandbox revoke reason: engagement ended")
    refused = approve(desk.ctx, removal, approver=desk.approver)
    assert refused.outcome is Outcome.REFUSED
    assert refused.reason == (
        f"You approved the access this removes on sandbox (request #{granted}), and sandbox separates duties: "
        "someone else has to approve its removal."
    )
    assert approve(desk.ctx, removal, approver=desk.other_approver).outcome is Outcome.DONE


def test_who_approved_a_request_does_not_do_its_manual_steps_with_separation_of_duties(tmp_path: Path) -> None:
    desk = desk_with(tmp_path, separation_of_duties=True)
    desk.ctx.platforms["sandbox"].apply(ANA, AccessState(member=True, account_role="Analyst"))
    removal = desk.submit(f"remove {ANA} sandbox revoke reason: engagement ended")
    view = approve(desk.ctx, removal, approver=desk.approver).view
    assert view is not None
    (step,) = [task for task in view.tasks if task.kind is TaskKind.BEFORE_REMOVAL]
    refused = complete(desk.ctx, step.id, person=desk.approver, evidence="done")
    assert refused.outcome is TaskOutcome.REFUSED and "someone other than its approvers" in refused.reason
    done = complete(desk.ctx, step.id, person=desk.other_approver, evidence="replaced tk_1 with svc-etl's")
    assert done.outcome is TaskOutcome.DONE and done.request is not None
    assert done.request.status is RequestStatus.APPLIED


def test_without_separation_of_duties_the_granter_may_approve_the_removal(tmp_path: Path) -> None:
    desk = desk_with(tmp_path)
    granted = desk.submit(f"add {ANA} sandbox viewer on staging reason: project")
    approve(desk.ctx, granted, approver=desk.approver)
    removal = desk.submit(f"remove {ANA} sandbox revoke reason: engagement ended")
    assert approve(desk.ctx, removal, approver=desk.approver).outcome is Outcome.DONE


def test_no_approver_grants_above_their_own_role_where_the_platform_can_say(tmp_path: Path) -> None:
    desk = desk_with(tmp_path, no_granting_above_own_role=True)
    sandbox = desk.ctx.platforms["sandbox"]
    sandbox.apply("bob@client.example", AccessState(member=True, account_role="Analyst"))
    above = desk.submit(f"add {ANA} sandbox architect reason: modelling")
    refused = approve(desk.ctx, above, approver=desk.approver)
    assert refused.outcome is Outcome.REFUSED
    assert refused.reason == (
        "You hold Analyst on sandbox, below the Architect this grants, and sandbox does not let anyone grant above "
        "their own role."
    )
    assert access(desk).member is False
    level = desk.submit(f"add {ANA} sandbox analyst reason: reporting")
    assert approve(desk.ctx, level, approver=desk.approver).outcome is Outcome.DONE
    nobody_there = approve(desk.ctx, above, approver=desk.other_approver)  # carol has no account on the sandbox
    assert nobody_there.outcome is Outcome.REFUSED and "You hold no account on sandbox" in nobody_there.reason
