"""Tables. Kept apart from the domain's input and output models, which live in `domain/`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime


class AccessRequest(SQLModel, table=True):
    """What someone asked for, who decided, and where its approval card is."""

    __tablename__ = "access_request"

    id: int | None = Field(default=None, primary_key=True)
    verb: str  # add | update | remove
    status: str = Field(index=True)
    requester_id: str
    requester_email: str | None = None
    target_email: str = Field(index=True)
    target_slack_id: str | None = None
    reason: str
    ticket: str | None = None
    command_text: str = ""
    # A temporary grant: either a span that starts when the change is applied, or a fixed end.
    duration_seconds: int | None = None
    until_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deny_reason: str | None = None
    card_channel: str | None = None
    card_ts: str | None = None
    # What the policy asked of this request when it was made (domain.policy.Requirements), kept so that a later
    # change of the config does not change what an open request needs.
    requirements: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    break_glass: bool = Field(default=False, index=True)
    # A removal for a security reason (`now`, or a security word in its reason): no steps before it hold it back.
    security: bool = False
    # An undecided request: when the approvers are reminded, and when it expires.
    remind_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class Approval(SQLModel, table=True):
    """One person's approval of a request. The key makes a second approval by the same person impossible."""

    __tablename__ = "approval"

    request_id: int = Field(
        sa_column=Column(Integer, ForeignKey("access_request.id"), primary_key=True, nullable=False)
    )
    approver_id: str = Field(primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)


class PlatformChange(SQLModel, table=True):
    """One platform's part of a request, with its own progress, snapshots and error."""

    __tablename__ = "platform_change"

    id: int | None = Field(default=None, primary_key=True)
    # Set by storage.requests.add_request when the request row gets its id.
    request_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("access_request.id"), index=True, nullable=False)
    )
    platform: str = Field(index=True)
    action: str  # grant | remove
    grant: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # domain.access.AccessChange
    method: str | None = None  # domain.access.RemovalMethod, for removals
    status: str = Field(index=True)
    attempts: int = 0
    # What the approval card showed, what the platform had just before the first attempt (the revert target),
    # what the bot asked for, and what the platform reported afterwards.
    access_at_request: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    desired: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # For an `extend` change: the grant whose end it moves.
    grant_id: int | None = None
    # Set when the change is queued for its account, which applies queued changes one at a time, in order.
    account_id: int | None = Field(default=None, index=True)
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    manual_steps: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # What the platform wanted the approver to know (granting Admin...), shown on the card.
    warnings: list[str] = Field(default_factory=list, sa_type=JSON)
    responses: list[str] = Field(default_factory=list, sa_type=JSON)
    error: str | None = None
    error_kind: str | None = None
    # The platform asked to wait (a Retry-After longer than one call may wait): the change is tried again then.
    retry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PlatformAccount(SQLModel, table=True):
    """One person's account on one platform, as the grant ledger knows it (domain.ledger): the baseline, what the bot
    last verified there, the plans it has not verified yet, and the claim that lets one worker at a time change it.

    Every change to the account is made under a claim: `fence` goes up by one with each claim, and a worker records
    an outcome only while the fence is still the one it claimed with, so a worker whose lease ran out (it hung, or
    was presumed dead) can never record over the one that took its place.
    """

    __tablename__ = "platform_account"
    __table_args__ = (UniqueConstraint("platform", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    email: str = Field(index=True)
    # What the account had before the bot first changed it, or what a change outside the bot or a removal left
    # (domain AccessState); None until the bot first reads it.
    baseline: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    baseline_source: str | None = None
    # What the bot last verified on the platform (domain AccessState).
    expected: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Desired states planned since `expected` and not verified yet: values the platform may show because of the bot
    # (a change that failed part-way, a worker killed mid-call), which are therefore not drift.
    plans: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    next_seq: int = 0  # the sequence number the next grant planned on this account gets
    fence: int = 0
    claimed_by: str | None = Field(default=None, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the account next needs reconciling: a grant's end, or a retry after a failure.
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    attempts: int = 0  # reconciles that failed since the last one that verified
    last_error: str | None = None
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PlatformClaim(SQLModel, table=True):
    """A platform-wide claim, held while a change that moves the count of organisation admins is checked against the
    guard rails and applied, so that two such changes are never counted against the same number."""

    __tablename__ = "platform_claim"

    platform: str = Field(primary_key=True)
    fence: int = 0
    claimed_by: str | None = None
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Grant(SQLModel, table=True):
    """One change the bot made to someone's access for a request (domain.ledger): the parts it covers and their
    values, when it started and ends (never, for a permanent grant), and its state. What a person holds is the
    baseline overlaid by their live grants; a temporary grant (an elevation) ends by itself."""

    __tablename__ = "access_grant"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("platform_account.id"), index=True, nullable=False))
    platform: str = Field(index=True)
    email: str = Field(index=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("access_request.id"), index=True, nullable=False))
    change_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("platform_change.id")))
    seq: int  # the order grants were planned in on their account: of two covering one part, the later one wins
    parts: dict[str, Any] = Field(sa_type=JSON)  # part -> value
    before: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # each part's value when it was planned
    state: str = Field(index=True)  # domain.ledger.GrantState
    permanent: bool = True
    # A temporary grant lasts this long from when it is applied, or until a fixed time.
    span_seconds: int | None = None
    until_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    planned_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    remind_at: list[str] = Field(default_factory=list, sa_type=JSON)  # ISO times, all planned reminders
    next_remind_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    reminders_sent: int = 0
    # The answer to the newest reminder (keep, or revoke): one per reminder, whichever button was pressed first.
    answered_round: int = 0
    answer: str | None = None
    answered_by: str | None = None
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_by: str | None = None
    end_reason: str | None = None  # domain.ledger.EndReason
    # How it ended: the parts that went back and to what, those another grant kept, drift found on the way.
    outcome: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ManualTask(SQLModel, table=True):
    """Something an admin has to do by hand (no API can), tracked until someone says it is done and how."""

    __tablename__ = "manual_task"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("access_request.id"), index=True, nullable=False))
    change_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("platform_change.id")))
    platform: str | None = None
    target_email: str
    kind: str  # storage.tasks.TaskKind
    title: str
    instructions: str
    step: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # domain.access.AccessStep, for platform steps
    status: str = Field(index=True)  # open | done | skipped
    created_at: datetime = Field(sa_type=UTCDateTime)
    remind_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # When it must be done by: for an invitation, when the platform's invitation expires.
    due_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the bot last asked the platform whether it is done (an invitation accepted).
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminders_sent: int = 0
    done_by: str | None = None
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    evidence: str | None = None


class ManualLedger(SQLModel, table=True):
    """What admins recorded doing by hand on a platform with no API for it: the bot's only source for that part."""

    __tablename__ = "manual_ledger"

    platform: str = Field(primary_key=True)
    email: str = Field(primary_key=True)
    field: str = Field(primary_key=True)  # account_role, or scope:<name>
    value: str
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    recorded_by: str


class AuditEvent(SQLModel, table=True):
    """One thing that happened. Rows are only ever inserted; storage has no function that edits or deletes them.

    The rows form hash chains (storage.audit): each carries its place in its chain and the hash of the one before,
    so an edited or deleted row breaks the chain where it was. The id is only the row's name in the table; nothing
    reads the trail in id order.
    """

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_audit_event_chain_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: int = 1  # which of the trail's chains (storage.audit.CHAINS) the event is in
    seq: int  # 1, 2, 3... in its chain, with no gaps
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    event: str
    actor: str  # a Slack user id, or "accessbot" for what the bot did by itself
    request_id: int | None = Field(default=None, index=True)
    platform: str | None = None
    target_email: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    prev_hash: str
    hash: str

    @property
    def place(self) -> str:
        """Where the event is in the trail, as people read it: chain.seq."""
        return f"{self.chain}.{self.seq}"


class AuditHead(SQLModel, table=True):
    """The newest link of one audit chain; one row per chain, whose id is the chain. Appending locks it, which keeps
    the chain in one line however many bot processes write; and it shows when the newest events were deleted, which
    no link after them can."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = 0
    hash: str


class AccessReview(SQLModel, table=True):
    """One access review: everyone with access on each platform at one moment, for the approvers to confirm."""

    __tablename__ = "access_review"

    id: int | None = Field(default=None, primary_key=True)
    # The schedule's fire time this review answers; unique, so that of several bot processes one posts it.
    # None for a review someone started by hand.
    scheduled_for: datetime | None = Field(default=None, sa_type=UTCDateTime, unique=True)
    started_at: datetime = Field(sa_type=UTCDateTime)
    started_by: str
    # The platforms reviewed: name -> {"reports_activity": bool}.
    platforms: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # Platforms whose members could not be listed, with the reason.
    errors: dict[str, str] = Field(default_factory=dict, sa_type=JSON)


class ReviewItem(SQLModel, table=True):
    """One person's access on one platform in a review, and what an approver decided about it."""

    __tablename__ = "review_item"

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(sa_column=Column(Integer, ForeignKey("access_review.id"), index=True, nullable=False))
    platform: str
    email: str
    access: dict[str, Any] = Field(sa_type=JSON)  # domain AccessState
    last_active: datetime | None = Field(default=None, sa_type=UTCDateTime)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)  # domain.review.Finding
    decision: str | None = None  # keep | removing | remove
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    request_id: int | None = None  # the removal request a Remove opened
    message_channel: str | None = None
    message_ts: str | None = None


class SlackOutbox(SQLModel, table=True):
    """A Slack Web API call that could not be made when Slack was unreachable, kept until it can.

    Delivered in order; of several pending redraws of one message only the newest is sent.
    """

    __tablename__ = "slack_outbox"

    id: int | None = Field(default=None, primary_key=True)
    method: str  # chat.postMessage, chat.update
    params: dict[str, Any] = Field(sa_type=JSON)
    status: str = Field(index=True)  # pending | sent | superseded | dropped
    # `now`: delivered in order, before anything else; `background`: redraws that may wait (the cards of many grants
    # ending together), sent once the `now` lane is empty, so they never hold up a new approval card.
    lane: str = Field(default="now", index=True)
    # Pending calls with the same key are one message's redraws: a newer one supersedes the older.
    coalesce_key: str | None = Field(default=None, index=True)
    # An approval card that could not be posted: once it is, its place is stored on the request.
    card_for_request: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    attempts: int = 0
    last_error: str | None = None
    claim_token: str | None = None
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SlackDelivery(SQLModel, table=True):
    """A request Slack delivered, kept for an hour: the same delivery again (a replay inside the signature's five
    minutes, or Slack's own retry of an event) is answered without being processed twice."""

    __tablename__ = "slack_delivery"

    key: str = Field(primary_key=True)  # event:<event_id>, or sig:<the request's signature>
    seen_at: datetime = Field(sa_type=UTCDateTime, index=True)


class HomeViewer(SQLModel, table=True):
    """Someone who opened the bot's App Home: their Home is published again when something in it changes."""

    __tablename__ = "home_viewer"

    user_id: str = Field(primary_key=True)  # Slack user id
    opened_at: datetime = Field(sa_type=UTCDateTime)


class BotState(SQLModel, table=True):
    """Small facts the bot keeps about itself across restarts (since when a schedule runs...)."""

    __tablename__ = "bot_state"

    key: str = Field(primary_key=True)
    value: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class RateBucket(SQLModel, table=True):
    """A platform host's rate limit, as a token bucket every process and instance on the database shares."""

    __tablename__ = "rate_bucket"

    key: str = Field(primary_key=True)  # the host
    tokens: float
    updated_at: datetime = Field(sa_type=UTCDateTime)
    version: int = 0  # moved on by each taker: of two taking together, one updates and the other looks again


class SandboxMember(SQLModel, table=True):
    """A member of a sandbox platform: the local stand-in for a vendor account."""

    __tablename__ = "sandbox_member"

    platform: str = Field(primary_key=True)
    email: str = Field(primary_key=True)
    account_role: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_active: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SandboxScopeRole(SQLModel, table=True):
    """A sandbox member's role on one project, module or site."""

    __tablename__ = "sandbox_scope_role"

    platform: str = Field(primary_key=True)
    email: str = Field(primary_key=True)
    scope: str = Field(primary_key=True)
    role: str
