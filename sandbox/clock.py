"""A sandbox clock that can run faster than real time and be moved forward.

Rate-limit windows, token lifetimes, idempotency windows, webhook retries and refresh-token
expiry all read this clock, so a test can make Xero's 60-second minute last one real second
(``speed=60``) or jump a refresh token past its 60 days (``advance(60 * 86400)``).
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._base = start or datetime.now(UTC)
        self._mono = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._mono) * self._speed
            return self._base + timedelta(seconds=elapsed)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        current = self.now()
        with self._lock:
            self._base, self._mono, self._speed = current, time.monotonic(), float(speed)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._base += timedelta(seconds=seconds)

    def real_seconds(self, sandbox_seconds: float) -> float:
        """How long ``sandbox_seconds`` of sandbox time last on the wall clock."""
        return sandbox_seconds / self._speed

    def retry_after(self, sandbox_seconds: float) -> int:
        """A ``Retry-After`` value in real seconds: whole, at least 1, never shorter than the wait."""
        return max(1, math.ceil(self.real_seconds(sandbox_seconds)))

    async def sleep(self, sandbox_seconds: float) -> None:
        import asyncio

        await asyncio.sleep(self.real_seconds(sandbox_seconds))
