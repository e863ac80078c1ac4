from __future__ import annotations

import pytest

from domain.lifecycle import (
    ChangeEvent,
    ChangeStatus,
    InvalidTransition,
    RequestEvent,
    RequestStatus,
    next_change_status,
    next_request_status,
    outcome_of,
)

ALLOWED = {
    (RequestStatus.PENDING, RequestEvent.APPROVE): RequestStatus.APPROVED,
    (RequestStatus.PENDING, RequestEvent.DENY): RequestStatus.DENIED,
    (RequestStatus.PENDING, RequestEvent.EXPIRE): RequestStatus.EXPIRED,
    (RequestStatus.PENDING, RequestEvent.CANCEL): RequestStatus.CANCELLED,
    (RequestStatus.APPROVED, RequestEvent.START): RequestStatus.APPLYING,
    (RequestStatus.FAILED, RequestEvent.START): RequestStatus.APPLYING,
    (RequestStatus.APPLYING, RequestEvent.SUCCEED): RequestStatus.APPLIED,
    (RequestStatus.APPLYING, RequestEvent.FAIL): RequestStatus.FAILED,
    (RequestStatus.APPLYING, RequestEvent.WAIT_MANUAL): RequestStatus.AWAITING_MANUAL,
    (RequestStatus.AWAITING_MANUAL, RequestEvent.SUCCEED): RequestStatus.APPLIED,
    (RequestStatus.AWAITING_MANUAL, RequestEvent.FAIL): RequestStatus.FAILED,
}


@pytest.mark.parametrize("status", list(RequestStatus))
@pytest.mark.parametrize("event", list(RequestEvent))
def test_every_request_transition_is_either_listed_or_refused(status: RequestStatus, event: RequestEvent) -> None:
    if (status, event) in ALLOWED:
        assert next_request_status(status, event) is ALLOWED[(status, event)]
    else:
        with pytest.raises(InvalidTransition):
            next_request_status(status, event)


def test_a_decided_request_can_never_be_decided_again() -> None:
    for status in RequestStatus:
        if status is RequestStatus.PENDING:
            continue
        for event in (RequestEvent.APPROVE, RequestEvent.DENY):
            with pytest.raises(InvalidTransition):
                next_request_status(status, event)


def test_a_change_is_retried_from_failed_but_never_reapplied_once_applied() -> None:
    assert next_change_status(ChangeStatus.FAILED, ChangeEvent.QUEUE) is ChangeStatus.QUEUED
    assert next_change_status(ChangeStatus.QUEUED, ChangeEvent.START) is ChangeStatus.APPLYING
    for done in (ChangeStatus.APPLIED, ChangeStatus.APPLYING, ChangeStatus.QUEUED):
        with pytest.raises(InvalidTransition):
            next_change_status(done, ChangeEvent.QUEUE)
    with pytest.raises(InvalidTransition):
        next_change_status(ChangeStatus.APPLIED, ChangeEvent.START)
    with pytest.raises(InvalidTransition):
        next_change_status(ChangeStatus.APPLYING, ChangeEvent.START)


def test_a_run_succeeds_only_when_every_change_applied() -> None:
    assert outcome_of([ChangeStatus.APPLIED, ChangeStatus.APPLIED]) is RequestEvent.SUCCEED
    assert outcome_of([ChangeStatus.APPLIED, ChangeStatus.FAILED]) is RequestEvent.FAIL
    assert outcome_of([ChangeStatus.APPLIED, ChangeStatus.AWAITING_MANUAL]) is RequestEvent.WAIT_MANUAL
    assert outcome_of([ChangeStatus.AWAITING_MANUAL, ChangeStatus.FAILED]) is RequestEvent.FAIL
    # A change still queued behind another on its account, or being applied: the request is not done either way.
    assert outcome_of([ChangeStatus.FAILED, ChangeStatus.QUEUED]) is None
    assert outcome_of([ChangeStatus.APPLIED, ChangeStatus.APPLYING]) is None
