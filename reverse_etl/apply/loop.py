"""Apply a stored plan to Xero exactly once, whatever fails or is killed
(docs/architecture.md#the-ledger-and-the-outbox).

``apply_plan(con, settings, rules, plan_id)`` takes an approved plan (``ledger.plans`` /
``ledger.plan_operations`` / ``ledger.plan_notes``, made by reverse_etl/plans/) and writes it, one
stage per file of this folder, all sharing one ``RunContext``:

1. **Recovery first** (outbox.py, notes.py): every outbox attempt whose answer was never recorded,
   and every History note left in its outbox, is settled by asking Xero before anything new goes out.
2. **Staleness.** A plan computed against an older Xero is refused (reverse_etl/plans/staleness.py;
   the caller extracts Xero first).
3. **Send** (contacts.py): the writer batches the operations; each attempt is in the outbox before it
   leaves, each answered batch is recorded in one transaction (recording.py, written.py).
4. **Error queue** (error_queue.py): what Xero refused, with its message; waits for a person or is
   retried, and held back from later sends while nothing about it changed.
5. **Around the contact**: contact groups (groups.py), History notes (notes.py), DRAFT quotes or
   invoices for won opportunities (documents.py: their own outbox, settled first), then Capsule: the
   plan's Capsule writes with sync.direction: both (capsule_changes.py: fields pulled from Xero, the
   archived tag, parties created; their own outbox, settled first), and the ContactID written back
   (write_back.py).
6. **End.** ``applied`` when every operation has a final outcome and nothing stopped the run (groups
   and notes included), else ``partly_applied``: the next run finishes it (reverse_etl/plans/create.py
   lets an interrupted plan stand while it still fits Xero). Xero's daily limit is said once, in
   ``ApplyResult.stopped``, with the writes not sent (``not_sent``: a 429 means Xero took nothing, so
   they are sent by a later run, not looked up).

Reverse ETL never imports orchestration (docs/architecture.md#layers): the Dagster asset and the CLI
call ``apply_plan``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
import httpx

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.pacing import DailyLimitReached, XeroUnavailable
from reverse_etl.apply.capsule_changes import CapsuleChangeSender
from reverse_etl.apply.contacts import ContactSender
from reverse_etl.apply.context import RunContext
from reverse_etl.apply.documents import DocumentSender, documents_to_send
from reverse_etl.apply.error_queue import ErrorQueue, RetryPolicy
from reverse_etl.apply.groups import GroupSetter
from reverse_etl.apply.notes import NoteSender
from reverse_etl.apply.outbox import OutboxRecovery
from reverse_etl.apply.recording import Recorder, stored_outcomes
from reverse_etl.apply.result import (
    APPLICABLE,
    DONE,
    FINAL_STATUSES,
    ApplyResult,
    PlanNotApplicable,
    Progress,
)
from reverse_etl.apply.write_back import WriteBack
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.plans.staleness import check_plan_is_current
from reverse_etl.plans.store import capsule_changes, load_plan, mark_plan, operations_to_apply
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from reverse_etl.writers.xero_session import XeroWriteError

# Errors that stop the sending part of a run cleanly (the batch they happened in is recorded first).
XERO_STOPS = (XeroUnavailable, DailyLimitReached, XeroWriteError, httpx.TransportError)

CheckCurrent = Callable[[duckdb.DuckDBPyConnection, int], None]


def apply_plan(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    rules: Rules,
    plan_id: int,
    *,
    writer: XeroContactWriter | None = None,
    capsule: CapsuleWriteBack | None = None,
    now: datetime | Callable[[], datetime] | None = None,
    retry: RetryPolicy | None = None,
    check_current: CheckCurrent | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ApplyResult:
    """Apply plan ``plan_id``; see the module docstring. Safe to call again at any time: a rerun of
    an applied plan sends nothing, a partly applied one continues where it stopped.

    ``writer`` / ``capsule`` default to clients made from ``settings`` (and closed afterwards).
    ``now``: a fixed time or a clock, for the error queue's delays (tests). ``check_current``
    replaces ``reverse_etl.plans.staleness.check_plan_is_current`` (with ``rules``). Raises
    ``PlanNotApplicable``, and ``StalePlanError`` for a plan computed against an older Xero, the
    rules changed or a newer plan; an exception from Xero that stops the run is reported in
    ``ApplyResult.stopped`` after what was done is recorded.
    """
    ensure_ledger(con)
    status = _applicable_status(con, plan_id)
    own_writer = writer is None
    own_capsule = capsule is None
    if writer is None:
        from capsule_xero.xero.auth import XeroAuth

        writer = XeroContactWriter(settings, XeroAuth(settings))
    if capsule is None:
        capsule = CapsuleWriteBack(settings, field_name=rules.capsule.xero_contact_id_field)
    try:
        ctx = RunContext(
            con,
            plan_id,
            operations_to_apply(con, plan_id),
            writer,
            capsule,
            rules,
            now=_clock(now),
            result=ApplyResult(plan_id),
            on_progress=on_progress,
        )
        run = ApplyRun(ctx, retry or RetryPolicy())
        return run.run(status, check_current or (lambda c, p: check_plan_is_current(c, p, rules)))
    finally:
        if own_writer:
            writer.close()
        if own_capsule:
            capsule.close()


def _applicable_status(con: duckdb.DuckDBPyConnection, plan_id: int) -> str:
    """The plan's status, when it may be applied (or was already); else ``PlanNotApplicable`` says why."""
    plan = load_plan(con, plan_id)
    if plan is None:
        raise PlanNotApplicable(f"there is no plan {plan_id}")
    status = plan.status
    if status not in (*APPLICABLE, *DONE):
        hint = {
            "pending_approval": f"it waits for approval: `capsule-xero approve {plan_id}`",
            "superseded": "a newer plan replaced it: apply the newest plan",
        }.get(status, f"its status is {status}")
        raise PlanNotApplicable(f"plan {plan_id} cannot be applied: {hint}")
    return status


def _clock(now: datetime | Callable[[], datetime] | None) -> Callable[[], datetime]:
    if now is None:
        return lambda: datetime.now(UTC)
    if callable(now):
        return now
    return lambda: now


class ApplyRun:
    """One run of the apply loop over one plan: its stages, in order, sharing the run's context."""

    def __init__(self, ctx: RunContext, retry: RetryPolicy) -> None:
        self.ctx = ctx
        queue = ErrorQueue(ctx.con, ctx.result, retry)
        self.record = Recorder(ctx, queue)
        self.notes = NoteSender(ctx)
        self.recovery = OutboxRecovery(ctx, self.record)
        self.contacts = ContactSender(ctx, self.record, queue)
        self.groups = GroupSetter(ctx, self.record)
        self.write_back = WriteBack(ctx)
        self.capsule_changes = CapsuleChangeSender(ctx)
        self.documents = DocumentSender(ctx)

    def run(self, status: str, check_current: CheckCurrent) -> ApplyResult:
        ctx, result = self.ctx, self.ctx.result
        try:
            self.notes.recover()
            self.recovery.run()
            self.documents.recover()
        except XERO_STOPS as exc:
            # Nothing new may be sent while an earlier attempt is unsettled.
            result.stopped = (
                f"{exc.situation}: an interrupted earlier run could not be settled, so nothing was sent;"
                f" the next run settles it {exc.timing}."
                if isinstance(exc, DailyLimitReached)
                else f"settling an interrupted earlier run needs Xero: {exc}"
            )
            result.status = status
            return result
        stop: BaseException | None = None
        documents = documents_to_send(ctx.con, ctx.plan_id)
        if status in APPLICABLE:
            check_current(ctx.con, ctx.plan_id)
            self.set_status("applying")
            try:
                self.contacts.run()
                self.groups.run()
                self.notes.run()
                # After the contacts: a party whose contact this plan created has its ContactID now.
                self.documents.run(documents)
            except XERO_STOPS as exc:
                stop = exc
        # Capsule's writes need nothing from Xero's: they go even when Xero's daily limit stopped those.
        changes = capsule_changes(ctx.con, ctx.plan_id)
        capsule = self.capsule_changes.recover()
        if status in APPLICABLE:
            capsule = self.capsule_changes.run(changes)
        result.capsule_written = capsule.done
        result.capsule_failed = capsule.failed
        result.capsule_pending = capsule.unknown + capsule.not_sent
        result.draft_documents = self.documents.result.created
        result.documents_pending = self.documents.result.unknown
        self.write_back.run()
        outcomes = stored_outcomes(ctx.con, ctx.plan_id)
        result.unknown = sum(1 for op in ctx.ops if outcomes.get(op.seq) == "unknown")
        result.not_sent = sum(1 for op in ctx.ops if outcomes.get(op.seq) is None)
        if stop is not None:
            # Said once, in `stopped` (the commands print it), never once per contact.
            result.stopped = self.stop_message(stop)
        if status in DONE:
            result.status = status
        else:
            done = (
                stop is None
                and all(outcomes.get(op.seq) in FINAL_STATUSES for op in ctx.ops)
                and self.capsule_changes.all_settled(changes)
                and self.documents.all_settled(documents)
            )
            result.status = "applied" if done else "partly_applied"
            self.set_status(result.status)
        return result

    def stop_message(self, stop: BaseException) -> str:
        """Why sending stopped, in one line: for Xero's daily limit, what was not sent and when it goes."""
        if not isinstance(stop, DailyLimitReached):
            return str(stop)
        left = self.ctx.result.not_sent + self.ctx.result.unknown
        what = (
            f"{left:,} contact {'write' if left == 1 else 'writes'} and the groups and History notes after them"
            if left
            else "the contact groups and History notes still to set"
        )
        return (
            f"{stop.situation}: writing stopped with {what} not sent; the next run sends them {stop.timing}."
        )

    def set_status(self, status: str) -> None:
        mark_plan(self.ctx.con, self.ctx.plan_id, status, at=self.ctx.now())
