"""Which Slack deliveries were acted on, so that the work behind one is done once across every bot instance."""

from __future__ import annotations

from services.context import ServiceContext
from storage.db import session_scope
from storage.deliveries import KEPT_FOR, first_delivery, forget_before


def first_time(ctx: ServiceContext, key: str) -> bool:
    """Note `key`; True only the first time anyone noted it (concurrent notes included)."""
    with session_scope(ctx.engine) as session:
        return first_delivery(session=session, key=key, at=ctx.clock.now())


def forget_old(ctx: ServiceContext) -> int:
    """Forget deliveries too old to come again (the sweep does this); returns how many."""
    with session_scope(ctx.engine) as session:
        return forget_before(session=session, at=ctx.clock.now() - KEPT_FOR)
