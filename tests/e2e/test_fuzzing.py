"""Hypothesis against every way in: slash-command text, button payloads, form submissions and raw bodies, all
properly signed, through the Bolt app as `serve` runs it (ack first, the work after), each example's work awaited
before the next.

Whatever arrives: no 5xx, nothing that looks like a stack trace reaches anybody, and no refusal is the catch-all
"something went wrong": every one says what was wrong. Forged and replayed signatures are rejected before any of it.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.bootstrap import Runtime, bootstrap
from bot.console.local_slack import LocalSlack, LocalUser
from bot.console.payloads import SignedRequest, SlackRequests
from bot.listeners import ListenerPool
from bot.server import wsgi_app
from bot.settings import Settings
from handlers import ids
from platforms.settings import SandboxSettings

SECRET = "fuzz-signing-secret"
TOKEN = "xoxb-fuzz"
USERS = [
    LocalUser("U0ALICE", "alice", "alice@agency.example"),
    LocalUser("U0BOB", "bob", "bob@client.example", is_admin=True),
]
# What a stack trace or an internal error looks like when it leaks.
LEAK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\b\w+Error: |sqlalchemy|psycopg")
# 10,000 examples across the ways in, weighted by how much each can vary; FUZZ_EXAMPLES scales the total.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10000"))


def share(fraction: float) -> Any:
    return settings(
        max_examples=max(1, int(EXAMPLES * fraction)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class Target:
    def __init__(self, runtime: Runtime, slack: LocalSlack, listeners: ListenerPool) -> None:
        assert runtime.app is not None
        self.wsgi = wsgi_app(runtime.app, runtime.health)
        self.slack = slack
        self.listeners = listeners
        self.requests = SlackRequests(signing_secret=SECRET, response_base=f"{slack.base_url}/response")
        self.seen = 0

    def send(self, signed: SignedRequest) -> tuple[int, str]:
        """POST /slack/events through the WSGI app `serve` runs (the socket aside)."""
        body = signed.body.encode("utf-8", "surrogateescape")
        environ: dict[str, Any] = {}
        setup_testing_defaults(environ)
        environ.update(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/slack/events",
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
            }
        )
        for name, value in signed.headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        answer: dict[str, str] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            answer["status"] = status

        chunks = self.wsgi(environ, start_response)
        text = b"".join(chunks).decode("utf-8", "replace")
        assert self.listeners.wait_idle(timeout=30), "a listener did not finish"
        return int(answer["status"].split()[0]), text

    def send_payload(self, payload: dict[str, Any]) -> tuple[int, str]:
        """An interaction payload, form-encoded and signed as Slack sends it."""
        return self.send(self.requests.sign(urllib.parse.urlencode({"payload": json.dumps(payload)})))

    def new_output(self) -> str:
        """Everything the bot said to anybody since the last call."""
        calls = self.slack.calls[self.seen :]
        self.seen += len(calls)
        return "\n".join(json.dumps(call.params, ensure_ascii=False) for call in calls)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    slack = LocalSlack(bot_token=TOKEN, users=USERS).start()
    settings_ = Settings(
        slack_bot_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=slack.api_url,
        database_url=f"sqlite:///{folder}/fuzz.db",
        platforms={"sandbox": SandboxSettings(approvers=("U0BOB",))},
        reviews={"schedule": None},  # type: ignore[arg-type]
    )
    listeners = ListenerPool(max_workers=2)
    runtime = bootstrap(settings_, listener_executor=listeners)
    try:
        yield Target(runtime, slack, listeners)
    finally:
        listeners.shutdown(wait=True)
        runtime.close()
        slack.stop()


def envelope(kind: str, user: LocalUser) -> dict[str, Any]:
    """What every interaction payload starts with."""
    return {
        "type": kind,
        "team": {"id": "T0LOCAL"},
        "user": {"id": user.id, "username": user.name, "team_id": "T0LOCAL"},
        "api_app_id": "A0ACCESSBOT",
        "trigger_id": "trigger-fuzz",
    }


def check(target: Target, status: int, body: str) -> None:
    assert status < 500, body
    said = body + target.new_output()
    leak = LEAK.search(said)
    assert leak is None, f"leaked {leak.group(0)!r} in: {said[:2000]}"
    assert "Something went wrong on our side" not in said, f"an unexplained error: {said[:2000]}"


WORDS = st.sampled_from(
    [
        "add", "update", "remove", "list", "status", "evidence", "help", "break-glass", "sandbox", "heap", "all",
        "on", "for", "until", "reason:", "ticket:", "delete", "revoke", "viewer", "admin", "analyst", "none",
        "production", "staging", "4h", "1w", "0m", "99999d", "2026-12-01", "ana@agency.example", "<@U0ALICE>",
        "<@U0NOBODY|x>", "<mailto:a@b.c|a@b.c>", "#1", "42", ",", "  ", "\n", "&", "<", ">", "<!channel>",
    ]
)  # fmt: skip
COMMAND_TEXT = st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=14).map(" ".join))


@share(0.4)
@given(text=COMMAND_TEXT, user=st.sampled_from(USERS))
def test_any_slash_command_text(target: Target, text: str, user: LocalUser) -> None:
    status, body = target.send(target.requests.slash_command(user=user, text=text))
    check(target, status, body)


ACTION_IDS = st.sampled_from(
    [
        ids.APPROVE, ids.DENY, ids.RETRY, ids.EXTEND, ids.REVOKE_NOW, ids.KEEP, ids.TASK_DONE, ids.REVIEW_KEEP,
        ids.REVIEW_REMOVE, ids.FORM_VERB, ids.FORM_PLATFORM, "unknown_action",
    ]
)  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@share(0.25)
@example(action_id=ids.APPROVE, value="²", extra=None)  # a digit to str.isdigit(), which int() refuses
@example(action_id=ids.DENY, value=None, extra=None)  # refused by its answer: its work must not try to fill a form
@given(action_id=ACTION_IDS, value=st.one_of(st.none(), st.text(max_size=30), st.integers().map(str)), extra=JSONISH)
def test_any_button_payload(target: Target, action_id: str, value: str | None, extra: Any) -> None:
    payload = {
        **envelope("block_actions", USERS[1]),
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": "C0APPROVALS"},
        "channel": {"id": "C0APPROVALS"},
        "message": {"ts": "1.000001", "text": "card", "blocks": []},
        "response_url": f"{target.slack.base_url}/response/fuzz",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value, "extra": extra}],
    }
    status, body = target.send_payload(payload)
    check(target, status, body)
    if action_id != "unknown_action":
        assert status == 200, "every button of ours is acknowledged, so Slack shows no time-out"


CALLBACKS = st.sampled_from([ids.DENY_FORM, ids.REQUEST_FORM, ids.EXTEND_FORM, ids.TASK_FORM, "unknown_view"])


@share(0.25)
@given(callback=CALLBACKS, metadata=st.one_of(st.text(max_size=60), JSONISH.map(json.dumps)), values=JSONISH)
def test_any_form_submission(target: Target, callback: str, metadata: str, values: Any) -> None:
    payload = {
        **envelope("view_submission", USERS[0]),
        "view": {
            "id": "V0FUZZ",
            "type": "modal",
            "callback_id": callback,
            "private_metadata": metadata,
            "state": {"values": values if isinstance(values, dict) else {"x": values}},
        },
    }
    status, body = target.send_payload(payload)
    check(target, status, body)


@share(0.1)
@given(body=st.one_of(st.text(max_size=400), st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))))
def test_any_signed_body(target: Target, body: str) -> None:
    status, answer = target.send(target.requests.sign(body))
    check(target, status, answer)


@settings(max_examples=500, deadline=None)
@given(text=COMMAND_TEXT, forged=st.text(min_size=1, max_size=80), age=st.integers(min_value=301, max_value=10**9))
def test_forged_and_replayed_signatures_are_rejected(target: Target, text: str, forged: str, age: int) -> None:
    genuine = target.requests.slash_command(user=USERS[0], text=text)
    wrong = SignedRequest(body=genuine.body, headers={**genuine.headers, "X-Slack-Signature": f"v0={forged}"})
    assert target.send(wrong)[0] == 401
    stale = target.requests.sign(genuine.body, timestamp=int(time.time()) - age)
    assert target.send(stale)[0] == 401
    assert target.new_output() == "", "a rejected request reached no listener"
