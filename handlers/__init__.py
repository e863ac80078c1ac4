"""Slack listeners. Nothing outside this package imports Slack's SDK except the composition root in bot/."""

from slack_bolt import App

from handlers.outbox import Outbox
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext, outbox: Outbox) -> None:
    from handlers import actions, commands, errors, home, views

    commands.register(app, ctx)
    actions.register(app, ctx)
    views.register(app, ctx)
    home.register(app, ctx, outbox)
    errors.register(app)
