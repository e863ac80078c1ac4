"""Requests shaped and signed the way Slack sends them: slash commands, button clicks, form submissions, events."""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.console.local_slack import TEAM_ID, LocalUser, StoredMessage

API_APP_ID = "A0ACCESSBOT"


@dataclass(frozen=True)
class SignedRequest:
    body: str
    headers: dict[str, str]

    def to_bolt(self) -> BoltRequest:
        return BoltRequest(body=self.body, headers={key.lower(): [value] for key, value in self.headers.items()})


class SlackRequests:
    def __init__(self, *, signing_secret: str, response_base: str) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self._response_base = response_base.rstrip("/")
        self._counter = itertools.count(1)

    def sign(
        self, body: str, *, timestamp: int | None = None, content_type: str = "application/x-www-form-urlencoded"
    ) -> SignedRequest:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        return SignedRequest(
            body=body,
            headers={"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature},
        )

    def event(self, event: dict[str, Any]) -> SignedRequest:
        """An Events API delivery (JSON), as Slack posts it to the request URL."""
        key = next(self._counter)
        envelope = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": API_APP_ID,
            "event": {**event, "event_ts": f"{time.time():.6f}"},
            "type": "event_callback",
            "event_id": f"Ev{key:08d}",
            "event_time": int(time.time()),
        }
        return self.sign(json.dumps(envelope), content_type="application/json")

    def home_opened(self, *, user: LocalUser) -> SignedRequest:
        """Someone opens the bot's App Home tab."""
        return self.event({"type": "app_home_opened", "user": user.id, "channel": f"D{user.id[1:]}", "tab": "home"})

    def home_button(
        self, *, user: LocalUser, home: dict[str, Any], action: dict[str, Any], block_id: str
    ) -> SignedRequest:
        """A click on a button of someone's App Home: a view, so no message and no response URL."""
        payload = {
            **self._envelope("block_actions", user, next(self._counter)),
            "container": {"type": "view", "view_id": home.get("id", "")},
            "view": home,
            "actions": [_pressed(action, block_id)],
        }
        return self._payload(payload)

    def slash_command(
        self, *, user: LocalUser, text: str, channel_id: str = "C0GENERAL", command: str = "/access"
    ) -> SignedRequest:
        key = next(self._counter)
        fields = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "local",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "response_url": f"{self._response_base}/command-{key}",
            "trigger_id": f"trigger-{key}",
        }
        return self.sign(urllib.parse.urlencode(fields))

    def button(
        self, *, user: LocalUser, message: StoredMessage, action: dict[str, Any], block_id: str
    ) -> SignedRequest:
        key = next(self._counter)
        payload = {
            **self._envelope("block_actions", user, key),
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
            "channel": {"id": message.channel, "name": "access-approvals"},
            "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
            "response_url": f"{self._response_base}/action-{key}",
            "actions": [_pressed(action, block_id)],
        }
        return self._payload(payload)

    def view_select(
        self, *, user: LocalUser, view: dict[str, Any], block_id: str, action_id: str, value: str
    ) -> SignedRequest:
        """Choosing an option in a select of an open modal (dispatch_action)."""
        payload = {
            **self._envelope("block_actions", user, next(self._counter)),
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "actions": [
                {
                    "type": "static_select",
                    "action_id": action_id,
                    "block_id": block_id,
                    "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self._payload(payload)

    def view_submission(
        self, *, user: LocalUser, view: dict[str, Any], values: dict[str, dict[str, Any]]
    ) -> SignedRequest:
        payload = {
            **self._envelope("view_submission", user, next(self._counter)),
            "view": {**view, "state": {"values": values}},
            "response_urls": [],
        }
        return self._payload(payload)

    @staticmethod
    def _envelope(kind: str, user: LocalUser, key: int) -> dict[str, Any]:
        """The fields every interaction payload carries."""
        return {
            "type": kind,
            "team": {"id": TEAM_ID, "domain": "local"},
            "user": {"id": user.id, "username": user.name, "team_id": TEAM_ID},
            "api_app_id": API_APP_ID,
            "token": "legacy-verification-token",
            "trigger_id": f"trigger-{key}",
        }

    def _payload(self, payload: dict[str, Any]) -> SignedRequest:
        return self.sign(urllib.parse.urlencode({"payload": json.dumps(payload)}))


def _pressed(action: dict[str, Any], block_id: str) -> dict[str, Any]:
    """A button as Slack reports it pressed, in a block_actions payload."""
    return {
        "type": action.get("type", "button"),
        "action_id": action["action_id"],
        "block_id": block_id,
        "value": action.get("value"),
        "text": action.get("text"),
        "action_ts": f"{time.time():.6f}",
    }


def find_button(message: StoredMessage, action_id: str) -> tuple[dict[str, Any], str] | None:
    """The button with `action_id` on a message, and its block id."""
    return find_in_blocks(message.blocks, action_id)


def find_in_blocks(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None
) -> tuple[dict[str, Any], str] | None:
    """The button with `action_id` (and `value`, if given) in these blocks, and its block id."""
    for block in blocks:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            if element.get("action_id") == action_id and value in (None, element.get("value")):
                return element, str(block.get("block_id", ""))
    return None
