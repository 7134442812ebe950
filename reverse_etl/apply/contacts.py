"""Step 3 of a run: send the plan's contact writes (reverse_etl/writers/xero.py batches them, 50 a call,
creates by PUT) and record each answered batch in one transaction: outcomes, the ledger, audit rows and
the error queue. An operation the error queue holds back is not sent (outcome ``queued``); one that
cannot be turned into Xero's JSON fails here, not mid-batch.
"""

from __future__ import annotations

from datetime import datetime

from reverse_etl.apply.context import RunContext
from reverse_etl.apply.error_queue import ErrorQueue
from reverse_etl.apply.outbox import Outbox
from reverse_etl.apply.recording import Recorder, stored_outcomes
from reverse_etl.apply.result import FINAL_STATUSES
from reverse_etl.plans.model import PlanOperation
from reverse_etl.sqlfile import transaction
from reverse_etl.writers.payloads import ContactOperation, PayloadError, contact_element
from reverse_etl.writers.xero_results import BatchAttempt, BatchResult, ItemOutcome


class ContactSender:
    def __init__(self, ctx: RunContext, record: Recorder, queue: ErrorQueue) -> None:
        self.ctx = ctx
        self.record = record
        self.queue = queue
        self.outbox = Outbox(ctx.con, ctx.plan_id)
        self._seq_of: dict[int, int] = {}  # id(ContactOperation) -> seq, for the writer's callbacks

    def run(self) -> None:
        outcomes = stored_outcomes(self.ctx.con, self.ctx.plan_id)
        sendable = self._sendable([op for op in self.ctx.ops if outcomes.get(op.seq) not in FINAL_STATUSES])
        if not sendable:
            return
        first_batch = self.outbox.next_batch_no()
        total = len(self.ctx.writer.batches(sendable))
        self.ctx.progress("contacts", 0, total)
        result = self.ctx.result
        for batch in self.ctx.writer.write(sendable, on_attempt=self.sending, first_batch=first_batch):
            self.answered(batch)
            result.batches += 1
            self.ctx.progress("contacts", result.batches, total)

    def _sendable(self, todo: list[PlanOperation]) -> list[ContactOperation]:
        """The writes to send; the rest are recorded as queued (the error queue) or failed (no valid JSON)."""
        sendable: list[ContactOperation] = []
        at = self.ctx.now()
        with transaction(self.ctx.con):
            for op in todo:
                held = self.queue.held_back(op, at)
                if held is not None:
                    self.record.outcome(op, "queued", None, "queued", held)
                    self.ctx.result.queued += 1
                    continue
                try:
                    operation = op.contact_operation()
                    contact_element(operation)  # a value that cannot be sent fails here, not mid-batch
                except PayloadError as exc:
                    self.record.failure(op, "failed", "validation", str(exc), at)
                    continue
                self._seq_of[id(operation)] = op.seq
                sendable.append(operation)
            self.record.flush(at)
        return sendable

    def sending(self, attempt: BatchAttempt) -> None:
        """The writer's ``on_attempt``: the attempt goes into the outbox before the request leaves."""
        self.outbox.sending(attempt, [self._seq_of[id(op)] for op in attempt.operations])
        self.ctx.result.write_calls += 1

    def answered(self, batch: BatchResult) -> None:
        at = self.ctx.now()
        self.record.written.read(item.contact_id for item in batch.items)
        with transaction(self.ctx.con):
            for item in batch.items:
                self._item(item, at)
            self.record.flush(at)
            unknown = any(item.status == "unknown" for item in batch.items)
            self.outbox.answered(batch.batch, unknown=unknown, at=at)

    def _item(self, item: ItemOutcome, at: datetime) -> None:
        op = self.ctx.by_seq[self._seq_of[id(item.operation)]]
        if item.ok:
            self.record.success(op, item.status, item.contact_id or op.contact_id, item.message, at)
        elif item.status == "not_sent":
            pass  # no outcome: the next run sends it like any operation not yet sent
        elif item.status == "unknown":
            self.record.outcome(op, "unknown", None, item.error_kind, item.message)
            self.ctx.result.problems.append(
                f"party {op.party_id} ({op.operation} {op.contact_number}): {item.message}"
            )
        else:
            status = "refused" if item.error_kind == "refused" else "failed"
            self.record.failure(op, status, item.error_kind or "validation", item.message or "", at)
