"""The front hands a request's work to the worker process; the worker's Bolt app runs that work alone."""

from __future__ import annotations

import pickle
from typing import Any
from urllib.parse import urlencode

from slack_bolt import Ack, App, BoltRequest
from slack_bolt.authorization import AuthorizeResult

from bot.worker import HandOff, Work

BODY = urlencode({"command": "/access", "text": "add ana@x.example sandbox viewer", "user_id": "U1", "team_id": "T1"})


def lazy_copy(body: str | dict[str, Any], function: str, *, mode: str = "http") -> BoltRequest:
    """A request as Bolt passes it to a lazy listener runner: marked lazy-only, naming the function."""
    request = BoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}, mode=mode)
    request.lazy_only = True
    request.lazy_function_name = function
    return request


def test_work_survives_the_trip_between_processes_as_the_request_it_came_from() -> None:
    work = pickle.loads(pickle.dumps(Work.of(lazy_copy(BODY, "access_command"))))
    request = work.request()
    assert request.lazy_only and request.lazy_function_name == "access_command"
    assert request.raw_body == BODY and request.body["text"] == "add ana@x.example sandbox viewer"
    assert request.mode == "http"


def test_socket_mode_work_carries_the_parsed_body() -> None:
    body = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "approve", "value": "7"}]}
    request = pickle.loads(pickle.dumps(Work.of(lazy_copy(body, "approve", mode="socket_mode")))).request()
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
    app.dispatch(Work.of(lazy_copy(BODY, "second")).request())
    assert ran == ["second"]


def test_the_front_queues_each_piece_of_work_instead_of_running_it() -> None:
    queued: list[Work] = []

    class Queueing:
        def hand_off(self, work: Work) -> None:
            queued.append(work)

    ran: list[str] = []
    app = app_without_slack()
    app.listener_runner.lazy_listener_runner = HandOff(Queueing())
    app.command("/access")(ack=lambda ack: ack(), lazy=[lambda: ran.append("ran here")])
    response = app.dispatch(BoltRequest(body=BODY, headers={"content-type": ["application/x-www-form-urlencoded"]}))
    assert response.status == 200
    assert ran == [] and [work.function for work in queued] == ["<lambda>"]
