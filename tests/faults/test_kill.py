"""kill -9 a bot process at random points while it applies a change or reverts an elevation, 20 times each, with a
second process on the same PostgreSQL database and the killed one restarted each time, and both cores kept busy by
other processes the whole time.

Whatever the moment, every request ends applied (the survivor takes the dead one's claim over once its lease ends,
reads the platform and finishes the change), none is lost, none is applied twice, and every due revert happens
exactly once.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handlers import ids
from tests.faults.cluster import BotProcess, Cluster, busy_cores, running_cluster

KILLS = 20
LATENCY = 0.4  # seconds the sandbox takes per change: the window the kills aim at
LEASE = 1.0  # seconds before another instance takes over a dead one's claim
CLAIMED = "SELECT coalesce(claimed_by, '') FROM platform_account WHERE email = :email"


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    with busy_cores(), running_cluster(tmp_path, postgres_url, ["a", "b"], latency=LATENCY, lease=LEASE) as running:
        yield running


def kill_and_restart(
    victim: BotProcess,
    rng: random.Random,
    *,
    aim: Callable[[], object] | None = None,
    before_restart: Callable[[], None] = lambda: None,
) -> None:
    """kill -9 `victim` at a random moment: right away, or, with `aim`, once the work is in flight (a condition the
    test waits for however slow the machine is) and somewhere within the platform call that follows."""
    if aim is not None:
        Cluster.wait(aim, timeout=60)
    time.sleep(rng.uniform(0, LATENCY))  # where in the window the kill lands: chosen at random, not waited for
    victim.kill()
    before_restart()
    victim.start()  # comes back while the other instance carries on


def ready(cluster: Cluster) -> None:
    """Every instance answers again (one may still be restarting from the last kill)."""
    for instance in cluster.instances:
        instance.wait_healthy(timeout=60)


def survivor_of(cluster: Cluster, victim: BotProcess) -> BotProcess:
    return next(instance for instance in cluster.instances if instance is not victim)


def test_killing_an_instance_while_it_applies_never_loses_or_doubles_a_request(cluster: Cluster) -> None:
    rng = random.Random(7)
    seen: Counter[str] = Counter()
    for n in range(1, KILLS + 1):
        ready(cluster)
        email = f"person{n}@agency.example"
        cluster.command(cluster.instances[0], f"add {email} sandbox viewer on production reason: fault test {n}")
        cluster.card(n)
        victim = rng.choice(cluster.instances)
        cluster.press(victim, n, ids.APPROVE)
        # Every other kill aims at the change in flight; the others land wherever the press has got to.
        in_flight = "SELECT status FROM platform_change WHERE request_id = :id"
        aim = (lambda: cluster.scalar(in_flight, id=n) in ("applying", "applied")) if n % 2 else None  # noqa: B023
        kill_and_restart(victim, rng, aim=aim)
        survivor = survivor_of(cluster, victim)

        # Settled, one way or another: the survivor takes the dead claim over once its lease runs out.
        state = cluster.wait(lambda: cluster.status(n) in ("pending", "applied") and cluster.status(n), timeout=60)  # noqa: B023
        seen[state] += 1
        if state == "pending":  # killed before the decision was stored: the button is still there
            cluster.press(survivor, n, ids.APPROVE)
            cluster.wait(lambda: cluster.status(n) == "applied", timeout=60)  # noqa: B023
        seen["taken over"] += int(
            cluster.scalar(
                "SELECT count(*) FROM audit_event WHERE event = 'claim_taken_over' AND target_email = :email",
                email=email,
            )
        )
        assert cluster.audit_count(n, "applied") == 1, f"request #{n} applied twice"
        assert cluster.audit_count(n, "failed") == 0, f"request #{n} failed instead of being finished"
        assert (
            cluster.scalar(
                "SELECT role FROM sandbox_scope_role WHERE email = :email AND scope = 'production'", email=email
            )
            == "Viewer"
        )
    assert cluster.scalar("SELECT count(*) FROM access_request WHERE status <> 'applied'") == 0
    assert cluster.scalar("SELECT count(*) FROM access_grant WHERE state NOT IN ('active', 'ended')") == 0
    assert seen["taken over"] >= 1, f"no kill landed while a change was in flight ({dict(seen)}): proves nothing"
    print(f"\nkills during apply: {dict(seen)}")


def test_killing_an_instance_while_it_reverts_still_reverts_everything_exactly_once(cluster: Cluster) -> None:
    rng = random.Random(11)
    ended = "SELECT state FROM access_grant WHERE request_id = :id"
    healthy = cluster.instances[0]
    mid_revert = 0
    for n in range(1, KILLS + 1):
        ready(cluster)
        email = f"person{n}@agency.example"
        cluster.command(healthy, f"add {email} sandbox admin on staging for 1h reason: fault test {n}")
        cluster.press(healthy, n, ids.APPROVE)
        cluster.wait(lambda: cluster.status(n) == "applied")  # noqa: B023
        # The test plays the clock: the hour is up now.
        with cluster.engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE access_grant SET ends_at = now(), next_remind_at = NULL WHERE request_id = %(id)s",
                {"id": n},
            )
            connection.exec_driver_sql(
                "UPDATE platform_account SET due_at = now() WHERE email = %(email)s", {"email": email}
            )
        victim = rng.choice(cluster.instances)
        assert victim.process is not None
        pid = victim.process.pid

        def note_claim() -> None:
            nonlocal mid_revert
            mid_revert += f":{pid}:" in cluster.scalar(CLAIMED, email=email)  # noqa: B023

        # Every other kill aims at a revert in flight (the account claimed); the others land anywhere.
        def reverting(email: str = email, n: int = n) -> bool:
            return bool(cluster.scalar(CLAIMED, email=email)) or cluster.scalar(ended, id=n) == "ended"

        aim = reverting if n % 2 else None
        kill_and_restart(victim, rng, aim=aim, before_restart=note_claim)
        cluster.wait(
            lambda: cluster.scalar("SELECT state FROM access_grant WHERE request_id = :id", id=n) == "ended",  # noqa: B023
            timeout=60,
        )
        assert cluster.audit_count(n, "reverted") == 1, f"request #{n}'s elevation reverted twice"
        assert cluster.scalar("SELECT count(*) FROM sandbox_member WHERE email = :email", email=email) == 0
        healthy = survivor_of(cluster, victim)
    reverts = cluster.scalar("SELECT count(*) FROM audit_event WHERE event = 'reverted'")
    assert reverts == KILLS
    assert mid_revert >= 1, "no kill landed while the killed process held a revert: the test would prove nothing"
    print(f"\nkills that took down a revert in progress: {mid_revert} of {KILLS}")
