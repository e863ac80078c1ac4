"""Read models of requests, built from the tables, for cards, `/access status` and the admin CLI."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.access import AccessChange, AccessState, AccessStep, RemovalMethod, diff, removed_state
from domain.catalog import RoleCatalog
from domain.durations import format_duration
from domain.lifecycle import ChangeStatus, RequestStatus
from platforms.base import PlatformSettings
from services.ports import MessageRef
from storage.models import AccessRequest, PlatformChange


class ChangeView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    platform: str
    platform_label: str
    action: str
    grant: AccessChange | None = None
    method: RemovalMethod | None = None
    status: ChangeStatus
    attempts: int = 0
    access_at_request: AccessState | None = None
    before: AccessState | None = None
    desired: AccessState | None = None
    after: AccessState | None = None
    error: str | None = None
    applied_at: datetime | None = None
    approvers: tuple[str, ...] = ()
    # What approving would change, judged from the access shown on the card.
    preview: tuple[AccessStep, ...] = ()

    def describe(self) -> str:
        if self.action == "remove":
            return f"remove ({self.method.value if self.method else 'default method'})"
        return self.grant.describe() if self.grant else "no change"


class RequestView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    verb: str
    status: RequestStatus
    requester_id: str
    target_email: str
    target_slack_id: str | None = None
    reason: str
    ticket: str | None = None
    duration: timedelta | None = None
    until_at: datetime | None = None
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    deny_reason: str | None = None
    card: MessageRef | None = None
    changes: tuple[ChangeView, ...] = ()

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(change.platform for change in self.changes)

    @property
    def is_temporary(self) -> bool:
        return self.duration is not None or self.until_at is not None

    def describe_expiry(self) -> str:
        if self.duration is not None:
            return f"for {format_duration(self.duration)} from when it is applied"
        if self.until_at is not None:
            return f"until {self.until_at.isoformat(sep=' ', timespec='minutes')}"
        return "permanent"


def _state(data: dict[str, Any] | None) -> AccessState | None:
    return AccessState.model_validate(data) if data is not None else None


def desired_state(
    grant: AccessChange | None, method: RemovalMethod | None, current: AccessState, catalog: RoleCatalog
) -> AccessState:
    """The whole access a change asks for, given what the member has now."""
    if grant is not None:
        return grant.desired_from(current, catalog)
    assert method is not None, "a change is either a grant or a removal"
    return removed_state(method, current, catalog)


def change_view(
    change: PlatformChange, settings: Mapping[str, PlatformSettings], catalogs: Mapping[str, RoleCatalog]
) -> ChangeView:
    assert change.id is not None
    configured = settings.get(change.platform)
    grant = AccessChange.model_validate(change.grant) if change.grant is not None else None
    method = RemovalMethod(change.method) if change.method else None
    shown = _state(change.access_at_request)
    catalog = catalogs.get(change.platform)
    preview = diff(shown, desired_state(grant, method, shown, catalog)) if shown and catalog else []
    return ChangeView(
        id=change.id,
        platform=change.platform,
        platform_label=(configured.label if configured and configured.label else change.platform),
        action=change.action,
        grant=grant,
        method=method,
        status=ChangeStatus(change.status),
        attempts=change.attempts,
        access_at_request=shown,
        before=_state(change.before),
        desired=_state(change.desired),
        after=_state(change.after),
        error=change.error,
        applied_at=change.applied_at,
        approvers=configured.approvers if configured else (),
        preview=tuple(preview),
    )


def request_view(
    request: AccessRequest,
    changes: list[PlatformChange],
    settings: Mapping[str, PlatformSettings],
    catalogs: Mapping[str, RoleCatalog],
) -> RequestView:
    assert request.id is not None
    card = (
        MessageRef(channel=request.card_channel, ts=request.card_ts)
        if request.card_channel and request.card_ts
        else None
    )
    return RequestView(
        id=request.id,
        verb=request.verb,
        status=RequestStatus(request.status),
        requester_id=request.requester_id,
        target_email=request.target_email,
        target_slack_id=request.target_slack_id,
        reason=request.reason,
        ticket=request.ticket,
        duration=timedelta(seconds=request.duration_seconds) if request.duration_seconds is not None else None,
        until_at=request.until_at,
        created_at=request.created_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        deny_reason=request.deny_reason,
        card=card,
        changes=tuple(change_view(change, settings, catalogs) for change in changes),
    )
