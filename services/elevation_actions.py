"""What people can do with a running elevation: ask for more time, end it now, or keep it until it expires."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.elevation import ElevationStatus
from domain.lifecycle import ChangeStatus, RequestStatus
from domain.policy import Verdict, duration_verdict, evaluate, pending_deadlines, request_refusals
from services.approvers import decision_verdict, held_items
from services.context import ServiceContext
from services.elevations import audit, extend, load
from services.ports import Person
from services.submit import store_and_announce
from services.sweeper import end_now as revert_at_once
from services.views import ElevationView, RequestView
from storage.audit import AuditKind
from storage.db import session_scope
from storage.models import AccessRequest, PlatformChange


class ElevationOutcome(StrEnum):
    EXTENDED = "extended"  # done at once
    EXTENSION_REQUESTED = "extension_requested"  # a request waits for approval
    REVOKED = "revoked"
    REVOKE_PENDING = "revoke_pending"  # the revert failed for now; the sweeper keeps retrying it
    KEPT = "kept"
    REFUSED = "refused"
    ENDED = "ended"  # nothing to do: it already ended
    NOT_FOUND = "not_found"


class ElevationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: ElevationOutcome
    reason: str = ""
    elevation: ElevationView | None = None
    request: RequestView | None = None  # the extension request, when one was made


def may_manage(ctx: ServiceContext, request: RequestView, person: Person) -> Verdict:
    """The requester, the target and the platform's approvers may extend, revoke or keep an elevation."""
    if person.slack_id in (request.requester_id, request.target_slack_id) or (
        person.email is not None and person.email.lower() == request.target_email
    ):
        return Verdict.allow()
    verdict = decision_verdict(ctx, request, person)
    return (
        verdict
        if verdict.allowed
        else Verdict.refuse(
            "Only the requester, the person it is for and the approvers can change this temporary access."
        )
    )


def _managed(
    ctx: ServiceContext, elevation_id: int, person: Person
) -> tuple[ElevationView, RequestView] | ElevationResult:
    """The live elevation and its request when `person` may act on it; else the answer that says why not."""
    found = load(ctx, elevation_id)
    if found is None:
        return ElevationResult(outcome=ElevationOutcome.NOT_FOUND)
    elevation, request = found
    if elevation.status is not ElevationStatus.ACTIVE:
        return ElevationResult(outcome=ElevationOutcome.ENDED, elevation=elevation)
    allowed = may_manage(ctx, request, person)
    if not allowed.allowed:
        return ElevationResult(outcome=ElevationOutcome.REFUSED, reason=allowed.reason, elevation=elevation)
    return found


def ask_extension(
    ctx: ServiceContext, elevation_id: int, *, span: timedelta, reason: str, person: Person, text: str = ""
) -> ElevationResult:
    """Extend at once when policy lets this person, else open a request that goes through approval."""
    managed = _managed(ctx, elevation_id, person)
    if isinstance(managed, ElevationResult):
        return managed
    elevation, request = managed
    roles = tuple(str(held.elevated) for held in elevation.fields.values() if isinstance(held.elevated, str))
    total = elevation.expires_at + span - elevation.started_at
    verdict = duration_verdict(
        policy=ctx.settings[elevation.platform], platform=elevation.platform, roles=roles, requested=total
    )
    if not verdict.allowed:
        return ElevationResult(outcome=ElevationOutcome.REFUSED, reason=verdict.reason, elevation=elevation)
    is_approver = decision_verdict(ctx, request, person).allowed
    self_service = ctx.settings[elevation.platform].allow_self_extension and person.slack_id in (
        request.requester_id,
        request.target_slack_id,
    )
    if is_approver or self_service:
        extended = extend(ctx, elevation_id, by=span, actor=person.slack_id)
        if extended is None:
            return ElevationResult(outcome=ElevationOutcome.ENDED, elevation=elevation)
        return ElevationResult(outcome=ElevationOutcome.EXTENDED, elevation=extended)
    now = ctx.clock.now()
    held = ((field, tracked.elevated) for field, tracked in elevation.fields.items())
    requirements = evaluate(
        ctx.policy, held_items(elevation.platform, ctx.catalogs[elevation.platform], held), ctx.settings
    )
    refusals = request_refusals(requirements, ticket=request.ticket, duration=total)
    if refusals:
        return ElevationResult(outcome=ElevationOutcome.REFUSED, reason=" ".join(refusals), elevation=elevation)
    remind_at, expires_at = pending_deadlines(ctx.policy, now)
    extension = AccessRequest(
        verb="extend",
        status=RequestStatus.PENDING.value,
        requester_id=person.slack_id,
        requester_email=person.email,
        target_email=request.target_email,
        target_slack_id=request.target_slack_id,
        reason=reason,
        ticket=request.ticket,
        command_text=text,
        duration_seconds=int(span.total_seconds()),
        created_at=now,
        updated_at=now,
        requirements=requirements.model_dump(mode="json"),
        remind_at=remind_at,
        expires_at=expires_at,
    )
    change = PlatformChange(
        platform=elevation.platform,
        action="extend",
        elevation_id=elevation.id,
        status=ChangeStatus.WAITING.value,
        access_at_request=elevation.elevated_to.model_dump(mode="json"),
        updated_at=now,
    )
    view = store_and_announce(
        ctx,
        extension,
        [change],
        actor=person.slack_id,
        detail={"extends": elevation.id, "by": span.total_seconds(), "reason": reason},
    )
    return ElevationResult(outcome=ElevationOutcome.EXTENSION_REQUESTED, elevation=elevation, request=view)


def end_now(ctx: ServiceContext, elevation_id: int, *, person: Person) -> ElevationResult:
    """End the elevation now ("I'm done") and revert at once."""
    managed = _managed(ctx, elevation_id, person)
    if isinstance(managed, ElevationResult):
        return managed
    elevation, _ = managed
    reverted = revert_at_once(ctx, elevation_id, expected_expiry=elevation.expires_at, actor=person.slack_id)
    if reverted is None:
        return ElevationResult(outcome=ElevationOutcome.ENDED, elevation=elevation)
    ended = load(ctx, elevation_id)
    latest = ended[0] if ended else elevation
    if not reverted:
        return ElevationResult(
            outcome=ElevationOutcome.REVOKE_PENDING, reason=latest.last_error or "", elevation=latest
        )
    return ElevationResult(outcome=ElevationOutcome.REVOKED, elevation=latest)


def keep(ctx: ServiceContext, elevation_id: int, *, person: Person) -> ElevationResult:
    """ "Keep until expiry": nothing changes; the answer to the reminder is recorded."""
    managed = _managed(ctx, elevation_id, person)
    if isinstance(managed, ElevationResult):
        return managed
    elevation, _ = managed
    with session_scope(ctx.engine) as session:
        audit(
            session,
            elevation,
            AuditKind.ELEVATION_KEPT,
            actor=person.slack_id,
            at=ctx.clock.now(),
            expires_at=elevation.expires_at.isoformat(),
        )
    return ElevationResult(outcome=ElevationOutcome.KEPT, elevation=elevation)
