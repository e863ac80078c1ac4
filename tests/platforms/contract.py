"""The contract every platform client keeps. Subclass `PlatformContract` and provide a `platform` fixture.

Each test uses a fresh member address, so a client whose test server is shared between tests still starts clean.
"""

from __future__ import annotations

import itertools

import pytest

from domain.access import AccessChange, AccessState, RemovalMethod, StepKind
from platforms.base import ApplyResult, Platform, PlatformError

_emails = itertools.count(1)


def fresh_email() -> str:
    return f"contract-{next(_emails)}@collaborator.example"


def granted(platform: Platform) -> AccessState:
    """Some access every catalog can express: its default account role and the lowest role on one scope."""
    catalog = platform.catalog
    scopes = {catalog.scopes[0].name: catalog.scopes[0].roles[-1]} if catalog.scopes else {}
    return AccessState(member=True, account_role=catalog.default_account_role, scopes=scopes)


class PlatformContract:
    @pytest.fixture
    def platform(self) -> Platform:
        raise NotImplementedError

    def settle(self, platform: Platform, email: str, result: ApplyResult) -> None:
        """Do what an admin does for the manual steps `apply` returned; nothing for a client with none."""
        assert result.manual == (), "this client returned manual steps; its contract test must settle them"

    def apply(self, platform: Platform, email: str, desired: AccessState) -> ApplyResult:
        result = platform.apply(email, desired)
        self.settle(platform, email, result)
        return result

    def test_someone_unknown_has_no_access(self, platform: Platform) -> None:
        assert platform.get_access(fresh_email()) == AccessState.absent()

    def test_apply_creates_the_member_with_exactly_the_desired_access(self, platform: Platform) -> None:
        email, desired = fresh_email(), granted(platform)
        result = self.apply(platform, email, desired)
        assert platform.get_access(email) == desired
        assert result.applied[0].kind is StepKind.CREATE_MEMBER

    def test_apply_is_idempotent(self, platform: Platform) -> None:
        email, desired = fresh_email(), granted(platform)
        self.apply(platform, email, desired)
        again = self.apply(platform, email, desired)
        assert again.applied == ()
        assert platform.get_access(email) == desired

    def test_plan_shows_the_steps_and_changes_nothing(self, platform: Platform) -> None:
        email, desired = fresh_email(), granted(platform)
        steps = platform.plan(email, desired)
        assert steps[0].kind is StepKind.CREATE_MEMBER
        assert platform.get_access(email) == AccessState.absent()

    def test_changing_the_account_role_keeps_the_scopes(self, platform: Platform) -> None:
        email, start = fresh_email(), granted(platform)
        self.apply(platform, email, start)
        higher = AccessChange(account_role=platform.catalog.highest_account_role).desired_from(start, platform.catalog)
        self.apply(platform, email, higher)
        assert platform.get_access(email) == higher

    def test_remove_by_delete_leaves_no_member(self, platform: Platform) -> None:
        email = fresh_email()
        self.apply(platform, email, granted(platform))
        self.settle(platform, email, platform.remove(email, RemovalMethod.DELETE))
        assert platform.get_access(email) == AccessState.absent()

    def test_remove_by_revoke_keeps_the_account_with_nothing_in_it(self, platform: Platform) -> None:
        email = fresh_email()
        self.apply(platform, email, granted(platform))
        self.settle(platform, email, platform.remove(email, RemovalMethod.REVOKE))
        assert platform.get_access(email) == AccessState(
            member=True, account_role=platform.catalog.lowest_account_role, scopes={}
        )

    def test_removing_someone_unknown_is_a_no_op(self, platform: Platform) -> None:
        email = fresh_email()
        self.settle(platform, email, platform.remove(email, RemovalMethod.DELETE))
        assert platform.get_access(email) == AccessState.absent()

    def test_members_are_listed_with_their_access(self, platform: Platform) -> None:
        email, desired = fresh_email(), granted(platform)
        self.apply(platform, email, desired)
        listed = {record.email: record.access for record in platform.list_members()}
        assert listed[email] == desired

    def test_a_role_the_catalog_does_not_have_is_refused_and_nothing_changes(self, platform: Platform) -> None:
        email = fresh_email()
        with pytest.raises(PlatformError) as caught:
            platform.apply(email, AccessState(member=True, account_role="Emperor"))
        assert caught.value.retryable is False
        assert platform.get_access(email) == AccessState.absent()

    def test_emails_are_matched_without_regard_to_case(self, platform: Platform) -> None:
        email, desired = fresh_email(), granted(platform)
        self.apply(platform, email.upper(), desired)
        assert platform.get_access(email) == desired

    def test_many_are_read_and_applied_at_once_each_as_alone(self, platform: Platform) -> None:
        """The batch calls the bot uses when many grants end together: each member's answer is what the one-member
        call would give, and a member the platform refuses fails alone."""
        emails = [fresh_email() for _ in range(5)]
        self.apply(platform, emails[0], granted(platform))
        read = platform.read_many(emails)
        assert read == {email: platform.get_access(email) for email in emails}
        wanted = {email: granted(platform) for email in emails[1:4]}
        wanted[emails[0]] = AccessState.absent()
        wanted[emails[4].upper()] = AccessState(member=True, account_role="Emperor")
        results = platform.apply_many(wanted)
        assert set(results) == set(wanted)
        refused = results[emails[4].upper()]
        assert isinstance(refused, PlatformError) and refused.retryable is False
        for email in emails[:4]:
            result = results[email]
            assert isinstance(result, ApplyResult), result
            self.settle(platform, email, result)
        assert platform.read_many(emails) == {
            emails[0]: AccessState.absent(),
            **{email: granted(platform) for email in emails[1:4]},
            emails[4]: AccessState.absent(),
        }
