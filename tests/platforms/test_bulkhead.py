"""A platform's bulkhead: a call waits for a slot while the platform answers, and fails at once once every call in
flight has stalled, so that no more of the bot's threads queue behind them."""

from __future__ import annotations

import threading

import pytest

from platforms.base import PlatformUnavailable
from platforms.http import Bulkhead, RetryPolicy
from tests.platforms.test_scim import settings_for
from tests.platforms.test_scim_invitations import client
from tests.scim_server import running


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def hold(bulkhead: Bulkhead, release: threading.Event) -> threading.Event:
    """Take a slot in another thread until `release` is set; returns an event set once it is taken."""
    entered = threading.Event()

    def run() -> None:
        with bulkhead.slot(deadline=1e9):
            entered.set()
            release.wait()

    threading.Thread(target=run, daemon=True).start()
    assert entered.wait(10)
    return entered


def test_a_call_waits_for_a_slot_while_the_platform_answers() -> None:
    clock, release = Clock(), threading.Event()
    bulkhead = Bulkhead("app", 1, stall_seconds=15, clock=clock)
    hold(bulkhead, release)
    got = threading.Event()

    def second() -> None:
        with bulkhead.slot(deadline=1e9):
            got.set()

    waiter = threading.Thread(target=second, daemon=True)
    waiter.start()
    assert not bulkhead.stalled
    release.set()
    waiter.join(10)
    assert got.is_set(), "it had the slot once the first call ended"


def test_a_call_fails_at_once_when_every_call_in_flight_has_stalled() -> None:
    clock, release = Clock(), threading.Event()
    bulkhead = Bulkhead("app", 2, stall_seconds=15, clock=clock)
    hold(bulkhead, release)
    clock.now = 10.0
    hold(bulkhead, release)
    clock.now = 20.0  # the first has run 20 s, the second only 10 s: busy, not stalled
    assert not bulkhead.stalled
    clock.now = 25.5
    assert bulkhead.stalled
    stalled = "not answering: all 2 calls to it have been running for more than"
    with pytest.raises(PlatformUnavailable, match=stalled), bulkhead.slot(deadline=1e9):
        pass
    release.set()


def test_a_call_that_never_gets_a_slot_fails_at_its_deadline() -> None:
    clock, release = Clock(), threading.Event()
    bulkhead = Bulkhead("app", 1, stall_seconds=15, clock=clock)
    hold(bulkhead, release)
    with pytest.raises(PlatformUnavailable, match="stayed busy until the deadline"), bulkhead.slot(deadline=0.0):
        pass
    release.set()


def test_a_platform_is_degraded_from_a_call_past_its_deadline_until_one_answers_in_time() -> None:
    with running() as server:
        retry = RetryPolicy(timeout_seconds=1.0, max_total_wait_seconds=0.5, attempts=1)
        app = client(server, retry=retry)
        assert settings_for(server).concurrency == 4 and app.http.bulkhead.slots == 4
        assert not app.degraded
        server.fail("GET", "Users", 200, body=b'{"Resources": []}', content_type="application/scim+json", trickle=0.1)
        with pytest.raises(PlatformUnavailable, match=r"still answering after 0\.5 s"):
            app.get_access("ana@client.example")
        assert app.degraded
        app.get_access("ana@client.example")
        assert not app.degraded


def test_one_deadline_covers_a_whole_operation_of_several_calls() -> None:
    with running() as server:
        server.create_user("ana@client.example")
        # Each call answers in time (0.4 s of a 1 s limit), but a read of someone's access makes two or more.
        server.fail("GET", ".*", None, delay=0.4, times=20)
        app = client(server, retry=RetryPolicy(timeout_seconds=5.0, max_total_wait_seconds=1.0, attempts=1))
        assert app.get_access("ana@client.example").member, "call by call, nothing is too slow"
        with pytest.raises(PlatformUnavailable, match="operation"), app.operation():
            app.get_access("ana@client.example")
            app.get_access("ana@client.example")
