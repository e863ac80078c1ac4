"""People see their own requests and access, approvers their platforms', workspace admins everything: the same
rules for /access status, list and evidence, over the real endpoint."""

from __future__ import annotations

from domain.access import AccessState
from handlers import ids
from tests.e2e.conftest import RunningBot

ANA = "ana@agency.example"


def test_a_bystander_sees_neither_someone_elses_request_nor_their_access(bot: RunningBot) -> None:
    bot.platform().apply(ANA, AccessState(member=True, account_role="Analyst"))
    bot.command("alice", f"update {ANA} sandbox viewer on production for 2h reason: a private matter ticket: HR-7")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")

    # carol is in the security group (an approver of the sandbox); dan is a workspace admin; bystander: none.
    bot.command("ana", "status 1")  # her own access
    assert "*Request #1*" in bot.ephemeral("*Request #1*")
    bot.command("carol", f"list {ANA}")
    assert "*sandbox*: Analyst; production: Viewer" in bot.ephemeral("*sandbox*:")

    bot.command("eve", "status 1")
    refused = bot.ephemeral("You can see request #1 only if")
    assert "a private matter" not in refused and "HR-7" not in refused
    bot.command("eve", f"list {ANA}")
    assert "You can see ana@agency.example's access only if" in bot.ephemeral("access only if")
    bot.command("eve", "list")
    listed = bot.ephemeral("Your access")
    assert ANA not in listed, "everyone's temporary access is not for everyone"
    bot.command("eve", "evidence 1")
    assert "HR-7" not in bot.ephemeral("evidence")
