from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.access import AccessChange, AccessState
from domain.elevation import (
    ACCOUNT_ROLE,
    MEMBER,
    Layer,
    asked_fields,
    describe_changes,
    field_values,
    released,
    reminder_times,
    revert_plan,
    track,
)
from platforms.heap_catalog import heap_catalog

CATALOG = heap_catalog()
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def elevate(
    current: AccessState, change: AccessChange, active: list[Layer], layer_id: int
) -> tuple[AccessState, Layer]:
    """What the service does on apply: compute the desired state and track the new layer."""
    elevated = change.desired_from(current, CATALOG)
    fields = track(asked=asked_fields(change, current), before=current, elevated=elevated, active=active)
    return elevated, Layer(id=layer_id, applied_at=T0 + timedelta(minutes=layer_id), fields=fields)


def test_an_elevated_account_role_goes_back() -> None:
    before = AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"})
    elevated, layer = elevate(before, AccessChange(account_role="Admin"), [], 1)
    plan = revert_plan(current=elevated, ending=layer, others=[])
    assert plan.desired == before
    assert plan.reverted == {ACCOUNT_ROLE: ("Admin", "Consumer")}
    assert plan.drift == {}


def test_only_what_the_elevation_added_is_taken_back() -> None:
    before = AccessState(member=True, account_role="Analyst", scopes={"production": "Viewer"})
    elevated, layer = elevate(before, AccessChange(scopes={"staging": "Admin"}), [], 1)
    assert elevated.scopes == {"production": "Viewer", "staging": "Admin"}
    plan = revert_plan(current=elevated, ending=layer, others=[])
    assert plan.desired == before
    assert describe_changes(plan.reverted) == "staging: Admin → no access"


def test_a_hand_made_change_is_drift_and_is_left_alone() -> None:
    before = AccessState(member=True, account_role="Consumer")
    elevated, layer = elevate(before, AccessChange(account_role="Admin", scopes={"staging": "Admin"}), [], 1)
    # Someone sets the role by hand while the elevation runs.
    current = elevated.model_copy(update={"account_role": "Architect"})
    plan = revert_plan(current=current, ending=layer, others=[])
    assert plan.drift == {ACCOUNT_ROLE: ("Admin", "Architect")}
    assert plan.desired == AccessState(member=True, account_role="Architect")
    assert plan.reverted == {"scope:staging": ("Admin", None)}


def test_someone_who_was_not_a_member_leaves_again() -> None:
    elevated, layer = elevate(AccessState.absent(), AccessChange(scopes={"production": "Viewer"}), [], 1)
    plan = revert_plan(current=elevated, ending=layer, others=[])
    assert plan.desired == AccessState.absent()
    assert MEMBER in plan.reverted


def test_membership_is_kept_when_leaving_would_take_access_the_elevation_never_gave() -> None:
    elevated, layer = elevate(AccessState.absent(), AccessChange(scopes={"production": "Viewer"}), [], 1)
    current = elevated.model_copy(update={"scopes": {**elevated.scopes, "staging": "Contributor"}})
    plan = revert_plan(current=current, ending=layer, others=[])
    assert plan.desired == AccessState(member=True, account_role="Consumer", scopes={"staging": "Contributor"})
    assert plan.drift == {"scope:staging": (None, "Contributor")}
    assert plan.reverted == {"scope:production": ("Viewer", None)}


def test_the_first_of_two_overlapping_grants_to_expire_does_not_revoke_the_second() -> None:
    before = AccessState(member=True, account_role="Consumer")
    first_state, first = elevate(before, AccessChange(account_role="Admin"), [], 1)
    second_state, second = elevate(first_state, AccessChange(account_role="Admin"), [first], 2)
    assert second.fields[ACCOUNT_ROLE].before == "Consumer", "the newer grant inherits the true baseline"
    plan = revert_plan(current=second_state, ending=first, others=[second])
    assert plan.desired == second_state
    assert plan.kept_for == {ACCOUNT_ROLE: 2}
    assert not plan.changes_anything
    assert revert_plan(current=second_state, ending=second, others=[]).desired == before


def test_a_shorter_newer_grant_ending_first_hands_back_to_the_older_one() -> None:
    before = AccessState(member=True, account_role="Analyst")
    admin, first = elevate(before, AccessChange(account_role="Admin"), [], 1)
    architect, second = elevate(admin, AccessChange(account_role="Architect"), [first], 2)
    plan = revert_plan(current=architect, ending=second, others=[first])
    assert plan.desired == admin
    assert plan.drift == {}
    assert revert_plan(current=admin, ending=first, others=[]).desired == before


def test_a_permanent_change_by_the_bot_releases_the_field() -> None:
    before = AccessState(member=True, account_role="Consumer")
    elevated, layer = elevate(before, AccessChange(account_role="Admin"), [], 1)
    remaining = released(layer, [ACCOUNT_ROLE])
    plan = revert_plan(current=elevated, ending=remaining, others=[])
    assert plan.desired == elevated and plan.drift == {}


def test_reminders_before_expiry_skip_those_already_past() -> None:
    expires = T0 + timedelta(hours=2)
    offsets = [timedelta(hours=24), timedelta(hours=1), timedelta(minutes=10)]
    assert reminder_times(expires_at=expires, offsets=offsets, now=T0) == [
        expires - timedelta(hours=1),
        expires - timedelta(minutes=10),
    ]


# --- stacking, as a property -----------------------------------------------------------------------------------

ROLES = list(CATALOG.account_roles)
PROJECTS = ["production", "staging", "development"]
changes = st.one_of(
    st.builds(lambda role: AccessChange(account_role=role), st.sampled_from(ROLES)),
    st.dictionaries(st.sampled_from(PROJECTS), st.sampled_from(["Admin", "Contributor", "Viewer"]), min_size=1).map(
        lambda scopes: AccessChange(scopes=scopes)
    ),
)
baselines = st.one_of(
    st.just(AccessState.absent()),
    st.builds(
        lambda role, scopes: AccessState(member=True, account_role=role, scopes=scopes),
        st.sampled_from(ROLES),
        st.dictionaries(st.sampled_from(PROJECTS), st.sampled_from(["Admin", "Viewer"])),
    ),
)
# Each step either grants a new elevation, or ends the active one at the given position.
steps = st.lists(st.one_of(changes, st.integers(min_value=0, max_value=10)), max_size=14)


@given(baselines, steps)
def test_stacked_elevations_ending_in_any_order_keep_the_others_and_return_to_the_baseline(
    baseline: AccessState, plan: list[AccessChange | int]
) -> None:
    current = baseline
    active: list[Layer] = []
    for number, step in enumerate(plan, start=1):
        if isinstance(step, AccessChange):
            current, layer = elevate(current, step, active, number)
            active.append(layer)
        elif active:
            ending = active.pop(step % len(active))
            result = revert_plan(current=current, ending=ending, others=active)
            assert result.drift == {}, "nothing changed by hand, so nothing can have drifted"
            current = result.desired
            values = field_values(current)
            for layer in active:
                for field in layer.fields:
                    newest = max((a for a in active if field in a.fields), key=lambda a: a.applied_at)
                    assert values.get(field) == newest.fields[field].elevated, "an active grant lost its access"
    for ending in list(reversed(active)):
        active.remove(ending)
        current = revert_plan(current=current, ending=ending, others=active).desired
    assert current == baseline


def test_leaving_the_platform_is_described_as_such() -> None:
    changes = {MEMBER: (True, False), ACCOUNT_ROLE: ("Consumer", None), "scope:production": ("Viewer", None)}
    assert describe_changes(changes) == "removed from the platform (had Consumer, production: Viewer)"
