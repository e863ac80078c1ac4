"""The console drives the same Bolt app and listeners as `serve`, with no Slack at all."""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.console.repl import Console
from bot.settings import load_settings
from tests.e2e.conftest import environment_without_settings

SESSION = [
    "/access add dan@agency.example sandbox viewer on production for 2h reason: demo ticket: OPS-1",
    "approve 1",
    "as bob",
    "approve 1",
    "approve 1",
    "as alice",
    "/access add dan@agency.example sandbox admin reason: curious",
    "as carol",
    "deny 2 least privilege",
    "as alice",
    "form person=dan platform=sandbox verb=update role=scope:Admin scopes=staging duration=4h reason=deploy",
    "access sandbox dan@agency.example",
    "requests",
]


def run_console(lines: list[str]) -> str:
    out = io.StringIO()
    with Console(load_settings(), out=out) as console:
        console.run(lines)
    return out.getvalue()


def test_a_scripted_session_requests_approves_denies_and_uses_the_form() -> None:
    output = run_console(SESSION)
    assert "No approvers are configured, so bob and carol approve in this playground." in output
    assert "== Access request #1: add access ==" in output
    assert "🚫 You asked for this access, so someone else has to approve it." in output
    assert "✅ Applied. Approved by @bob" in output
    assert "✉ DM to alice:" in output
    assert "No Approve button for request 1 now" in output
    assert "🚫 Denied by @carol" in output and "least privilege" in output
    assert "== Access request #3: change access ==" in output
    assert "staging: no access → Admin" in output
    assert "sandbox: Consumer; production: Viewer" in output
    table = output[output.rindex("alice> requests") :]
    assert "    3  pending" in table and "    2  denied" in table and "    1  applied" in table


def test_a_removal_its_follow_ups_and_an_access_review_from_the_console() -> None:
    output = run_console(
        [
            "/access add dan@agency.example sandbox analyst reason: project",
            "as bob",
            "approve 1",
            "as alice",
            "/access remove dan@agency.example sandbox reason: engagement ended",
            "as bob",
            "approve 2",
            "done 1 revoked token tk_1",
            "done 1",
            "review",
            "review keep 1",
            "/access evidence 2",
        ]
    )
    assert "▶ *delete*: the member is deleted." in output
    assert "📋 After the removal for request #2 (dan@agency.example): *sandbox: Revoke the API tokens" in output
    assert "[Done…]  (#1)" in output
    assert "✅ *sandbox: Revoke the API tokens and keys they owned*: done by @bob" in output
    assert "No Done button for task 1 now" in output
    assert "Removal notice for dan@agency.example" in output or "Subject: sandbox Access Removed" in output
    assert "== Access review #1: sandbox ==" in output and "nobody has access." in output  # dan is gone
    assert "bob> review keep 1" in output and "No Keep button for row 1 now" in output
    assert "== Evidence for request #2 (remove) ==" in output and "revoked token tk_1" in output


def test_the_ack_is_shown_before_what_the_bot_does_next() -> None:
    output = run_console(["/access add dan@agency.example sandbox analyst reason: x"])
    assert output.index("Checking current access") < output.index("== Access request #1")


def test_times_are_shown_in_the_current_persons_time_zone() -> None:
    output = run_console(
        ["as bob", "/access status 1", "/access add dan@agency.example sandbox analyst reason: x", "/access status 1"]
    )
    assert "Request #1 does not exist" in output
    assert " EST" in output or " EDT" in output


def test_accessbot_with_no_slack_tokens_starts_the_console(tmp_path: Path) -> None:
    env = environment_without_settings()
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        input="/access help\nquit\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "accessbot console: database sqlite:///accessbot.db" in result.stdout
    assert "account roles Admin, Architect, Analyst, Consumer, Read-Only" in result.stdout
    assert (tmp_path / "accessbot.db").exists()


def test_a_button_command_without_a_number_says_how_to_use_it() -> None:
    output = run_console(["approve", "deny abc", "done"])
    assert "Which request? Type `approve <id>`, e.g. `approve 1` (`requests` lists them)." in output
    assert "'abc' is not a request number: type `deny <id>`" in output
    assert "Which task? Type `done <id>`, e.g. `done 1` (its message shows it)." in output


def test_the_console_keeps_log_lines_out_of_the_chat(tmp_path: Path) -> None:
    session = "/access add dan@agency.example sandbox viewer on staging reason: logs\nquit\n"
    finished = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--log-level", "info", "console"],
        env=environment_without_settings(),
        cwd=tmp_path,
        input=session,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert "Request #1 for dan@agency.example is waiting for approval" in finished.stdout
    assert " INFO " not in finished.stdout + finished.stderr
    log = tmp_path / "accessbot-console.log"
    assert f"(log lines go to {log})" in finished.stderr
    assert "asked to add for dan@agency.example" in log.read_text()


def test_ctrl_c_at_the_prompt_ends_the_console_without_a_traceback(tmp_path: Path) -> None:
    # As from a terminal: Ctrl-C interrupts. (A job a shell starts in the background, a CI runner for one, inherits
    # SIGINT ignored, and Python then leaves it ignored.)
    interactive = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from bot.cli import main; sys.exit(main(['console']))"
    )
    console = subprocess.Popen(
        [sys.executable, "-c", interactive],
        env=environment_without_settings(),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert console.stdout is not None
    read_until(console, b"alice> ")  # the prompt: it waits for a line
    console.send_signal(signal.SIGINT)
    # Its answer, before stdin is closed (an end of input also ends the console, without a word).
    said = read_until(console, b"Bye (Ctrl-C)")
    out, err = console.communicate(timeout=60)
    assert console.returncode == 0
    assert b"Bye (Ctrl-C)" in said and "Traceback" not in (out + err).decode()


def read_until(process: subprocess.Popen[bytes], wanted: bytes, timeout: float = 120.0) -> bytes:
    """What the process writes to its stdout, until `wanted` shows (it may never end its line)."""
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")[-500:]
        if not select.select([process.stdout], [], [], 1.0)[0]:
            continue
        chunk = os.read(process.stdout.fileno(), 4096)
        assert chunk, f"the process ended before it wrote {wanted!r}: {seen.decode(errors='replace')[-500:]}"
        seen += chunk
    return seen


def test_home_shows_each_persons_access_their_requests_and_what_waits_for_them() -> None:
    output = run_console(
        [
            "/access add dan@agency.example sandbox viewer on production for 2h reason: demo",
            "as bob",
            "home",
            "approve 1",
            "home",
            "as dan",
            "home",
        ]
    )
    bob_before = output[output.index("bob> home") : output.index("bob> approve 1")]
    assert "── bob's App Home ──" in bob_before
    assert "== Waiting for your approval ==" in bob_before
    assert "*#1* @alice asks to add access for *dan@agency.example* (@dan): production: Viewer" in bob_before
    assert "[Approve] [Deny]  (#1)" in bob_before
    bob_after = output[output.rindex("bob> home") : output.index("You are now dan")]
    assert "Nothing waits for your approval." in bob_after and "[Approve]" not in bob_after
    dan = output[output.index("dan> home") :]
    assert "── dan's App Home ──" in dan
    assert "• dan@agency.example on sandbox:" in dan and "left (request #1)" in dan
    assert "[Extend…] [Revoke now]" in dan
    assert "You have not asked for anything yet." in dan


def test_heap_without_scim_end_to_end_with_an_elevations_revert_steps_at_its_end(tmp_path: Path) -> None:
    from bot.settings import Settings
    from platforms.settings import HeapSettings

    settings = Settings(platforms={"heap": HeapSettings()}, database_url=f"sqlite:///{tmp_path}/console.db")
    out = io.StringIO()
    with Console(settings, out=out) as console:
        console.run(
            [
                "/access add dan@agency.example heap contributor on production for 2h reason: launch",
                "as bob",
                "approve 1",
                "done 1 invited",
                "done 2 project set",
                "wait 2h",
                "done 4 removed",
            ]
        )
    output = out.getvalue()
    approved = output[output.index("bob> approve 1") : output.index("bob> done 1")]
    assert "Not applied yet" in approved
    assert "go to Account → Manage → Members and invite dan@agency.example" in approved
    assert "click + Add (or check production) and give it the role Contributor" in approved
    assert "Invitation sent" in output[output.index("bob> done 1") : output.index("bob> done 2")]
    assert "✅ Applied" in output[output.index("bob> done 2") : output.index("bob> wait 2h")]
    end = output[output.index("bob> wait 2h") : output.index("bob> done 4")]
    assert "(the bot's clock moves on 2h" in end
    assert "heap (end of temporary access): delete the member" in end and "select Remove Member" in end
    told = output[output.index("bob> done 4") :]
    assert "temporary access on heap (request #1) ended" in told and "no change" not in told, told


def test_a_heap_invitation_is_chased_before_it_expires_re_sent_and_accepted_from_the_console(tmp_path: Path) -> None:
    from bot.settings import Settings
    from platforms.settings import HeapSettings

    settings = Settings(platforms={"heap": HeapSettings()}, database_url=f"sqlite:///{tmp_path}/console.db")
    out = io.StringIO()
    with Console(settings, out=out) as console:
        console.run(
            [
                "/access add dan@agency.example heap analyst reason: launch",
                "as bob",
                "approve 1",
                "done 1 invited",
                "wait 23d",
                "resent 2",
                "done 2 dan logged in",
                "access heap dan@agency.example",
            ]
        )
    output = out.getvalue()
    invited = output[output.index("bob> done 1") : output.index("bob> wait 23d")]
    assert "dan@agency.example is invited and has not accepted yet" in invited
    assert "click the envelope icon in the top navigation" in invited and "[Accepted…] [Re-sent]" in invited
    reminded = output[output.index("bob> wait 23d") : output.index("bob> resent 2")]
    assert "Still open" in reminded and "The invitation expires" in reminded
    assert "Recorded as re-sent" in output[output.index("bob> resent 2") : output.index("bob> done 2")]
    accepted = output[output.index("bob> done 2") :]
    assert "accepts the invitation*: done by" in accepted, accepted


def test_a_removal_waits_for_its_steps_before_which_are_done_or_skipped_from_the_console(tmp_path: Path) -> None:
    from bot.settings import Settings
    from domain.offboarding import GENERIC_CHECKLIST
    from platforms.settings import SandboxSettings

    sandbox = SandboxSettings(removal_checklist=GENERIC_CHECKLIST)
    settings = Settings(platforms={"sandbox": sandbox}, database_url=f"sqlite:///{tmp_path}/console.db")
    out = io.StringIO()
    with Console(settings, out=out) as console:
        console.run(
            [
                "/access add dan@agency.example sandbox viewer on production reason: project",
                "as bob",
                "approve 1",
                "as alice",
                "/access remove dan@agency.example sandbox delete reason: engagement ended",
                "as bob",
                "approve 2",
                "done 1 dashboards moved to ops",
                "skip 2",
                "skip 2 no integration uses their tokens",
                "access sandbox dan@agency.example",
            ]
        )
    output = out.getvalue()
    gated = output[output.index("bob> approve 2") : output.index("bob> done 1")]
    assert "🚧 Before the removal for request #2 (dan@agency.example): *sandbox: Transfer dashboards" in gated
    assert "[Skip…]" in gated and "Nothing removed yet" in gated
    no_reason = output[output.index("bob> skip 2\n") : output.index("bob> skip 2 no")]
    assert "Say why this step is skipped" in no_reason
    skipped = output[output.index("bob> skip 2 no") : output.index("bob> access")]
    assert "⏭️ *sandbox: Replace the API tokens integrations use*: skipped by @bob" in skipped
    assert "✅ Applied" in skipped
    assert "sandbox: not a member" in output[output.index("bob> access") :]
