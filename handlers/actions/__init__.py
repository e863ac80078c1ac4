from slack_bolt import App

from handlers.actions import approve, deny, form_redraw, retry
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    approve.register(app, ctx)
    deny.register(app, ctx)
    retry.register(app, ctx)
    form_redraw.register(app, ctx)
