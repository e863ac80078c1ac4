"""Evidence for auditors: `/access evidence`, `accessbot evidence`, the exports and `accessbot audit verify`, each
checked field by field against what the bot recorded while a real removal went through Slack."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from bot.cli import main
from domain.access import AccessState
from handlers import ids
from storage.models import AuditEvent
from tests.e2e.conftest import USERS, RunningBot

ANA = "ana@agency.example"
HELD = AccessState(member=True, account_role="Analyst", scopes={"production": "Viewer"})


@pytest.fixture
def removed(bot: RunningBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunningBot:
    """Request #1: Ana deleted from the sandbox, approved by Bob, one follow-up done with evidence. The CLI is
    configured on the same database."""
    bot.platform().apply(ANA, HELD)
    bot.platform().apply("zoe@agency.example", AccessState(member=True, account_role="Consumer"))
    bot.command("alice", f"remove {ANA} sandbox delete reason: engagement ended ticket: OPS-40")
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    task = bot.slack.wait_for("chat.postMessage", lambda call: "After the removal" in str(call.params.get("blocks")))
    message = next(m for m in bot.slack.messages.values() if m.ts == task[0].response["ts"])
    form = bot.open_form("bob", message, ids.TASK_DONE, ids.TASK_FORM)
    values = {ids.TASK_EVIDENCE: {ids.TASK_EVIDENCE: {"type": "plain_text_input", "value": "revoked tk_9"}}}
    bot.post(bot.requests.view_submission(user=USERS["bob"], view=form, values=values))
    bot.slack.wait_for("chat.update", lambda call: call.params.get("ts") == message.ts)
    bot.settle()
    config = {
        "database_url": bot.runtime.settings.database_url,
        "platforms": {"sandbox": {"type": "sandbox", "approvers": ["U0BOB", "S0SECURITY"]}},
    }
    (tmp_path / "accessbot.yml").write_text(json.dumps(config))
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(tmp_path / "accessbot.yml"))
    return bot


def events(bot: RunningBot) -> list[AuditEvent]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.chain), col(AuditEvent.seq))))


def test_access_evidence_shows_the_record_to_an_approver(removed: RunningBot) -> None:
    removed.command("bob", "evidence 1")
    reply = removed.ephemeral("Evidence for request #1")
    assert "<@U0ALICE> (alice@agency.example)" in reply
    assert f"*For*\\n{ANA}" in reply
    assert "*Status*\\napplied" in reply
    assert "*Approved / decided by*\\n<@U0BOB> <!date^" in reply
    assert "*Reason*\\nengagement ended" in reply and "*Ticket*\\nOPS-40" in reply
    assert "*sandbox* (remove (delete)): applied <!date^" in reply and "verified ✓" in reply
    assert "before: Analyst; production: Viewer" in reply and "after: not a member" in reply
    assert "☑ sandbox: Revoke the API tokens and keys they owned, done by <@U0BOB>" in reply and "revoked tk_9" in reply
    trail = events(removed)
    assert f"#{trail[0].place} " in reply and f"`{trail[0].hash[:12]}`" in reply
    assert f"All {len(trail)} events match their hashes." in reply


def test_access_evidence_is_refused_to_people_with_no_part_in_it(removed: RunningBot) -> None:
    removed.command("alice", "remove zoe@agency.example sandbox revoke reason: done")
    removed.card(2)
    removed.command("ana", "evidence 2")
    assert "is for its requester, the person concerned" in removed.ephemeral("evidence of request #2")
    removed.command("ana", "evidence 1")  # her own removal
    removed.ephemeral("Evidence for request #1")
    removed.command("bob", "evidence 99")
    removed.ephemeral("Request #99 does not exist")


def test_accessbot_evidence_json_carries_every_field(removed: RunningBot, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "1", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["request_id"] == 1 and document["verb"] == "remove" and document["status"] == "applied"
    assert document["command"].startswith("/access remove ana@agency.example sandbox delete")
    assert (document["requester"], document["requester_email"]) == ("U0ALICE", "alice@agency.example")
    assert (document["target_email"], document["reason"], document["ticket"]) == (ANA, "engagement ended", "OPS-40")
    assert [approval["approver"] for approval in document["approvals"]] == ["U0BOB"]
    (platform,) = document["platforms"]
    assert platform["platform"] == "sandbox" and platform["method"] == "delete" and platform["status"] == "applied"
    assert platform["before"] == HELD.model_dump(mode="json")
    assert platform["shown_to_approver"] == HELD.model_dump(mode="json")
    assert platform["after"] == AccessState.absent().model_dump(mode="json")
    assert platform["verified"] is True and platform["attempts"] == 1 and platform["applied_at"]
    done = [task for task in document["tasks"] if task["status"] == "done"]
    assert [(task["done_by"], task["evidence"]) for task in done] == [("U0BOB", "revoked tk_9")]
    assert len(document["tasks"]) == 3
    recorded = [event for event in events(removed) if event.request_id == 1]
    assert [(e["chain"], e["seq"], e["event"], e["actor"], e["hash"]) for e in document["events"]] == [
        (event.chain, event.seq, event.event, event.actor, event.hash) for event in recorded
    ]
    assert all(event["hash_ok"] for event in document["events"])
    applied = next(event for event in document["events"] if event["event"] == "applied")
    assert applied["detail"]["before"] == HELD.model_dump(mode="json")


def test_export_audit_writes_csv_and_json_an_auditor_can_check(removed: RunningBot, tmp_path: Path) -> None:
    assert (
        main(["export", "audit", "--since", "2026-01-01", "--format", "csv", "--output", str(tmp_path / "a.csv")]) == 0
    )
    with (tmp_path / "a.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    trail = events(removed)
    assert len(rows) == len(trail) == 6
    for row, event in zip(rows, trail, strict=True):
        assert (int(row["chain"]), int(row["seq"])) == (event.chain, event.seq)
        assert row["at"] == event.at.isoformat(timespec="microseconds")
        assert (row["event"], row["actor"], row["platform"] or None) == (event.event, event.actor, event.platform)
        assert row["request_id"] == (str(event.request_id) if event.request_id else "")
        assert json.loads(row["detail"]) == event.detail
        assert (row["prev_hash"], row["hash"]) == (event.prev_hash, event.hash)
    assert {row["chain"] for row in rows} == {"2"}  # request 1's chain
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(rows))

    assert main(["export", "audit", "--format", "json", "--output", str(tmp_path / "a.json")]) == 0
    document = json.loads((tmp_path / "a.json").read_text())
    assert document["chain"]["intact"] is True
    assert {"chain": 2, "seq": 6, "hash": trail[-1].hash} in document["chain"]["heads"]
    assert [event["hash"] for event in document["events"]] == [row["hash"] for row in rows]
    assert document["events"][0]["detail"] == trail[0].detail

    assert main(["export", "audit", "--since", "2999-01-01", "--output", str(tmp_path / "none.csv")]) == 0
    assert (
        tmp_path / "none.csv"
    ).read_text().strip() == "chain,seq,at,event,actor,request_id,platform,target_email,detail,prev_hash,hash"


def test_export_members_lists_everyone_with_their_access(removed: RunningBot, tmp_path: Path) -> None:
    removed.platform().apply(
        "yan@agency.example",
        AccessState(member=True, account_role="Consumer", scopes={"staging": "Viewer", "production": "Admin"}),
    )
    assert main(["export", "members", "sandbox", "--output", str(tmp_path / "m.csv")]) == 0
    with (tmp_path / "m.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(row["email"], row["account_role"], row["scopes"]) for row in rows] == [
        ("yan@agency.example", "Consumer", "production=Admin; staging=Viewer"),
        ("zoe@agency.example", "Consumer", ""),
    ]
    assert all(row["platform"] == "sandbox" and row["member"] == "yes" and row["exported_at"] for row in rows)
    assert main(["export", "members", "nowhere"]) == 2


def test_an_export_without_output_goes_to_standard_output_and_leaves_no_file(
    removed: RunningBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert main(["export", "audit", "--format", "json"]) == 0
    written = capsys.readouterr()
    assert len(json.loads(written.out)["events"]) == len(events(removed))
    assert written.err.startswith("wrote 6 audit events to standard output")
    assert main(["export", "members", "sandbox"]) == 0
    assert capsys.readouterr().out.startswith("platform,email,")
    assert list(folder.iterdir()) == []


def test_audit_verify_catches_an_edited_row_and_a_deleted_row(
    removed: RunningBot, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify"]) == 0
    intact = capsys.readouterr().out
    assert intact.startswith("audit trail intact: 6 events")
    anchor = intact.split("anchor: ")[1].split()[0]

    with removed.runtime.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'U0MALLORY' WHERE chain = 2 AND seq = 2"))
    assert main(["audit", "verify"]) == 1
    assert "audit trail BROKEN at #2.2: event #2.2 (approved) was edited" in capsys.readouterr().out
    with removed.runtime.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'U0BOB' WHERE chain = 2 AND seq = 2"))
    assert main(["audit", "verify", "--anchor", anchor]) == 0
    assert "anchor: holds" in capsys.readouterr().out
    seqs = anchor.split(":")[0]
    assert seqs.split(".")[:3] == ["0", "6", "0"]
    assert main(["audit", "verify", "--anchor", f"{seqs}:{'f' * 64}"]) == 1
    assert "anchor: DOES NOT HOLD" in capsys.readouterr().out

    with removed.runtime.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE chain = 2 AND seq = 3"))
    assert main(["audit", "verify", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] is False and report["broken_at"] == {"chain": 2, "seq": 3}
    assert report["problem"] == "event #2.3 is missing: deleted from the trail (next is #2.4)"
    assert main(["evidence", "1"]) == 0  # the evidence still reads; its own events still match their hashes
