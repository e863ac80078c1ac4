from slack_bolt import App

from handlers.actions import approve, deny, extend, form_redraw, reminder, retry, review, task_done, task_resent
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    approve.register(app, ctx)
    deny.register(app, ctx)
    retry.register(app, ctx)
    form_redraw.register(app, ctx)
    extend.register(app, ctx)
    reminder.register(app, ctx)
    task_done.register(app, ctx)
    task_resent.register(app, ctx)
    review.register(app, ctx)
