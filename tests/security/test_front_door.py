"""Unauthenticated traffic at the real HTTP endpoint: oversized bodies, slow clients and forged signatures cost the
bot little and cannot fill or forge its log."""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest

from bot.server import MAX_BODY_BYTES
from tests.e2e.conftest import USERS, RunningBot

SLOW_CLIENTS = 150


@contextmanager
def slow_clients(url: str, count: int) -> Iterator[list[socket.socket]]:
    """Connections that start a request and then say nothing more, as a slowloris does."""
    address = urlsplit(url)
    opened = []
    try:
        for _ in range(count):
            client = socket.create_connection((address.hostname, address.port), timeout=5)
            client.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-")
            opened.append(client)
        yield opened
    finally:
        for client in opened:
            client.close()


def test_a_body_over_the_limit_is_refused_from_its_length_before_it_is_read(bot: RunningBot) -> None:
    address = urlsplit(bot.events_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        head = (
            f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
        )
        client.sendall(head.encode())  # 200 MB announced, none of it sent
        answer = client.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    just_over = bot.http.post(bot.events_url, content=b"x" * MAX_BODY_BYTES, headers={"Content-Type": "text/plain"})
    assert just_over.status_code == 413


def test_slow_clients_do_not_keep_a_signed_request_from_being_answered(bot: RunningBot) -> None:
    with slow_clients(bot.events_url, SLOW_CLIENTS):
        # Before, the hundredth slow connection filled the server: this waited for them to time out (minutes).
        answered = httpx.post(
            bot.events_url,
            content=(signed := bot.requests.slash_command(user=USERS["alice"], text="help")).body,
            headers=signed.headers,
            timeout=30,
        )
        assert answered.status_code == 200
        assert httpx.get(bot.events_url.replace("/slack/events", "/healthz"), timeout=30).status_code in (200, 503)


def test_forged_signatures_are_one_short_line_now_and_then_never_the_body(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    # Valid JSON, with a newline where a text log would start a line of the attacker's choosing.
    forged = (
        b'{"type": "event_callback", "pad": "' + b"A" * 100_000 + b'",\n'
        b'"x": "2026-11-26 00:00:00,000 INFO accessbot: approved by the attacker"}'
    )
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    }
    with caplog.at_level(logging.INFO):
        for _ in range(30):
            assert bot.http.post(bot.events_url, content=forged, headers=headers).status_code == 401
    said = [record.getMessage() for record in caplog.records if "signature" in record.getMessage().lower()]
    assert said and len(said) <= 2, said
    assert all(len(line) < 200 and "approved by the attacker" not in line and "AAAA" not in line for line in said)


def test_a_signed_request_from_another_workspace_is_refused_and_logged(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.command("alice", "help")  # the bot has learnt which workspace it is installed in
    ours = bot.requests.slash_command(
        user=USERS["alice"], text="add ana@agency.example sandbox viewer on production reason: x"
    )
    theirs = bot.requests.sign(ours.body.replace("team_id=T", "team_id=TOTHER", 1))
    with caplog.at_level(logging.WARNING):
        bot.post(theirs)
        bot.settle()
    assert bot.runtime.services.load_view(1) is None, "nothing was asked"
    assert any("refused a request from workspace TOTHER" in record.getMessage() for record in caplog.records)
    bot.post(
        bot.requests.slash_command(
            user=USERS["alice"], text="add ana@agency.example sandbox viewer on production reason: x"
        )
    )
    bot.card(1)  # from the bot's own workspace, the same request is taken


def test_a_replayed_delivery_and_slacks_retry_of_an_event_are_done_once(bot: RunningBot) -> None:
    signed = bot.requests.slash_command(
        user=USERS["alice"], text="add ana@agency.example sandbox viewer on production reason: x"
    )
    for _ in range(3):  # the same signed bytes, inside the five minutes the signature is good for
        assert bot.post(signed).status_code == 200
    bot.card(1)
    bot.settle()
    assert bot.runtime.services.load_view(2) is None
    assert not [call for call in bot.slack.calls_to("response_url") if "already waiting" in str(call.params)]

    opened = bot.requests.home_opened(user=USERS["bob"])
    assert bot.post(opened).status_code == 200
    again = bot.requests.sign(opened.body, content_type="application/json")  # signed anew, as Slack's retry is
    assert (
        bot.post(again.__class__(body=again.body, headers={**again.headers, "X-Slack-Retry-Num": "1"})).status_code
        == 200
    )
    bot.settle()
    assert len(bot.slack.calls_to("views.publish")) == 1


def test_slack_is_answered_while_another_process_holds_the_database_and_the_work_is_done_after(
    bot: RunningBot,
) -> None:
    """The answer to Slack writes nothing (the work notes the delivery): a worker or another instance writing to
    SQLite must not hold it up. Before, each answer waited for the write lock, seconds at a time under load."""
    database = bot.runtime.engine.url.database
    assert database is not None
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the write lock, as a busy worker holds it
    try:
        signed = bot.requests.slash_command(
            user=USERS["alice"], text="add ana@agency.example sandbox viewer on production reason: x"
        )
        # Far inside the database's 30 s busy timeout, which is what the answer waited for before.
        answered = httpx.post(bot.events_url, content=signed.body, headers=signed.headers, timeout=20)
        assert answered.status_code == 200
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    bot.card(1)
    bot.settle()
    assert bot.runtime.services.load_view(2) is None
