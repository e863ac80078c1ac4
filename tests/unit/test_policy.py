from __future__ import annotations

from datetime import timedelta

import pytest

from domain.people import Mailboxes
from domain.policy import Approver, PlatformPolicy, RequestFacts, duration_verdict, may_approve

REQUEST = RequestFacts(requester_id="UREQ", target_email="ana@agency.com", target_slack_id="UANA", platforms=("heap",))
APPROVERS = {"heap": frozenset({"UBOB", "UCAROL", "UANA"})}


@pytest.mark.parametrize(
    ("approver", "eligible", "allowed", "says"),
    [
        (Approver(slack_id="UBOB"), APPROVERS, True, ""),
        (Approver(slack_id="UREQ"), {"heap": frozenset({"UREQ"})}, False, "You asked for this access"),
        (Approver(slack_id="UANA"), APPROVERS, False, "changes your own access"),
        (Approver(slack_id="UX", email="ANA@agency.com"), {"heap": frozenset({"UX"})}, False, "your own access"),
        (Approver(slack_id="UDAVE"), APPROVERS, False, "not an approver for heap"),
        (Approver(slack_id="UDAVE", is_workspace_admin=True), APPROVERS, False, "not an approver for heap"),
        (Approver(slack_id="UDAVE", is_workspace_admin=True), {"heap": None}, True, ""),
        (Approver(slack_id="UDAVE"), {"heap": None}, False, "only Slack workspace admins"),
    ],
)
def test_who_may_approve(approver: Approver, eligible: dict, allowed: bool, says: str) -> None:
    verdict = may_approve(request=REQUEST, approver=approver, eligible=eligible, mailboxes=Mailboxes())
    assert verdict.allowed is allowed
    assert says in verdict.reason


def test_a_request_over_several_platforms_needs_an_approver_of_each() -> None:
    request = REQUEST.model_copy(update={"platforms": ("heap", "chartbeat")})
    eligible = {"heap": frozenset({"UBOB"}), "chartbeat": frozenset({"UCAROL"})}
    assert not may_approve(
        request=request, approver=Approver(slack_id="UBOB"), eligible=eligible, mailboxes=Mailboxes()
    ).allowed
    eligible["chartbeat"] = frozenset({"UCAROL", "UBOB"})
    assert may_approve(
        request=request, approver=Approver(slack_id="UBOB"), eligible=eligible, mailboxes=Mailboxes()
    ).allowed


POLICY = PlatformPolicy(max_duration="30d", role_max_duration={"admin": "8h"}, min_duration="5m")


@pytest.mark.parametrize(
    ("roles", "requested", "allowed", "says"),
    [
        (("Viewer",), timedelta(days=30), True, ""),
        (("Viewer",), timedelta(days=30, minutes=1), False, "at most 4w 2d on heap"),
        (("Admin",), timedelta(hours=8), True, ""),
        (("Admin",), timedelta(hours=8, minutes=1), False, "at most 8h for admin on heap"),
        (("Viewer",), timedelta(minutes=5), True, ""),
        (("Viewer",), timedelta(minutes=4), False, "at least 5m"),
        (("Viewer",), timedelta(0), False, "already in the past"),
    ],
)
def test_duration_limits_at_their_boundaries(
    roles: tuple[str, ...], requested: timedelta, allowed: bool, says: str
) -> None:
    verdict = duration_verdict(policy=POLICY, platform="heap", roles=roles, requested=requested)
    assert verdict.allowed is allowed
    assert says in verdict.reason


def test_no_limits_configured_means_any_positive_duration() -> None:
    verdict = duration_verdict(
        policy=PlatformPolicy(), platform="heap", roles=("Admin",), requested=timedelta(weeks=50)
    )
    assert verdict.allowed
