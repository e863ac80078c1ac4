"""`accessbot serve` as people run it: a real process whose front answers Slack and whose worker process does the
work behind the answers and the scheduling (bot/worker.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from handlers import ids
from storage.db import make_engine
from tests.e2e.conftest import metric_values
from tests.faults.cluster import (
    BotProcess,
    Cluster,
    local_slack,
    running_cluster,
    signed_requests,
    write_config,
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """One instance on SQLite; the sandbox takes 0.2 s per call, so that work queues up behind the answers."""
    with running_cluster(tmp_path, f"sqlite:///{tmp_path}/accessbot.db", ["bot"], latency=0.2, lease=30.0) as running:
        yield running


def health(instance: BotProcess) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{instance.url}/healthz", timeout=5)
    return response.status_code, response.json()


def healthy(instance: BotProcess, *, swept: bool = False) -> dict[str, Any] | None:
    status, report = health(instance)
    return report if status == 200 and (report["last_sweep"] or not swept) else None


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that ended but was not yet reaped is a zombie: it runs nothing.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def test_the_front_answers_and_its_worker_does_the_work_under_the_same_instance_name(cluster: Cluster) -> None:
    instance = cluster.instances[0]
    assert instance.process is not None
    report = cluster.wait(lambda: healthy(instance, swept=True))
    worker_pid = report["worker_pid"]
    assert worker_pid not in (None, instance.process.pid)
    assert report["degraded_platforms"] == [], "the worker tells the front which platforms are not answering"
    assert report["scheduler"] == "running" and report["work_queued"] == 0
    assert report["instance"].endswith(f":{instance.process.pid}"), "claims name the instance, not the worker"
    assert os.getpriority(os.PRIO_PROCESS, worker_pid) > os.getpriority(os.PRIO_PROCESS, instance.process.pid)

    cluster.command(instance, "add ana@agency.example sandbox viewer on production reason: two processes")
    cluster.press(instance, 1, ids.APPROVE)
    cluster.wait(lambda: cluster.status(1) == "applied")
    assert cluster.audit_count(1, "applied") == 1
    # The worker measured the platform call and the approval; the front's /metrics adds every process's figures up.
    values = metric_values(httpx.get(f"{instance.url}/metrics", timeout=10).text)
    assert values[("accessbot_platform_call_seconds_count", (("operation", "apply"), ("platform", "sandbox")))] == 1
    assert values[("accessbot_approval_latency_seconds_count", ())] == 1
    assert values[("accessbot_requests", (("status", "applied"), ("verb", "add")))] == 1


def test_a_worker_that_dies_is_started_again_and_health_says_so_meanwhile(cluster: Cluster) -> None:
    instance = cluster.instances[0]
    first = health(instance)[1]["worker_pid"]
    os.kill(first, signal.SIGKILL)

    def unhealthy() -> dict[str, Any] | None:
        status, report = health(instance)
        return report if status == 503 else None

    report = cluster.wait(unhealthy, timeout=10)
    assert any("worker process is not running" in problem for problem in report["problems"]), report
    report = cluster.wait(lambda: healthy(instance), timeout=30)
    assert report["worker_restarts"] == 1 and report["worker_pid"] != first

    cluster.command(instance, "add ana@agency.example sandbox viewer on production reason: after the restart")
    cluster.card(1)
    assert "the worker (pid" in instance.log() and "Starting another" in instance.log()


def test_two_worker_processes_share_the_work_each_in_its_own_name_and_one_that_dies_comes_back(
    tmp_path: Path,
) -> None:
    with running_cluster(
        tmp_path,
        f"sqlite:///{tmp_path}/accessbot.db",
        ["bot"],
        latency=0.0,
        lease=30.0,
        environment={"ACCESSBOT_WORKER_PROCESSES": "2"},
    ) as cluster:
        instance = cluster.instances[0]
        assert instance.process is not None
        report = cluster.wait(lambda: healthy(instance, swept=True))
        first, second = report["worker_pids"]
        assert report["worker_pid"] == first != second and running(second)
        for n in range(1, 7):
            cluster.command(instance, f"add user{n}@agency.example sandbox viewer on production reason: share")
            cluster.card(n)
        for n in range(1, 7):
            cluster.press(instance, n, ids.APPROVE)
        cluster.wait(lambda: all(cluster.status(n) == "applied" for n in range(1, 7)))
        assert all(cluster.audit_count(n, "applied") == 1 for n in range(1, 7))
        lines = [json.loads(line) for line in instance.log(whole=True).splitlines() if line.startswith("{")]
        approving = {line["instance"] for line in lines if line["message"].startswith("approved by")}
        name = report["instance"]
        assert approving == {name, f"{name}/2"}, "each worker works under its own name in claims and logs"

        os.kill(second, signal.SIGKILL)
        report = cluster.wait(lambda: healthy(instance) if health(instance)[1]["worker_restarts"] == 1 else None)
        assert report["worker_pids"][0] == first and report["worker_pids"][1] not in (first, second)


def test_the_worker_ends_with_its_front_even_by_kill_9(cluster: Cluster) -> None:
    instance = cluster.instances[0]
    worker_pid = health(instance)[1]["worker_pid"]
    # Its figures are written where the test put them, so a kill -9 leaves nothing in the system's temporary folder.
    cluster.wait(lambda: list(instance.metrics.glob("*.db")))
    instance.kill()
    cluster.wait(lambda: not running(worker_pid), timeout=10)


def test_sigterm_stops_taking_requests_and_lets_the_worker_finish_what_was_answered(cluster: Cluster) -> None:
    instance = cluster.instances[0]
    assert instance.process is not None
    answered = 30
    for n in range(1, answered + 1):
        cluster.command(instance, f"add person{n}@agency.example sandbox viewer on production reason: stop {n}")
    instance.process.send_signal(signal.SIGTERM)
    assert instance.process.wait(timeout=60) == 0, instance.log()
    assert "stopping: the worker finishes the work already answered" in instance.log(whole=True)

    # Each request waited on the sandbox: most were still queued when the front was told to stop.
    stored = cluster.scalar("SELECT count(*) FROM access_request WHERE card_ts IS NOT NULL")
    assert stored == answered, instance.log()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{instance.url}/healthz", timeout=2)


def test_ctrl_c_to_the_process_group_is_for_the_front_to_handle(cluster: Cluster) -> None:
    """A terminal sends Ctrl-C to every process of the group; the worker leaves stopping to the front."""
    instance = cluster.instances[0]
    worker_pid = health(instance)[1]["worker_pid"]
    os.kill(worker_pid, signal.SIGINT)
    # The worker still does work handed to it after the signal: the same worker, never restarted.
    cluster.command(instance, "add ana@agency.example sandbox viewer on production reason: after Ctrl-C")
    cluster.card(1)
    status, report = health(instance)
    assert status == 200 and report["worker_pid"] == worker_pid and report["worker_restarts"] == 0
    assert running(worker_pid)


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    slack = local_slack()
    try:
        config = write_config(tmp_path, f"sqlite:///{tmp_path}/accessbot.db", latency=0.0, lease=30.0)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            bot = BotProcess("bot", config, slack.api_url, tmp_path, port=taken.getsockname()[1]).start()
            assert bot.process is not None
            assert bot.process.wait(timeout=120) == 2
        output = bot.log(whole=True)
        assert f"accessbot: port {bot.port} on 127.0.0.1 is in use by another program" in output
        assert "Traceback" not in output
    finally:
        slack.stop()


def exits_with_one_line(bot: BotProcess) -> str:
    """The process ends with status 2 and says why in one `accessbot:` line, with no traceback."""
    assert bot.process is not None
    assert bot.process.wait(timeout=120) == 2, bot.log()
    output = bot.log(whole=True)
    said = [line for line in output.splitlines() if line.startswith("accessbot:")]
    assert len(said) == 1 and "Traceback" not in output, output
    return said[0]


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-revoked"}, "accessbot: Slack refused SLACK_BOT_TOKEN (invalid_auth): copy the Bot"),
        ({"SLACK_APP_TOKEN": "xapp-revoked"}, "accessbot: Slack refused SLACK_APP_TOKEN (invalid_auth): create an"),
    ],
    ids=["bot-token", "app-token"],
)
def test_a_token_slack_refuses_is_named_in_one_line(tmp_path: Path, environment: dict[str, str], says: str) -> None:
    slack = local_slack()
    try:
        config = write_config(tmp_path, f"sqlite:///{tmp_path}/accessbot.db", latency=0.0, lease=30.0)
        bot = BotProcess("bot", config, slack.api_url, tmp_path, environment=environment).start()
        assert exits_with_one_line(bot).startswith(says)
    finally:
        slack.stop()


def database_of_another_program(folder: Path) -> str:
    url = f"sqlite:///{folder}/theirs.db"
    with make_engine(url).begin() as connection:
        connection.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    return url


@pytest.mark.parametrize(
    ("database", "says"),
    [
        (lambda folder: f"sqlite:///{folder}/no-such-folder/accessbot.db", "accessbot: cannot use the database at "),
        (database_of_another_program, "accessbot: the database schema is at revision none (tables made by"),
    ],
    ids=["unreachable", "not-ours"],
)
def test_a_database_serve_cannot_use_is_one_line_though_only_the_worker_opens_it(
    tmp_path: Path, database: Callable[[Path], str], says: str
) -> None:
    slack = local_slack()
    try:
        config = write_config(tmp_path, database(tmp_path), latency=0.0, lease=30.0)
        bot = BotProcess("bot", config, slack.api_url, tmp_path).start()
        assert exits_with_one_line(bot).startswith(says)
    finally:
        slack.stop()


def test_serve_starts_while_slack_is_down_and_is_healthy_once_slack_answers(tmp_path: Path) -> None:
    slack = local_slack()
    slack.outage(True)
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/accessbot.db", latency=0.0, lease=30.0)
    bot = BotProcess("bot", config, slack.api_url, tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path}/accessbot.db")
    cluster = Cluster(instances=[bot], slack=slack, engine=engine, requests=signed_requests(slack))
    try:
        bot.start()

        def answers_503() -> dict[str, Any] | None:
            assert bot.process is not None and bot.process.poll() is None, bot.log()
            try:
                status, report = health(bot)
            except httpx.HTTPError:
                return None  # not listening yet
            return report if status == 503 else None

        report = cluster.wait(answers_503, timeout=60)
        assert report["slack"].startswith("Slack answered service_unavailable"), report
        assert any("asking again" in problem for problem in report["problems"]), report
        assert "starting anyway" in bot.log()

        slack.outage(False)
        report = cluster.wait(lambda: healthy(bot), timeout=60)
        assert report["slack"] == "ok"
        cluster.command(bot, "add ana@agency.example sandbox viewer on production reason: after the outage")
        cluster.card(1)
        assert "Traceback" not in bot.log(whole=True)
    finally:
        bot.stop()
        engine.dispose()
        slack.stop()
