from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from domain.access import AccessChange, AccessState, RemovalMethod
from domain.commands import GrantCommand, Target
from domain.lifecycle import ChangeStatus, RequestStatus
from handlers import ids
from handlers.blocks.cards import approval_card
from platforms.base import PlatformAuthError, PlatformUnsupported
from services.context import RequestRefused, ServiceContext
from services.decisions import Outcome, approve, deny, retry
from services.ports import Person
from services.submit import submit
from storage.audit import events_for
from tests.fakes import DriftingPlatform, FlakyPlatform
from tests.services.desk import ANA, Desk, access, make_desk, seed

# --- submit ----------------------------------------------------------------------------------------------------


def test_submit_stores_the_request_posts_the_card_and_records_it(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: dashboards ticket: OPS-1")
    view = desk.ctx.load_view(request_id)
    assert view is not None
    assert view.status is RequestStatus.PENDING
    assert view.card is not None and view.card.channel == "C0APPROVALS"
    assert view.changes[0].access_at_request == AccessState.absent()
    assert [step.describe() for step in view.changes[0].preview] == [
        "invite as Consumer",
        "production: no access → Viewer",
    ]
    assert desk.notifier.kinds() == ["submitted"]
    assert desk.audit(request_id) == ["requested"]
    assert access(desk) == AccessState.absent(), "nothing changes before approval"


@pytest.mark.parametrize(
    ("setup", "text", "says"),
    [
        (None, f"update {ANA} sandbox admin reason: x", "is not a member of sandbox"),
        ("Consumer", f"add {ANA} sandbox consumer reason: x", "already has that"),
        (None, f"remove {ANA} sandbox reason: x", "has no access to remove on sandbox"),
        (None, f"remove {ANA} all reason: x", "on any configured platform"),
        (None, f"add {ANA} sandbox admin for 9h reason: x", "at most 8h for admin"),
        (None, f"add {ANA} sandbox viewer on production until 2026-11-01 reason: x", "already in the past"),
    ],
)
def test_requests_that_cannot_be_made_are_refused_and_nothing_is_stored(
    desk: Desk, setup: str | None, text: str, says: str
) -> None:
    if setup:
        seed(desk, AccessState(member=True, account_role=setup))
    with pytest.raises(RequestRefused, match=says):
        desk.submit(text)
    assert desk.notifier.events == []


def test_the_same_request_while_one_waits_is_refused_naming_the_one_waiting(desk: Desk) -> None:
    first = desk.submit(f"add {ANA} sandbox viewer on production for 2h reason: dashboards")
    with pytest.raises(RequestRefused, match=rf"already waiting for approval as #{first}.*`/access status {first}`"):
        desk.submit(f"add {ANA} sandbox viewer on production for 2h reason: asked again")
    # Anything else is a request of its own: another span, another role, or once the first is decided.
    longer = desk.submit(f"add {ANA} sandbox viewer on production for 4h reason: dashboards")
    other = desk.submit(f"add {ANA} sandbox admin on production for 2h reason: dashboards")
    deny(desk.ctx, first, approver=desk.approver, reason="no")
    again = desk.submit(f"add {ANA} sandbox viewer on production for 2h reason: once more")
    assert len({first, longer, other, again}) == 4
    assert desk.notifier.kinds().count("submitted") == 4


def test_until_is_read_in_the_requesters_time_zone(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox viewer on production until 2026-11-23 reason: demo")
    view = desk.ctx.load_view(request_id)
    assert view is not None and view.until_at is not None
    # Alice is in Paris: the end of 23 November there is 23:00 UTC.
    assert view.until_at.isoformat() == "2026-11-23T23:00:00+00:00"


# --- approve ---------------------------------------------------------------------------------------------------


def test_approve_applies_verifies_and_keeps_both_snapshots(desk: Desk) -> None:
    seed(desk, AccessState(member=True, account_role="Consumer"))
    request_id = desk.submit(f"update {ANA} sandbox admin on staging for 4h reason: deploy")
    result = approve(desk.ctx, request_id, approver=desk.approver)
    assert result.outcome is Outcome.DONE
    view = result.view
    assert view is not None and view.status is RequestStatus.APPLIED
    change = view.changes[0]
    assert change.before == AccessState(member=True, account_role="Consumer")
    assert change.after == AccessState(member=True, account_role="Consumer", scopes={"staging": "Admin"})
    assert change.applied_at == desk.clock.now()
    assert access(desk) == change.after
    assert view.decided_by == "UBOB"
    assert desk.audit(request_id) == [
        "requested",
        "approved",
        "apply_started",
        "reconcile_planned",
        "applied",
        "elevation_started",
    ]
    assert desk.notifier.kinds() == ["submitted", "progressed", "concluded"]


def test_an_approver_named_through_a_user_group_may_approve(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    assert approve(desk.ctx, request_id, approver=desk.other_approver).outcome is Outcome.DONE


@pytest.mark.parametrize(
    ("who", "says"),
    [("requester", "You asked for this access"), ("target", "your own access"), ("stranger", "not an approver")],
)
def test_a_refused_approval_changes_nothing_and_is_audited(desk: Desk, who: str, says: str) -> None:
    target = desk.directory.add("UANA", ANA)
    # The platform's approvers are UBOB and the members of group S0SECURITY (UCAROL).
    clicker = {
        "requester": desk.requester,
        "target": target.model_copy(update={"slack_id": "UCAROL"}),
        "stranger": desk.directory.add("UDAVE", "dave@client.example", admin=True),
    }[who]
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    result = approve(desk.ctx, request_id, approver=clicker)
    assert result.outcome is Outcome.REFUSED
    assert says in result.reason
    assert desk.ctx.load_view(request_id).status is RequestStatus.PENDING  # type: ignore[union-attr]
    assert access(desk) == AccessState.absent()
    assert desk.audit(request_id) == ["requested", "approval_refused"]


def test_many_simultaneous_approvals_apply_exactly_once(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, sandbox=0)
    flaky = desk.ctx.platforms["sandbox"]
    assert isinstance(flaky, FlakyPlatform)
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    results: list[Outcome] = []
    barrier = threading.Barrier(8)

    def click(approver: Person) -> None:
        barrier.wait()
        results.append(approve(desk.ctx, request_id, approver=approver).outcome)

    threads = [threading.Thread(target=click, args=(p,)) for p in [desk.approver, desk.other_approver] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted([Outcome.DONE] + [Outcome.ALREADY_DECIDED] * 7)
    assert flaky.applies == 1
    assert desk.audit(request_id).count("applied") == 1
    assert desk.audit(request_id).count("approved") == 1


# --- failures and retries ----------------------------------------------------------------------------------------


def test_a_platform_failure_is_kept_and_retry_converges(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, sandbox=1)
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    failed = approve(desk.ctx, request_id, approver=desk.approver).view
    assert failed is not None and failed.status is RequestStatus.FAILED
    assert failed.changes[0].status is ChangeStatus.FAILED
    assert "HTTP 503" in (failed.changes[0].error or "")
    assert failed.changes[0].before == AccessState.absent()
    assert access(desk) == AccessState.absent()
    assert desk.notifier.kinds()[-1] == "concluded"

    again = retry(desk.ctx, request_id, actor=desk.other_approver)
    assert again.outcome is Outcome.DONE
    assert again.view is not None and again.view.status is RequestStatus.APPLIED
    assert again.view.changes[0].attempts == 2
    assert access(desk) == AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"})
    assert desk.audit(request_id) == [
        "requested",
        "approved",
        "apply_started",
        "reconcile_planned",
        "failed",
        "retried",
        "apply_started",
        "reconcile_planned",
        "applied",
    ]


def test_the_first_attempts_snapshot_stays_the_changes_before(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, sandbox=1)
    seed(desk, AccessState(member=True, account_role="Analyst"))
    request_id = desk.submit(f"update {ANA} sandbox architect for 2h reason: x")
    approve(desk.ctx, request_id, approver=desk.approver)
    # Someone changes the account between the failure and the retry.
    seed(desk, AccessState(member=True, account_role="Consumer"))
    view = retry(desk.ctx, request_id, actor=desk.approver).view
    assert view is not None
    assert view.changes[0].before == AccessState(member=True, account_role="Analyst")


def test_only_approvers_may_retry_and_only_failed_requests(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, sandbox=1)
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    approve(desk.ctx, request_id, approver=desk.approver)
    assert retry(desk.ctx, request_id, actor=desk.requester).outcome is Outcome.REFUSED
    assert retry(desk.ctx, request_id, actor=desk.approver).outcome is Outcome.DONE
    assert retry(desk.ctx, request_id, actor=desk.approver).outcome is Outcome.NOT_RETRYABLE
    assert retry(desk.ctx, 999, actor=desk.approver).outcome is Outcome.NOT_FOUND


def test_a_platform_that_does_not_do_what_it_was_asked_is_caught_by_verification(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, wrap={"sandbox": DriftingPlatform})
    request_id = desk.submit(f"add {ANA} sandbox architect reason: x")
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None and view.status is RequestStatus.FAILED
    assert view.changes[0].error is not None
    assert view.changes[0].error.startswith("verification failed: sandbox still differs")
    assert "Read-Only → Architect" in view.changes[0].error


def test_an_authentication_error_is_not_retryable_by_the_platform_but_the_request_is(tmp_path: Path) -> None:
    desk = make_desk(tmp_path)
    platforms = dict(desk.ctx.platforms)
    platforms["sandbox"] = FlakyPlatform(platforms["sandbox"], failures=1, error=PlatformAuthError)
    desk.ctx = ServiceContext(
        engine=desk.ctx.engine,
        platforms=platforms,
        settings=desk.ctx.settings,
        directory=desk.directory,
        notifier=desk.notifier,
        clock=desk.clock,
    )
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None and view.status is RequestStatus.FAILED
    with Session(desk.ctx.engine) as session:
        failed = [event for event in events_for(session=session, request_id=request_id) if event.event == "failed"]
    assert failed[0].detail["kind"] == "auth"


def test_offboarding_continues_past_a_failing_platform_and_retries_only_that_one(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, sandbox_eu=1)
    for name in ("sandbox", "sandbox-eu"):
        seed(desk, AccessState(member=True, account_role="Analyst", scopes={"staging": "Admin"}), name)
    request_id = desk.submit(f"remove {ANA} all revoke reason: engagement ended")
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None and view.status is RequestStatus.FAILED
    statuses = {change.platform: change.status for change in view.changes}
    assert statuses == {"sandbox": ChangeStatus.APPLIED, "sandbox-eu": ChangeStatus.FAILED}
    assert access(desk, "sandbox") == AccessState(member=True, account_role="Read-Only")

    eu = desk.ctx.platforms["sandbox-eu"]
    assert isinstance(eu, FlakyPlatform)
    view = retry(desk.ctx, request_id, actor=desk.approver).view
    assert view is not None and view.status is RequestStatus.APPLIED
    assert eu.applies == 2
    assert [change.attempts for change in view.changes] == [1, 2]
    assert access(desk, "sandbox-eu") == AccessState(member=True, account_role="Read-Only")


def test_removal_uses_the_platforms_default_method_when_none_is_named(desk: Desk) -> None:
    seed(desk, AccessState(member=True, account_role="Analyst"))
    request_id = desk.submit(f"remove {ANA} sandbox reason: done")
    view = desk.ctx.load_view(request_id)
    assert view is not None and view.changes[0].method is RemovalMethod.DELETE
    approve(desk.ctx, request_id, approver=desk.approver)
    assert access(desk) == AccessState.absent()


# --- deny and withdraw -------------------------------------------------------------------------------------------


def test_deny_closes_the_request_and_a_later_approve_is_told_it_was_denied(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox admin reason: x")
    denied = deny(desk.ctx, request_id, approver=desk.approver, reason="too broad")
    assert denied.outcome is Outcome.DONE
    assert denied.view is not None and denied.view.status is RequestStatus.DENIED
    assert denied.view.deny_reason == "too broad"
    assert denied.view.changes[0].status is ChangeStatus.SKIPPED
    late = approve(desk.ctx, request_id, approver=desk.other_approver)
    assert late.outcome is Outcome.ALREADY_DECIDED
    assert late.view is not None and late.view.decided_by == "UBOB"
    assert access(desk) == AccessState.absent()
    assert desk.audit(request_id) == ["requested", "denied"]


def test_the_requester_pressing_deny_withdraws_their_request(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox admin reason: x")
    result = deny(desk.ctx, request_id, approver=desk.requester, reason=None)
    assert result.view is not None and result.view.status is RequestStatus.CANCELLED
    assert desk.audit(request_id) == ["requested", "withdrawn"]


def test_a_stranger_cannot_deny(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox admin reason: x")
    stranger = desk.directory.add("UDAVE", "dave@client.example")
    assert deny(desk.ctx, request_id, approver=stranger, reason=None).outcome is Outcome.REFUSED
    assert desk.ctx.load_view(request_id).status is RequestStatus.PENDING  # type: ignore[union-attr]


def test_a_temporary_grant_records_its_span(desk: Desk) -> None:
    command = desk.command(f"add {ANA} sandbox viewer on production for 90m reason: x")
    assert isinstance(command, GrantCommand) and command.change == AccessChange(scopes={"production": "Viewer"})
    view = submit(desk.ctx, command, requester=desk.requester, target_email=ANA)
    assert view.duration == timedelta(minutes=90)
    assert Target(email=ANA) == command.target


def test_a_failure_trying_again_cannot_fix_offers_no_retry_and_a_retry_is_refused(tmp_path: Path) -> None:
    desk = make_desk(
        tmp_path, wrap={"sandbox": lambda inner: FlakyPlatform(inner, failures=5, error=PlatformUnsupported)}
    )
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: dashboards")
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None and view.status is RequestStatus.FAILED
    assert view.changes[0].error_kind == "unsupported" and not view.retry_helps
    assert ids.RETRY not in str(approval_card(view)) and "trying again cannot help" in str(approval_card(view))
    refused = retry(desk.ctx, request_id, actor=desk.approver)
    assert refused.outcome is Outcome.REFUSED and "Trying again cannot help" in refused.reason
    assert desk.audit(request_id).count("retried") == 0
