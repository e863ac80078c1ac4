"""`accessbot console`: a terminal playground with no Slack at all.

You type `/access ...` as one of a few pretend people, see the cards and messages as text, and press buttons as
someone else. Underneath, the console signs Slack-shaped requests and dispatches them to the same Bolt app and
listeners `accessbot serve` runs, which talk to a local stand-in for the Slack Web API.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shlex
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from pydantic import SecretStr

from bot.admin import format_access, requests_report
from bot.bootstrap import Runtime, bootstrap
from bot.console.local_slack import LocalSlack, LocalUser, SlackCall, StoredMessage
from bot.console.payloads import SignedRequest, SlackRequests, find_button
from bot.console.render import TextRenderer
from bot.exports import terminal_safe
from bot.listeners import ListenerPool
from bot.settings import ConfigError, Settings
from domain.durations import DurationError, format_duration, parse_duration
from handlers import ids
from handlers.blocks.forms import PERMANENT, block_id
from services import reviews
from services.grants import account_ledger, live_views
from services.queries import access_everywhere, request_views

CONSOLE_USERS = [
    LocalUser("U0ALICE", "alice", "alice@agency.example", "Europe/London"),
    LocalUser("U0BOB", "bob", "bob@client.example", "America/New_York", is_admin=True),
    LocalUser("U0CAROL", "carol", "carol@client.example", "Europe/Berlin"),
    LocalUser("U0DAN", "dan", "dan@agency.example", "Europe/London"),
]
# Who approves in the playground when the config names no approvers.
PLAYGROUND_APPROVERS = ("U0BOB", "U0CAROL")

HELP = """\
Type Slack input as the current person; the bot answers as it would in Slack.
  /access help                       the bot's own help (try /access add dan@agency.example sandbox viewer
                                     on production for 2h reason: demo)
  as <name>                          act as someone else: {names}
  approve <id> | deny <id> [reason] | retry <id>
                                     press that button on request <id>'s card
  form key=value ...                 fill and send the request form (/access alone opens it in Slack); keys:
                                     verb person email platform role scopes duration method reason ticket
                                     e.g. form person=dan platform=sandbox role=scope:Admin scopes=staging
                                          duration=4h reason="tracking plan"
  done <task> [evidence]             press Done on manual step or follow-up <task> and say how it was done
  skip <task> <reason>               press Skip on a step before a removal and say why it is skipped
  resent <task>                      press Re-sent on an invitation not accepted yet (after re-sending it)
  review                             post an access review now (as `accessbot review`)
  review keep <row> | review remove <row>
                                     answer a row of an access review
  home                               open the bot's App Home: your access, your requests, what waits for you
  wait <duration>                    move the bot's clock on (e.g. wait 2h): reminders and ends fall due now
  requests                           all requests and their status (as `accessbot requests`)
  access <platform> <email>          what someone has on a platform (as `accessbot access`)
  users | help | quit"""


def playground_settings(settings: Settings, *, api_url: str, token: str, secret: str) -> tuple[Settings, bool]:
    """The same settings pointed at the local Slack; approvers filled in where the config names none."""
    platforms = {}
    filled = False
    for name, platform in settings.platforms.items():
        if platform.approvers:
            platforms[name] = platform
        else:
            platforms[name] = platform.model_copy(update={"approvers": PLAYGROUND_APPROVERS})
            filled = True
    updated = settings.model_copy(
        update={
            "slack_api_url": api_url,
            "slack_bot_token": SecretStr(token),
            "slack_signing_secret": SecretStr(secret),
            "slack_app_token": None,
            "platforms": platforms,
        }
    )
    return updated, filled


def _read_line(prompt: str) -> str:
    """The next line typed (EOFError at the end of input).

    Waits in short slices rather than in one blocking read: the system may deliver Ctrl-C to any of the bot's
    threads, and Python acts on it only when the main thread runs again, which a blocking read would put off until
    the next Enter.
    """
    if os.name == "nt":  # no select() on a console there; input() is interrupted as it should be
        return input(prompt)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    while not select.select([sys.stdin], [], [], 0.2)[0]:
        pass
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


class ConsoleClock:
    """The real time, `ahead` of it by what `wait` added."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


class Console:
    def __init__(self, settings: Settings, *, out: TextIO = sys.stdout, user: str = "alice") -> None:
        self._settings = settings
        self._out = out
        self._users = {u.name: u for u in CONSOLE_USERS}
        if user not in self._users:
            raise ConfigError(f"unknown console user {user!r}; choose one of {', '.join(self._users)} (--as)")
        self.user = self._users[user]
        self._renderer = TextRenderer(
            name_of=self._name_of, zone=lambda: self.user.tz, channel_name=lambda c: self._slack.channel_name(c)
        )
        self.slack: LocalSlack | None = None
        self.runtime: Runtime | None = None
        self._requests: SlackRequests | None = None
        self._pool = ListenerPool()
        # While a request is being dispatched, what the bot sends to Slack waits here so that the ack,
        # which Slack shows first, is printed first.
        self._held: list[str] | None = None
        self._dispatcher: int | None = None
        self._print_lock = threading.Lock()
        # The bot's clock: the real time, moved on by `wait`, so that an elevation's end can be seen in a session.
        self.clock = ConsoleClock()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> Console:
        token, secret = f"xoxb-console-{secrets.token_hex(8)}", secrets.token_hex(16)
        self.slack = LocalSlack(bot_token=token, users=CONSOLE_USERS, on_call=self._show).start()
        settings, filled = playground_settings(self._settings, api_url=self.slack.api_url, token=token, secret=secret)
        self.runtime = bootstrap(settings, listener_executor=self._pool, clock=self.clock)
        self.runtime.scheduler.start()
        self._requests = SlackRequests(signing_secret=secret, response_base=f"{self.slack.base_url}/response")
        self._print(f"accessbot console: database {settings.database_url}, platforms {', '.join(settings.platforms)}")
        if filled:
            self._print("No approvers are configured, so bob and carol approve in this playground.")
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.wait_idle()
        self._pool.shutdown()
        if self.runtime is not None:
            self.runtime.close()
        if self.slack is not None:
            self.slack.stop()

    def run(self, lines: Iterable[str] | None = None) -> None:
        interactive = lines is None
        if interactive:
            self._print(HELP.format(names=", ".join(self._users)))
        source = iter(lines) if lines is not None else None
        while True:
            if source is None:
                try:
                    line = _read_line(f"{self.user.name}> ")
                except EOFError:
                    return
                except KeyboardInterrupt:
                    self._print("\nBye (Ctrl-C). Everything asked so far is kept in the database.")
                    return
            else:
                scripted = next(source, None)
                if scripted is None:
                    return
                line = scripted
                self._print(f"{self.user.name}> {line}")
            if not self.execute(line):
                return

    # -- commands --------------------------------------------------------------------------------------------

    def execute(self, line: str) -> bool:
        """Run one console line; False when the console should end."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line.startswith("/access"):
            self._dispatch(self._slack_requests.slash_command(user=self.user, text=line[len("/access") :].strip()))
            return True
        word, _, rest = line.partition(" ")
        match word.lower():
            case "quit" | "exit":
                return False
            case "help":
                self._print(HELP.format(names=", ".join(self._users)))
            case "users":
                for user in CONSOLE_USERS:
                    self._print(f"  {user.name:<6} {user.id:<8} {user.email:<24} {user.tz}")
            case "as" | "user":
                self._switch(rest.strip())
            case "approve":
                self._press(rest, ids.APPROVE)
            case "retry":
                self._press(rest, ids.RETRY)
            case "deny":
                self._deny(rest)
            case "form":
                self._form(rest)
            case "done":
                self._done(rest)
            case "skip":
                self._done(rest, action=ids.TASK_SKIP)
            case "resent":
                self._press(rest.strip().lstrip("#"), ids.TASK_RESENT, what="task")
            case "review":
                self._review(rest)
            case "home":
                self._home()
            case "wait":
                self._wait(rest)
            case "requests":
                assert self.runtime is not None
                services = self.runtime.services
                views, now = request_views(services, limit=50), services.clock.now()
                self._print(requests_report(views, live_views(services, temporary_only=True), now=now))
            case "access":
                self._access(rest)
            case _:
                self._print(f"Unknown console command {word!r}. Type `help`.")
        return True

    def _wait(self, rest: str) -> None:
        try:
            span = parse_duration(rest)
        except DurationError as error:
            self._print(f"{error}. Type `wait <duration>`, e.g. `wait 2h`.")
            return
        self.clock.ahead += span
        self._print(f"(the bot's clock moves on {format_duration(span)}, to {self.clock.now():%Y-%m-%d %H:%M} UTC)")
        assert self.runtime is not None
        self.runtime.scheduler.swept()  # what fell due meanwhile happens now, as the scheduler would do it
        self._settle()

    def _settle(self) -> None:
        """Wait for the work a command started, and for what it tells Slack (digests go out on the scheduler's
        courier), so that it shows before the prompt comes back."""
        self._pool.wait_idle()
        assert self.runtime is not None
        self.runtime.scheduler.delivered()

    def _home(self) -> None:
        """Open the App Home as Slack would (the app_home_opened event), and show what the bot published."""
        self._dispatch(self._slack_requests.home_opened(user=self.user))
        home = self._slack.homes.get(self.user.id)
        if home is None:
            self._print("(the bot published no App Home)")
            return
        self._print(f"── {self.user.name}'s App Home ──")
        self._print_blocks(home)

    def _switch(self, name: str) -> None:
        if name not in self._users:
            self._print(f"No one called {name!r} here; choose one of {', '.join(self._users)}.")
            return
        self.user = self._users[name]
        self._print(f"You are now {self.user.name} ({self.user.id}).")

    def _press(self, rest: str, action_id: str, *, what: str = "request") -> None:
        request_id = rest.strip().lstrip("#")
        command = action_id.split("_", 1)[-1].lower()
        if not request_id.isdigit():
            given = f"{request_id!r} is not a {what} number: type" if request_id else f"Which {what}? Type"
            listing = "`requests` lists them" if what == "request" else "its message shows it"
            self._print(f"{given} `{command} <id>`, e.g. `{command} 1` ({listing}).")
            return
        found = self._card_button(request_id, action_id)
        if found is None:
            label = action_id.split("_", 1)[-1].title()
            self._print(f"No {label} button for {what} {request_id} now (answered already, or no such id).")
            return
        message, button, block = found
        self._dispatch(self._slack_requests.button(user=self.user, message=message, action=button, block_id=block))

    def _deny(self, rest: str) -> None:
        request_id, _, reason = rest.strip().partition(" ")
        request_id = request_id.lstrip("#")
        view = self._form_opened_by(lambda: self._press(request_id, ids.DENY), ids.DENY_FORM)
        if view is None:
            return
        values = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_INPUT: {"type": "plain_text_input", "value": reason or None}}}
        self._dispatch(self._slack_requests.view_submission(user=self.user, view=view, values=values))

    def _done(self, rest: str, *, action: str = ids.TASK_DONE) -> None:
        task_id, _, evidence = rest.strip().partition(" ")
        view = self._form_opened_by(lambda: self._press(task_id.lstrip("#"), action, what="task"), ids.TASK_FORM)
        if view is None:
            return
        values = {ids.TASK_EVIDENCE: {ids.TASK_EVIDENCE: {"type": "plain_text_input", "value": evidence or None}}}
        self._dispatch(self._slack_requests.view_submission(user=self.user, view=view, values=values))

    def _form_opened_by(self, press: Callable[[], None], form: str) -> dict[str, Any] | None:
        """The form a button opened, as the work filled it in; None if the button opened none, or a notice."""
        opened = len(self._slack.calls_to("views.open"))
        press()
        calls = self._slack.calls_to("views.open")[opened:]
        view = self._slack.views.get(calls[-1].response["view"]["id"]) if calls else None
        return view if view is not None and view.get("callback_id") == form else None

    def _review(self, rest: str) -> None:
        answer, _, row = rest.strip().partition(" ")
        if answer in ("keep", "remove"):
            self._press(row.strip().lstrip("#"), ids.REVIEW_KEEP if answer == "keep" else ids.REVIEW_REMOVE, what="row")
        elif answer:
            self._print("Use `review` to post one, or `review keep <row>` / `review remove <row>`.")
        else:
            assert self.runtime is not None
            reviews.start(self.runtime.services, started_by=self.user.id)
            self._settle()

    def _form(self, rest: str) -> None:
        try:
            fields = dict(item.split("=", 1) for item in shlex.split(rest))
        except ValueError:
            self._print('Write the fields as key=value, quoting spaces: reason="end of project"')
            return
        opened = len(self._slack.calls_to("views.open"))
        self._dispatch(self._slack_requests.slash_command(user=self.user, text=""))
        calls = self._slack.calls_to("views.open")[opened:]
        if not calls:
            return
        view_id = calls[-1].response["view"]["id"]
        for field, action in (("verb", ids.FORM_VERB), ("platform", ids.FORM_PLATFORM)):
            if field in fields:
                signed = self._slack_requests.view_select(
                    user=self.user,
                    view=self._slack.views[view_id],
                    block_id=action,
                    action_id=action,
                    value=fields[field],
                )
                self._dispatch(signed)
        view = self._slack.views[view_id]
        platform = json.loads(view["private_metadata"])["platform"]
        values = form_values(fields, platform, self._users)
        self._dispatch(self._slack_requests.view_submission(user=self.user, view=view, values=values))

    def _access(self, rest: str) -> None:
        assert self.runtime is not None
        parts = rest.split()
        if len(parts) != 2:
            self._print("Usage: access <platform> <email>")
            return
        platform, email = parts
        if platform not in self.runtime.services.platforms:
            self._print(f"Unknown platform {platform!r}; platforms: {', '.join(self.runtime.services.platforms)}")
            return
        services = self.runtime.services
        ledgers = {platform: account_ledger(services, platform, email.lower())}
        answers = access_everywhere(services, email.lower(), [platform])
        self._print(format_access(email.lower(), answers, ledgers, now=services.clock.now()))

    # -- plumbing --------------------------------------------------------------------------------------------

    @property
    def _slack(self) -> LocalSlack:
        assert self.slack is not None, "use the console as a context manager"
        return self.slack

    @property
    def _slack_requests(self) -> SlackRequests:
        assert self._requests is not None, "use the console as a context manager"
        return self._requests

    def _dispatch(self, signed: SignedRequest) -> None:
        assert self.runtime is not None and self.runtime.app is not None
        with self._print_lock:
            self._held, self._dispatcher = [], threading.get_ident()
        try:
            response = self.runtime.app.dispatch(signed.to_bolt())
        finally:
            with self._print_lock:
                held, self._held = self._held or [], None
        if response.status != 200:
            self._print(f"(the bot answered HTTP {response.status}: {response.body})")
        elif response.body:
            # Bolt answers a text-only ack() with the bare text, which Slack shows as an ephemeral message.
            body = response.body
            self._show_reply(json.loads(body) if body.lstrip().startswith("{") else {"text": body})
        for text in held:
            self._print(text)
        self._settle()

    def _card_button(self, request_id: str, action_id: str) -> tuple[StoredMessage, dict[str, Any], str] | None:
        for message in reversed(list(self._slack.messages.values())):
            found = find_button(message, action_id)
            if found is not None and found[0].get("value") == request_id:
                return message, found[0], found[1]
        return None

    def _show(self, call: SlackCall) -> None:
        params = call.params
        if not call.response.get("ok", False):
            if call.method not in ("users.lookupByEmail",):
                self._print(f"(Slack refused {call.method}: {call.response.get('error')})")
            return
        match call.method:
            case "chat.postMessage":
                channel = str(params.get("channel", ""))
                if channel[:1] in ("U", "W"):
                    self._print(f"✉ DM to {self._name_of(channel)}:")
                elif params.get("thread_ts"):
                    self._print("  ↳ reply in the card's thread:")
                else:
                    self._print(f"── new message in {channel} ──")
                self._print_blocks(params)
            case "chat.update":
                self._print("── card updated ──")
                self._print_blocks(params)
            case "chat.postEphemeral" | "response_url":
                self._show_reply(params)
            case "views.open" | "views.update":
                # A form as it is shown: opened at once, or filled in by the work after a loading view; not the
                # loading view itself, nor the request form redrawn as its choices change.
                view = call.response.get("view") or {}
                filled_in = call.method == "views.update" and params.get("external_id") is not None
                if (call.method == "views.open" and view.get("callback_id") != ids.LOADING) or filled_in:
                    self._print("\n".join(self._renderer.view(view)))

    def _show_reply(self, reply: dict[str, Any]) -> None:
        if reply.get("response_action") == "errors":
            for field, problem in reply.get("errors", {}).items():
                self._print(f"(form error at {field}) {problem}")
            return
        lines = self._renderer.blocks(list(reply.get("blocks") or []), str(reply.get("text") or ""))
        if lines:
            self._print("(only you see this) " + "\n  ".join(lines))

    def _print_blocks(self, params: dict[str, Any]) -> None:
        for line in self._renderer.blocks(list(params.get("blocks") or []), str(params.get("text") or "")):
            self._print("  " + line)

    def _name_of(self, slack_id: str) -> str:
        user_id = "U" + slack_id[1:] if slack_id.startswith("D") else slack_id
        return next((user.name for user in CONSOLE_USERS if user.id == user_id), slack_id)

    def _print(self, text: str) -> None:
        with self._print_lock:
            if self._held is not None and threading.get_ident() != self._dispatcher:
                self._held.append(text)
                return
        print(terminal_safe(text), file=self._out, flush=True)


def form_values(fields: dict[str, str], platform: str, users: dict[str, LocalUser]) -> dict[str, dict[str, Any]]:
    """The `state.values` Slack would send for a form filled with `fields`."""

    def select(value: str | None) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value} if value else None}

    def text(value: str | None) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    person = users.get(fields.get("person", ""))
    scopes = [name for name in fields.get("scopes", "").split(",") if name]
    return {
        ids.FORM_TARGET_USER: {
            ids.FORM_TARGET_USER: {"type": "users_select", "selected_user": person.id if person else None}
        },
        ids.FORM_TARGET_EMAIL: {ids.FORM_TARGET_EMAIL: text(fields.get("email"))},
        block_id(ids.FORM_ROLE, platform): {ids.FORM_ROLE: select(fields.get("role"))},
        block_id(ids.FORM_SCOPES, platform): {
            ids.FORM_SCOPES: {"type": "multi_static_select", "selected_options": [{"value": s} for s in scopes]}
        },
        ids.FORM_DURATION: {ids.FORM_DURATION: select(fields.get("duration", PERMANENT))},
        ids.FORM_METHOD: {ids.FORM_METHOD: select(fields.get("method"))},
        ids.FORM_REASON: {ids.FORM_REASON: text(fields.get("reason"))},
        ids.FORM_TICKET: {ids.FORM_TICKET: text(fields.get("ticket"))},
    }
