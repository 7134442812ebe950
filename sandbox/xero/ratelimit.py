"""Xero's rate limits (docs/api-facts.md#xero-rate-limits), counted on the sandbox clock.

Per tenant and app: 60 calls a minute, 5,000 a day (1,000 on the Starter tier; configurable per
tenant), 5 in flight at once; per app across every tenant: 10,000 a minute. Windows are fixed, not
sliding, and each opens with the first call after the previous one closed, so every tenant's
windows reset at its own times (as Xero's do). Every answer carries ``X-DayLimit-Remaining``,
``X-MinLimit-Remaining`` and ``X-AppMinLimit-Remaining``; a breach is a 429 naming the limit in
``X-Rate-Limit-Problem``.

``spend`` (``POST /_sandbox/xero/limits/spend``, ``XeroControl.spend_calls``) counts calls an app made
elsewhere against a tenant's day: a test of a day that is mostly used up needs no thousands of calls.

Calls refused with a 429 do not consume quota (a client that keeps hammering stays refused only
until the window turns, which is what ``Retry-After`` promises).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.clock import SandboxClock

MINUTE = 60.0
DAY = 86_400.0


@dataclass
class Limits:
    minute: int = 60
    day: int = 5_000
    concurrent: int = 5

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Window:
    """A fixed window: opens with the first call after the previous one closed."""

    length: float
    start: float | None = None
    used: int = 0

    def roll(self, now: float) -> None:
        if self.start is None:
            return
        if now >= self.start + self.length:
            # Keep the tenant-specific phase: the next window starts at a multiple of the length
            # after the first one, not at this call.
            periods = int((now - self.start) // self.length)
            self.start += periods * self.length
            self.used = 0

    def remaining(self, limit: int, now: float) -> int:
        self.roll(now)
        return max(0, limit - self.used)

    def take(self, now: float, calls: int = 1) -> None:
        self.roll(now)
        if self.start is None:
            self.start = now
        self.used += calls

    def seconds_left(self, now: float) -> float:
        self.roll(now)
        if self.start is None:
            return self.length
        return max(0.0, self.start + self.length - now)

    def reset(self) -> None:
        self.start, self.used = None, 0


@dataclass
class Decision:
    problem: str | None  # None (allowed) | "minute" | "day" | "concurrent" | "appminute"
    headers: dict[str, str]
    retry_after_sandbox_seconds: float | None = None


class RateLimiter:
    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self.default_limits = Limits()
        self.app_minute_limit = 10_000
        self.tenant_limits: dict[str, Limits] = {}
        self._minute: dict[tuple[str, str], Window] = {}
        self._day: dict[tuple[str, str], Window] = {}
        self._app_minute: dict[str, Window] = {}

    # ---- configuration ------------------------------------------------------------------------
    def limits_for(self, tenant_id: str) -> Limits:
        return self.tenant_limits.get(tenant_id, self.default_limits)

    def set_limits(
        self,
        tenant_id: str | None,
        *,
        minute: int | None = None,
        day: int | None = None,
        concurrent: int | None = None,
    ) -> Limits:
        """Change one tenant's limits (or the default for every tenant when ``tenant_id`` is None)."""
        if tenant_id is None:
            limits = self.default_limits
        else:
            current = self.limits_for(tenant_id)
            limits = self.tenant_limits.setdefault(tenant_id, Limits(**current.as_dict()))
        for name, value in (("minute", minute), ("day", day), ("concurrent", concurrent)):
            if value is not None:
                if int(value) < 0:
                    raise ValueError(f"{name} limit must be >= 0")
                setattr(limits, name, int(value))
        return limits

    def reset(self, tenant_id: str | None = None) -> None:
        """Forget the counters (of one tenant, or all of them and the app-wide ones)."""
        for table in (self._minute, self._day):
            for key in list(table):
                if tenant_id is None or key[1] == tenant_id:
                    del table[key]
        if tenant_id is None:
            self._app_minute.clear()

    def spend(self, client_id: str, tenant_id: str, calls: int) -> int:
        """Count ``calls`` against one app's day at one tenant, as its other traffic of the day would
        (another integration, a person's exports): the tenant's day window opens now if it was closed.
        Returns the calls left today."""
        if int(calls) < 0:
            raise ValueError("calls must be >= 0")
        now = self.clock.timestamp()
        _minute, day, _app = self._windows(client_id, tenant_id)
        day.take(now, int(calls))
        return day.remaining(self.limits_for(tenant_id).day, now)

    # ---- counting -----------------------------------------------------------------------------
    def _windows(self, client_id: str, tenant_id: str) -> tuple[Window, Window, Window]:
        key = (client_id, tenant_id)
        minute = self._minute.setdefault(key, Window(MINUTE))
        day = self._day.setdefault(key, Window(DAY))
        app = self._app_minute.setdefault(client_id, Window(MINUTE))
        return minute, day, app

    def headers(self, client_id: str, tenant_id: str) -> dict[str, str]:
        now = self.clock.timestamp()
        minute, day, app = self._windows(client_id, tenant_id)
        limits = self.limits_for(tenant_id)
        return {
            "X-DayLimit-Remaining": str(day.remaining(limits.day, now)),
            "X-MinLimit-Remaining": str(minute.remaining(limits.minute, now)),
            "X-AppMinLimit-Remaining": str(app.remaining(self.app_minute_limit, now)),
        }

    def check(self, client_id: str, tenant_id: str, in_flight: int) -> Decision:
        """Admit one call (consuming quota) or say which limit it breaks.

        ``in_flight`` is how many calls for this tenant were in progress when this one arrived,
        itself included (the middleware counts them, hung and slow ones too).
        """
        now = self.clock.timestamp()
        minute, day, app = self._windows(client_id, tenant_id)
        limits = self.limits_for(tenant_id)
        problem: str | None = None
        wait: float | None = None
        if in_flight > limits.concurrent:
            # No Retry-After for this one (Xero sends it for minute/day only): there is no window
            # to wait out, a slot frees as soon as any call in flight finishes.
            problem = "concurrent"
        elif day.remaining(limits.day, now) <= 0:
            problem, wait = "day", day.seconds_left(now)
        elif minute.remaining(limits.minute, now) <= 0:
            problem, wait = "minute", minute.seconds_left(now)
        elif app.remaining(self.app_minute_limit, now) <= 0:
            problem, wait = "appminute", app.seconds_left(now)
        if problem is None:
            minute.take(now)
            day.take(now)
            app.take(now)
        return Decision(problem, self.headers(client_id, tenant_id), wait)

    def snapshot(self, tenant_id: str) -> dict[str, object]:
        now = self.clock.timestamp()
        limits = self.limits_for(tenant_id)
        per_app = {}
        for (client_id, tenant), window in self._minute.items():
            if tenant != tenant_id:
                continue
            day = self._day[(client_id, tenant)]
            per_app[client_id] = {
                "minute_remaining": window.remaining(limits.minute, now),
                "day_remaining": day.remaining(limits.day, now),
            }
        return {"limits": limits.as_dict(), "app_minute": self.app_minute_limit, "apps": per_app}
