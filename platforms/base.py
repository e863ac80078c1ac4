"""The contract every platform client keeps. No Slack here: platforms know people by email only.

Operations are expressed as desired state and are idempotent: `apply(email, desired)` makes the member's access
equal `desired`, whatever it was before, so a retry after a failure or a crash converges instead of doubling a change.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from domain.access import AccessState, AccessStep, RemovalMethod, diff, removed_state
from domain.catalog import RoleCatalog
from domain.offboarding import GENERIC_CHECKLIST, FollowUp, NoticeTemplate
from domain.policy import PlatformPolicy

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

R = TypeVar("R")


@dataclass(frozen=True)
class PlatformContext:
    """What clients may need from the composition root: the database (manual records, the rate limits every process
    shares) and the bot's clock."""

    engine: Engine
    now: Callable[[], datetime]


#: The time.monotonic() by which the platform operation under way must end (Platform.operation), if one is under way.
OPERATION_DEADLINE: ContextVar[float | None] = ContextVar("operation_deadline", default=None)


class PlatformSettings(PlatformPolicy):
    """Settings every platform has; each client module extends it with its own `type` and credentials."""

    type: str
    label: str | None = None
    # What `/access remove <who> <platform>` does when the command names no method.
    removal_method: RemovalMethod = RemovalMethod.DELETE
    # The follow-up tasks opened after a removal; empty keeps the platform type's own list.
    removal_checklist: tuple[FollowUp, ...] = ()
    # The product's name in the notice to the collaborator's organisation (default: the platform type's).
    notice_product: str | None = None
    # How many calls to the platform the bot makes at once, its bulkhead: a batch of reverts, and the requests' work.
    # More wait for a slot, or fail at once (and are tried again later) while the platform stalls. Its rate limit
    # still applies.
    concurrency: int = Field(default=4, ge=1, le=64)

    def catalog(self) -> RoleCatalog:
        """The roles and scopes this platform offers, as configured."""
        raise NotImplementedError(f"{type(self).__name__} does not describe its roles")


class ApplyResult(BaseModel):
    """What a client did, and what it could not do by API and left to an admin."""

    model_config = ConfigDict(frozen=True)

    applied: tuple[AccessStep, ...] = ()
    manual: tuple[AccessStep, ...] = ()
    # Short records of what the platform answered, kept as evidence (never secrets).
    responses: tuple[str, ...] = ()


class MemberRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    access: AccessState
    last_active: datetime | None = None
    # Why the platform's record could not be read (it was skipped); the access shown then is not known.
    problem: str | None = None


class Capability(BaseModel):
    """Something the config needs the platform to do, and how sure the check is that it can."""

    model_config = ConfigDict(frozen=True)

    name: str
    # proven: tried, and it worked; assumed: the server says so (or nothing says otherwise), untried; missing: it
    # cannot, and `fix` says what to change.
    status: Literal["proven", "assumed", "missing"]
    detail: str = ""
    fix: str = ""


class PlatformCheck(BaseModel):
    """What `accessbot platforms check` found for one platform."""

    platform: str
    ok: bool
    summary: str
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    capabilities: list[Capability] = Field(default_factory=list)


class PlatformError(Exception):
    """A platform call failed. `retryable` says whether trying again later may succeed."""

    retryable = True
    kind: Literal[
        "auth", "not_found", "conflict", "rate_limited", "throttled", "unavailable", "refused", "unsupported"
    ] = "unavailable"

    def __init__(self, platform: str, message: str) -> None:
        super().__init__(f"{platform}: {message}")
        self.platform = platform
        self.message = message
        # The HTTP status and SCIM error type the platform answered with, where it answered.
        self.status: int | None = None
        self.scim_type: str | None = None
        # For a change of several steps that failed part-way: what was done, and what was not.
        self.applied: tuple[AccessStep, ...] = ()
        self.pending: tuple[AccessStep, ...] = ()

    def extend(self, note: str) -> PlatformError:
        """Add context to the message (how many attempts were made...)."""
        self.message = f"{self.message} ({note})"
        self.args = (f"{self.platform}: {self.message}",)
        return self


class PlatformAuthError(PlatformError):
    retryable = False
    kind = "auth"


class MemberNotFound(PlatformError):
    retryable = False
    kind = "not_found"


class PlatformConflict(PlatformError):
    """A 409 the client could not resolve (it resolves an account that exists already by reusing it)."""

    retryable = False
    kind = "conflict"


class RateLimited(PlatformError):
    kind = "rate_limited"

    def __init__(self, platform: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(platform, message)
        self.retry_after = retry_after


class Throttled(PlatformError):
    """The bot's own rate limit for the platform (shared by every process on one database) has no room before the
    call's time runs out: it waits its turn, `retry_after` seconds from now."""

    kind = "throttled"

    def __init__(self, platform: str, message: str, retry_after: float) -> None:
        super().__init__(platform, message)
        self.retry_after: float | None = retry_after


class PlatformUnavailable(PlatformError):
    kind = "unavailable"


class PlatformUnsupported(PlatformError):
    """The platform does not do what was asked (HTTP 501, a filter it refuses): retrying cannot help; the message
    says what it lacks."""

    retryable = False
    kind = "unsupported"


class UnexpectedAnswer(PlatformError):
    """The platform answered with something that is not its API's JSON (a login page at a wrong base_url)."""

    retryable = False
    kind = "refused"


class PlatformRefused(PlatformError):
    """The platform (or a guard rail in its client) will not make this change; retrying will not help."""

    retryable = False
    kind = "refused"


class Platform(ABC):
    """One configured platform instance (`heap`, `chartbeat-eu`, `sandbox`...)."""

    #: What is left to do by hand after removing someone, from the platform's removal procedure.
    removal_checklist: tuple[FollowUp, ...] = GENERIC_CHECKLIST
    #: Whether `list_members` says when each member was last active (access reviews flag dormant accounts by it).
    reports_activity: bool = False
    #: How many calls to this platform a batch makes at once: a bulkhead, so that a slow platform holds up only its
    #: own work. The registry sets it from `platforms.<name>.concurrency`.
    concurrency: int = 4
    #: Where the platform invites a new member by email and their account counts only once they accept: how many
    #: days the invitation lasts. None: an account is usable as soon as it exists (SCIM driven by an IdP).
    invitation_days: int | None = None
    #: Whether `invitation_accepted` can say (else an admin confirms that an invitation was accepted).
    reports_invitations: bool = False
    #: How long one operation (a read of someone's access, a change) may take in all, over all its calls, retries and
    #: waits; None where the client makes no calls of its own.
    operation_seconds: float | None = None
    #: Rounds of `concurrency` calls one chunk of a batch of reverts takes (see `chunk`).
    CHUNK_ROUNDS = 8

    def __init__(self, name: str, catalog: RoleCatalog) -> None:
        self.name = name
        self.catalog = catalog
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @abstractmethod
    def get_access(self, email: str) -> AccessState:
        """The member's access now; `AccessState.absent()` when they are not a member."""

    @abstractmethod
    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        """Make the member's access equal `desired` (creating or deleting the member as needed)."""

    @abstractmethod
    def list_members(self) -> list[MemberRecord]:
        """Everyone with an account, for reviews and exports."""

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One deadline for the calls made inside: a read of someone's access, or a change, however many calls,
        retries and waits it takes, ends within `operation_seconds` (an operation inside another keeps the
        earlier deadline)."""
        if self.operation_seconds is None:
            yield
            return
        deadline = time.monotonic() + self.operation_seconds
        outer = OPERATION_DEADLINE.get()
        token = OPERATION_DEADLINE.set(deadline if outer is None else min(outer, deadline))
        try:
            yield
        finally:
            OPERATION_DEADLINE.reset(token)

    @property
    def degraded(self) -> bool:
        """Its calls pass their deadline, or it holds every slot of its bulkhead without answering."""
        return False

    def invitation_accepted(self, email: str) -> bool | None:
        """Whether `email` has accepted their invitation, by the platform's own signal; None where the platform cannot
        say (then an admin confirms it)."""
        return None

    def resend_instructions(self, email: str) -> str:
        """Where, in the platform's own UI, an admin re-sends `email`'s invitation (no platform here has an API for
        it)."""
        return f"Re-send {email}'s invitation from {self.name}'s own admin pages."

    @property
    def chunk(self) -> int | None:
        """How many accounts of a batch of reverts are read, applied and recorded together: a few rounds of the
        bulkhead, so that the first revert of a batch reaches the platform after a few calls rather than after the
        whole batch has been read. None: the whole batch at once (a platform that answers without calls)."""
        return self.concurrency * self.CHUNK_ROUNDS

    def read_many(self, emails: Sequence[str]) -> dict[str, AccessState | PlatformError]:
        """Several members' access now, each as `get_access` would answer (or fail). Clients that can read many in
        one call override it; this asks for each, `concurrency` at a time."""
        return self._each(emails, self.get_access)

    def apply_many(self, desired: Mapping[str, AccessState]) -> dict[str, ApplyResult | PlatformError]:
        """Make several members' access equal what `desired` says for each, each as `apply` would (or fail)."""
        return self._each(list(desired), lambda email: self.apply(email, desired[email]))

    def _each(self, emails: Sequence[str], call: Callable[[str], R]) -> dict[str, R | PlatformError]:
        def one(email: str) -> R | PlatformError:
            try:
                return call(email)
            except PlatformError as error:
                return error

        if len(emails) <= 1 or self.concurrency <= 1:
            return {email: one(email) for email in emails}
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix=f"platform-{self.name}"
                )
            pool = self._pool
        return dict(zip(emails, pool.map(one, emails), strict=True))

    def plan(self, email: str, desired: AccessState) -> list[AccessStep]:
        """The steps `apply` would take, without changing anything."""
        return diff(self.get_access(email), desired)

    def remove(self, email: str, method: RemovalMethod) -> ApplyResult:
        return self.apply(email, removed_state(method, self.get_access(email), self.catalog))

    def prove_writes(self, probe: str) -> list[Capability]:
        """`platforms check --write`: make and undo changes on a dedicated probe account (`probe`, an address
        nobody uses) to prove the write path, leaving nothing behind. Platforms without a write API have nothing to
        prove."""
        return [Capability(name="write path", status="assumed", detail=f"{self.name} has no write probe")]

    def check(self) -> PlatformCheck:
        """Are the credentials good and is the platform reachable and set up as configured? Never raises."""
        try:
            members = len(self.list_members())
        except PlatformError as error:
            return PlatformCheck(platform=self.name, ok=False, summary=error.message)
        return PlatformCheck(platform=self.name, ok=True, summary=f"reachable; {members} members")

    def warnings(self, current: AccessState, desired: AccessState) -> list[str]:
        """What an approver should know before approving this change (shown on the card)."""
        return []

    def notice_template(self) -> NoticeTemplate:
        """The wording of the notice to the removed person's organisation."""
        return NoticeTemplate(product=self.name, reach=f"{self.name} data")

    def record_manual(self, email: str, step: AccessStep, *, actor: str) -> None:
        """An admin did a manual step `apply` returned; platforms that return manual steps remember it here."""
        raise PlatformRefused(self.name, "this platform has no manual steps")

    def close(self) -> None:
        """Release connections and threads; the bot calls it at shutdown. Clients holding more extend it."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None
