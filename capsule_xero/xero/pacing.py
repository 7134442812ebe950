"""One pacing policy for every caller of the Xero API in this process (docs/api-facts.md#xero-rate-limits).

Xero limits each organisation (per app) to 5 calls in flight, 60 calls a minute and 5,000 (or
1,000) a day, and tells how much is left in ``X-MinLimit-Remaining``, ``X-DayLimit-Remaining`` and
``X-AppMinLimit-Remaining`` on every answer. ``XeroPacer`` keeps one organisation inside those
limits for *all* its callers in the process: the dlt extractor (requests) and the reverse-ETL writer
(httpx) share it, because the pacer is looked up by API origin + tenant in a process-wide registry
(``pacer_for`` in capsule_xero/xero/transports.py, with the transports that send through it).

What it does, per organisation:

- at most ``max_concurrent`` calls in flight (a condition variable, not a per-client semaphore);
- at most ``calls_per_minute`` calls in any window of ``minute_seconds``: a call may start only
  when fewer than that many calls are in flight or *finished* within the window. Counting finish
  times (not start times) keeps the promise on Xero's side too, where a call is counted when it
  arrives, somewhere between our start and our finish;
- reads stop before they eat the daily reserve kept for writes: once ``X-DayLimit-Remaining``
  (less the calls in flight) is down to ``daily_reserve``, a read raises ``DailyLimitReached``,
  which says when to continue; writes may use the reserve;
- a 429 honours ``Retry-After`` for every caller of the organisation (not only the one that got it);
  a day-limit 429 raises ``DailyLimitReached`` at once instead of sleeping for hours; when the
  headers say this minute is used up (another process may share it), one call at a time probes;
- 429, 5xx, timeouts and dropped connections are retried with exponential backoff (stamina);
  any other 4xx is returned as it is, never retried.

Given a budget recorder (a budget file, capsule_xero/xero/budget.py), the pacer also records what it
learns of the daily budget: the last ``X-DayLimit-Remaining`` with the time it was seen (at most once
a second), and at once every stop (a day-limit 429, reads stopped at the reserve) and the figure that
lifts it. ``capsule-xero status`` and the alerts check read that file. The pacer's own decisions never
depend on it, and a file that cannot be written never fails a call.

No dagster, no dlt: plain Python, usable from any HTTP client through ``XeroPacer.call``.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import stamina

from capsule_xero.xero.budget import BudgetRecorder, OrganisationBudget, new_window_began
from capsule_xero.xero.errors import DailyLimitReached, XeroUnavailable
from capsule_xero.xero.shared_limits import SharedLimits

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A write without an Idempotency-Key may have been applied when its answer was a 5xx, a timeout or a
# lost connection: resending it can create a duplicate contact. Only a 429 (refused before any
# processing: idempotency runs after rate limiting, docs/api-facts.md#xero-idempotency-keys) is safe
# to resend blindly.
KEYLESS_WRITE_RETRY_STATUSES = frozenset({429})
DAY = timedelta(days=1)


@dataclass(frozen=True)
class PacingPolicy:
    """Xero's published limits, the reserve kept for writes, and how patiently to retry."""

    calls_per_minute: int = 60
    max_concurrent: int = 5
    # Length of Xero's minute window as this process sees it (tests shorten it together with a
    # sped-up sandbox clock; in production it is 60).
    minute_seconds: float = 60.0
    # Calls per day kept for the writer: reads stop when only this many are left.
    daily_reserve: int = 250
    # A day-remaining figure older than this is not trusted to stop reads: the window may have
    # reset since, and one call finds out.
    day_figure_ttl_seconds: float = 15 * 60
    attempts: int = 8  # per call, the first one included
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    backoff_jitter: float = 1.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


class _Retry(Exception):
    """An answer worth another try; ``wait`` is Xero's ``Retry-After`` when it sent one."""

    def __init__(self, status: int, wait: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.wait = wait


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


@dataclass
class PacerStats:
    calls: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers
    waited_seconds: float = 0.0  # time spent waiting for a slot (minute pacing, Retry-After)
    peak_in_flight: int = 0
    day_remaining: int | None = None
    minute_remaining: int | None = None
    app_minute_remaining: int | None = None


@dataclass
class XeroPacer:
    """Keeps one Xero organisation inside its limits for every caller in the process."""

    tenant: str
    policy: PacingPolicy = field(default_factory=PacingPolicy)
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Where what the pacer learns of the daily budget is recorded (None: nowhere).
    budget: BudgetRecorder | None = None
    # The organisation's slots and minute shared with every other process (None: this process only).
    shared: SharedLimits | None = None

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self._finished: deque[float] = deque()
        self._blocked_until = 0.0
        self._day_remaining: int | None = None
        self._day_seen_at = 0.0
        self._day_resume_at: datetime | None = None
        self._minute_left: int | None = None  # the smaller of X-MinLimit- and X-AppMinLimit-Remaining
        # For the budget record: the figure's wall time, calls started since, and the stop recorded
        # (resume_after, exact, figure at the stop) with when it was set or lifted.
        self._day_seen_wall: datetime | None = None
        self._calls_since_figure = 0
        self._stop: tuple[datetime, bool, int] | None = None
        self._stop_changed_at: datetime | None = None
        self.stats = PacerStats()
        if self.budget is not None:
            self.record_budget_in(self.budget)

    # ---- the budget record -------------------------------------------------------------------
    def record_budget_in(self, recorder: BudgetRecorder) -> None:
        """Record the daily budget with ``recorder`` from now on.

        A stop already in the file (another process hit the limit) is carried on, so this process's
        records neither forget it nor restart its clock; the pacer's own decisions do not use it.
        """
        saved = recorder.saved()
        with self._cond:
            self.budget = recorder
            if self._stop is None and saved is not None and saved.stopped(self.wall()):
                assert saved.resume_after is not None
                self._stop = (saved.resume_after, saved.resume_exact, saved.stop_remaining or 0)
                self._stop_changed_at = saved.stop_changed_at

    def _budget_entry(self) -> OrganisationBudget | None:
        """The budget as this pacer knows it (called holding ``_cond``)."""
        if self.budget is None:
            return None
        resume_after, exact, remaining = self._stop or (None, False, None)
        return OrganisationBudget(
            api=self.budget.api,
            tenant=self.budget.tenant,
            day_remaining=self._day_remaining,
            seen_at=self._day_seen_wall if self._day_remaining is not None else None,
            calls_since=self._calls_since_figure,
            reserve=self.policy.daily_reserve,
            resume_after=resume_after,
            resume_exact=exact,
            stop_remaining=remaining,
            stop_changed_at=self._stop_changed_at,
            updated_at=self.wall(),
        )

    def _note_stop(self, stop: DailyLimitReached) -> OrganisationBudget | None:
        """Remember a stop for the record (called holding ``_cond``); the entry to write at once, if new."""
        if self.budget is None or self._stop is not None:
            return None
        self._stop = (stop.resume_after, stop.exact, stop.remaining or 0)
        self._stop_changed_at = self.wall()
        return self._budget_entry()

    def day_left(self) -> int | None:
        """Calls left today as far as this pacer knows: Xero's last figure less the calls started since."""
        with self._cond:
            if self._day_remaining is None:
                return None
            return max(0, self._day_remaining - self._calls_since_figure)

    # ---- admission ---------------------------------------------------------------------------
    def _day_stop(self, now: float) -> DailyLimitReached | None:
        if self._day_resume_at is not None:
            if self.wall() < self._day_resume_at:
                return DailyLimitReached(
                    self.tenant, self._day_remaining, self.policy.daily_reserve, self._day_resume_at, True
                )
            self._day_resume_at = None
            self._day_remaining = None
        if self._day_remaining is None or now - self._day_seen_at > self.policy.day_figure_ttl_seconds:
            return None
        if self._day_remaining - self._in_flight > self.policy.daily_reserve:
            return None
        return DailyLimitReached(
            self.tenant, self._day_remaining, self.policy.daily_reserve, self.wall() + DAY, False
        )

    def acquire(self, write: bool = False) -> None:
        """Wait for a slot: concurrency, minute budget, Retry-After; reads also check the reserve."""
        policy = self.policy
        started = self.clock()
        with self._cond:
            while True:
                now = self.clock()
                if not write:
                    stop = self._day_stop(now)
                    if stop is not None:
                        entry = self._note_stop(stop)
                        break
                if now < self._blocked_until:
                    self._cond.wait(self._blocked_until - now)
                    continue
                if self._in_flight >= policy.max_concurrent:
                    self._cond.wait()
                    continue
                if self._minute_left is not None and self._minute_left <= 0 and self._in_flight > 0:
                    # Xero says this minute is used up (by us or another process): one call at a
                    # time goes out to learn the Retry-After, not five that all get a 429.
                    self._cond.wait()
                    continue
                horizon = now - policy.minute_seconds
                while self._finished and self._finished[0] <= horizon:
                    self._finished.popleft()
                if self._in_flight + len(self._finished) >= policy.calls_per_minute:
                    if self._finished:
                        self._cond.wait(max(0.001, self._finished[0] - horizon))
                    else:
                        self._cond.wait()
                    continue
                self._in_flight += 1
                self._calls_since_figure += 1
                self.stats.calls += 1
                self.stats.peak_in_flight = max(self.stats.peak_in_flight, self._in_flight)
                self.stats.waited_seconds += now - started
                return
        if entry is not None and self.budget is not None:
            self.budget.update(entry, urgent=True)
        raise stop

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._finished.append(self.clock())
            self._cond.notify_all()

    # ---- what Xero said ----------------------------------------------------------------------
    def observe(self, status: int, headers: Mapping[str, str]) -> float | None:
        """Take in the limit headers; for a 429 block the organisation and return the wait.

        Raises ``DailyLimitReached`` for a day-limit 429.
        """
        now = self.clock()
        day = _int(headers, "X-DayLimit-Remaining")
        minute = _int(headers, "X-MinLimit-Remaining")
        app = _int(headers, "X-AppMinLimit-Remaining")
        entry: OrganisationBudget | None = None
        urgent = False
        stop: DailyLimitReached | None = None
        wait: float | None = None
        with self._cond:
            if day is not None:
                self._day_remaining, self._day_seen_at = day, now
                self._day_seen_wall, self._calls_since_figure = self.wall(), 0
                self.stats.day_remaining = day
                if status != 429 and self._stop is not None and new_window_began(self._stop[2], day):
                    self._stop, self._stop_changed_at, urgent = None, self._day_seen_wall, True
                entry = self._budget_entry()
            if minute is not None:
                self.stats.minute_remaining = minute
            if app is not None:
                self.stats.app_minute_remaining = app
            known = [v for v in (minute, app) if v is not None]
            if known:
                self._minute_left = min(known)
                self._cond.notify_all()
            if status == 429:
                self.stats.rate_limited += 1
                problem = (headers.get("X-Rate-Limit-Problem") or "").strip().lower()
                wait = retry_after_seconds(headers)
                if problem == "day":
                    self._day_remaining, self._day_seen_at = 0, now
                    self._day_seen_wall, self._calls_since_figure = self.wall(), 0
                    exact = wait is not None
                    self._day_resume_at = self.wall() + (timedelta(seconds=wait) if exact else DAY)
                    stop = DailyLimitReached(
                        self.tenant, 0, self.policy.daily_reserve, self._day_resume_at, exact
                    )
                    self._stop = None  # Xero's refusal (and its Retry-After) replaces any earlier stop
                    entry = self._note_stop(stop)
                    urgent = True
                else:
                    if wait is not None:
                        self._blocked_until = max(self._blocked_until, now + wait)
                        self._cond.notify_all()
                    log.info(
                        "Xero rate limit (%s) for organisation %s: waiting %s s",
                        problem or "unknown",
                        self.tenant or "-",
                        f"{wait:g}" if wait is not None else "a backoff",
                    )
        if entry is not None and self.budget is not None:
            self.budget.update(entry, urgent=urgent)
        if stop is not None:
            raise stop
        return wait

    # ---- the limits shared with other processes ------------------------------------------------
    def _enter_shared(self) -> int | None:
        """Wait for the organisation's slot and minute across processes (after this process's own)."""
        shared, policy = self.shared, self.policy
        if shared is None:
            return None
        started = self.clock()
        try:
            slot = shared.enter(policy.max_concurrent, policy.calls_per_minute, policy.minute_seconds)
        except OSError as exc:  # never fail a Xero call over its bookkeeping: pace this process alone
            log.warning(
                "Could not share Xero's call limits with other processes through %s (%s: %s); "
                "this process keeps to them on its own",
                shared.folder,
                type(exc).__name__,
                exc,
            )
            self.shared = None
            return None
        with self._cond:
            self.stats.waited_seconds += self.clock() - started
        return slot

    def _leave_shared(self, slot: int | None) -> None:
        if slot is not None and self.shared is not None:
            try:
                self.shared.leave(slot)
            except OSError:
                log.warning("Could not record a finished Xero call in %s", self.shared.folder)

    # ---- one call, with retries --------------------------------------------------------------
    def call(
        self,
        send: Callable[[], T],
        *,
        write: bool,
        status: Callable[[T], int],
        headers: Callable[[T], Mapping[str, str]],
        transient: Callable[[Exception], bool],
        what: str = "Xero call",
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> T:
        """``send()`` inside the limits; retried on 429/5xx and on ``transient`` errors.

        Returns the last answer when the retries ran out on an HTTP status (the caller's error
        handling turns it into a message), raises ``XeroUnavailable`` when they ran out on a
        network error, and ``DailyLimitReached`` as soon as the day's budget is gone.
        """
        last: list[T] = []

        def backoff(exc: Exception) -> bool | float:
            if isinstance(exc, _Retry):
                self.stats.retries += 1
                return exc.wait if exc.wait is not None else True
            if isinstance(exc, DailyLimitReached):
                return False
            if transient(exc):
                self.stats.retries += 1
                log.info("%s failed (%s); retrying", what, type(exc).__name__)
                return True
            return False

        policy = self.policy
        try:
            for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=None,
                wait_initial=policy.backoff_initial,
                wait_max=policy.backoff_max,
                wait_jitter=policy.backoff_jitter,
            ):
                with attempt:
                    self.acquire(write)
                    try:
                        slot = self._enter_shared()
                        try:
                            response = send()
                        finally:
                            self._leave_shared(slot)
                    finally:
                        self.release()
                    code = status(response)
                    wait = self.observe(code, headers(response))
                    if code in retry_statuses and wait is None:
                        wait = retry_after_seconds(headers(response))  # e.g. a 503 for maintenance
                    if code in retry_statuses:
                        last[:] = [response]
                        raise _Retry(code, wait)
                    return response
        except _Retry:
            return last[0]
        except DailyLimitReached:
            raise
        except Exception as exc:
            if transient(exc):
                raise XeroUnavailable(
                    f"{what} failed {policy.attempts} times in a row ({type(exc).__name__}); "
                    "Xero or the network is unavailable, try again later."
                ) from exc
            raise
        raise AssertionError("unreachable")  # pragma: no cover
