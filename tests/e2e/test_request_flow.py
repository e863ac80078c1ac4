"""The request lifecycle through the bot's real HTTP endpoint, asserted on what reached the Slack Web API."""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from domain.access import AccessState
from handlers import ids
from handlers.blocks.forms import block_id
from storage.schema import head_revision
from tests.e2e.conftest import BOT_TOKEN, USERS, RunningBot, StartBot
from tests.fakes import FlakyPlatform
from tests.waiting import wait_until

ANA = "ana@agency.example"


def test_add_then_approve_applies_and_tells_everyone(bot: RunningBot) -> None:
    ack = bot.command("alice", f"add {ANA} sandbox viewer on production for 2h reason: Q4 dashboards ticket: OPS-1")
    assert ack.status_code == 200
    assert "Checking current access" in ack.text

    card = bot.card(1)
    assert card.channel == bot.slack.channel_id("#access-approvals")
    card_text = str(card.blocks)
    for expected in (
        "<@U0ALICE> asks to add access for *ana@agency.example* (<@U0ANA>)",
        "Q4 dashboards",
        "OPS-1",
        "now: not a member",
        "invite as Consumer",
        "<@U0BOB>, <!subteam^S0SECURITY>",
    ):
        assert expected in card_text
    assert "Request #1 for ana@agency.example is waiting for approval" in bot.ephemeral("waiting for approval")

    assert bot.click("bob", 1, ids.APPROVE).status_code == 200
    bot.wait_for_card(1, "applying")
    final = bot.wait_for_card(1, "applied")
    assert "✅ Applied. Approved by <@U0BOB>" in str(final.params["blocks"])
    assert "actions" not in str([block["type"] for block in final.params["blocks"]])

    thread = bot.slack.wait_for("chat.postMessage", lambda call: call.params.get("thread_ts") == card.ts)[0]
    assert "Request #1 applied for ana@agency.example" in thread.params["text"]
    dm = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "U0ALICE")[0]
    assert "Access lasts until <!date^" in dm.params["text"]

    assert bot.platform().get_access(ANA) == AccessState(
        member=True, account_role="Consumer", scopes={"production": "Viewer"}
    )
    assert bot.audit(1) == [
        "requested",
        "approved",
        "apply_started",
        "reconcile_planned",
        "applied",
        "elevation_started",
    ]


def test_a_mention_resolves_to_the_members_email(bot: RunningBot) -> None:
    bot.command("alice", "add <@U0ANA|ana> sandbox analyst reason: onboarding")
    assert "*ana@agency.example* (<@U0ANA>)" in str(bot.card(1).blocks)


def test_deny_asks_for_a_reason_and_tells_the_requester(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} sandbox admin reason: curious")
    bot.card(1)
    assert bot.click("bob", 1, ids.DENY).status_code == 200
    # The click's trigger id is used at once, for a view that says it is being prepared; the work fills it in.
    opened = bot.slack.wait_for("views.open")[0]
    assert opened.response["view"]["callback_id"] == ids.LOADING
    form = bot.slack.wait_for_form(ids.DENY_FORM)[0]
    assert form["id"] == opened.response["view"]["id"]
    assert "*ana@agency.example*" in str(form["blocks"])

    values = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_INPUT: {"type": "plain_text_input", "value": "least privilege"}}}
    submitted = bot.post(bot.requests.view_submission(user=USERS["bob"], view=form, values=values))
    assert submitted.status_code == 200

    denied = bot.wait_for_card(1, "denied")
    assert "🚫 Denied by <@U0BOB>" in str(denied.params["blocks"])
    dm = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "U0ALICE")[0]
    assert "was denied by <@U0BOB>. Reason: least privilege" in dm.params["text"]
    assert bot.platform().get_access(ANA) == AccessState.absent()
    assert bot.audit(1) == ["requested", "denied"]


def test_deny_on_a_request_decided_already_says_so_in_the_view_its_click_opened(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: x")
    drawn_before = copy.deepcopy(bot.card(1))  # as a second client still shows it
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    bot.press("bob", drawn_before, ids.DENY)
    shown = bot.slack.wait_for_form(ids.LOADING, count=2)[-1]
    assert "Request #1 was already approved by <@U0BOB>" in str(shown["blocks"])
    assert "submit" not in shown
    assert bot.slack.wait_for_form(ids.DENY_FORM, count=0, timeout=0) == []


def test_a_form_that_cannot_be_prepared_says_so_in_its_view_and_the_person_is_told_why(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} sandbox admin reason: curious")
    bot.card(1)
    bot.slack.fail_next("users.info", "fatal_error")  # who clicked cannot be looked up
    bot.click("carol", 1, ids.DENY)
    shown = bot.slack.wait_for_form(ids.LOADING, count=2)[-1]
    assert "could not be prepared" in str(shown["blocks"]), "not left saying it is being prepared"
    told = bot.slack.wait_for(
        ("response_url", "chat.postEphemeral", "chat.postMessage"), lambda call: "ref `" in str(call.params)
    )
    assert "Something went wrong on our side" in str(told[0].params)


def test_two_approvers_clicking_at_once_apply_once_and_the_second_is_told(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: x")
    bot.card(1)
    answers = []
    start = threading.Barrier(2)

    def click(user: str) -> None:
        start.wait()
        answers.append(bot.click(user, 1, ids.APPROVE).status_code)

    threads = [threading.Thread(target=click, args=(user,)) for user in ("bob", "carol")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    bot.wait_for_card(1, "applied")
    notice = bot.ephemeral("was already approved by")
    assert "<@U0BOB>" in notice or "<@U0CAROL>" in notice
    bot.settle()  # let any (wrong) second apply finish before counting
    assert bot.audit(1).count("applied") == 1
    assert bot.audit(1).count("approved") == 1


def test_someone_who_is_not_an_approver_is_refused_and_nothing_changes(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: x")
    bot.card(1)
    bot.click("dave", 1, ids.APPROVE)
    assert "You are not an approver for sandbox. Nothing was changed." in bot.ephemeral("not an approver")
    bot.click("alice", 1, ids.APPROVE)
    assert "someone else has to approve it" in bot.ephemeral("someone else has to approve")
    assert bot.slack.calls_to("chat.update") == []
    assert bot.audit(1) == ["requested", "approval_refused", "approval_refused"]
    assert bot.platform().get_access(ANA) == AccessState.absent()


def test_a_platform_failure_keeps_the_card_actionable_and_retry_applies(start_bot: StartBot) -> None:
    bot = start_bot(wrap=lambda platform: FlakyPlatform(platform, failures=1))
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: x")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    failed = bot.wait_for_card(1, "failed")
    assert "HTTP 503 from the platform" in str(failed.params["blocks"])
    assert ids.RETRY in str(failed.params["blocks"])
    thread = bot.slack.wait_for("chat.postMessage", lambda call: "did not fully apply" in call.params["text"])[0]
    assert "an approver can press Retry" in thread.params["text"]
    assert bot.platform().get_access(ANA) == AccessState.absent()

    bot.click("carol", 1, ids.RETRY)
    bot.wait_for_card(1, "applied")
    assert bot.platform().get_access(ANA).scopes == {"production": "Viewer"}
    assert bot.audit(1)[-5:] == ["failed", "retried", "apply_started", "reconcile_planned", "applied"]


class BrokenReads(FlakyPlatform):
    """A platform with a bug: reading access raises what no platform client should."""

    def get_access(self, email: str) -> AccessState:
        raise RuntimeError("unexpected: KeyError 'roles' in the vendor's answer")


def test_an_unexpected_error_after_the_answer_reaches_the_person_with_a_reference(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = start_bot(wrap=BrokenReads)
    answer = bot.command("alice", f"add {ANA} sandbox viewer on production reason: x")
    assert answer.status_code == 200 and "Checking current access" in answer.text

    told = bot.ephemeral("Something went wrong on our side")
    reference = re.search(r"ref `([0-9a-f]{8})`", told)
    assert reference is not None, told
    assert "KeyError" not in told, "the details stay in the log"
    logged = [record for record in caplog.records if reference.group(1) in record.getMessage()]
    assert logged and logged[0].exc_info is not None and "KeyError 'roles'" in str(logged[0].exc_info[1])


def test_requests_with_a_bad_or_stale_signature_are_rejected(bot: RunningBot) -> None:
    genuine = bot.requests.slash_command(user=USERS["alice"], text=f"add {ANA} sandbox admin reason: x")
    tampered = genuine.body.replace("admin", "architect")
    assert bot.http.post(bot.events_url, content=tampered, headers=genuine.headers).status_code == 401
    stale = bot.requests.sign(genuine.body, timestamp=int(time.time()) - 10 * 60)
    assert bot.post(stale).status_code == 401
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert bot.http.post(bot.events_url, content=genuine.body, headers=unsigned).status_code == 401
    assert [call.method for call in bot.slack.calls if call.method != "auth.test"] == []
    assert bot.audit(1) == []


def test_bad_input_is_answered_at_once_with_the_right_form(bot: RunningBot) -> None:
    answer = bot.command("alice", f"add {ANA} sandbox wizard reason: x")
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    assert "`wizard` is not an account role on sandbox" in str(body["blocks"])
    assert "Usage: `/access add &lt;email|@person&gt;" in str(body["blocks"])
    assert bot.slack.calls_to("chat.postMessage") == []


def test_help_is_answered_in_the_ack(bot: RunningBot) -> None:
    body = bot.command("alice", "help").json()
    assert "account roles Admin, Architect, Analyst, Consumer, Read-Only" in str(body["blocks"])


def test_status_and_list_show_the_request_and_current_access(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: x")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    bot.command("alice", "status 1")
    status = bot.ephemeral("*Request #1*")
    assert "Approved by <@U0BOB>" in status and "requested by <@U0ALICE>" in status
    bot.command("bob", f"list {ANA}")  # an approver of the sandbox
    listed = bot.ephemeral("*sandbox*:")
    assert "*sandbox*: Consumer; production: Viewer" in listed
    # Each live grant, with what it covers and the request it came from.
    assert "What accessbot granted, still in place" in listed
    assert f"{ANA} on sandbox: joined as Consumer, production: Viewer; permanent since" in listed
    assert "(request #1)" in listed
    bot.command("alice", "status 99")
    assert "Request #99 does not exist" in bot.ephemeral("#99")


def test_the_request_form_opens_redraws_and_submits(bot: RunningBot) -> None:
    ack = bot.command("alice", "")
    assert ack.status_code == 200
    view = bot.slack.wait_for("views.open")[0].response["view"]
    assert view["callback_id"] == ids.REQUEST_FORM

    bot.post(
        bot.requests.view_select(
            user=USERS["alice"], view=view, block_id=ids.FORM_VERB, action_id=ids.FORM_VERB, value="update"
        )
    )
    redrawn = bot.slack.wait_for("views.update")[0].response["view"]
    assert "No access to the scopes below" in str(redrawn["blocks"])

    def values(reason: str | None) -> dict:
        return {
            ids.FORM_TARGET_USER: {ids.FORM_TARGET_USER: {"type": "users_select", "selected_user": None}},
            ids.FORM_TARGET_EMAIL: {ids.FORM_TARGET_EMAIL: {"type": "plain_text_input", "value": ANA}},
            block_id(ids.FORM_ROLE, "sandbox"): {ids.FORM_ROLE: {"selected_option": {"value": "scope:Admin"}}},
            block_id(ids.FORM_SCOPES, "sandbox"): {ids.FORM_SCOPES: {"selected_options": [{"value": "staging"}]}},
            ids.FORM_DURATION: {ids.FORM_DURATION: {"selected_option": {"value": "4h"}}},
            ids.FORM_REASON: {ids.FORM_REASON: {"type": "plain_text_input", "value": reason}},
            ids.FORM_TICKET: {ids.FORM_TICKET: {"type": "plain_text_input", "value": None}},
        }

    missing = bot.post(bot.requests.view_submission(user=USERS["alice"], view=redrawn, values=values(None)))
    assert missing.json() == {
        "response_action": "errors",
        "errors": {ids.FORM_REASON: missing.json()["errors"][ids.FORM_REASON]},
    }
    assert "Missing reason" in missing.json()["errors"][ids.FORM_REASON]

    # Ana is not a member yet, so `update` is refused with the fix, reaching Alice as an ephemeral note.
    bot.post(bot.requests.view_submission(user=USERS["alice"], view=redrawn, values=values("deploy")))
    note = bot.slack.wait_for("chat.postEphemeral")[0]
    assert note.params["user"] == "U0ALICE" and "Use `/access add` to invite them" in note.params["text"]

    bot.platform().apply(ANA, AccessState(member=True, account_role="Analyst"))
    bot.post(bot.requests.view_submission(user=USERS["alice"], view=redrawn, values=values("deploy")))
    card = bot.card(1)
    assert "staging: no access → Admin" in str(card.blocks) and "for 4h" in str(card.blocks)
    evidence = bot.runtime.services.load_view(1)
    assert evidence is not None


def test_the_health_endpoint_says_what_works_and_turns_503_when_the_scheduler_stops(bot: RunningBot) -> None:
    url = bot.events_url.replace("/slack/events", "/healthz")
    bot.runtime.scheduler.sweep_now()  # returns at once when the first sweep is still running: that one is awaited
    wait_until(lambda: bot.runtime.scheduler.last_sweep is not None, "the first sweep")
    health = bot.http.get(url)
    assert health.status_code == 200
    report = health.json()
    assert report["ok"] is True and report["database"] == "ok" and report["scheduler"] == "running"
    assert report["schema_revision"] == head_revision() and report["slack_outbox"] == 0
    assert report["last_sweep"] is not None and report["instance"] == bot.runtime.scheduler.worker
    assert bot.http.get(bot.events_url.replace("/slack/events", "/nope")).status_code == 404

    bot.runtime.scheduler.shutdown()
    stopped = bot.http.get(url)
    assert stopped.status_code == 503
    assert stopped.json()["problems"] == ["the scheduler is not running: reminders and reverts wait"]


def test_the_health_endpoint_turns_503_when_the_database_is_gone(bot: RunningBot, tmp_path: Path) -> None:
    url = bot.events_url.replace("/slack/events", "/healthz")
    # Nothing in the background may open the database again (and so recreate its file) while it is taken away.
    bot.runtime.scheduler.shutdown()
    bot.runtime.engine.dispose()
    for name in ("bot.db", "bot.db-wal", "bot.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "bot.db").mkdir()  # where the database file was, something SQLite cannot open
    down = bot.http.get(url)
    assert down.status_code == 503
    assert (
        down.json()["database"].startswith("unreachable") and "the database does not answer" in down.json()["problems"]
    )


def test_a_slash_command_payload_round_trips_through_form_encoding(bot: RunningBot) -> None:
    signed = bot.requests.slash_command(user=USERS["alice"], text="reason: a & b = c")
    assert urllib.parse.parse_qs(signed.body)["text"] == ["reason: a & b = c"]


def test_starting_with_the_token_in_the_environment_warns_of_nothing(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)  # as in production; Bolt reads it too
    with caplog.at_level(logging.WARNING):
        start_bot()
    assert not [record.getMessage() for record in caplog.records if record.name.startswith("accessbot.bolt")]
