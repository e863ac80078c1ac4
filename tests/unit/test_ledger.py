"""The grant ledger's rules (domain.ledger), as the README's precedence table states them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.access import AccessChange, AccessState
from domain.ledger import (
    ACCOUNT_ROLE,
    MEMBER,
    Layer,
    adopt,
    covered,
    describe_changes,
    describe_parts,
    desired,
    drift,
    parts_of,
    released,
    state_of,
    taken_over,
    unexplained,
)
from platforms.heap_catalog import heap_catalog

CATALOG = heap_catalog()
DEFAULT = CATALOG.default_account_role
ABSENT = AccessState.absent()
ANALYST = AccessState(member=True, account_role="Analyst")


def layer(id_: int, permanent: bool = False, **parts: object) -> Layer:
    return Layer(
        id=id_, seq=id_, parts={key.replace("__", ":"): value for key, value in parts.items()}, permanent=permanent
    )


def want(baseline: AccessState, *layers: Layer) -> AccessState:
    return desired(baseline, layers, default_account_role=DEFAULT)


def test_with_no_live_grant_the_baseline_is_what_should_be() -> None:
    assert want(ANALYST) == ANALYST
    assert want(ABSENT) == ABSENT


def test_the_newest_grant_covering_a_part_wins() -> None:
    older = layer(1, account_role="Admin")
    newer = layer(2, account_role="Architect")
    assert want(ANALYST, older, newer).account_role == "Architect"
    assert want(ANALYST, newer, older).account_role == "Architect", "order of planning, not of the list"
    assert want(ANALYST, older).account_role == "Admin"


def test_ending_a_grant_gives_each_part_back_to_the_next_newest_or_the_baseline() -> None:
    permanent = layer(1, permanent=True, account_role="Architect")
    elevation = layer(2, account_role="Admin", scope__staging="Admin")
    assert want(ANALYST, permanent, elevation) == AccessState(
        member=True, account_role="Admin", scopes={"staging": "Admin"}
    )
    # The elevation ends: the permanent grant's role returns, the scope goes back to the baseline's nothing.
    assert want(ANALYST, permanent) == AccessState(member=True, account_role="Architect")


def test_membership_follows_need_with_the_default_role_when_nothing_sets_one() -> None:
    joined = layer(1, member=True, account_role="Admin", scope__staging="Viewer")
    scope_only = layer(2, permanent=True, scope__production="Viewer")
    assert want(ABSENT, joined, scope_only) == AccessState(
        member=True, account_role="Admin", scopes={"staging": "Viewer", "production": "Viewer"}
    )
    # The grant that made them a member ends: the scope someone else was granted keeps them in, at the default role.
    assert want(ABSENT, scope_only) == AccessState(member=True, account_role=DEFAULT, scopes={"production": "Viewer"})
    assert want(ABSENT) == ABSENT


def test_a_grant_covers_what_it_asks_for_and_membership_when_it_makes_a_member() -> None:
    change = AccessChange(scopes={"staging": "Viewer"})
    assert covered(change, ABSENT, CATALOG) == {MEMBER: True, ACCOUNT_ROLE: DEFAULT, "scope:staging": "Viewer"}
    assert covered(change, ANALYST, CATALOG) == {"scope:staging": "Viewer"}
    assert covered(AccessChange(account_role="Admin"), ANALYST, CATALOG) == {ACCOUNT_ROLE: "Admin"}
    assert covered(AccessChange(scopes={"staging": None}), ANALYST, CATALOG) == {"scope:staging": None}


def test_a_later_permanent_grant_takes_over_an_older_grants_parts_and_a_temporary_one_only_stacks() -> None:
    elevation = layer(1, account_role="Admin", scope__staging="Admin")
    permanent = layer(2, permanent=True, account_role="Architect")
    assert taken_over([elevation, permanent], permanent) == {1: {"scope:staging": "Admin"}}
    stacked = layer(3, account_role="Admin")
    assert taken_over([elevation, permanent, stacked], stacked) == {}
    newer = layer(4, permanent=True, scope__staging="Viewer", account_role="Analyst")
    assert taken_over([elevation, permanent, newer], newer) == {1: {}, 2: {}}


def test_drift_is_a_value_the_bot_neither_verified_nor_was_applying() -> None:
    expected = AccessState(member=True, account_role="Analyst", scopes={"staging": "Viewer"})
    planned = AccessState(member=True, account_role="Admin", scopes={"staging": "Viewer"})
    assert drift(expected, expected) == {}
    assert drift(planned, expected, [planned]) == {}, "a plan that landed, though nobody recorded it"
    by_hand = AccessState(member=True, account_role="Architect", scopes={"staging": "Viewer", "prod": "Admin"})
    assert drift(by_hand, expected, [planned]) == {
        ACCOUNT_ROLE: ("Analyst", "Architect"),
        "scope:prod": (None, "Admin"),
    }
    assert drift(ABSENT, expected) == {MEMBER: (True, False)}, "one fact: they were removed"


def test_drift_is_adopted_into_the_baseline_and_no_grant_covers_it_any_more() -> None:
    drifted = {ACCOUNT_ROLE: ("Admin", "Architect")}
    assert adopt(ANALYST, drifted) == AccessState(member=True, account_role="Architect")
    assert adopt(ANALYST, {MEMBER: (True, False)}) == ABSENT
    # A scope added by hand to someone who was no member before the bot: the baseline keeps them in.
    assert adopt(ABSENT, {MEMBER: (False, True), "scope:prod": (None, "Viewer")}) == AccessState(
        member=True, account_role=None, scopes={"prod": "Viewer"}
    )
    assert released([layer(1, account_role="Admin", scope__x="Viewer")], drifted) == {1: {"scope:x": "Viewer"}}


def test_words_for_people() -> None:
    assert describe_parts({MEMBER: True, ACCOUNT_ROLE: "Consumer", "scope:staging": "Viewer"}) == (
        "joined as Consumer, staging: Viewer"
    )
    assert describe_changes({ACCOUNT_ROLE: ("Analyst", "Admin")}) == "account role: Analyst → Admin"
    assert describe_changes({ACCOUNT_ROLE: ("Read-Only", "Read-Only"), "scope:crm": (None, "Viewer")}) == (
        "crm: no access → Viewer"
    )
    assert describe_changes({ACCOUNT_ROLE: ("Read-Only", "Read-Only")}) == "no change"
    assert describe_changes({MEMBER: (True, False), ACCOUNT_ROLE: ("Admin", None)}) == (
        "removed from the platform (had Admin)"
    )


ROLES = st.sampled_from(CATALOG.account_roles)
SCOPES = st.sampled_from(["staging", "production", "sandbox"])
STATES = st.one_of(
    st.just(ABSENT),
    st.builds(
        lambda role, scopes: AccessState(member=True, account_role=role, scopes=scopes),
        ROLES,
        st.dictionaries(SCOPES, st.sampled_from(["Admin", "Viewer"]), max_size=3),
    ),
)
LAYERS = st.lists(
    st.builds(
        lambda role, scopes, permanent: (role, scopes, permanent),
        st.none() | ROLES,
        st.dictionaries(SCOPES, st.none() | st.sampled_from(["Admin", "Viewer"]), max_size=2),
        st.booleans(),
    ),
    max_size=4,
)


@given(baseline=STATES, specs=LAYERS)
def test_parts_round_trip_and_desired_explains_itself(
    baseline: AccessState, specs: list[tuple[str | None, dict[str, str | None], bool]]
) -> None:
    assert state_of(parts_of(baseline)) == baseline
    layers = []
    current = baseline
    for seq, (role, scopes, permanent) in enumerate(specs):
        parts = covered(AccessChange(account_role=role, scopes=scopes), current, CATALOG)
        layers.append(Layer(id=seq, seq=seq, parts=parts, permanent=permanent))
        current = want(baseline, *layers)
        # What the grant asked for holds now, exactly.
        if role is not None:
            assert current.account_role == role
        for scope, value in scopes.items():
            assert current.scopes.get(scope) == value
    assert unexplained(current, baseline, layers, default_account_role=DEFAULT) == {}
    # Ending every grant, in any order, leaves the baseline.
    assert want(baseline) == baseline
