"""Slack listeners. Nothing outside this package imports Slack's SDK except the composition root in bot/."""

from slack_bolt import App

from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    from handlers import actions, commands, errors, views

    commands.register(app, ctx)
    actions.register(app, ctx)
    views.register(app, ctx)
    errors.register(app)
