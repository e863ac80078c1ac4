"""A running bot: its real HTTP endpoint, signed Slack requests, and a local Slack Web API that records calls."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session

from bot.bootstrap import Runtime, bootstrap
from bot.console.local_slack import LocalSlack, LocalUser, SlackCall, StoredMessage
from bot.console.payloads import SignedRequest, SlackRequests, find_button
from bot.listeners import ListenerPool
from bot.server import HttpServer
from bot.settings import Settings
from domain.policy import PolicyConfig
from handlers import ids
from platforms.base import Platform
from platforms.registry import PlatformContext, build_platforms
from platforms.settings import SandboxSettings
from services.settings import ElevationSettings, RemovalSettings
from storage.audit import events_for
from storage.db import make_engine
from tests.fakes import FakeClock
from tests.waiting import wait_until

SIGNING_SECRET = "e2e-signing-secret"
BOT_TOKEN = "xoxb-e2e-token"
APPROVALS = "#access-approvals"
USERS = {
    user.name: user
    for user in [
        LocalUser("U0ALICE", "alice", "alice@agency.example", "Europe/Paris"),
        LocalUser("U0BOB", "bob", "bob@client.example", "America/New_York"),
        LocalUser("U0CAROL", "carol", "carol@client.example"),
        LocalUser("U0DAVE", "dave", "dave@client.example", is_admin=True),
        LocalUser("U0ANA", "ana", "ana@agency.example"),
    ]
}
# People who chose names that are Slack markup: the bot must never paste them in as markup.
USERS["eve"] = LocalUser("U0EVE", "<!channel> <https://evil.example|eve>", "eve@client.example")
USERS["nomail"] = LocalUser("U0NOMAIL", "<!here> nomail", "")


@dataclass
class RunningBot:
    events_url: str
    slack: LocalSlack
    requests: SlackRequests
    runtime: Runtime
    http: httpx.Client
    listeners: ListenerPool

    def settle(self) -> None:
        """Wait until every listener the bot started (the work after each ack) has finished."""
        assert self.listeners.wait_idle(timeout=30), "the bot's listeners did not finish"

    def post(self, signed: SignedRequest) -> httpx.Response:
        return self.http.post(self.events_url, content=signed.body, headers=signed.headers)

    def command(self, user: str, text: str) -> httpx.Response:
        return self.post(self.requests.slash_command(user=USERS[user], text=text))

    def card(self, request_id: int, timeout: float = 10.0) -> StoredMessage:
        """The approval card as Slack shows it, once the bot has also noted where it is (a click needs that)."""
        self.slack.wait_for("chat.postMessage", lambda call: f"request #{request_id} " in call.params["text"])
        deadline = time.monotonic() + timeout
        while (view := self.runtime.services.load_view(request_id)) is None or view.card is None:
            assert time.monotonic() < deadline, f"request #{request_id} never noted its card"
            time.sleep(0.01)
        channel = self.slack.channel_id(APPROVALS)
        return next(
            message
            for message in self.slack.channel_messages(channel)
            if message.thread_ts is None and message.text.startswith(f"Access request #{request_id} ")
        )

    def click(self, user: str, request_id: int, action_id: str) -> httpx.Response:
        card = self.card(request_id)
        found = find_button(card, action_id)
        assert found is not None, f"the card of request #{request_id} has no {action_id} button: {card.blocks}"
        button, block = found
        return self.post(self.requests.button(user=USERS[user], message=card, action=button, block_id=block))

    def wait_for_card(self, request_id: int, status: str) -> SlackCall:
        """The card redraw that shows `status` (the card's fallback text ends with it)."""
        prefix, suffix = f"Access request #{request_id} ", f": {status}"
        return self.slack.wait_for(
            "chat.update", lambda call: call.params["text"].startswith(prefix) and call.params["text"].endswith(suffix)
        )[-1]

    def ephemeral(self, containing: str) -> str:
        """Wait for an answer through a response URL (what only the person who typed or clicked sees)."""

        def text(call: SlackCall) -> str:
            return f"{call.params.get('text', '')} {call.params.get('blocks', '')}"

        return text(self.slack.wait_for("response_url", lambda call: containing in text(call))[-1])

    def audit(self, request_id: int) -> list[str]:
        with Session(self.runtime.engine) as session:
            return [event.event for event in events_for(session=session, request_id=request_id)]

    def wait_for_audit(self, request_id: int, event: str) -> None:
        wait_until(lambda: event in self.audit(request_id), f"request #{request_id} to record {event}")

    def platform(self, name: str = "sandbox") -> Platform:
        return self.runtime.services.platforms[name]

    def message_with(self, action_id: str, channel: str | None = None) -> StoredMessage:
        """The newest message showing a button `action_id` (in `channel`, if given)."""
        for message in reversed(list(self.slack.messages.values())):
            if (channel is None or message.channel == channel) and find_button(message, action_id) is not None:
                return message
        raise AssertionError(f"no message with a {action_id} button")

    def done(self, user: str, evidence: str) -> None:
        """Press Done on the newest manual step, say how it was done, and wait until its message shows it done."""
        message = self.message_with(ids.TASK_DONE)
        form = self.open_form(user, message, ids.TASK_DONE, ids.TASK_FORM)
        values = {ids.TASK_EVIDENCE: {ids.TASK_EVIDENCE: {"type": "plain_text_input", "value": evidence}}}
        self.post(self.requests.view_submission(user=USERS[user], view=form, values=values))
        self.slack.wait_for("chat.update", lambda call: call.params.get("ts") == message.ts)

    def press(self, user: str, message: StoredMessage, action_id: str) -> httpx.Response:
        found = find_button(message, action_id)
        assert found is not None
        return self.post(self.requests.button(user=USERS[user], message=message, action=found[0], block_id=found[1]))

    def open_form(self, user: str, message: StoredMessage, action_id: str, form: str) -> dict[str, Any]:
        """Press a button that opens a form, and wait for this press's form (the work fills it in after the click
        is answered, so an earlier press's form may be all there is for a moment)."""
        shown = len(self.slack.wait_for_form(form, count=0, timeout=0))
        self.press(user, message, action_id)
        return self.slack.wait_for_form(form, count=shown + 1)[-1]


def e2e_settings(
    slack: LocalSlack,
    database: Path,
    platforms: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    removals: dict[str, Any] | None = None,
) -> Settings:
    # A fast sweep, so that a test that moves the clock sees the effect within a fraction of a second.
    return Settings(
        elevations=ElevationSettings(sweep_seconds=0.1),
        outbox_retry_seconds=0.2,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=slack.api_url,
        database_url=f"sqlite:///{database}",
        approvals_channel=APPROVALS,
        platforms=platforms or {"sandbox": SandboxSettings(approvers=("U0BOB", "S0SECURITY"))},
        policy=PolicyConfig.model_validate(policy or {}),
        removals=RemovalSettings.model_validate(removals or {}),
    )


StartBot = Callable[..., RunningBot]


@pytest.fixture
def start_bot(tmp_path: Path) -> Iterator[StartBot]:
    started: list[tuple[HttpServer, LocalSlack, httpx.Client, ListenerPool, Runtime]] = []

    def start(
        wrap: Callable[[Platform], Platform] | None = None,
        clock: FakeClock | None = None,
        platforms: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        removals: dict[str, Any] | None = None,
    ) -> RunningBot:
        slack = LocalSlack(bot_token=BOT_TOKEN, users=list(USERS.values()), usergroups={"S0SECURITY": ["U0CAROL"]})
        slack.start()
        settings = e2e_settings(slack, tmp_path / "bot.db", platforms, policy, removals)
        platforms = None
        if wrap is not None:
            context = PlatformContext(engine=make_engine(settings.database_url), now=lambda: datetime.now(UTC))
            platforms = {name: wrap(p) for name, p in build_platforms(settings.platforms, context).items()}
        # Bolt runs listeners here after ack(); teardown waits for them so no test leaves work running.
        listeners = ListenerPool(max_workers=8)
        runtime = bootstrap(settings, platforms=platforms, listener_executor=listeners, clock=clock)
        assert runtime.app is not None
        runtime.scheduler.start()
        server = HttpServer(runtime.app, host="127.0.0.1", port=0, health=runtime.health, metrics=runtime.metrics)
        threading.Thread(target=server.serve_forever, name="bot-http", daemon=True).start()
        client = httpx.Client(timeout=15)
        started.append((server, slack, client, listeners, runtime))
        return RunningBot(
            events_url=f"http://127.0.0.1:{server.port}/slack/events",
            slack=slack,
            requests=SlackRequests(signing_secret=SIGNING_SECRET, response_base=f"{slack.base_url}/response"),
            runtime=runtime,
            http=client,
            listeners=listeners,
        )

    yield start
    for server, slack, client, listeners, runtime in started:
        client.close()
        server.shutdown()
        listeners.shutdown(wait=True)
        slack.stop()
        runtime.close()


@pytest.fixture
def bot(start_bot: StartBot) -> RunningBot:
    return start_bot()


def metric_values(page: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A `/metrics` page as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def environment_without_settings(**extra: str) -> dict[str, str]:
    """This process's environment with no Slack or accessbot settings, and this checkout importable: how a new user
    runs `accessbot` for the first time."""
    root = Path(__file__).resolve().parents[2]
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "ACCESSBOT_"))}
    return {**clean, "PYTHONPATH": str(root), **extra}
