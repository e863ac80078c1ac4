"""The front hands a request's work to the worker process; the worker's Bolt app runs that work alone."""

from __future__ import annotations

import pickle
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.listener import thread_runner

from bot.handoff import COPYING_STEP, HandOff, Work, hand_off_work

BODY = urlencode({"command": "/access", "text": "add ana@x.example sandbox viewer", "user_id": "U1", "team_id": "T1"})


def slash_command(body: str | dict[str, Any] = BODY, *, mode: str = "http") -> BoltRequest:
    return BoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}, mode=mode)


def test_work_survives_the_trip_between_processes_as_the_request_it_came_from() -> None:
    work = pickle.loads(pickle.dumps(Work.of(slash_command(), "access_command")))
    request = work.request()
    assert request.lazy_only and request.lazy_function_name == "access_command"
    assert request.raw_body == BODY and request.body["text"] == "add ana@x.example sandbox viewer"
    assert request.mode == "http"


def test_socket_mode_work_carries_the_parsed_body() -> None:
    body = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "approve", "value": "7"}]}
    request = pickle.loads(pickle.dumps(Work.of(slash_command(body, mode="socket_mode"), "approve"))).request()
    assert request.body == body and request.mode == "socket_mode" and request.lazy_only


def app_without_slack() -> App:
    """A Bolt app as the worker builds it (no signature check), authorised without calling Slack."""
    return App(
        request_verification_enabled=False,
        token_verification_enabled=False,
        authorize=lambda **_: AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-x", bot_user_id="UB"),
        process_before_response=True,
    )


def test_the_worker_runs_only_the_named_work_and_not_the_acknowledgement() -> None:
    ran: list[str] = []
    app = app_without_slack()

    def quick(ack: Ack) -> None:
        ran.append("ack")
        ack()

    def first(body: dict[str, Any]) -> None:
        ran.append(f"first: {body['text']}")

    def second() -> None:
        ran.append("second")

    app.command("/access")(ack=quick, lazy=[first, second])
    app.dispatch(Work.of(slash_command(), "second").request())
    assert ran == ["second"]


class Queueing:
    def __init__(self) -> None:
        self.queued: list[Work] = []

    def hand_off(self, work: Work) -> None:
        self.queued.append(work)


def front_app(ran: list[str]) -> App:
    app = app_without_slack()

    def access_command() -> None:
        ran.append("ran here")

    app.command("/access")(ack=lambda ack: ack(), lazy=[access_command])
    return app


def test_the_front_queues_each_piece_of_work_instead_of_running_it_and_without_copying_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copies: list[object] = []
    monkeypatch.setattr(thread_runner, "create_copy", lambda original: copies.append(original) or original)
    ran: list[str] = []
    app, worker = front_app(ran), Queueing()
    hand_off_work(app, worker)
    response = app.dispatch(slash_command())
    assert response.status == 200
    assert ran == [] and [work.function for work in worker.queued] == ["access_command"]
    assert copies == [], "the hand-off sends what it needs at once: no copy of the request"


def test_the_step_the_hand_off_replaces_is_still_in_bolt() -> None:
    """Were it renamed, requests would be copied again before the hand-off: correct, and slower."""
    assert callable(getattr(thread_runner.ThreadListenerRunner, COPYING_STEP, None))


def test_the_hand_off_also_works_behind_bolts_copy() -> None:
    ran: list[str] = []
    app, worker = front_app(ran), Queueing()
    app.listener_runner.lazy_listener_runner = HandOff(worker)
    assert app.dispatch(slash_command()).status == 200
    assert ran == [] and [work.request().body["text"] for work in worker.queued] == ["add ana@x.example sandbox viewer"]
