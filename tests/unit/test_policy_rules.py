"""The approval policy, rule by rule and at each edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.access import AccessState
from domain.people import Mailboxes
from domain.policy import (
    ApprovalVerdict,
    Approver,
    BreakGlass,
    GrantItem,
    GuardRails,
    PlatformPolicy,
    PolicyConfig,
    RequestFacts,
    Requirements,
    Rule,
    RuleMatch,
    approval_verdict,
    break_glass_verdict,
    evaluate,
    guard_rails,
    pending_deadlines,
    request_refusals,
)
from platforms.heap_catalog import heap_catalog

CATALOG = heap_catalog()
PLATFORMS = {"heap": PlatformPolicy(approvers=("S0APPROVERS",)), "chartbeat": PlatformPolicy(approvers=("U0CB",))}


def item(**fields: object) -> GrantItem:
    return GrantItem(**({"platform": "heap", "verb": "add", "level": "account", "role": "Analyst"} | fields))


ADMIN = item(role="Admin", admin=True)
PROJECT_ADMIN = item(level="scope", scope="production", role="Admin")
REMOVAL = item(verb="remove", role=None)


# --- which rules apply -----------------------------------------------------------------------------------------


def test_the_default_rule_wants_two_approvers_one_from_security_for_an_account_admin() -> None:
    policy = PolicyConfig(security_group="S0SECURITY")
    needs = evaluate(policy, [ADMIN], PLATFORMS)
    assert needs.rules == ("org-admin",)
    assert needs.approvals == 2
    assert needs.require_one_of == (("S0SECURITY",),)
    assert needs.approvers == {"heap": ("S0APPROVERS",)}


@pytest.mark.parametrize(
    ("grant", "matched"),
    [
        (PROJECT_ADMIN, False),
        (REMOVAL, False),
        (item(role="Analyst"), False),
        (ADMIN, True),
        (item(role="Admin", admin=True, verb="extend", permanent=False), True),
    ],
)
def test_the_default_rule_is_about_organisation_admin_grants_only(grant: GrantItem, matched: bool) -> None:
    assert bool(evaluate(PolicyConfig(), [grant], PLATFORMS).rules) is matched


@pytest.mark.parametrize(
    ("match", "grant", "expected"),
    [
        (RuleMatch(platforms=("heap",)), item(platform="chartbeat"), False),
        (RuleMatch(platforms=("heap",)), item(), True),
        (RuleMatch(verbs=("remove",)), REMOVAL, True),
        (RuleMatch(), REMOVAL, False),
        (RuleMatch(level="scope"), item(), False),
        (RuleMatch(level="scope"), PROJECT_ADMIN, True),
        (RuleMatch(scopes=("Production",)), PROJECT_ADMIN, True),
        (RuleMatch(scopes=("staging",)), PROJECT_ADMIN, False),
        (RuleMatch(roles=("read only",)), item(role="Read-Only"), True),
        (RuleMatch(roles=("admin",)), item(role="Analyst"), False),
        (RuleMatch(admin=True), PROJECT_ADMIN, False),
        (RuleMatch(permanent=True), item(permanent=False), False),
        (RuleMatch(permanent=False), item(permanent=False), True),
    ],
)
def test_rule_matching(match: RuleMatch, grant: GrantItem, expected: bool) -> None:
    assert match.matches(grant) is expected


def test_every_matching_rule_applies_and_the_strictest_requirement_wins() -> None:
    policy = PolicyConfig(
        ticket_pattern=r"OPS-\d+",
        rules=(
            Rule(
                name="prod",
                match=RuleMatch(scopes=("production",)),
                approvals=2,
                max_duration="8h",
                ticket_pattern=r"[A-Z]+-\d+",
                require_one_of=("S0DATA",),
            ),
            Rule(
                name="admins",
                match=RuleMatch(roles=("admin",)),
                approvals=3,
                max_duration="1d",
                require_one_of=("S0SECURITY",),
                permanent="refuse",
            ),
            Rule(name="unrelated", match=RuleMatch(platforms=("chartbeat",)), approvals=5),
        ),
    )
    needs = evaluate(policy, [PROJECT_ADMIN], PLATFORMS)
    assert needs.rules == ("prod", "admins")
    assert needs.approvals == 3
    assert needs.max_duration == timedelta(hours=8)
    assert needs.ticket_patterns == (r"OPS-\d+", r"[A-Z]+-\d+")
    assert needs.require_one_of == (("S0DATA",), ("S0SECURITY",))
    assert needs.refuse_permanent == ("admins",)


def test_a_rule_can_name_its_own_approvers_for_what_it_covers() -> None:
    policy = PolicyConfig(rules=(Rule(name="prod", match=RuleMatch(scopes=("production",)), approvers=("U0LEAD",)),))
    assert evaluate(policy, [PROJECT_ADMIN], PLATFORMS).approvers == {"heap": ("U0LEAD",)}
    assert evaluate(policy, [item()], PLATFORMS).approvers == {"heap": ("S0APPROVERS",)}


# --- what a request must carry ---------------------------------------------------------------------------------

STRICT = Requirements(
    rules=("strict",), ticket_patterns=(r"OPS-\d+",), max_duration=timedelta(hours=8), refuse_permanent=("strict",)
)


@pytest.mark.parametrize(
    ("ticket", "duration", "says"),
    [
        (None, timedelta(hours=1), "A ticket is required"),
        ("JIRA-1", timedelta(hours=1), "does not match the required pattern"),
        ("OPS-1", None, "A permanent grant is not allowed by strict: ask `for 8h` or less"),
        ("OPS-1", timedelta(hours=8, minutes=1), "at most 8h"),
        ("OPS-1", timedelta(hours=8), None),
    ],
)
def test_what_a_request_must_carry(ticket: str | None, duration: timedelta | None, says: str | None) -> None:
    problems = request_refusals(STRICT, ticket=ticket, duration=duration)
    if says is None:
        assert problems == []
    else:
        assert len(problems) == 1 and says in problems[0]


# --- approving ---------------------------------------------------------------------------------------------------

REQUEST = RequestFacts(requester_id="UREQ", target_email="ana@agency.com", target_slack_id="UANA", platforms=("heap",))
TWO_WITH_SECURITY = Requirements(approvals=2, require_one_of=(("S0SECURITY",),))
ELIGIBLE = {"heap": frozenset({"UBOB", "UCAROL", "USEC", "UREQ", "UANA"})}
SECURITY = [frozenset({"USEC"})]


def verdict(
    who: str,
    prior: tuple[str, ...] = (),
    requirements: Requirements = TWO_WITH_SECURITY,
    members: list[frozenset[str]] = SECURITY,
) -> ApprovalVerdict:
    return approval_verdict(
        request=REQUEST,
        requirements=requirements,
        approver=Approver(slack_id=who),
        eligible=ELIGIBLE,
        mailboxes=Mailboxes(),
        prior=prior,
        required_members=members,
    )


@pytest.mark.parametrize(
    ("who", "prior", "allowed", "complete", "says"),
    [
        ("UBOB", (), True, False, ""),
        ("USEC", (), True, False, ""),
        ("USEC", ("UBOB",), True, True, ""),
        ("UCAROL", ("UBOB",), False, False, "The last approval must come from S0SECURITY"),
        ("UBOB", ("UBOB",), False, False, "You have approved this already; it needs 1 more"),
        ("UREQ", (), False, False, "You asked for this access"),
        ("UANA", ("USEC",), False, False, "changes your own access"),
        ("UDAVE", ("USEC",), False, False, "not an approver for heap"),
    ],
)
def test_who_may_approve_a_grant_that_needs_two_one_from_security(
    who: str, prior: tuple[str, ...], allowed: bool, complete: bool, says: str
) -> None:
    result = verdict(who, prior)
    assert (result.allowed, result.complete) == (allowed, complete)
    assert says in result.reason


def test_three_approvals_count_up_and_only_then_complete() -> None:
    three = Requirements(approvals=3)
    assert verdict("UBOB", (), three, members=[]).complete is False
    assert verdict("UCAROL", ("UBOB",), three, members=[]).complete is False
    assert verdict("USEC", ("UBOB", "UCAROL"), three, members=[]).complete is True


def test_self_approval_only_where_a_rule_allows_it() -> None:
    allowed = Requirements(allow_self_approval=True)
    assert verdict("UREQ", (), allowed, members=[]).complete is True
    assert verdict("UANA", (), allowed, members=[]).complete is True


def test_the_target_is_recognised_by_email_too() -> None:
    result = approval_verdict(
        request=REQUEST,
        requirements=Requirements(),
        eligible={"heap": frozenset({"UX"})},
        approver=Approver(slack_id="UX", email="ANA@agency.com"),
        mailboxes=Mailboxes(),
    )
    assert not result.allowed


@st.composite
def attempts(draw: st.DrawFn) -> tuple[Requirements, list[str]]:
    people = ["UREQ", "UANA", "UBOB", "UCAROL", "USEC"]
    groups = draw(st.lists(st.sets(st.sampled_from(people), min_size=1).map(lambda s: tuple(sorted(s))), max_size=2))
    needs = Requirements(approvals=draw(st.integers(min_value=2, max_value=4)), require_one_of=tuple(groups))
    return needs, draw(st.lists(st.sampled_from(people), max_size=12))


@given(attempts())
def test_no_sequence_of_clicks_approves_a_two_person_grant_without_two_others(
    case: tuple[Requirements, list[str]],
) -> None:
    requirements, clicks = case
    prior: list[str] = []
    members = [frozenset(group) for group in requirements.require_one_of]
    for who in clicks:
        result = approval_verdict(
            request=REQUEST,
            requirements=requirements,
            approver=Approver(slack_id=who),
            eligible=ELIGIBLE,
            mailboxes=Mailboxes(),
            prior=prior,
            required_members=members,
        )
        if result.allowed:
            prior.append(who)
        if result.complete:
            assert len(set(prior)) >= requirements.approvals >= 2
            assert not {"UREQ", "UANA"} & set(prior), "the requester and the target never count"
            assert all(group & set(prior) for group in members)
            return
    assert {"UREQ", "UANA"}.isdisjoint(prior)


# --- guard rails ------------------------------------------------------------------------------------------------

RAILS = GuardRails()
MEMBER = AccessState(member=True, account_role="Analyst")
ORG_ADMIN = AccessState(member=True, account_role="Admin")


@pytest.mark.parametrize(
    ("current", "desired", "admins", "says"),
    [
        (MEMBER, ORG_ADMIN, 2, None),
        (MEMBER, ORG_ADMIN, 3, "already has 3 organisation admins, the most allowed (3)"),
        (ORG_ADMIN, MEMBER, 3, None),
        (ORG_ADMIN, MEMBER, 2, "would be left with 1 organisation admin(s); at least 2 must remain"),
        (ORG_ADMIN, AccessState.absent(), 2, "would be left with 1"),
        (ORG_ADMIN, ORG_ADMIN, 1, None),
        (MEMBER, ORG_ADMIN, None, None),
    ],
)
def test_the_admin_limits_at_their_edges(
    current: AccessState, desired: AccessState, admins: int | None, says: str | None
) -> None:
    result = guard_rails(RAILS, platform="heap", catalog=CATALOG, current=current, desired=desired, org_admins=admins)
    if says is None:
        assert result.refusals == ()
    else:
        assert len(result.refusals) == 1 and says in result.refusals[0]


def test_broad_grants_come_with_warnings() -> None:
    every_project = MEMBER.model_copy(
        update={"scopes": {"production": "Viewer", "staging": "Viewer", "development": "Viewer"}}
    )
    result = guard_rails(
        RAILS, platform="heap", catalog=CATALOG, current=MEMBER, desired=every_project, org_admins=None
    )
    assert result.warnings == (
        "This gives access to every project on heap; the guidance is to grant only the projects the work needs.",
    )
    production_admin = MEMBER.model_copy(update={"scopes": {"production": "Admin"}})
    result = guard_rails(
        RAILS, platform="heap", catalog=CATALOG, current=MEMBER, desired=production_admin, org_admins=None
    )
    assert result.warnings == (
        "Admin on production: full control of a sensitive project; consider Contributor there, or a time limit.",
    )
    assert (
        guard_rails(
            RAILS, platform="heap", catalog=CATALOG, current=production_admin, desired=production_admin, org_admins=None
        ).warnings
        == ()
    )


# --- break-glass and expiry --------------------------------------------------------------------------------------

GLASS = BreakGlass(members=("S0ONCALL",), max_duration="4h", per_person_per_day=1)
REASON = "INC-812 tracking outage, fixing it"


@pytest.mark.parametrize(
    ("rails", "member", "uses", "duration", "reason", "says"),
    [
        (BreakGlass(), True, 0, timedelta(hours=1), REASON, "Break-glass is not set up"),
        (GLASS, False, 0, timedelta(hours=1), REASON, "not in the break-glass group"),
        (GLASS, True, 0, None, REASON, "must be time-boxed"),
        (GLASS, True, 0, timedelta(hours=4, minutes=1), REASON, "at most 4h"),
        (GLASS, True, 0, timedelta(hours=1), "urgent!", "needs a few words"),
        (GLASS, True, 1, timedelta(hours=1), REASON, "used break-glass 1 time(s) in the last 24 hours"),
        (GLASS, True, 0, timedelta(hours=4), REASON, None),
    ],
)
def test_break_glass(
    rails: BreakGlass, member: bool, uses: int, duration: timedelta | None, reason: str, says: str | None
) -> None:
    result = break_glass_verdict(rails, member=member, uses_last_day=uses, duration=duration, reason=reason)
    assert result.allowed is (says is None)
    assert says is None or says in result.reason


def test_undecided_requests_are_reminded_once_then_expire() -> None:
    made = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    remind, expire = pending_deadlines(PolicyConfig(pending_expiry="3d", remind_before="1d"), made)
    assert (remind, expire) == (made + timedelta(days=2), made + timedelta(days=3))
    remind, _ = pending_deadlines(PolicyConfig(pending_expiry="1h", remind_before="1d"), made)
    assert remind == made


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"rules": [{"name": "x", "approvers": ["bob"]}]}, "is not a Slack user id"),
        ({"rules": [{"name": "x", "ticket_pattern": "OPS-("}]}, "is not a valid regular expression"),
        ({"rules": [{"name": "x", "approvals": 0}]}, "greater than or equal to 1"),
        ({"rules": [{"name": "x", "match": {"verbs": ["delete"]}}]}, "Input should be"),
        ({"rules": [{"name": "x", "match": {"role": "admin"}}]}, "Extra inputs are not permitted"),
        ({"security_group": "security"}, "is not a Slack user id"),
    ],
)
def test_policy_config_errors(config: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        PolicyConfig.model_validate(config)
