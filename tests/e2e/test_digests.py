"""Ended grants are told in digests: the approvals channel and each requester hear at most once a window, however
the grants' ends fall, and every grant is named. Through the real outbox, on SQLite, to the local Slack over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.console.local_slack import LocalSlack, LocalUser, SlackCall
from handlers.notifier import SlackNotifier
from handlers.outbox import Outbox
from services.ports import MessageRef
from services.views import EndedGrant
from storage.db import make_engine
from storage.schema import ensure_schema
from tests.fakes import reverted_grant

APPROVALS = "C0APPROVALS"
ALICE = "U0ALICE"
START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Desk:
    def __init__(self, slack: LocalSlack, outbox: Outbox, notifier: SlackNotifier) -> None:
        self.slack, self.outbox, self.notifier = slack, outbox, notifier
        self.now = START

    def end(self, *numbers: int, after: float) -> None:
        """Grants `numbers` end `after` seconds past the start, and are told of; what is due goes out."""
        self.now = START + timedelta(seconds=after)
        self.notifier.elevations_ended([ended(number) for number in numbers])
        self.outbox.deliver_pending()

    def at(self, seconds: float) -> None:
        self.now = START + timedelta(seconds=seconds)
        self.outbox.deliver_pending()

    def posted(self, channel: str) -> list[str]:
        calls: list[SlackCall] = self.slack.calls_to("chat.postMessage")
        return [str(call.params["text"]) for call in calls if call.params["channel"] == channel]


def ended(number: int) -> EndedGrant:
    card = MessageRef(channel=APPROVALS, ts=f"1700000000.{number:06d}")
    return EndedGrant(request_id=number, requester_id=ALICE, card=card, grant=reverted_grant(number))


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    engine = make_engine(f"sqlite:///{tmp_path}/bot.db")
    ensure_schema(engine)
    with LocalSlack(bot_token="xoxb-test", users=[LocalUser(ALICE, "alice", "alice@agency.example")]) as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        holder: list[Desk] = []
        outbox = Outbox(client, engine, now=lambda: holder[0].now, digest_window=timedelta(minutes=1))
        notifier = SlackNotifier(outbox, APPROVALS)
        outbox.render_digest = notifier.draw_digest
        holder.append(Desk(slack, outbox, notifier))
        yield holder[0]
    engine.dispose()


def test_grants_ending_within_a_minute_are_told_once_when_the_minute_is_up(desk: Desk) -> None:
    desk.end(1, after=0)
    (reply,) = desk.posted(APPROVALS)
    (dm,) = desk.posted(ALICE)
    assert "(request #1) ended" in reply and "(request #1) ended" in dm, "the first is told at once"
    thread = [call.params.get("thread_ts") for call in desk.slack.calls_to("chat.postMessage")]
    assert thread[0] == ended(1).card.ts, "alone, in its card's thread"  # type: ignore[union-attr]

    desk.end(2, after=10)
    desk.end(3, 4, after=20)
    desk.at(59)
    assert len(desk.posted(APPROVALS)) == 1 and len(desk.posted(ALICE)) == 1, "held until the minute is up"
    assert desk.outbox.next_digest() == START + timedelta(minutes=1)

    desk.at(60)
    assert len(desk.posted(APPROVALS)) == 2 and len(desk.posted(ALICE)) == 2
    digest, mine = desk.posted(APPROVALS)[1], desk.posted(ALICE)[1]
    assert digest.startswith("↩️ Temporary access ended for 3 grant(s):")
    assert mine.startswith("↩️ Your requests' temporary access ended for 3 grant(s):")
    for number in (2, 3, 4):
        assert f"#{number} person{number}@agency.example on sandbox: account role: Analyst → Consumer" in digest
        assert f"#{number} person{number}@agency.example" in mine
    assert desk.outbox.next_digest() is None, "nothing is left held"

    desk.end(5, after=90)
    assert len(desk.posted(APPROVALS)) == 2, "the next minute counts from the last message"
    desk.at(120)
    assert "(request #5) ended" in desk.posted(APPROVALS)[2]


def test_many_ending_at_once_go_in_digests_of_a_hundred_a_second_apart(desk: Desk) -> None:
    desk.end(*range(1, 251), after=0)
    assert len(desk.posted(APPROVALS)) == 1 and len(desk.posted(ALICE)) == 1
    desk.at(0.5)
    assert len(desk.posted(APPROVALS)) == 1, "about one message a second per channel, as Slack allows"
    desk.at(1)
    desk.at(2)
    told = desk.posted(APPROVALS)
    assert len(told) == 3 and len(desk.posted(ALICE)) == 3
    assert [text.split(":")[0] for text in told] == ["↩️ Temporary access ended for 100 grant(s)"] * 2 + [
        "↩️ Temporary access ended for 50 grant(s)"
    ]
    named = "\n".join(told)
    assert all(f"#{number} person{number}@agency.example " in named for number in range(1, 251)), "every one named"
