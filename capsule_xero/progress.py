"""How far long work has got: one small model shared by the extracts, the apply loop, the CLI and Dagster.

A first migration of 20,000 parties takes hours against Xero's and Capsule's limits. The code that does
the work (``extract_capsule``, ``run_xero_extract``, ``apply_plan``) takes an optional ``progress=`` /
``on_progress=`` callback and hands it a ``Progress`` per step; it never renders anything. The CLI draws
a rich progress bar per stage when stdout is a terminal and prints plain lines otherwise
(cli/progress.py); a Dagster run logs the same figures at most every ``LOG_EVERY_SECONDS``
(``ThrottledReporter``) and puts the last ones in the asset's metadata.

The ETA is the slower of two estimates: the rate observed so far in the stage, and the rate the pacing
allows (Xero: 60 calls a minute; Capsule: 4,000 an hour). Early in a stage the observed rate is noisy
and usually too fast (the first calls do not wait for the minute window), so the pacing limit keeps the
estimate honest; later a slow API shows in the observed rate. When the calls still needed pass the calls
left today, the ETA says so: the work stops at the daily limit and the next run continues it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A Dagster step has no live metadata (materialisation metadata is written once, when the asset
# finishes), so a run shows progress as log lines: at most this often, plus each stage's start and end.
LOG_EVERY_SECONDS = 10.0

# The apply loop's stages (reverse_etl/apply/), as a person reads them on screen and in a run's log.
APPLY_STAGES = {
    "recover": "Settling an interrupted run",
    "contacts": "Writing contacts (batches of ≤ 50)",
    "groups": "Setting contact groups",
    "notes": "Adding History notes",
    "documents": "Making DRAFT quotes and invoices",
    "recover_capsule": "Settling interrupted Capsule writes",
    "capsule": "Writing to Capsule",
    "write_back": "Writing ContactIDs to Capsule",
}

# The extracts' stages (pipelines/capsule, pipelines/xero).
EXTRACT_STAGES = {"capsule": "Reading Capsule", "xero": "Reading Xero"}

CallFigures = Callable[[], tuple[int, int | None]]  # (calls made so far, calls left in the period)


def no_calls() -> tuple[int, int | None]:
    return 0, None


@dataclass(frozen=True)
class Progress:
    """One stage's figures at one moment. ``total`` is None when not known in advance (an extract
    reads until the API says there is no next page); so is the ETA then."""

    stage: str
    done: int
    total: int | None
    calls_used: int = 0  # API calls this stage made so far
    calls_left: int | None = None  # calls left in the API's period (Xero: today; Capsule: this hour)
    period: str = "today"
    eta_seconds: float | None = None
    unit: str = ""
    stops_at_daily_limit: bool = False  # the calls still needed pass the calls left today

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total

    def figures(self) -> str:
        """``12/40 batches, 14 calls, 4,986 calls left today, ETA 1m 20s`` (no stage name)."""
        parts = [f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"]
        if self.unit:
            parts[0] += f" {self.unit}"
        parts.append(f"{self.calls_used:,} {'call' if self.calls_used == 1 else 'calls'}")
        if self.calls_left is not None:
            parts.append(f"{self.calls_left:,} calls left {self.period}")
        parts.append(f"ETA {eta_text(self)}")
        return ", ".join(parts)

    def metadata(self, prefix: str = "") -> dict[str, Any]:
        """The figures as flat metadata entries (Dagster's MaterializeResult), keys prefixed by ``prefix``."""
        return {
            f"{prefix}done": self.done,
            f"{prefix}total": self.total,
            f"{prefix}calls_used": self.calls_used,
            f"{prefix}calls_left_{self.period.replace(' ', '_')}": self.calls_left,
            f"{prefix}eta": eta_text(self),
        }


def duration_text(seconds: float) -> str:
    """``45s``, ``3m 05s``, ``2h 07m``."""
    seconds = max(0, math.ceil(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def eta_text(progress: Progress) -> str:
    if progress.finished:
        return "done"
    if progress.eta_seconds is None:
        return "unknown"
    text = duration_text(progress.eta_seconds)
    return (
        text + " (past today's calls left: the next run continues)" if progress.stops_at_daily_limit else text
    )


@dataclass
class StageMeter:
    """Turns one stage's counts into ``Progress``: calls from ``calls`` (read at each update, less what
    it said when the stage began), the ETA from the observed rate and the pacing limit.

    ``calls_per_item``: calls one unit of work costs (a batch of 50 contacts: 1; a Capsule page: 1).
    ``calls_per_second``: the pacing limit's rate (Xero: 60 / 60 s), None when not paced.
    """

    stage: str
    total: int | None = None
    unit: str = ""
    calls: CallFigures = no_calls
    period: str = "today"
    calls_per_item: float = 1.0
    calls_per_second: float | None = None
    clock: Callable[[], float] = time.monotonic
    _started: float = field(init=False)
    _calls_at_start: int = field(init=False)

    def __post_init__(self) -> None:
        self._started = self.clock()
        self._calls_at_start = self.calls()[0]

    def update(self, done: int, total: int | None = None) -> Progress:
        if total is not None:
            self.total = total
        made, left = self.calls()
        eta, past_limit = self.eta(done, left)
        return Progress(
            stage=self.stage,
            done=done,
            total=self.total,
            calls_used=made - self._calls_at_start,
            calls_left=left,
            period=self.period,
            eta_seconds=eta,
            unit=self.unit,
            stops_at_daily_limit=past_limit,
        )

    def eta(self, done: int, calls_left: int | None) -> tuple[float | None, bool]:
        """Seconds to the end of the stage (None when the total is unknown), and whether the calls it
        still needs pass the calls left in the period."""
        if self.total is None:
            return None, False
        remaining = max(0, self.total - done)
        if remaining == 0:
            return 0.0, False
        estimates: list[float] = []
        elapsed = self.clock() - self._started
        if done > 0 and elapsed > 0:
            estimates.append(elapsed / done * remaining)
        calls_needed = remaining * self.calls_per_item
        if self.calls_per_second:
            estimates.append(calls_needed / self.calls_per_second)
        past_limit = calls_left is not None and calls_needed > calls_left
        return (max(estimates) if estimates else None), past_limit


class OpenEndedStage:
    """A stage whose total shows only at its end (an extract reads until there is no next page):
    ``step`` after each page, ``finish`` when the last was read (the total is then what was done)."""

    def __init__(self, meter: StageMeter, progress: Callable[[Progress], None]) -> None:
        self.meter = meter
        self.progress = progress
        self.done = 0
        progress(meter.update(0))

    def step(self, done: int | None = None) -> None:
        self.done = self.done + 1 if done is None else done
        self.progress(self.meter.update(self.done))

    def finish(self) -> None:
        self.progress(self.meter.update(self.done, total=self.done))


class ThrottledReporter:
    """A ``progress`` callback for logs: hands a stage's first and last figures, and others at most
    every ``every`` seconds, to ``emit``; keeps each stage's last figures for the final metadata."""

    def __init__(
        self,
        emit: Callable[[str], None],
        *,
        every: float = LOG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        names: dict[str, str] | None = None,
    ) -> None:
        self.emit = emit
        self.every = every
        self.clock = clock
        self.names = names or {}
        self.last: dict[str, Progress] = {}
        self._logged_at: float | None = None
        self._logged_stage: str | None = None

    def __call__(self, progress: Progress) -> None:
        first = progress.stage not in self.last
        self.last[progress.stage] = progress
        now = self.clock()
        due = self._logged_at is None or now - self._logged_at >= self.every
        if first or progress.finished or due or progress.stage != self._logged_stage:
            self._logged_at, self._logged_stage = now, progress.stage
            self.emit(f"{self.names.get(progress.stage, progress.stage)}: {progress.figures()}")

    def metadata(self) -> dict[str, Any]:
        """Every stage's last figures, keys ``progress_<stage>_<figure>``."""
        out: dict[str, Any] = {}
        for stage, progress in self.last.items():
            out.update(progress.metadata(prefix=f"progress_{stage}_"))
        return out
