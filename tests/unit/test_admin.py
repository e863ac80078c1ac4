"""What the admin commands print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.admin import format_requests
from domain.access import AccessChange, AccessState
from domain.lifecycle import ChangeStatus, RequestStatus
from services.views import ChangeView, RequestView

CREATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def failed_on(platform: str, error: str) -> RequestView:
    change = ChangeView(
        id=1,
        platform=platform,
        platform_label=platform,
        action="grant",
        grant=AccessChange(scopes={"production": "Admin"}),
        status=ChangeStatus.FAILED,
        access_at_request=AccessState(member=True, account_role="Analyst"),
        error=error,
    )
    return RequestView(
        id=7,
        verb="update",
        status=RequestStatus.FAILED,
        requester_id="UALICE",
        target_email="ana@agency.com",
        reason="dashboards",
        created_at=CREATED,
        changes=(change,),
    )


def test_a_failed_change_names_its_platform_once() -> None:
    report = format_requests([failed_on("crm", "crm: HTTP 503 from the platform")], now=CREATED + timedelta(hours=1))
    assert "↳ crm: HTTP 503 from the platform" in report and "crm: crm:" not in report
    other = format_requests([failed_on("crm", "timed out after 30s")], now=CREATED + timedelta(hours=1))
    assert "↳ crm: timed out after 30s" in other
