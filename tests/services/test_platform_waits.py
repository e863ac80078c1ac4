"""A platform that asks to wait longer than one call may (a long Retry-After): the change keeps its place, the card
says until when, nothing calls the platform before then, and the change is applied once the time comes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from domain.access import AccessState
from domain.lifecycle import ChangeStatus, RequestStatus
from handlers.blocks.cards import approval_card
from platforms.http import RetryPolicy
from platforms.settings import ScimSettings
from services.sweeper import sweep
from storage.rate_limits import take_token
from tests.platforms.test_scim import settings_for
from tests.scim_server import ScimServer
from tests.services.desk import ANA, Desk, approve_fully, make_desk
from tests.waiting import wait_until


@pytest.fixture
def desk(tmp_path: Path, scim_server: ScimServer) -> Desk:
    retry = RetryPolicy(timeout_seconds=5.0, max_total_wait_seconds=1.0, attempts=3, initial_backoff_seconds=0.05)
    app: ScimSettings = settings_for(scim_server, approvers=["UBOB"], retry=retry)
    return make_desk(tmp_path, settings={"app": app})  # type: ignore[dict-item]


def applied_in_steps_of(desk: Desk, request_id: int, step: timedelta, what: str) -> None:
    """Move the clock on by `step` and sweep, until the request is applied."""

    def applied() -> bool:
        desk.clock.advance(step)
        sweep(desk.ctx)
        now = desk.ctx.load_view(request_id)
        return now is not None and now.status is RequestStatus.APPLIED

    wait_until(applied, what)


def test_a_long_retry_after_is_shown_on_the_card_and_the_change_is_applied_then(
    desk: Desk, scim_server: ScimServer
) -> None:
    scim_server.fail("POST", "Users", 429, headers={"Retry-After": "2"})
    request_id = desk.submit(f"add {ANA} app Editor reason: launch")
    view = approve_fully(desk, request_id)
    change = view.changes[0]
    assert view.status is RequestStatus.APPLYING and change.status in (ChangeStatus.QUEUED, ChangeStatus.APPLYING)
    assert change.retry_at == desk.clock.now() + timedelta(seconds=2), change
    assert "asked_to_wait" in desk.audit(request_id) and "failed" not in desk.audit(request_id)
    card = str(approval_card(view))
    assert "app asked to wait until" in card and "will retry then" in card, card
    assert "Retry" not in card, "it is retried by itself"
    posts = scim_server.count("POST", "Users")

    # Before the time it gave, nothing calls it; once the time comes, the change is applied.
    sweep(desk.ctx)
    assert scim_server.count("POST", "Users") == posts

    applied_in_steps_of(desk, request_id, timedelta(seconds=1), "the change to be applied once the wait was over")
    assert desk.ctx.platforms["app"].get_access(ANA) == AccessState(member=True, account_role="Editor", scopes={})
    final = desk.ctx.load_view(request_id)
    assert final is not None and final.changes[0].retry_at is None


def test_a_change_queued_behind_the_rate_limit_says_when_it_is_expected_and_goes_ahead_then(
    tmp_path: Path, scim_server: ScimServer
) -> None:
    # Heap's default (48 requests an hour, bursts of 8): a read and a change take more calls than a burst holds.
    retry = RetryPolicy(timeout_seconds=5.0, max_total_wait_seconds=1.0, attempts=3, initial_backoff_seconds=0.05)
    app: ScimSettings = settings_for(scim_server, approvers=["UBOB"], retry=retry, rate_limit_per_minute=0.8)
    desk = make_desk(tmp_path, settings={"app": app})  # type: ignore[dict-item]
    request_id = desk.submit(f"add {ANA} app Editor reason: launch")
    # Other work (another process, on the same database) has used the burst.
    while take_token(desk.ctx.engine, key="127.0.0.1", per_minute=0.8, now=desk.clock.now()) == 0.0:
        pass
    view = approve_fully(desk, request_id)
    change = view.changes[0]
    assert change.retry_at is not None and change.error_kind == "throttled", change
    assert "queued behind its rate limit (48 requests an hour)" in (change.error or "")
    assert "queued behind app's rate limit; expected to go ahead" in str(approval_card(view))
    assert "failed" not in desk.audit(request_id)

    applied_in_steps_of(desk, request_id, timedelta(minutes=1), "the change to go ahead as the rate limit allowed")
