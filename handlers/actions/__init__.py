from slack_bolt import App

from handlers.actions import approve, deny, extend, form_redraw, keep, retry, review, revoke_now, task_done
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    approve.register(app, ctx)
    deny.register(app, ctx)
    retry.register(app, ctx)
    form_redraw.register(app, ctx)
    extend.register(app, ctx)
    revoke_now.register(app, ctx)
    keep.register(app, ctx)
    task_done.register(app, ctx)
    review.register(app, ctx)
