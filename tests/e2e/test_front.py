"""serve's front answers every kind of request Slack sends without the database layer (bot/front.py): a process
that builds only the front answers each one, and hands each piece of work over by name, having loaded none of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.console.local_slack import StoredMessage
from bot.console.payloads import SignedRequest, SlackRequests
from handlers import ids
from handlers.answers import routes
from handlers.blocks import forms
from platforms.settings import SandboxSettings
from tests.faults.cluster import ALICE, BOB, ROOT, SECRET, TOKEN, local_slack, signed_requests, write_config

# What the front must never load: the database layer, and what only the work needs.
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "storage", "services.context", "services.decisions", "platforms.sandbox")

PROBE = f"""
import json, sys
from slack_bolt.request import BoltRequest
from bot.front import front_app
from bot.handoff import hand_off_work
from bot.settings import load_settings

class Collect:
    def __init__(self):
        self.works = []
    def hand_off(self, work):
        self.works.append(work.function)

app = front_app(load_settings(None))
collect = Collect()
hand_off_work(app, collect)
statuses = []
for sent in json.load(sys.stdin):
    headers = {{name.lower(): [value] for name, value in sent["headers"].items()}}
    statuses.append(app.dispatch(BoltRequest(body=sent["body"], headers=headers)).status)
loaded = sorted(name for name in {HEAVY!r} if name in sys.modules)
print(json.dumps({{"statuses": statuses, "works": collect.works, "loaded": loaded}}))
"""


ANA = "ana@agency.example"


def modal(callback_id: str, private_metadata: str) -> dict[str, object]:
    return {"type": "modal", "callback_id": callback_id, "private_metadata": private_metadata}


def every_kind_of_request(requests: SlackRequests) -> list[tuple[SignedRequest, str | None]]:
    """One request for each route, with the work it should hand over (None: the answer is all)."""
    card = StoredMessage(channel="C0APPROVALS", ts="1.000001", text="card", blocks=[])
    catalogs = {"sandbox": SandboxSettings().catalog()}
    request_form = {**forms.request_form(catalogs, forms.FormState(platform="sandbox")), "id": "V1", "hash": "h1"}

    def click(action_id: str) -> SignedRequest:
        button = {"type": "button", "action_id": action_id, "value": "1"}
        return requests.button(user=BOB, message=card, action=button, block_id="b")

    def submit(view: dict[str, object], values: dict[str, dict[str, object]]) -> SignedRequest:
        return requests.view_submission(user=BOB, view=view, values=values)

    reason = {ids.FORM_REASON: {ids.FORM_REASON: {"type": "plain_text_input", "value": "audit"}}}
    email = {
        ids.FORM_TARGET_EMAIL: {ids.FORM_TARGET_EMAIL: {"type": "plain_text_input", "value": "ana@agency.example"}}
    }
    role = {
        forms.block_id(ids.FORM_ROLE, "sandbox"): {
            ids.FORM_ROLE: {"type": "static_select", "selected_option": {"value": "account:Admin"}}
        }
    }
    extend = {
        ids.EXTEND_SPAN: {ids.EXTEND_SPAN: {"selected_option": {"value": "1d"}}},
        ids.EXTEND_REASON: {ids.EXTEND_REASON: {"type": "plain_text_input", "value": "launch slipped"}},
    }
    return [
        (
            requests.slash_command(user=ALICE, text="add ana@agency.example sandbox admin reason: audit"),
            "access_command",
        ),
        (requests.slash_command(user=ALICE, text="help"), "access_command"),
        (requests.slash_command(user=ALICE, text=""), "access_command"),
        (click(ids.APPROVE), "on_approve"),
        (click(ids.DENY), "open_deny_form"),
        (click(ids.RETRY), "on_retry"),
        (click(ids.EXTEND), "open_extend_form"),
        (click(ids.KEEP), "on_reminder_answer"),
        (click(ids.TASK_DONE), "open_task_form"),
        (click(ids.TASK_RESENT), "on_resent"),
        (click(ids.REVIEW_REMOVE), "on_review_answer"),
        (
            requests.view_select(user=BOB, view=request_form, block_id="v", action_id=ids.FORM_VERB, value="remove"),
            None,
        ),
        (submit(request_form, {**email, **role, **reason}), "on_request_submitted"),
        (submit(forms.deny_form(1, "ana@agency.example"), {}), "on_deny_submitted"),
        (submit(modal(ids.TASK_FORM, json.dumps({"task": 1})), {}), "on_task_submitted"),
        (submit(modal(ids.EXTEND_FORM, "1"), extend), "on_extend_submitted"),
        (requests.home_opened(user=ALICE), "on_home_opened"),
    ]


def test_the_front_answers_every_request_and_hands_its_work_over_without_the_database_layer(tmp_path: Path) -> None:
    slack = local_slack()
    try:
        sent = every_kind_of_request(signed_requests(slack))
        handed = {work for _, work in sent if work is not None}
        assert handed == {route.work for route in routes({"sandbox": SandboxSettings().catalog()}) if route.work}, (
            "every route is tried"
        )
        environment = dict(
            os.environ,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url,
            ACCESSBOT_CONFIG=str(write_config(tmp_path, f"sqlite:///{tmp_path}/unused.db", latency=0.0, lease=30.0)),
            PYTHONPATH=str(ROOT),
        )
        requests = [{"body": request.body, "headers": request.headers} for request, _ in sent]
        done = subprocess.run(
            [sys.executable, "-c", PROBE],
            input=json.dumps(requests),
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        answered = json.loads(done.stdout.splitlines()[-1])
        assert answered["statuses"] == [200] * len(sent)
        assert answered["works"] == [work for _, work in sent if work is not None]
        assert answered["loaded"] == []
        # The front opened what opens at once: the request form, and a view that says it is being prepared for each
        # button whose form the work fills in.
        opened = [call.response["view"]["callback_id"] for call in slack.calls_to("views.open")]
        assert sorted(opened) == sorted([ids.REQUEST_FORM] + [ids.LOADING] * 3)
        assert not (tmp_path / "unused.db").exists(), "the front never opened the database"
    finally:
        slack.stop()
