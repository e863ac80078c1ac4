"""Who may decide is read from the config as it is at each decision: an approver taken out of it cannot approve a
request made before, nor an extension of a running grant."""

from __future__ import annotations

from pathlib import Path

import pytest

from platforms.settings import SandboxSettings
from services.decisions import Outcome, approve
from tests.services.desk import Desk, make_desk

ANA = "ana@agency.example"


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return make_desk(tmp_path)


def without_bob(desk: Desk) -> Desk:
    """The same bot after the config was changed: bob is no longer an approver of the sandbox."""
    settings = dict(desk.ctx.settings)
    settings["sandbox"] = SandboxSettings(approvers=("S0SECURITY",))
    desk.ctx = type(desk.ctx)(
        engine=desk.ctx.engine,
        platforms=desk.ctx.platforms,
        settings=settings,
        directory=desk.directory,
        notifier=desk.notifier,
        clock=desk.clock,
        elevation_settings=desk.ctx.elevation_settings,
    )
    return desk


def test_an_approver_taken_out_of_the_config_cannot_approve_an_open_request(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    desk = without_bob(desk)
    refused = approve(desk.ctx, request_id, approver=desk.approver)  # bob
    assert refused.outcome is Outcome.REFUSED, refused
    assert approve(desk.ctx, request_id, approver=desk.other_approver).outcome is Outcome.DONE  # carol, in security


def test_an_approver_taken_out_of_the_config_cannot_approve_an_extension(desk: Desk) -> None:
    from datetime import timedelta

    from services.grant_actions import GrantOutcome, ask_extension
    from services.grants import live_views

    request_id = desk.submit(f"add {ANA} sandbox viewer on production for 2h reason: x")
    assert approve(desk.ctx, request_id, approver=desk.approver).outcome is Outcome.DONE
    grant = live_views(desk.ctx, target_email=ANA, temporary_only=True)[0]
    asked = ask_extension(desk.ctx, grant.id, span=timedelta(hours=1), reason="more", person=desk.requester)
    assert asked.outcome is GrantOutcome.EXTENSION_REQUESTED and asked.request is not None
    desk = without_bob(desk)
    assert approve(desk.ctx, asked.request.id, approver=desk.approver).outcome is Outcome.REFUSED
