"""kill -9 a bot process at random points while it applies a change or reverts an elevation, 20 times each, with a
second process on the same PostgreSQL database and the killed one restarted each time.

Whatever the moment, every request ends applied (directly, or failed-and-retryable and then retried), none is lost,
none is applied twice, and every due revert happens exactly once.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handlers import ids
from tests.faults.cluster import BotProcess, Cluster, running_cluster

KILLS = 20
LATENCY = 0.4  # seconds the sandbox takes per change: the window the kills aim at
LEASE = 1.0  # seconds before another instance takes over a dead one's claim


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path, postgres_url, ["a", "b"], latency=LATENCY, lease=LEASE) as running:
        yield running


def kill_and_restart(
    victim: BotProcess, rng: random.Random, *, before_restart: Callable[[], None] = lambda: None
) -> None:
    time.sleep(rng.uniform(0, LATENCY * 1.25))
    victim.kill()
    before_restart()
    victim.start()  # comes back while the other instance carries on


def survivor_of(cluster: Cluster, victim: BotProcess) -> BotProcess:
    return next(instance for instance in cluster.instances if instance is not victim)


def test_killing_an_instance_while_it_applies_never_loses_or_doubles_a_request(cluster: Cluster) -> None:
    rng = random.Random(7)
    seen: Counter[str] = Counter()
    for n in range(1, KILLS + 1):
        email = f"person{n}@agency.example"
        cluster.command(cluster.instances[0], f"add {email} sandbox viewer on production reason: fault test {n}")
        cluster.card(n)
        victim = rng.choice(cluster.instances)
        cluster.press(victim, n, ids.APPROVE)
        kill_and_restart(victim, rng)
        survivor = survivor_of(cluster, victim)

        # Settled, one way or another, within the lease and a couple of sweeps.
        time.sleep(LEASE + 0.5)
        state = cluster.wait(lambda: cluster.status(n) in ("pending", "applied", "failed") and cluster.status(n))  # noqa: B023
        seen[state] += 1
        if state == "pending":  # killed before the decision was stored: the button is still there
            cluster.press(survivor, n, ids.APPROVE)
        elif state == "failed":  # killed mid-apply, or just before: the card offers Retry
            change = cluster.scalar(
                "SELECT status || ':' || coalesce(error_kind, '') FROM platform_change WHERE request_id = :id", id=n
            )
            # Killed inside the platform call ("interrupted"), or between starting the request and its change.
            assert change in ("failed:interrupted", "waiting:"), change
            seen[change] += 1
            cluster.press(survivor, n, ids.RETRY)
        cluster.wait(lambda: cluster.status(n) == "applied")  # noqa: B023
        assert cluster.audit_count(n, "applied") == 1, f"request #{n} applied twice"
        assert (
            cluster.scalar(
                "SELECT role FROM sandbox_scope_role WHERE email = :email AND scope = 'production'", email=email
            )
            == "Viewer"
        )
        victim.wait_healthy()
    assert cluster.scalar("SELECT count(*) FROM access_request WHERE status <> 'applied'") == 0
    assert seen["failed"] >= 1, f"no kill landed mid-apply ({dict(seen)}): the test would prove nothing"
    print(f"\nkills during apply: {dict(seen)}")


def test_killing_an_instance_while_it_reverts_still_reverts_everything_exactly_once(cluster: Cluster) -> None:
    rng = random.Random(11)
    healthy = cluster.instances[0]
    mid_revert = 0
    for n in range(1, KILLS + 1):
        email = f"person{n}@agency.example"
        cluster.command(healthy, f"add {email} sandbox admin on staging for 1h reason: fault test {n}")
        cluster.press(healthy, n, ids.APPROVE)
        cluster.wait(lambda: cluster.status(n) == "applied")  # noqa: B023
        # The test plays the clock: the hour is up now.
        with cluster.engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE revert_reminder SET expires_at = now(), next_remind_at = NULL WHERE request_id = %(id)s",
                {"id": n},
            )
        victim = rng.choice(cluster.instances)
        assert victim.process is not None
        pid = victim.process.pid

        def note_claim() -> None:
            nonlocal mid_revert
            claim = cluster.scalar(
                "SELECT status || ' ' || coalesce(claim_token, '') FROM revert_reminder WHERE request_id = :id",
                id=n,  # noqa: B023
            )
            mid_revert += claim.startswith("reverting ") and f":{pid}:" in claim  # noqa: B023

        kill_and_restart(victim, rng, before_restart=note_claim)
        cluster.wait(
            lambda: cluster.scalar("SELECT status FROM revert_reminder WHERE request_id = :id", id=n) == "reverted"  # noqa: B023
        )
        assert cluster.audit_count(n, "reverted") == 1, f"request #{n}'s elevation reverted twice"
        assert cluster.scalar("SELECT count(*) FROM sandbox_member WHERE email = :email", email=email) == 0
        victim.wait_healthy()
        healthy = survivor_of(cluster, victim)
    reverts = cluster.scalar("SELECT count(*) FROM audit_event WHERE event = 'reverted'")
    assert reverts == KILLS
    assert mid_revert >= 1, "no kill landed while the killed process held a revert: the test would prove nothing"
    print(f"\nkills that took down a revert in progress: {mid_revert} of {KILLS}")
