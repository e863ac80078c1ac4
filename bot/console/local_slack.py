"""A local stand-in for the Slack Web API, over real HTTP on loopback.

The console points the bot's WebClient at it, and so do the end-to-end tests: it answers the methods the bot uses,
keeps the messages and views as Slack would show them, records every call, and can be told to fail.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_USER_ID = "UACCESSBOT"
TEAM_ID = "T0LOCAL"
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass(frozen=True)
class LocalUser:
    id: str
    name: str
    email: str
    tz: str = "UTC"
    is_admin: bool = False


@dataclass
class SlackCall:
    method: str
    params: dict[str, Any]
    token: str | None
    response: dict[str, Any]
    at: float = field(default_factory=time.time)


@dataclass
class StoredMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str = BOT_USER_ID


class LocalSlack:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-local",
        app_token: str = "xapp-local",
        users: list[LocalUser] | None = None,
        usergroups: dict[str, list[str]] | None = None,
        on_call: Callable[[SlackCall], None] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.users = {user.id: user for user in users or []}
        self.usergroups = dict(usergroups or {})
        self.on_call = on_call
        self.calls: list[SlackCall] = []
        self.messages: dict[tuple[str, str], StoredMessage] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.homes: dict[str, dict[str, Any]] = {}  # each user's App Home as last published
        self._channels: dict[str, str] = {}
        self._failures: dict[str, list[str]] = {}
        self._down = False
        #: What a rate-limited call's Retry-After header says, in seconds (`fail_next(method, "ratelimited")`).
        self.retry_after = 1
        # Calls refused while down, for tests that check nothing got through.
        self.refused: list[SlackCall] = []
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> LocalSlack:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="local-slack", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalSlack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the local Slack first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.base_url}/response/{key}"

    # -- what tests and the console look at ------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for_form(self, callback_id: str, *, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until `count` forms with this callback id are shown: opened at once, or filled in by the work
        after a loading view (views.update by its external id). Returns the views as Slack answered them."""

        def shows_form(call: SlackCall) -> bool:
            view = call.response.get("view") or {}
            return call.method in ("views.open", "views.update") and view.get("callback_id") == callback_id

        found = self.wait_for(("views.open", "views.update"), shows_form, count=count, timeout=timeout)
        return [call.response["view"] for call in found]

    def wait_for(
        self,
        method: str | tuple[str, ...],
        where: Callable[[SlackCall], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[SlackCall]:
        """Block until `count` calls to `method` (or any of several) match `where`; the bot answers Slack before it
        finishes work."""
        methods = (method,) if isinstance(method, str) else method
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [call for call in self.calls if call.method in methods and where(call)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({call.method for call in self.calls})
                    raise TimeoutError(f"waited {timeout}s for {count} x {method}; saw {len(found)} (methods: {seen})")
                self._lock.wait(remaining)

    def channel_messages(self, channel: str) -> list[StoredMessage]:
        with self._lock:
            return [message for message in self.messages.values() if message.channel == channel]

    def channel_id(self, name: str) -> str:
        """The id a channel name resolves to (channel names are accepted by chat.postMessage)."""
        with self._lock:
            return self._channel_for(name)

    def channel_name(self, channel_id: str) -> str:
        with self._lock:
            return next((name for name, known in self._channels.items() if known == channel_id), channel_id)

    def outage(self, down: bool = True) -> None:
        """While down, every Web API call and response URL answers HTTP 503, as Slack does in an outage."""
        with self._lock:
            self._down = down

    def fail_next(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """Make the next `times` calls to `method` fail: `http_500` for a server error, `ratelimited` for HTTP 429
        with a Retry-After of `retry_after` seconds (as Slack answers a rate-limited call), else a Slack error code."""
        with self._lock:
            self._failures.setdefault(method, []).extend([error] * times)

    # -- the Web API -----------------------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self._down:
                answer = {"ok": False, "error": "service_unavailable"}
                self.refused.append(SlackCall(method=method, params=params, token=token, response=answer))
                self._lock.notify_all()
                return 503, answer
            failures = self._failures.get(method)
            failure = failures.pop(0) if failures else None
            status, answer = self._answer(method, params, token, failure)
            call = SlackCall(method=method, params=params, token=token, response=answer)
            self.calls.append(call)
            self._lock.notify_all()
        if self.on_call is not None:
            self.on_call(call)
        return status, answer

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None, failure: str | None
    ) -> tuple[int, dict[str, Any]]:
        if failure == "http_500":
            return 500, {"ok": False, "error": "internal_error"}
        if failure == "ratelimited":
            return 429, {"ok": False, "error": "ratelimited"}
        if failure is not None:
            return 200, {"ok": False, "error": failure}
        expected = self.app_token if method.startswith("apps.") else self.bot_token
        if method != "response_url" and token != expected:
            return 200, {"ok": False, "error": "invalid_auth"}
        answer = getattr(self, "_" + method.replace(".", "_"), None)
        if answer is None:
            return 200, {"ok": False, "error": "unknown_method"}
        return 200, answer(params)

    def _auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "user_id": BOT_USER_ID, "bot_id": "BACCESSBOT", "team_id": TEAM_ID, "team": "Local"}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        channel = self._channel_for(str(params["channel"]))
        ts = self._next_ts()
        message = StoredMessage(
            channel=channel,
            ts=ts,
            text=str(params.get("text") or ""),
            blocks=list(params.get("blocks") or []),
            thread_ts=params.get("thread_ts"),
        )
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": message.text, "ts": ts}}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (str(params.get("channel")), str(params.get("ts")))
        message = self.messages.get(key)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.text = str(params.get("text") or message.text)
        if "blocks" in params:
            message.blocks = list(params.get("blocks") or [])
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("user") not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": _user_json(user)}

    def _users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email", "")).lower()
        user = next((user for user in self.users.values() if user.email.lower() == email), None)
        if user is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": _user_json(user)}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup"))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view_id = f"V{next(self._ts):08d}"
        view = {**dict(params.get("view") or {}), "id": view_id, "hash": f"h{view_id}", "team_id": TEAM_ID}
        self.views[view_id] = view
        return {"ok": True, "view": view}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        # A view is named by its id, or by the external id it was opened with (which it keeps).
        view_id = params.get("view_id")
        if params.get("external_id") is not None:
            view_id = next(
                (key for key, view in self.views.items() if view.get("external_id") == params["external_id"]), None
            )
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        kept = {"external_id": self.views[view_id]["external_id"]} if "external_id" in self.views[view_id] else {}
        view = {**kept, **dict(params.get("view") or {}), "id": view_id, "hash": f"h{view_id}-{next(self._ts)}"}
        self.views[view_id] = view
        return {"ok": True, "view": view}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id, view = str(params.get("user_id") or ""), params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        published = {**view, "id": f"VHOME{user_id}"}
        self.homes[user_id] = published
        return {"ok": True, "view": published}

    def _response_url(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _channel_for(self, channel: str) -> str:
        if channel[:1] in ("U", "W"):
            return "D" + channel[1:]
        if channel[:1] in ("C", "D", "G"):
            return channel
        name = channel.lstrip("#")
        return self._channels.setdefault(name, f"C{len(self._channels) + 1:08d}")

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"


def _user_json(user: LocalUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "real_name": user.name,
        "tz": user.tz,
        "is_admin": user.is_admin,
        "is_owner": False,
        "profile": {"email": user.email, "real_name": user.name},
    }


def _handler_for(slack: LocalSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            params = _params(url.query, self._body(), self.headers.get("Content-Type", ""))
            if url.path.startswith("/response/"):
                params["response_key"] = url.path.rsplit("/", 1)[-1]
                status, answer = slack.handle("response_url", params, None)
            elif url.path.startswith("/api/"):
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ") or params.pop("token", None)
                status, answer = slack.handle(url.path.removeprefix("/api/"), params, token)
            else:
                status, answer = 404, {"ok": False, "error": "not_found"}
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if status == 429:
                self.send_header("Retry-After", str(slack.retry_after))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the console prints what matters; request lines would drown it

    return Handler


def _params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
    if body:
        if "json" in content_type:
            params.update(json.loads(body))
        else:
            params.update(urllib.parse.parse_qsl(body.decode()))
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params
