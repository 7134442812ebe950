"""Recording what happened to each operation: its outcome (``ledger.operation_outcomes``), the contact as
written (``ledger.written_contacts``, reverse_etl/apply/written.py), one ``ledger.audit`` row per field
changed, and the error queue. Rows are collected, then written in one statement per table inside the
transaction that records a batch (``flush``): DuckDB pays per statement, not per row.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from reverse_etl.apply.context import RunContext
from reverse_etl.apply.error_queue import ErrorQueue
from reverse_etl.apply.written import SQL as WRITTEN_SQL
from reverse_etl.apply.written import WrittenContacts
from reverse_etl.ledger.values import canonical
from reverse_etl.plans.model import PlanOperation
from reverse_etl.sqlfile import SqlFile

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "outcomes.sql")

# The contact_status audit row of each whole-contact operation (before, after).
STATUS_CHANGE = {
    "create": (None, "ACTIVE"),
    "archive": ("ACTIVE", "ARCHIVED"),
    "restore": ("ARCHIVED", "ACTIVE"),
}


def insert_audit(
    con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]], at: datetime, *, undo: bool = False
) -> None:
    """``ledger.audit`` rows (plan_id, seq, party_id, contact_id, field, before, after, reason)."""
    SQL.insert_rows(con, "audit", records, at=at, is_undo=undo)


def stored_outcomes(con: duckdb.DuckDBPyConnection, plan_id: int) -> dict[int, str]:
    """seq -> the outcome status recorded for each of the plan's operations so far."""
    return {r["seq"]: r["status"] for r in SQL.rows(con, "outcomes", {"plan_id": plan_id})}


def party_contacts(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[dict[str, Any]]:
    """The Xero contact of each party the plan touched successfully (party_id, contact_id, operation)."""
    return SQL.rows(con, "party_contacts", {"plan_id": plan_id})


class Recorder:
    """The outcomes, ledger rows and audit rows of one run, collected until ``flush``."""

    def __init__(self, ctx: RunContext, queue: ErrorQueue) -> None:
        self.ctx = ctx
        self.queue = queue
        self.written = WrittenContacts(ctx.con, ctx.ops)
        self._outcomes: dict[tuple[int, int], dict[str, Any]] = {}
        self._ledger: dict[str, dict[str, Any]] = {}
        self._audit: list[dict[str, Any]] = []

    def outcome(
        self,
        op: PlanOperation,
        status: str,
        contact_id: str | None,
        error_kind: str | None,
        message: str | None,
    ) -> None:
        self._outcomes[(op.plan_id, op.seq)] = {
            "plan_id": op.plan_id,
            "seq": op.seq,
            "status": status,
            "contact_id": contact_id,
            "error_kind": error_kind,
            "message": message,
        }

    def flush(self, at: datetime) -> None:
        """Write the recorded outcomes, ledger rows and audit rows (call inside a transaction)."""
        con = self.ctx.con
        SQL.insert_rows(con, "record_outcomes", self._outcomes.values(), at=at)
        WRITTEN_SQL.insert_rows(con, "write_contacts", self._ledger.values(), written_at=at)
        insert_audit(con, self._audit, at)
        self._outcomes, self._ledger, self._audit = {}, {}, []

    def failure(self, op: PlanOperation, status: str, error_kind: str, message: str, at: datetime) -> None:
        """Xero refused ``op`` (``failed``: validation, ``refused``: its state): to the error queue."""
        self.outcome(op, status, op.contact_id, error_kind, message)
        self.queue.refused(op, status, error_kind, message, at)

    def success(
        self, op: PlanOperation, status: str, contact_id: str | None, message: str | None, at: datetime
    ) -> None:
        """Xero holds ``op``'s write: its outcome, the ledger row and the audit rows."""
        contact_id = (contact_id or "").lower() or None
        self.outcome(op, status, contact_id, None, message)
        if op.plan_id == self.ctx.plan_id:
            self.ctx.result.count(status)
        self.queue.cleared(op.party_id)
        if contact_id is None:
            return
        values = self.written.after_write(op, contact_id)
        self._ledger[contact_id] = {
            **values,
            "contact_id": contact_id,
            "party_id": op.party_id,
            "plan_id": op.plan_id,
        }
        self._audit_write(op, contact_id)

    def _audit_write(self, op: PlanOperation, contact_id: str) -> None:
        entries: list[tuple[str, str | None, str | None]] = []
        if op.operation in STATUS_CHANGE:
            entries.append(("contact_status", *STATUS_CHANGE[op.operation]))
        if op.operation != "archive":
            for name in op.sent_fields:
                entries.append((name, canonical(op.before_values.get(name)), canonical(op.after.get(name))))
            if "contact_number" in op.changed_fields and op.contact_number:
                entries.append(
                    ("contact_number", canonical(op.before_values.get("contact_number")), op.contact_number)
                )
        for name, before, after in entries:
            self.audit(op, contact_id, name, before, after)

    def audit(
        self, op: PlanOperation, contact_id: str, name: str, before: str | None, after: str | None
    ) -> None:
        self._audit.append(
            {
                "plan_id": op.plan_id,
                "seq": op.seq,
                "party_id": op.party_id,
                "contact_id": contact_id,
                "field": name,
                "before": before,
                "after": after,
                "reason": op.reason,
            }
        )
