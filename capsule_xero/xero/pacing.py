"""One pacing policy for every caller of the Xero API in this process (FACTS §11).

Xero limits each organisation (per app) to 5 calls in flight, 60 calls a minute and 5,000 (or
1,000) a day, and tells how much is left in ``X-MinLimit-Remaining``, ``X-DayLimit-Remaining`` and
``X-AppMinLimit-Remaining`` on every answer. ``XeroPacer`` keeps one organisation inside those
limits for *all* its callers in the process: the dlt extractor (requests, through
``PacedHTTPAdapter``) and the reverse-ETL writer (httpx, through ``PacedTransport``) share it,
because the pacer is looked up by API origin + tenant in a process-wide registry.

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

Given a budget file (``pacer_for(..., budget_file=...)``, and so ``PacedHTTPAdapter``,
``paced_session`` and ``PacedTransport``), the pacer also records what it learns of the daily budget
in it (``capsule_xero/xero/budget.py``): the last ``X-DayLimit-Remaining`` with the time it was seen
(at most once a second), and at once every stop (a day-limit 429, reads stopped at the reserve) and
the figure that lifts it. ``capsule-xero status`` and the alerts check read that file. The pacer's
own decisions never depend on it, and a file that cannot be written never fails a call.

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
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import requests
import stamina
from requests.adapters import HTTPAdapter

from capsule_xero.xero.budget import BudgetRecorder, OrganisationBudget, api_origin, new_window_began

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A write without an Idempotency-Key may have been applied when its answer was a 5xx, a timeout or a
# lost connection: resending it can create a duplicate contact. Only a 429 (refused before any
# processing, FACTS §10: idempotency runs after rate limiting) is safe to resend blindly.
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


class DailyLimitReached(Exception):
    """Reads stopped to keep Xero's daily limit (and the write reserve) intact.

    ``resume_after`` is when the organisation's daily window will have reset (exact when Xero
    said so in ``Retry-After``, otherwise the latest it can be: Xero's day windows last 24 hours).
    """

    load_info: Any = None  # set by run_xero_extract: what was loaded before the stop

    def __init__(self, tenant: str, remaining: int | None, reserve: int, resume_after: datetime, exact: bool):
        self.tenant = tenant
        self.remaining = remaining
        self.reserve = reserve
        self.resume_after = resume_after
        self.exact = exact
        when = resume_after.strftime("%Y-%m-%d %H:%M UTC")
        org = f"organisation {tenant}" if tenant else "this organisation"
        if remaining:
            state = f"is nearly used up: {remaining} calls left, kept for writes (reserve {reserve})"
        else:
            state = "is used up (Xero refused a call with 429, limit: day)"
        # The parts a writer words its own stop with (reverse_etl/apply.py): this text is the reader's.
        self.situation = f"Xero's daily call limit for {org} {state}"
        self.timing = (
            f"after {when}"
            if exact
            else f"after {when} at the latest (Xero's daily window resets within 24 hours)"
        )
        super().__init__(
            f"{self.situation}. Reads stopped cleanly; what was read is loaded, "
            f"and the next run continues from its cursor. Run again {self.timing}."
        )


class XeroUnavailable(Exception):
    """Xero kept failing (5xx, 429, timeouts or dropped connections) through every retry."""


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
                        response = send()
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


# ---- one pacer per organisation, for the whole process ---------------------------------------

_registry_lock = threading.Lock()
_PACERS: dict[tuple[str, str], XeroPacer] = {}


def pacer_for(
    url: str, tenant: str | None, policy: PacingPolicy | None = None, budget_file: Path | None = None
) -> XeroPacer:
    """The pacer of the organisation ``tenant`` on the API at ``url`` (created on first use).

    ``tenant`` is the ``xero-tenant-id`` header (None for a custom connection, which serves one
    organisation). A ``policy`` given here replaces the pacer's policy for every caller; so does a
    ``budget_file`` (``capsule_xero.xero.budget.budget_file_in(home)``) for where the daily budget
    is recorded. Without one, the pacer keeps recording where it did (or nowhere).
    """
    key = (api_origin(url), (tenant or "").strip().lower())
    with _registry_lock:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = XeroPacer(key[1], policy or PacingPolicy())
        elif policy is not None and policy != pacer.policy:
            pacer.policy = policy
    if budget_file is not None and (pacer.budget is None or pacer.budget.path != Path(budget_file)):
        pacer.record_budget_in(BudgetRecorder(Path(budget_file), *key))
    return pacer


def reset_pacers() -> None:
    """Forget every organisation's counters (a new process, as far as pacing is concerned).

    What they have not yet written to their budget files is written first.
    """
    with _registry_lock:
        pacers = list(_PACERS.values())
        _PACERS.clear()
    for pacer in pacers:
        if pacer.budget is not None:
            pacer.budget.flush()


# ---- requests (dlt's RESTClient) -------------------------------------------------------------


def requests_transient(exc: Exception) -> bool:
    return isinstance(
        exc,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )


class PacedHTTPAdapter(HTTPAdapter):
    """A requests transport adapter that sends every call through the organisation's pacer.

    Mounted on the Xero API's base URL. The body is read inside the retry, so a connection dropped
    mid-body is retried like a refused one; a call without a timeout gets the policy's.
    """

    def __init__(
        self, policy: PacingPolicy | None = None, budget_file: Path | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.budget_file = Path(budget_file) if budget_file is not None else None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        pacer = pacer_for(
            request.url or "", request.headers.get("xero-tenant-id"), self.policy, self.budget_file
        )
        policy = pacer.policy
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (policy.connect_timeout, policy.read_timeout)
        kwargs["stream"] = False

        def once() -> requests.Response:
            response = super(PacedHTTPAdapter, self).send(request, **kwargs)
            _ = response.content  # read here: a dropped body must fail inside the retry
            return response

        return pacer.call(
            once,
            write=(request.method or "GET").upper() not in {"GET", "HEAD"},
            status=lambda r: r.status_code,
            headers=lambda r: r.headers,
            transient=requests_transient,
            what=f"{request.method} {urlsplit(request.url or '').path}",
        )


def paced_session(
    base_url: str, policy: PacingPolicy | None = None, budget_file: Path | None = None
) -> requests.Session:
    """A requests session whose calls to ``base_url`` are paced (other URLs are left alone).

    With ``budget_file``, what Xero says of the daily budget is recorded there.
    """
    session = requests.Session()
    session.mount(base_url.rstrip("/") + "/", PacedHTTPAdapter(policy, budget_file=budget_file))
    return session


# ---- httpx (the reverse-ETL writer) ----------------------------------------------------------


def httpx_transient(exc: Exception) -> bool:
    return isinstance(exc, httpx.TransportError)


class PacedTransport(httpx.BaseTransport):
    """An httpx transport that sends every call through the organisation's pacer.

    ``httpx.Client(transport=PacedTransport(), auth=XeroHttpxAuth(...))``: the auth flow (and its
    one forced refresh on ``TokenExpired``) runs above, so a resent call is paced too. With
    ``budget_file``, what Xero says of the daily budget is recorded there.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        policy: PacingPolicy | None = None,
        budget_file: Path | None = None,
    ) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.policy = policy
        self.budget_file = Path(budget_file) if budget_file is not None else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pacer = pacer_for(
            str(request.url), request.headers.get("xero-tenant-id"), self.policy, self.budget_file
        )
        if "timeout" not in request.extensions:
            policy = pacer.policy
            request.extensions["timeout"] = httpx.Timeout(
                policy.read_timeout, connect=policy.connect_timeout
            ).as_dict()

        def once() -> httpx.Response:
            request.read()
            response = self.inner.handle_request(request)
            try:
                response.read()
            except BaseException:
                response.close()
                raise
            return response

        write = request.method.upper() not in {"GET", "HEAD"}
        replay_safe = not write or "idempotency-key" in request.headers
        return pacer.call(
            once,
            write=write,
            status=lambda r: r.status_code,
            headers=lambda r: r.headers,
            transient=httpx_transient if replay_safe else (lambda exc: False),
            what=f"{request.method} {request.url.path}",
            retry_statuses=RETRY_STATUSES if replay_safe else KEYLESS_WRITE_RETRY_STATUSES,
        )

    def close(self) -> None:
        self.inner.close()
