"""HTTP for platform clients: timeouts, retries with backoff and jitter, Retry-After, rate limits, typed errors.

Every client goes through `PlatformHttp.request`. It retries what may succeed later (429, 5xx, timeouts, dropped
connections), honouring the server's Retry-After (seconds or an HTTP date), and never waits longer in total than the
policy allows; it keeps to the platform's documented request rate; and it turns what is left into the typed errors of
platforms.base, worded for the admin who has to act. Credentials travel in headers only and never appear in a message.
"""

from __future__ import annotations

import email.utils
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from domain.rate_limits import burst
from platforms.base import (
    OPERATION_DEADLINE,
    MemberNotFound,
    PlatformAuthError,
    PlatformConflict,
    PlatformError,
    PlatformRefused,
    PlatformUnavailable,
    PlatformUnsupported,
    RateLimited,
    Throttled,
    UnexpectedAnswer,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

logger = logging.getLogger("accessbot.platforms.http")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryPolicy(BaseModel):
    """How hard a client tries before it reports a platform as unavailable."""

    model_config = ConfigDict(frozen=True)

    timeout_seconds: float = Field(default=15.0, gt=0)
    attempts: int = Field(default=5, ge=1)
    initial_backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    # The most a single call may take in all: connecting, reading (however slowly the answer trickles in), retries
    # and the waits between them, Retry-After included.
    max_total_wait_seconds: float = Field(default=60.0, ge=0)


class _Bucket:
    """What both rate limiters share: wait for a request's worth, or say when there is room again (OverBudget)
    where the wait would pass the caller's budget. Each says how it takes a token (`_take`)."""

    per_minute: float
    _sleep: Callable[[float], None]

    def _take(self) -> float:
        """Take one request's worth: 0.0 when taken, else the seconds until there is one (nothing taken)."""
        raise NotImplementedError

    def acquire(self, budget: float | None = None) -> float:
        """Take one request's worth; returns how long it waited. Raises OverBudget, taking nothing, where the wait
        would pass `budget` seconds."""
        waited = 0.0
        while (pause := self._take()) > 0:
            if budget is not None and waited + pause > budget:
                raise OverBudget(until_refilled(pause, self.per_minute))
            self._sleep(pause)
            waited += pause
        return waited

    def describe(self) -> str:
        return describe_rate(self.per_minute)


class RateLimiter(_Bucket):
    """A token bucket in this process: at most `per_minute` requests in any minute, smoothly, shared by threads."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._capacity = burst(per_minute)
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def _take(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self._rate


class OverBudget(Exception):
    """A rate limit has no room before the caller's time runs out; there is room for an operation again in `wait`
    seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"room again in {wait:.0f} s")
        self.wait = wait


class SharedRateLimiter(_Bucket):
    """A token bucket kept in the database: every process and instance on one database shares one budget per host
    (storage.rate_limits). Same contract as RateLimiter."""

    def __init__(
        self,
        key: str,
        per_minute: float,
        engine: Engine,
        *,
        now: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.per_minute = per_minute
        self._engine = engine
        self._now = now
        self._sleep = sleep

    def _take(self) -> float:
        # Loaded here, by the limiter that uses it: reading the settings does not load the database layer.
        from storage.rate_limits import take_token

        return take_token(self._engine, key=self.key, per_minute=self.per_minute, now=self._now())


def until_refilled(pause: float, per_minute: float) -> float:
    """When a caller that could not wait `pause` for the next request should come back: once a whole burst is there
    again, so that an operation of several calls goes through rather than taking one request's worth at a time."""
    return pause + (burst(per_minute) - 1) / (per_minute / 60.0)


def describe_rate(per_minute: float) -> str:
    """60 requests an hour, 200 requests a minute."""
    if per_minute < 10 and (per_minute * 60).is_integer():
        return f"{per_minute * 60:g} requests an hour"
    return f"{per_minute:g} requests a minute"


_limiters: dict[tuple[str, float], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(host: str, per_minute: float) -> RateLimiter:
    """One limiter per host and rate, so that every client of a host in this process shares its budget."""
    with _limiters_lock:
        return _limiters.setdefault((host, per_minute), RateLimiter(per_minute))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() too, but float() refuses it
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class Bulkhead:
    """At most `slots` calls to one platform at once, so that a platform that stalls ties up a bounded number of the
    bot's threads, and the others stay free for other platforms' work.

    A call that finds every slot taken waits for one while the platform answers. Once every call in flight has run
    longer than `stall_seconds` the platform counts as stalled: a call then fails at once (retryable, so the bot
    tries it again later) instead of queueing a thread behind the stalled ones.
    """

    def __init__(
        self, platform: str, slots: int, stall_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.platform = platform
        self.slots = slots
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._started: dict[int, float] = {}  # each call in flight, by a token, and when it started
        self._tokens = itertools.count()
        self._changed = threading.Condition()

    @contextmanager
    def slot(self, deadline: float) -> Iterator[None]:
        with self._changed:
            while len(self._started) >= self.slots:
                now = self._clock()
                if self._stalled(now):
                    raise PlatformUnavailable(
                        self.platform,
                        f"it is not answering: all {self.slots} calls to it have been running for more than "
                        f"{self.stall_seconds:g} s, so no more are queued behind them (this is tried again later)",
                    )
                if now >= deadline:
                    busy = f"all {self.slots} calls to it stayed busy until the deadline"
                    raise PlatformUnavailable(self.platform, busy)
                # Woken when a call ends, or when the newest call in flight (so every one) would count as stalled.
                newest = max(self._started.values())
                self._changed.wait(timeout=max(0.01, min(deadline, newest + self.stall_seconds) - now))
            token = next(self._tokens)
            self._started[token] = self._clock()
        try:
            yield
        finally:
            with self._changed:
                del self._started[token]
                self._changed.notify()

    @property
    def stalled(self) -> bool:
        """Every slot is taken by a call that has run longer than `stall_seconds`."""
        with self._changed:
            return len(self._started) >= self.slots and self._stalled(self._clock())

    def _stalled(self, now: float) -> bool:
        return all(now - started > self.stall_seconds for started in self._started.values())


class PlatformHttp:
    def __init__(
        self,
        platform: str,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | SharedRateLimiter | None = None,
        auth_hint: str = "check the platform's credentials in the config",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        slots: int = 4,
    ) -> None:
        self.platform = platform
        self.retry = retry or RetryPolicy()
        self.bulkhead = Bulkhead(platform, slots, self.retry.timeout_seconds, clock=clock)
        # When a call last passed its deadline, and when one last answered in time: the platform is degraded while
        # the first is the more recent (GET /healthz says so).
        self._overran: float | None = None
        self._answered: float | None = None
        # Set when the platform asked (Retry-After) to wait longer than one call may: no call goes out until then.
        self._not_before: float | None = None
        self._limiter = limiter
        self._auth_hint = auth_hint
        self._sleep = sleep
        self._clock = clock
        self.base_url = base_url
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            auth=auth,
            headers={"Accept": "application/scim+json, application/json", **(headers or {})},
            timeout=self.retry.timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    @property
    def degraded(self) -> bool:
        """Its calls pass their deadline (the last that ended did), or it holds every slot without answering."""
        overran, answered = self._overran, self._answered
        late = overran is not None and (answered is None or overran > answered)
        return late or self.bulkhead.stalled

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: Iterable[int] = (200, 201, 204),
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request, retrying what may succeed later, all within the policy's total time. Raises a
        PlatformError for everything else."""
        expected = set(ok)
        waited = 0.0
        start = self._clock()
        if self._not_before is not None and start < self._not_before:
            # The platform asked us to wait longer than one call may (Retry-After): no call goes out until then.
            remaining = self._not_before - start
            raise RateLimited(
                self.platform, f"it asked to wait another {remaining:.0f} s before the next call", remaining
            )
        deadline = start + self.retry.max_total_wait_seconds
        operation = OPERATION_DEADLINE.get()
        if operation is not None:
            left = operation - time.monotonic()
            if left <= 0:
                raise PlatformUnavailable(
                    self.platform,
                    f"the operation ran out of time ({self.retry.max_total_wait_seconds:g} s in all) before "
                    f"{method} {path}",
                )
            deadline = min(deadline, start + left)
        last: PlatformError | None = None
        for attempt in range(1, self.retry.attempts + 1):
            if self._limiter is not None:
                try:
                    self._limiter.acquire(budget=max(0.0, deadline - self._clock()))
                except OverBudget as over:
                    raise Throttled(
                        self.platform,
                        f"queued behind its rate limit ({self._limiter.describe()}): {over}",
                        over.wait,
                    ) from None
            timeout = max(0.001, min(self.retry.timeout_seconds, deadline - self._clock()))
            try:
                with self.bulkhead.slot(deadline):
                    response = self._send(
                        method, path, json=json, params=params, headers=headers, timeout=timeout, deadline=deadline
                    )
            except _PastDeadline:
                self._overran = self._clock()
                most = self.retry.max_total_wait_seconds
                limit = (
                    f"{most:g} s, the most one call may take"
                    if deadline - start >= most
                    else f"{deadline - start:.3g} s, when its operation's time ({most:g} s in all) ran out"
                )
                last = PlatformUnavailable(self.platform, f"{method} {path} was still answering after {limit}")
                break
            except httpx.TimeoutException:
                cut = ""
                if timeout < self.retry.timeout_seconds:
                    whole = "operation" if operation is not None else "call, retries included"
                    cut = f", when the time for the whole {whole} ({self.retry.max_total_wait_seconds:g} s) ran out"
                last = PlatformUnavailable(self.platform, f"{method} {path} timed out after {timeout:.3g} s{cut}")
                pause = self._backoff(attempt)
            except httpx.TransportError as error:
                last = PlatformUnavailable(self.platform, f"{method} {path} failed: {type(error).__name__}")
                pause = self._backoff(attempt)
            else:
                self._answered = self._clock()
                if response.status_code in expected:
                    return response
                failure = self._error_for(method, path, response)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
                last = failure
                hinted = retry_after_seconds(response.headers.get("Retry-After"))
                pause = hinted if hinted is not None else self._backoff(attempt)
                if hinted is not None and (waited + hinted > self.retry.max_total_wait_seconds):
                    # Longer than this call may wait: the caller is told when to try again, and until then no
                    # call to the platform goes out.
                    self._not_before = self._clock() + hinted
                    last = RateLimited(self.platform, str(failure.message), hinted)
                    last.status, last.scim_type = failure.status, failure.scim_type
                    break
            if (
                attempt == self.retry.attempts
                or waited + pause > self.retry.max_total_wait_seconds
                or self._clock() + pause >= deadline
            ):
                break
            logger.info(
                "%s: %s; retrying in %.1f s (attempt %d of %d)",
                self.platform,
                last,
                pause,
                attempt + 1,
                self.retry.attempts,
            )
            self._sleep(pause)
            waited += pause
        assert last is not None
        raise last.extend(f"gave up after {attempt} attempt{'s' if attempt > 1 else ''}, {waited:.0f} s of waiting")

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
        timeout: float,
        deadline: float,
    ) -> httpx.Response:
        """One attempt, read as it streams in: an answer that trickles in past the deadline is abandoned (each read
        only waits `timeout`, which a byte every few seconds never trips)."""
        with self._client.stream(
            method, path.lstrip("/"), json=json, params=params, headers=headers, timeout=timeout
        ) as response:
            chunks = []
            for chunk in response.iter_raw():
                chunks.append(chunk)
                if self._clock() > deadline:
                    raise _PastDeadline
            return httpx.Response(
                response.status_code, headers=response.headers, content=b"".join(chunks), request=response.request
            )

    def request_json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: Iterable[int] = (200, 201),
    ) -> dict[str, Any]:
        """`request`, and its body as a JSON object; anything else is an UnexpectedAnswer naming the base URL."""
        response = self.request(method, path, json=json, params=params, ok=ok)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise UnexpectedAnswer(
                self.platform,
                f"{method} {path} answered HTTP {response.status_code} with {kind}, not a JSON object: check "
                f"platforms.{self.platform}.base_url ({self.base_url}); a login page or a proxy answers there, "
                "not the SCIM API",
            )
        return body

    def _backoff(self, attempt: int) -> float:
        delay = min(self.retry.initial_backoff_seconds * 2 ** (attempt - 1), self.retry.max_backoff_seconds)
        return delay * random.uniform(0.5, 1.0)  # "equal jitter" keeps many clients from retrying in step

    def _error_for(self, method: str, path: str, response: httpx.Response) -> PlatformError:
        body = _error_body(response)
        scim_type = body.get("scimType") if isinstance(body.get("scimType"), str) else None
        error = self._typed_error(method, path, response, _detail(body), scim_type)
        error.status, error.scim_type = response.status_code, scim_type
        return error

    def _typed_error(
        self, method: str, path: str, response: httpx.Response, detail: str, scim_type: str | None
    ) -> PlatformError:
        status = response.status_code
        where = f"{method} {path}: HTTP {status}" + (f" ({detail})" if detail else "")
        if status in (401, 403):
            return PlatformAuthError(
                self.platform, f"the platform refused our credentials ({where}); {self._auth_hint}"
            )
        if status == 404:
            return MemberNotFound(self.platform, where)
        if status == 409:
            return PlatformConflict(self.platform, where)
        if status == 429:
            return RateLimited(
                self.platform, f"rate limited ({where})", retry_after_seconds(response.headers.get("Retry-After"))
            )
        if status == 501:
            return PlatformUnsupported(self.platform, f"the platform does not implement this ({where})")
        if status >= 500:
            return PlatformUnavailable(self.platform, where)
        if status == 400 and scim_type == "invalidFilter":
            return PlatformUnsupported(self.platform, f"the platform refuses this filter ({where})")
        return PlatformRefused(self.platform, where)


class _PastDeadline(Exception):
    """An answer was still coming in when the call's time was up."""


def _error_body(response: httpx.Response) -> dict[str, Any]:
    """A SCIM error's body, or nothing when the answer is not a JSON object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(body: dict[str, Any]) -> str:
    """The SCIM error's detail, or nothing: the body may echo what we sent, so only known fields are shown."""
    parts = [str(body[key]) for key in ("scimType", "detail") if body.get(key)]
    return "; ".join(parts)[:300]
