"""What a person sees when they open the bot (Slack's App Home, the console's `home`): the access they hold now,
with when each grant ends; the requests they asked for and where each stands; and the requests waiting for their
approval."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.lifecycle import RequestStatus
from services.approvers import verdict_for
from services.context import ServiceContext
from services.grants import live_views
from services.ports import Person
from services.queries import request_views
from services.views import GrantView, RequestView
from storage.db import reading, session_scope
from storage.homes import note_opened
from storage.homes import viewers as home_viewers

#: How much of each list a Home shows (Slack allows 100 blocks in a view); the rest is a `/access list` away.
SHOWN = 10
#: How many pending requests are looked at to find those this person may approve.
PENDING_LOOKED_AT = 100


class Home(BaseModel):
    model_config = ConfigDict(frozen=True)

    person: Person
    now: datetime
    grants: tuple[GrantView, ...] = ()  # live grants on the person's own accounts
    requests: tuple[RequestView, ...] = ()  # what they asked for, newest first
    waiting: tuple[RequestView, ...] = ()  # pending requests their approval would count on, oldest first
    more_waiting: int = 0


def home_of(ctx: ServiceContext, person: Person) -> Home:
    grants = live_views(ctx, target_email=person.email) if person.email else []
    asked = request_views(ctx, requester_id=person.slack_id, limit=SHOWN)
    pending = request_views(ctx, statuses=[RequestStatus.PENDING], limit=PENDING_LOOKED_AT)
    waiting = [view for view in reversed(pending) if verdict_for(ctx, view, person).allowed]
    return Home(
        person=person,
        now=ctx.clock.now(),
        grants=tuple(sorted(grants, key=lambda grant: (grant.permanent, grant.ends_at or ctx.clock.now()))),
        requests=tuple(asked),
        waiting=tuple(waiting[:SHOWN]),
        more_waiting=max(0, len(waiting) - SHOWN),
    )


def opened(ctx: ServiceContext, user_id: str) -> None:
    """`user_id` opened their Home: from now on it is published again whenever something in it changes."""
    with session_scope(ctx.engine) as session:
        note_opened(session=session, user_id=user_id, at=ctx.clock.now())


def viewers(ctx: ServiceContext) -> set[str]:
    """Everyone who has opened their Home."""
    with reading(ctx.engine) as session:
        return set(home_viewers(session=session))
