from slack_bolt import App

from handlers.commands import access
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    access.register(app, ctx)
