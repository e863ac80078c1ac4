"""Structured logs: one JSON object per line, each naming the instance and the request the work is about."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import ContextFilter, JsonFormatter, TextFormatter
from domain.access import AccessState
from platforms.base import ApplyResult
from services.decisions import approve
from tests.fakes import FlakyPlatform
from tests.services.desk import ANA, Desk


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_can_be_followed_through_the_logs(desk: Desk, lines: io.StringIO) -> None:
    first = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    second = desk.submit(f"add {ANA} sandbox viewer on staging reason: y")
    approve(desk.ctx, first, approver=desk.approver)
    about_first = [entry for entry in entries(lines) if entry.get("request_id") == first]
    assert [entry["message"] for entry in about_first] == [
        f"UALICE asked to add for {ANA} on sandbox",
        "approved by UBOB",
        "request is applied",
    ]
    assert all(entry["instance"] and entry["level"] == "INFO" and entry["ts"] for entry in about_first)
    assert any(entry.get("request_id") == second for entry in entries(lines))
    assert all("request_id" not in entry or entry["request_id"] in (first, second) for entry in entries(lines))


class Broken(FlakyPlatform):
    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        raise ZeroDivisionError("a bug in a client")


def test_a_failure_is_logged_with_its_traceback_as_one_json_line(desk: Desk, lines: io.StringIO) -> None:
    platforms = dict(desk.ctx.platforms)
    platforms["sandbox"] = Broken(platforms["sandbox"])
    desk.ctx = dataclasses.replace(desk.ctx, platforms=platforms)
    request_id = desk.submit(f"add {ANA} sandbox viewer on production reason: x")
    approve(desk.ctx, request_id, approver=desk.approver)
    (error,) = [entry for entry in entries(lines) if entry["level"] == "ERROR"]
    assert error["request_id"] == request_id
    assert "ZeroDivisionError: a bug in a client" in error["error"]


def test_text_lines_name_the_request_too() -> None:
    record = logging.LogRecord("accessbot.services", logging.INFO, __file__, 1, "approved by %s", ("UBOB",), None)
    record.request_id = 7
    assert TextFormatter().format(record).endswith("INFO accessbot.services [request #7]: approved by UBOB")
