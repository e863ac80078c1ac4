"""Real `accessbot serve` processes on one database, a local Slack they talk to, and a way to kill them (-9)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.console.local_slack import LocalSlack, LocalUser, StoredMessage
from bot.console.payloads import SignedRequest, SlackRequests, find_button
from storage.db import make_engine

TOKEN = "xoxb-fault-tests"
SECRET = "fault-tests-signing-secret"
APPROVALS = "#access-approvals"
# The checkout these files are in: its bot runs, not whichever one the environment has installed.
ROOT = Path(__file__).resolve().parents[2]
#: One client for the calls the tests make to the bots, each on a new connection as `httpx.get` makes it: creating a
#: client loads the TLS certificates, some 40 ms of CPU, which polling /healthz every 50 ms spent on every poll (half
#: a core, taken from the bots the tests time).
LOCAL_HTTP = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
ALICE = LocalUser("U0ALICE", "alice", "alice@agency.example")
BOB = LocalUser("U0BOB", "bob", "bob@client.example")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotProcess:
    name: str
    config: Path
    slack_api_url: str
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    environment: dict[str, str] = field(default_factory=dict)  # settings of this test's own, over the usual ones

    @property
    def metrics(self) -> Path:
        return self.folder / f"{self.name}-metrics"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BotProcess:
        self.starts += 1
        environment = (
            dict(
                os.environ,
                SLACK_BOT_TOKEN=TOKEN,
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=self.slack_api_url,
                ACCESSBOT_CONFIG=str(self.config),
                PYTHONPATH=str(ROOT),
                # Its figures go in the test's folder: a process killed with SIGKILL cannot remove a folder of its own.
                PROMETHEUS_MULTIPROC_DIR=str(self.metrics),
            )
            | self.environment
        )
        log = (self.folder / f"{self.name}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=environment,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, f"{self.name} exited: {self.log()}"
            try:
                if LOCAL_HTTP.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not become healthy: {self.log()}")

    def kill(self) -> None:
        """kill -9: no handler, no cleanup, no last word."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def post(self, signed: SignedRequest) -> httpx.Response:
        return LOCAL_HTTP.post(f"{self.url}/slack/events", content=signed.body, headers=signed.headers, timeout=10)

    def log(self, *, whole: bool = False) -> str:
        """What the process wrote (its end, unless `whole`: enough for an assertion message)."""
        path = self.folder / f"{self.name}-{self.starts}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text if whole else text[-3000:]


@dataclass
class Cluster:
    instances: list[BotProcess]
    slack: LocalSlack
    engine: Engine
    requests: SlackRequests

    def command(self, instance: BotProcess, text_: str) -> None:
        assert instance.post(self.requests.slash_command(user=ALICE, text=text_)).status_code == 200

    def card(self, request_id: int, timeout: float = 15.0) -> StoredMessage:
        """The newest drawing of a request's card, once the bot has noted where it is."""
        # A process killed while sending leaves Slack a call with a cut-off body, and so no text.
        self.slack.wait_for(
            "chat.postMessage", lambda call: f"request #{request_id} " in call.params.get("text", ""), timeout=timeout
        )
        self.wait(lambda: self.scalar("SELECT card_ts FROM access_request WHERE id = :id", id=request_id), timeout)
        channel = self.slack.channel_id(APPROVALS)
        return next(
            message
            for message in self.slack.channel_messages(channel)
            if message.thread_ts is None and message.text.startswith(f"Access request #{request_id} ")
        )

    def press(self, instance: BotProcess, request_id: int, action_id: str) -> None:
        card = self.card(request_id)
        found = find_button(card, action_id)
        assert found is not None, f"request #{request_id}'s card has no {action_id}: {card.text}"
        signed = self.requests.button(user=BOB, message=card, action=found[0], block_id=found[1])
        assert instance.post(signed).status_code == 200

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def status(self, request_id: int) -> str:
        return str(self.scalar("SELECT status FROM access_request WHERE id = :id", id=request_id))

    def audit_count(self, request_id: int, event: str) -> int:
        sql = "SELECT count(*) FROM audit_event WHERE request_id = :id AND event = :event"
        return int(self.scalar(sql, id=request_id, event=event))

    @staticmethod
    def wait(condition: Any, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.05)
        raise AssertionError(f"waited {timeout}s in vain")


@contextmanager
def busy_cores() -> Iterator[None]:
    """Keep every core of the machine busy for the block, as a loaded CI machine would be: the fault tests must hold
    with the bot's processes competing for the CPU, so they wait on conditions, never on fixed sleeps."""
    burners = [
        subprocess.Popen(
            [sys.executable, "-c", "while True: pass"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def write_config(folder: Path, database_url: str, *, latency: float, lease: float, sweep_seconds: float = 0.2) -> Path:
    """A config for `accessbot serve` in these tests and the benchmarks; the sweep comes round every `sweep_seconds`
    (often, by default, so that a test that waits for it waits little)."""
    config = {
        "database_url": database_url,
        "approvals_channel": APPROVALS,
        "platforms": {"sandbox": {"type": "sandbox", "approvers": [BOB.id], "latency_seconds": latency}},
        "elevations": {"sweep_seconds": sweep_seconds, "lease_seconds": lease, "retry_initial_seconds": 0.5},
        "outbox_retry_seconds": 0.2,
        "reviews": {"schedule": None},
        "log_format": "json",
    }
    path = folder / "accessbot.yml"
    path.write_text(json.dumps(config))
    return path


@contextmanager
def running_cluster(
    folder: Path,
    database_url: str,
    names: Sequence[str],
    *,
    latency: float,
    lease: float,
    environment: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """`accessbot serve` processes by these names on one database and a local Slack, all healthy, for the block."""
    slack = local_slack()
    config = write_config(folder, database_url, latency=latency, lease=lease)
    instances = [
        BotProcess(name, config, slack.api_url, folder, environment=environment or {}).start() for name in names
    ]
    engine = make_engine(database_url)
    try:
        for instance in instances:
            instance.wait_healthy()
        yield Cluster(instances=instances, slack=slack, engine=engine, requests=signed_requests(slack))
    finally:
        for instance in instances:
            instance.stop()
        engine.dispose()
        slack.stop()


def local_slack() -> LocalSlack:
    return LocalSlack(bot_token=TOKEN, users=[ALICE, BOB]).start()


def signed_requests(slack: LocalSlack) -> SlackRequests:
    return SlackRequests(signing_secret=SECRET, response_base=f"{slack.base_url}/response")
