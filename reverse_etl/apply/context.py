"""What every stage of one apply run shares (reverse_etl/apply/loop.py builds it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from capsule_xero.capsule.pacing import HOUR, HOURLY_LIMIT
from capsule_xero.progress import CallFigures, Progress, StageMeter
from capsule_xero.rules.model import Rules
from reverse_etl.apply.result import ApplyResult
from reverse_etl.plans.model import PlanOperation
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter


@dataclass
class RunContext:
    """The connection, the plan and its operations, the writers, the clock and the result being
    filled in. ``now`` is the run's clock (a fixed time in tests, for the error queue's delays)."""

    con: duckdb.DuckDBPyConnection
    plan_id: int
    ops: list[PlanOperation]
    writer: XeroContactWriter
    capsule: CapsuleWriteBack
    rules: Rules
    now: Callable[[], datetime]
    result: ApplyResult
    on_progress: Callable[[Progress], None] | None = None
    by_seq: dict[int, PlanOperation] = field(init=False)
    meters: dict[str, StageMeter] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.by_seq = {op.seq: op for op in self.ops}

    def progress(self, stage: str, done: int, total: int) -> None:
        """Hand ``on_progress`` the stage's figures: its calls, the calls left and an ETA."""
        if self.on_progress is None:
            return
        meter = self.meters.get(stage)
        if meter is None:
            meter = self.meters[stage] = self._meter(stage, total)
        self.on_progress(meter.update(done, total))

    def _meter(self, stage: str, total: int) -> StageMeter:
        if stage in CAPSULE_STAGES:
            return StageMeter(
                stage,
                total,
                unit=UNITS.get(stage, ""),
                calls=self._capsule_calls,
                period="this hour",
                calls_per_second=HOURLY_LIMIT / HOUR,
            )
        from capsule_xero.xero.transports import calls_and_day_left, calls_per_second

        url = self.writer.settings.xero_api_url
        xero: CallFigures = lambda: calls_and_day_left(url)  # noqa: E731
        return StageMeter(
            stage, total, unit=UNITS.get(stage, ""), calls=xero, calls_per_second=calls_per_second(url)
        )

    def _capsule_calls(self) -> tuple[int, int | None]:
        pacer = getattr(self.capsule, "pacer", None)
        if pacer is None:
            return 0, None
        return pacer.calls, pacer.budget.remaining


# The apply loop's stages that call Capsule; the others call Xero.
CAPSULE_STAGES = frozenset({"write_back", "capsule", "recover_capsule"})
# A contact batch (up to 50 writes) is one call; the other stages count records.
UNITS = {"contacts": "batches", "groups": "groups", "notes": "notes", "write_back": "parties"}
