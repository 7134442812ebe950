"""The outbox: the exactly-once heart of the apply loop (docs/architecture.md#the-ledger-and-the-outbox;
the table: reverse_etl/ledger/sql/outbox.sql, its statements: apply/sql/outbox.sql).

Every attempt at a batch of contact writes is inserted into ``ledger.outbox`` and committed *before*
the request leaves (DuckDB autocommit: no transaction is open while a request is in flight); the
transaction that records the batch's answer closes it. Recovery comes first in every run: an attempt
still ``sending`` (a crash between a send and its answer) or ``answered`` with items left ``unknown``
is settled by asking Xero before anything new goes out — creates are looked up by ContactNumber among
the contacts changed since the attempt started, archives and restores by ContactID. Xero forgets
Idempotency-Keys after 6 minutes (docs/api-facts.md#xero-idempotency-keys), so the ContactNumber
(unique even among archived contacts, docs/api-facts.md#xero-contact-fields-and-limits) is the durable
key. An operation with a recorded outcome is never sent again. Updates cannot be told apart from the
state before; one that is not known to have landed is sent again (the same values: the result is the
same).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from reverse_etl.apply.context import RunContext
from reverse_etl.apply.recording import Recorder, stored_outcomes
from reverse_etl.plans.model import PlanOperation
from reverse_etl.plans.store import operations_to_apply
from reverse_etl.sqlfile import SqlFile, transaction
from reverse_etl.writers.xero_results import BatchAttempt, FoundContacts

SQL = SqlFile(Path(__file__).resolve().parent / "sql" / "outbox.sql")

RECOVERED = {"create": "created", "archive": "archived", "restore": "restored"}


class Outbox:
    """``ledger.outbox`` for one plan's sending."""

    def __init__(self, con: duckdb.DuckDBPyConnection, plan_id: int) -> None:
        self.con = con
        self.plan_id = plan_id

    def next_batch_no(self) -> int:
        return int(SQL.rows(self.con, "next_batch_no", {"plan_id": self.plan_id})[0]["batch_no"])

    def sending(self, attempt: BatchAttempt, seqs: list[int]) -> None:
        """Before the request leaves: the attempt is in the outbox, committed (autocommit)."""
        SQL.execute(
            self.con,
            "insert_attempt",
            {
                "plan_id": self.plan_id,
                "batch_no": attempt.batch,
                "attempt": attempt.attempt,
                "idempotency_key": attempt.idempotency_key,
                "seqs": seqs,
                "started_at": attempt.started_at,
            },
        )

    def answered(self, batch_no: int, *, unknown: bool, at: datetime) -> None:
        """The batch's answer is recorded (call inside that transaction); ``unknown`` items keep it open."""
        params = {
            "plan_id": self.plan_id,
            "batch_no": batch_no,
            "state": "answered" if unknown else "settled",
        }
        SQL.execute(self.con, "close_batch", params | {"at": at})


class OutboxRecovery:
    """Step 1 of a run: settle every attempt whose answer was never recorded, for every plan."""

    def __init__(self, ctx: RunContext, record: Recorder) -> None:
        self.ctx = ctx
        self.record = record

    def run(self) -> None:
        open_attempts = SQL.rows(self.ctx.con, "open_attempts")
        if not open_attempts:
            return
        self.ctx.progress("recover", 0, len(open_attempts))
        pending = self._unsettled(open_attempts)
        found = self._look_up(pending)
        at = self.ctx.now()
        self.record.written.read(op.contact_id for op, _ in pending)
        with transaction(self.ctx.con):
            for op, _ in pending:
                contact = _landed(op, found)
                if contact is None:
                    continue  # did not land (or an update, which cannot be told): sent again below
                contact_id = str(contact.get("ContactID") or op.contact_id or "").lower()
                message = "settled after an interrupted run: found in Xero by a lookup"
                self.record.success(op, RECOVERED[op.operation], contact_id, message, at)
                self.ctx.result.recovered += 1
            self.record.flush(at)
            for attempt in open_attempts:
                params = {"plan_id": attempt["plan_id"], "batch_no": attempt["batch_no"], "at": at}
                SQL.execute(self.ctx.con, "settle_attempts", params)
        self.ctx.progress("recover", len(open_attempts), len(open_attempts))

    def _unsettled(self, open_attempts: list[dict[str, Any]]) -> list[tuple[PlanOperation, datetime]]:
        """The operations of the open attempts with no final outcome, with when their attempt started."""
        plans: dict[int, dict[int, PlanOperation]] = {self.ctx.plan_id: self.ctx.by_seq}
        outcomes: dict[int, dict[int, str]] = {}
        pending: list[tuple[PlanOperation, datetime]] = []
        for attempt in open_attempts:
            plan_id = attempt["plan_id"]
            if plan_id not in plans:
                plans[plan_id] = {op.seq: op for op in operations_to_apply(self.ctx.con, plan_id)}
            if plan_id not in outcomes:
                outcomes[plan_id] = stored_outcomes(self.ctx.con, plan_id)
            for seq in attempt["seqs"]:
                op = plans[plan_id].get(seq)
                if op is not None and outcomes[plan_id].get(seq) in (None, "unknown"):
                    pending.append((op, attempt["started_at"]))
        return pending

    def _look_up(self, pending: list[tuple[PlanOperation, datetime]]) -> FoundContacts | None:
        creates = [op for op, _ in pending if op.operation == "create"]
        statuses = [op for op, _ in pending if op.operation in ("archive", "restore")]
        if not creates and not statuses:
            return None
        return self.ctx.writer.find_contacts(
            contact_numbers=[str(op.contact_number) for op in creates],
            contact_ids=[str(op.contact_id) for op in statuses],
            modified_since=min(started for _, started in pending),
        )


def _landed(op: PlanOperation, found: FoundContacts | None) -> Mapping[str, Any] | None:
    """The contact Xero shows for ``op`` when the write landed: a create by its number, an archive or
    restore by its ContactID in the status it set."""
    if found is None:
        return None
    if op.operation == "create":
        return found.number(str(op.contact_number))
    if op.operation in ("archive", "restore"):
        candidate = found.contact(str(op.contact_id))
        wanted = "ARCHIVED" if op.operation == "archive" else "ACTIVE"
        if candidate is not None and candidate.get("ContactStatus") == wanted:
            return candidate
    return None
