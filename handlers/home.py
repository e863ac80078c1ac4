"""The App Home tab: published when someone opens it, and again (through the outbox) when something in it changes."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from handlers.answers import Listener
from handlers.blocks.home import View, home_view
from handlers.outbox import HOME, Outbox
from services import home
from services.context import ServiceContext


def home_for(ctx: ServiceContext, user_id: str) -> View:
    """Someone's Home as it is now."""
    return home_view(home.home_of(ctx, ctx.directory.person(user_id)))


def works(ctx: ServiceContext, outbox: Outbox) -> list[Listener]:
    def on_home_opened(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab
        user_id = str(event["user"])
        home.opened(ctx, user_id)
        outbox.call(HOME, {"user_id": user_id}, coalesce_key=f"home:{user_id}")

    return [on_home_opened]
