"""Slack deliveries acted on are remembered across instances for as long as they could come again, then forgotten
by the sweep."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.deliveries import first_time
from services.sweeper import sweep
from storage.deliveries import KEPT_FOR
from tests.services.desk import make_desk


def test_a_delivery_is_first_once_on_every_instance_until_the_sweep_forgets_it(tmp_path: Path) -> None:
    desk = make_desk(tmp_path)
    other = make_desk(tmp_path, database_url=str(desk.ctx.engine.url), clock=desk.clock)
    assert first_time(desk.ctx, "sig:v0=abc run")
    assert not first_time(other.ctx, "sig:v0=abc run"), "another instance knows it"
    assert first_time(other.ctx, "sig:v0=abc other_work"), "another piece of work behind the delivery is its own"
    desk.clock.advance(KEPT_FOR - timedelta(minutes=1))
    sweep(desk.ctx)
    assert not first_time(desk.ctx, "sig:v0=abc run"), "still inside the time Slack could send it again"
    desk.clock.advance(timedelta(minutes=2))
    sweep(desk.ctx)
    assert first_time(desk.ctx, "sig:v0=abc run"), "forgotten once it cannot come again"
