"""One pacing policy for the Capsule API, shared by every caller of it in the process.

Capsule allows 4,000 calls per user per hour (docs/api-facts.md#capsule-rate-limits) and says so on
every answer:
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (UTC epoch seconds).
Over the limit it answers 429 **without** ``Retry-After``; the only correct wait is "until
X-RateLimit-Reset", and hammering it can get the app blocked.

``CapsulePacer`` is a plain class (no HTTP library, no dagster): the extractor uses it through a
``requests`` session (pipelines/capsule/helpers.py, ``PacedSession``), the write-back and the polling
sensor through the httpx ``CapsuleClient`` (capsule_xero/capsule/client.py), all through the same
``call`` method. One pacer per Capsule user (API URL + token) per process, from ``shared_pacer``: the
limit is per user, so all callers must draw on one budget.

The policy:

- before every call: if the server said nothing is left in the current window, or this process
  made 4,000 calls in the last 60 minutes (a hard cap of our own, for when headers are missing),
  wait for the window to reset when that is at most ``max_wait`` seconds away (default 5 min);
  otherwise stop with ``CapsuleRateLimitReached``, whose message says when to run again. A run
  that stops saves nothing, so the next run continues from the cursors of the last successful one.
- 429: wait until ``X-RateLimit-Reset`` (same rule: short waits are waited, long ones stop), retry.
- 5xx, timeouts, dropped connections: retry with exponential backoff and jitter (stamina), a
  bounded number of times, then ``CapsuleUnavailable``.
- any other 4xx: never retried; ``CapsuleRequestRejected`` names what to fix.
- non-idempotent calls (a POST that creates something) are not retried after a timeout, a drop
  or a 5xx, because the write may have landed; a 429 is retried (Capsule refused it unprocessed).

Nothing here ever sees the token except ``shared_pacer``, which only keeps a hash of it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import stamina
from pydantic import SecretStr

from capsule_xero.capsule.errors import CapsuleRateLimitReached, CapsuleUnavailable

log = logging.getLogger(__name__)

# Sent again after a timeout, a drop or a 5xx without being asked. Not PUT: Capsule merges nested
# arrays, so a repeated PUT that adds a phone number adds it twice (docs/api-facts.md#capsule-writing);
# a caller that knows its PUT sets a value says so per call.
RETRY_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOURLY_LIMIT = 4000  # per user per hour (docs/api-facts.md#capsule-rate-limits)
HOUR = 3600.0
DEFAULT_MAX_WAIT = 300.0  # wait for a reset at most this long; beyond it, stop and say when
RESET_MARGIN = 1.0  # seconds added to X-RateLimit-Reset: it has whole-second resolution

R = TypeVar("R")


# ---- internal retry signals -----------------------------------------------------------------------
class _RetryNow(Exception):
    """A 429 whose reset we already waited for: retry without further backoff."""


class _ServerError(Exception):
    def __init__(self, status: int, reason: str, what: str = "") -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status} {reason}".strip() + (f" from {what}" if what else ""))


class _Response(Protocol):
    """What ``call`` needs from a response: requests and httpx responses both fit."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Timeouts and dropped or refused connections, for requests and (when installed) httpx."""
    import requests

    errors: list[type[BaseException]] = [
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
    ]
    try:
        import httpx

        errors.append(httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx is a project dependency
        pass
    return tuple(errors)


@dataclass(frozen=True)
class Budget:
    """What the last answer said about the hourly window (None: not known yet)."""

    limit: int | None
    remaining: int | None
    reset_at: float | None  # UTC epoch seconds


class CapsulePacer:
    """The pacing and retry policy for one Capsule user. Thread-safe; share it (``shared_pacer``)."""

    def __init__(
        self,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        hourly_cap: int = HOURLY_LIMIT,
        attempts: int = 8,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        backoff_jitter: float = 1.0,
        reset_margin: float = RESET_MARGIN,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_wait = max_wait
        self.hourly_cap = hourly_cap
        self.attempts = attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.backoff_jitter = backoff_jitter
        self.reset_margin = reset_margin
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()  # when each call of the last hour was sent (this process)
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self.calls = 0  # every request sent, retries included
        self.retries = 0
        self.waited = 0.0  # seconds spent waiting for a rate-limit window

    # ---- what the server told us ----------------------------------------------------------------
    @property
    def budget(self) -> Budget:
        with self._lock:
            return Budget(self._limit, self._remaining, self._reset_at)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Record the X-RateLimit-* headers of an answer (any status)."""
        limit = _int_header(headers, "X-RateLimit-Limit")
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        reset = _int_header(headers, "X-RateLimit-Reset")
        with self._lock:
            if limit is not None:
                self._limit = limit
            if reset is not None:
                self._reset_at = float(reset)
            if remaining is not None:
                self._remaining = remaining
            if status == 429 and remaining is None:
                self._remaining = 0

    # ---- before a call ----------------------------------------------------------------------------
    def _blocked_until(self, now: float) -> float | None:
        """When the next call may go out, or None for now. Called with the lock held."""
        if self._reset_at is not None and now >= self._reset_at:
            self._remaining = None  # a new window: the next answer tells us the new budget
        blocked: float | None = None
        if self._remaining is not None and self._remaining <= 0 and self._reset_at is not None:
            blocked = self._reset_at
        while self._sent and self._sent[0] <= now - HOUR:
            self._sent.popleft()
        if len(self._sent) >= self.hourly_cap:
            blocked = max(blocked or 0.0, self._sent[0] + HOUR)
        return blocked

    def acquire(self) -> None:
        """Take one call from the budget: returns at once, after a short wait, or raises
        ``CapsuleRateLimitReached`` when the window resets more than ``max_wait`` from now."""
        while True:
            with self._lock:
                now = self.clock()
                blocked = self._blocked_until(now)
                if blocked is None:
                    self._sent.append(now)
                    if self._remaining is not None:
                        self._remaining -= 1  # other threads see the call before its answer does
                    self.calls += 1
                    return
                limit = self._limit or self.hourly_cap
            self._wait_or_stop(blocked, now, limit)

    def _wait_or_stop(self, until: float, now: float, limit: int) -> None:
        """Sleep until ``until`` (plus the margin) when that is close enough, else stop."""
        wait = until + self.reset_margin - now
        resume_at = datetime.fromtimestamp(until, UTC)
        if wait > self.max_wait:
            raise CapsuleRateLimitReached(resume_at, limit, wait)
        log.warning(
            "Capsule API limit reached (%s calls per hour); waiting %.0f s for the window to reset at %s UTC",
            f"{limit:,}",
            wait,
            f"{resume_at:%H:%M:%S}",
        )
        self.waited += max(0.0, wait)
        self.sleep(max(0.0, wait))

    # ---- one call, retried by the policy ------------------------------------------------------------
    def call(self, perform: Callable[[], R], *, idempotent: bool, what: str = "request") -> R:
        """Send ``perform()`` (which returns a response with ``status_code`` and ``headers``) under
        the policy. Returns the final response: 2xx, or a 4xx (not 429) for the caller to report."""
        transient = _transient_errors()
        last: BaseException | None = None
        made = 0

        def backoff(exc: Exception) -> bool | float:
            if isinstance(exc, _RetryNow):
                return 0.0  # the wait for the reset has already happened
            if isinstance(exc, (_ServerError, *transient)):
                return idempotent
            return False

        try:
            for attempt in stamina.retry_context(
                on=backoff,
                attempts=self.attempts,
                timeout=None,
                wait_initial=self.backoff_initial,
                wait_max=self.backoff_max,
                wait_jitter=self.backoff_jitter,
            ):
                with attempt:
                    if attempt.num > 1:
                        self.retries += 1
                    made = attempt.num
                    self.acquire()
                    try:
                        response: Any = perform()
                    except transient as exc:
                        last = exc
                        raise
                    status = int(response.status_code)
                    self.observe(status, response.headers)
                    if status == 429:
                        last = _ServerError(429, "rate limit reached", what)
                        self._wait_for_reset(what)
                        raise _RetryNow(what)
                    if status >= 500:
                        last = _ServerError(status, getattr(response, "reason", "") or "", what)
                        raise last
                    return response  # type: ignore[no-any-return]
        except (_RetryNow, _ServerError, *transient) as exc:
            cause = last or exc
            tries = f"after {made} attempts" if made > 1 else "(not retried: it may have been applied)"
            raise CapsuleUnavailable(
                f"Capsule did not answer {what} {tries} (last: {_describe(cause)}). "
                "Capsule may be down or the network unreliable: try again later."
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_for_reset(self, what: str) -> None:
        """After a 429: wait for X-RateLimit-Reset when it is close, else stop."""
        with self._lock:
            now = self.clock()
            reset = self._reset_at
            limit = self._limit or self.hourly_cap
            self._remaining = 0
        if reset is None or reset + self.reset_margin <= now:
            # No usable reset (or our clock is ahead of Capsule's): a short pause, then try again.
            until = now + min(self.backoff_max, max(1.0, self.backoff_initial))
            with self._lock:
                self._remaining = None
        else:
            until = reset
        self._wait_or_stop(until, now, limit)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _ServerError):
        return f"HTTP {exc.status} {exc.reason}".strip()
    name = type(exc).__name__
    if "Timeout" in name or "timeout" in str(exc).lower():
        return f"no answer within the timeout ({name})"
    return f"connection failed ({name})"


# ---- one pacer per Capsule user per process ---------------------------------------------------------
_SHARED: dict[str, CapsulePacer] = {}
_SHARED_LOCK = threading.Lock()


def shared_pacer(api_url: str, token: Any, **options: Any) -> CapsulePacer:
    """The process-wide pacer for the Capsule user behind ``token`` (a ``SecretStr`` or str).

    Keyed by a hash of URL and token (the token itself is not kept). ``options`` apply only when
    the pacer is created."""
    raw = token.get_secret_value() if isinstance(token, SecretStr) else str(token)
    key = hashlib.sha256(f"{api_url.rstrip('/')}\0{raw}".encode()).hexdigest()
    with _SHARED_LOCK:
        pacer = _SHARED.get(key)
        if pacer is None:
            pacer = _SHARED[key] = CapsulePacer(**options)
        return pacer
