"""Step 5c of a run: the Xero ContactID written back to the Capsule field (reverse_etl/writers/capsule.py),
durable in ``ledger.capsule_write_backs``: each party is pending before the writes start, so what
Capsule's hourly limit (docs/api-facts.md#capsule-rate-limits) or a kill stops is done by the next run.
Which parties: reverse_etl/plans/write_backs.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from capsule_xero.capsule.errors import CapsuleError
from reverse_etl.apply.context import RunContext
from reverse_etl.plans.write_backs import write_backs_wanted
from reverse_etl.sqlfile import SqlFile, has_table
from reverse_etl.writers.capsule import WriteBackResult

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "write_backs.sql")

# Capsule write-backs recorded per statement: setting a field to the same value twice is harmless, so
# a crash between a write and its record costs at most this many repeated writes.
WRITE_BACKS_PER_RECORD = 100


class WriteBack:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.updated_before: dict[int, Any] = {}  # party -> its Capsule updatedAt before the write-back
        self._done: list[dict[str, Any]] = []  # written, not yet recorded: a lost record only costs a rewrite
        self._written = 0

    def run(self) -> None:
        ctx = self.ctx
        if has_table(ctx.con, "staging", "capsule_parties"):
            SQL.execute(ctx.con, "settle_pending_write_backs", {"at": ctx.now()})
        wanted = write_backs_wanted(ctx.con, ctx.plan_id, updated_before=self.updated_before)
        if not wanted:
            return
        SQL.insert_rows(
            ctx.con,
            "write_backs_pending",
            (
                {"party_id": p, "contact_id": c, "updated_before": self.updated_before.get(p)}
                for p, c in wanted.items()
            ),
            plan_id=ctx.plan_id,
            at=ctx.now(),
        )

        def on_written(party_id: int, _contact_id: str, updated_at: str | None) -> None:
            self._written += 1
            self._done.append({"party_id": party_id, "message": None, "updated_after": updated_at})
            if len(self._done) >= WRITE_BACKS_PER_RECORD:
                self._record("written")
            ctx.progress("write_back", self._written, len(wanted))

        try:
            outcome = ctx.capsule.write_contact_ids(
                wanted, ctx.rules.capsule.xero_contact_id_field, on_written=on_written
            )
        except (CapsuleError, httpx.HTTPError) as exc:
            self._record("written")
            ctx.result.write_backs_pending = len(wanted) - self._written
            ctx.result.problems.append(f"Capsule write-back stopped: {exc}; the rest is done by the next run")
            return
        self._record("written")
        self._done.extend(
            {"party_id": p, "message": m, "updated_after": None} for p, m in outcome.failed.items()
        )
        self._record("failed")
        self._report(outcome)

    def _record(self, state: str) -> None:
        SQL.insert_rows(self.ctx.con, "write_backs_done", self._done, state=state, at=self.ctx.now())
        self._done.clear()

    def _report(self, outcome: WriteBackResult) -> None:
        result = self.ctx.result
        for party_id, message in outcome.failed.items():
            result.problems.append(f"party {party_id}: ContactID not written back to Capsule: {message}")
        result.written_back = len(outcome.written)
        result.write_backs_pending = len(outcome.pending)
        if outcome.warning:
            result.problems.append(outcome.warning)
        elif outcome.stopped:
            result.problems.append(
                f"Capsule write-back stopped with {len(outcome.pending)} left for the next run: {outcome.stopped}"
            )
