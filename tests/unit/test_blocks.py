from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.access import AccessChange, AccessState, AccessStep, RemovalMethod, StepKind
from domain.commands import CommandError
from domain.lifecycle import ChangeStatus, RequestStatus
from domain.policy import Requirements
from handlers import ids
from handlers.blocks.cards import approval_card, outcome_text, requester_text
from handlers.blocks.forms import FormState, block_id, deny_form, request_form
from handlers.blocks.help import command_error, help_message
from handlers.blocks.replies import decision_notice
from platforms.heap_catalog import heap_catalog
from services.decisions import DecisionResult, Outcome
from services.ports import MessageRef
from services.views import ChangeView, RequestView

CREATED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def change(**fields: Any) -> ChangeView:
    base: dict[str, Any] = {
        "id": 1,
        "platform": "heap",
        "platform_label": "Heap (client)",
        "action": "grant",
        "grant": AccessChange(scopes={"production": "Admin"}),
        "status": ChangeStatus.WAITING,
        "access_at_request": AccessState(member=True, account_role="Analyst", scopes={"production": "Viewer"}),
        "approvers": ("UBOB", "S0SECURITY"),
        "preview": (AccessStep(kind=StepKind.SET_SCOPE_ROLE, scope="production", before="Viewer", after="Admin"),),
    }
    return ChangeView(**(base | fields))


def request(*changes: ChangeView, **fields: Any) -> RequestView:
    base: dict[str, Any] = {
        "id": 42,
        "verb": "update",
        "status": RequestStatus.PENDING,
        "requester_id": "UALICE",
        "target_email": "ana@agency.com",
        "target_slack_id": "UANA",
        "reason": "tracking plan deploy",
        "ticket": "OPS-7",
        "duration": timedelta(hours=4),
        "created_at": CREATED,
        "card": MessageRef(channel="C0APPROVALS", ts="1.000001"),
        "changes": changes or (change(),),
    }
    return RequestView(**(base | fields))


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every piece of text in a message, joined, for content assertions."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(found)


def actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [element for block in message["blocks"] if block["type"] == "actions" for element in block["elements"]]


def assert_within_slack_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(field["text"]) <= 2000 for field in block.get("fields", []))
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            assert all(len(element["text"]["text"]) <= 75 for element in block["elements"])
    assert message["text"], "a fallback text is needed for notifications"


def test_the_card_never_asks_the_requester_or_the_person_concerned_to_approve() -> None:
    approvers = ("UALICE", "UBOB", "UANA")
    mine = request(change(approvers=approvers))
    assert "Waiting for approval by <@UBOB>\n" in texts(approval_card(mine)["blocks"])
    only_me = request(change(approvers=("UALICE",)))
    assert "Waiting for approval by another approver (the only one configured asked for this" in texts(
        approval_card(only_me)["blocks"]
    )
    allowed = request(change(approvers=approvers), requirements=Requirements(allow_self_approval=True))
    assert "Waiting for approval by <@UALICE>, <@UBOB>, <@UANA>" in texts(approval_card(allowed)["blocks"])


def test_pending_card_shows_the_request_the_access_now_and_the_buttons() -> None:
    card = approval_card(request())
    assert_within_slack_limits(card)
    body = texts(card["blocks"])
    assert "Access request #42" in body
    assert "<@UALICE> asks to change access for *ana@agency.com* (<@UANA>)" in body
    assert "*Platform*\nHeap (client)" in body
    assert "*Access*\nproduction: Admin" in body
    assert "*Duration*\nfor 4h from when it is applied" in body
    assert "*Reason*\ntracking plan deploy" in body
    assert "*Ticket*\nOPS-7" in body
    assert "now: Analyst; production: Viewer" in body
    assert "after approval: production: Viewer → Admin" in body
    assert "Waiting for approval by <@UBOB>, <!subteam^S0SECURITY>" in body
    buttons = actions(card)
    assert [(b["action_id"], b["value"]) for b in buttons] == [(ids.APPROVE, "42"), (ids.DENY, "42")]
    assert "confirm" not in buttons[0]


def test_text_people_typed_cannot_ping_or_link() -> None:
    card = approval_card(request(reason="<!channel> see <https://evil.example|here> & more"))
    body = texts(card["blocks"])
    assert "<!channel>" not in body
    assert "&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; more" in body


def test_deleting_a_member_asks_the_approver_to_confirm_and_both_methods_are_explained() -> None:
    removal = request(
        change(action="remove", grant=None, method=RemovalMethod.DELETE, lowest_role="Member"),
        change(
            id=2,
            platform="chartbeat",
            platform_label="chartbeat",
            action="remove",
            grant=None,
            method=RemovalMethod.REVOKE,
            lowest_role="User",
        ),
        verb="remove",
        duration=None,
    )
    card = approval_card(removal)
    body = texts(card["blocks"])
    assert "▶ *delete*: the member is deleted. Permanent:" in body
    assert "restoring access needs a new invitation" in body
    assert "▶ *revoke*: the account is kept with the lowest role (Heap (client): Member, chartbeat: User)" in body
    assert "To " not in body  # both methods are in use, so there is no other to suggest
    assert actions(card)[0]["confirm"]["confirm"]["text"] == "Approve and delete"
    assert "*Platform*\nHeap (client), chartbeat" in body


def test_a_removal_card_marks_the_chosen_method_and_says_how_to_get_the_other() -> None:
    revoke = change(action="remove", grant=None, method=RemovalMethod.REVOKE, lowest_role="Member")
    removal = request(revoke, verb="remove", duration=None)
    body = texts(approval_card(removal)["blocks"])
    assert "◦ *delete*: the member is deleted." in body
    assert "▶ *revoke*: the account is kept with the lowest role (Heap (client): Member)" in body
    assert "To delete instead, deny this and ask again with `delete` after the platform." in body
    assert "now: Analyst; production: Viewer" in body
    assert "confirm" not in actions(approval_card(removal))[0]


def test_a_temporary_grant_shows_its_end_in_the_readers_time_zone_once_applied() -> None:
    applied_at = CREATED + timedelta(minutes=5)
    view = request(
        change(
            status=ChangeStatus.APPLIED,
            applied_at=applied_at,
            after=AccessState(member=True, account_role="Analyst", scopes={"production": "Admin"}),
        ),
        status=RequestStatus.APPLIED,
        decided_by="UBOB",
        decided_at=applied_at,
    )
    card = approval_card(view)
    ends = int((applied_at + timedelta(hours=4)).timestamp())
    assert f"*Duration*\nuntil <!date^{ends}^" in texts(card["blocks"])
    assert actions(card) == []
    assert "✅ Applied. Approved by <@UBOB>" in texts(card["blocks"])
    assert "when requested: Analyst; production: Viewer" in texts(card["blocks"])
    assert "applied and verified: Analyst; production: Admin" in texts(card["blocks"])
    assert f"Access lasts until <!date^{ends}^" in outcome_text(view)


def test_a_failed_card_shows_the_error_and_a_retry_button() -> None:
    view = request(
        change(status=ChangeStatus.FAILED, attempts=1, error="heap: HTTP 503 from the platform"),
        status=RequestStatus.FAILED,
        decided_by="UBOB",
        decided_at=CREATED,
    )
    card = approval_card(view)
    assert "failed (attempt 1): heap: HTTP 503 from the platform" in texts(card["blocks"])
    assert [(b["action_id"], b["value"]) for b in actions(card)] == [(ids.RETRY, "42")]
    assert "an approver can press Retry" in outcome_text(view)


def test_denied_card_and_messages_carry_the_reason() -> None:
    view = request(status=RequestStatus.DENIED, decided_by="UBOB", decided_at=CREATED, deny_reason="too broad")
    card = approval_card(view)
    assert actions(card) == []
    assert "🚫 Denied by <@UBOB>" in texts(card["blocks"]) and "too broad" in texts(card["blocks"])
    assert "was denied by <@UBOB>. Reason: too broad" in outcome_text(view)
    assert "you asked on" in requester_text(view)


def test_a_very_long_reason_still_fits_slacks_limits() -> None:
    assert_within_slack_limits(approval_card(request(reason="x" * 2500)))


@pytest.mark.parametrize(
    ("result", "says"),
    [
        (DecisionResult(outcome=Outcome.DONE), None),
        (DecisionResult(outcome=Outcome.NOT_FOUND), "does not exist"),
        (DecisionResult(outcome=Outcome.REFUSED, reason="You are not an approver for heap."), "not an approver"),
        (
            DecisionResult(
                outcome=Outcome.ALREADY_DECIDED,
                view=request(status=RequestStatus.APPLIED, decided_by="UBOB", decided_at=CREATED),
            ),
            "was already approved by <@UBOB>",
        ),
        (
            DecisionResult(
                outcome=Outcome.ALREADY_DECIDED,
                view=request(status=RequestStatus.APPLYING, decided_by="UBOB", decided_at=CREATED),
            ),
            "already approved by <@UBOB> <!date^",
        ),
        (
            DecisionResult(
                outcome=Outcome.ALREADY_DECIDED,
                view=request(status=RequestStatus.DENIED, decided_by="UCAROL", decided_at=CREATED),
            ),
            "was already denied by <@UCAROL>",
        ),
    ],
)
def test_what_a_clicker_is_told(result: DecisionResult, says: str | None) -> None:
    notice = decision_notice(result, 42)
    if says is None:
        assert notice is None
    else:
        assert notice is not None and says in notice


def test_help_lists_usage_and_each_platforms_roles_with_slack_control_characters_escaped() -> None:
    message = help_message({"heap": heap_catalog()})
    body = texts(message["blocks"])
    assert "/access add &lt;email|@person&gt; &lt;platform&gt;" in body
    assert "*heap*: account roles Admin, Architect, Analyst, Consumer, Read-Only" in body
    assert "project production, staging, development: Admin, Contributor, Viewer" in body
    assert "module govern: Data Manager, Reviewer, Viewer" in body
    assert message["response_type"] == "ephemeral"


def test_a_command_error_shows_the_problem_the_usage_and_an_example() -> None:
    message = command_error(CommandError("Unknown platform `hep`.", "add", "platform"))
    body = texts(message["blocks"])
    assert "⚠️ Unknown platform `hep`." in body
    assert "Usage: `/access add &lt;email|@person&gt;" in body
    assert "Example: `/access add ana@agency.com heap viewer" in body


def test_the_request_form_offers_the_chosen_platforms_roles_and_scopes() -> None:
    catalogs = {"heap": heap_catalog(), "sandbox": heap_catalog(projects=("qa",))}
    view = request_form(catalogs, FormState(platform="sandbox", channel="C1"))
    blocks = {block["block_id"]: block for block in view["blocks"]}
    roles = blocks[block_id(ids.FORM_ROLE, "sandbox")]["element"]["option_groups"]
    assert [o["value"] for o in roles[0]["options"]][:2] == ["account:Admin", "account:Architect"]
    assert "scope:Data Manager" in [o["value"] for o in roles[1]["options"]]
    scopes = [o["value"] for o in blocks[block_id(ids.FORM_SCOPES, "sandbox")]["element"]["options"]]
    assert scopes == ["qa", "govern", "activate", "illuminate"]
    assert blocks[ids.FORM_PLATFORM]["element"]["initial_option"]["value"] == "sandbox"
    assert FormState.load(view) == FormState(platform="sandbox", channel="C1")
    assert ids.FORM_METHOD not in blocks


def test_the_removal_form_asks_for_a_method_and_offers_all_platforms() -> None:
    view = request_form({"heap": heap_catalog()}, FormState(verb="remove", platform="heap"))
    blocks = {block["block_id"]: block for block in view["blocks"]}
    assert ids.FORM_METHOD in blocks
    assert block_id(ids.FORM_ROLE, "heap") not in blocks
    assert "all" in [o["value"] for o in blocks[ids.FORM_PLATFORM]["element"]["options"]]


def test_deny_form_carries_the_request_and_words_a_withdrawal_as_such() -> None:
    form = deny_form(42, "ana@agency.com")
    assert form["private_metadata"] == "42" and form["callback_id"] == ids.DENY_FORM
    assert deny_form(42, "ana@agency.com", withdraw=True)["submit"]["text"] == "Withdraw"


def test_a_digest_names_every_grant_that_ended_in_parts_slack_can_show() -> None:
    from handlers.blocks.elevations import DIGEST_PART, ended_digest
    from tests.fakes import reverted_grant

    ended = [(number, reverted_grant(number)) for number in range(1, 601)]
    parts = ended_digest(ended)
    assert len(parts) > 1 and all(len(part) <= DIGEST_PART + 200 for part in parts)
    assert parts[0].startswith("↩️ Temporary access ended for 600 grant(s) (part 1 of ")
    text = "\n".join(parts)
    assert all(
        f"• #{n} person{n}@agency.example on sandbox: account role: Analyst → Consumer" in text for n in range(1, 601)
    )
    assert ended_digest(ended[:2], yours=True)[0].startswith("↩️ Your requests' temporary access ended for 2 grant(s):")


@pytest.mark.parametrize(
    "form",
    [deny_form(42, "ana@agency.com"), deny_form(42, "ana@agency.com", withdraw=True)],
    ids=["deny", "withdraw"],
)
def test_an_optional_field_does_not_say_so_itself_slack_adds_optional(form: dict[str, Any]) -> None:
    labels = [block["label"]["text"] for block in form["blocks"] if block["type"] == "input"]
    assert labels and not [label for label in labels if "optional" in label.lower()]


@pytest.mark.parametrize("status", [ChangeStatus.QUEUED, ChangeStatus.APPLYING])
def test_a_change_on_its_way_reads_as_applying_with_no_waiting_line(status: ChangeStatus) -> None:
    card = approval_card(request(change(status=status), status=RequestStatus.APPLYING))
    body = texts(card["blocks"])
    assert "⚙️ applying…" in body and "⏳" not in body


def test_a_full_home_stays_within_slacks_limits_and_says_how_much_more_there_is() -> None:
    from slack_sdk.models.views import View

    from domain.ledger import GrantState
    from handlers.blocks.home import home_view
    from services.home import SHOWN, Home
    from services.ports import Person
    from services.views import GrantView

    grants = tuple(
        GrantView(
            id=n,
            request_id=n,
            platform="heap",
            target_email="ana@agency.com",
            seq=n,
            parts={"scope:production": "Admin"},
            state=GrantState.ACTIVE,
            permanent=False,
            started_at=CREATED,
            ends_at=CREATED + timedelta(hours=n),
        )
        for n in range(1, SHOWN + 6)
    )
    home = Home(
        person=Person(slack_id="UANA", email="ana@agency.com"),
        now=CREATED,
        grants=grants,
        requests=tuple(request(id=n, reason="x" * 2000) for n in range(SHOWN)),
        waiting=tuple(request(id=100 + n, reason="y" * 2000) for n in range(SHOWN)),
        more_waiting=3,
    )
    view = home_view(home)
    View(**view).validate_json()  # Slack's own limits, as slack_sdk knows them (100 blocks in a Home...)
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in view["blocks"])
    shown = texts(view["blocks"])
    assert "…and 5 more" in shown and "…and 3 more in the approvals channel." in shown
    buttons = [element["action_id"] for element in actions(view)]
    assert buttons.count(ids.REVOKE_NOW) == SHOWN and buttons.count(ids.APPROVE) == SHOWN
