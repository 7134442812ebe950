"""What every stage of one apply run shares (reverse_etl/apply/loop.py builds it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from capsule_xero.rules.model import Rules
from reverse_etl.apply.result import ApplyResult, Progress
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

    def __post_init__(self) -> None:
        self.by_seq = {op.seq: op for op in self.ops}

    def progress(self, stage: str, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(stage, done, total))
