"""Apply a stored plan to Xero exactly once, whatever fails or is killed (DESIGN.md, data flow 7).

``apply_plan(con, settings, rules, plan_id)`` takes an approved plan (``ledger.plans`` /
``ledger.plan_operations`` / ``ledger.plan_notes``, made by ``reverse_etl.plans``) and writes it:

1. **Recovery first.** Every outbox row still ``sending`` (a crash between a send and its answer) or
   ``answered`` with items left ``unknown`` is settled by asking Xero before anything new goes out:
   creates are looked up by ContactNumber among the contacts changed since the attempt started,
   archives and restores by ContactID. Xero forgets Idempotency-Keys after 6 minutes (xero FACTS §10),
   so the ContactNumber (unique even among archived contacts, §5) is the durable key. An operation
   with a recorded outcome is never sent again. Updates cannot be told apart from the state before;
   one that is not known to have landed is sent again (the same values: the result is the same).
2. **Staleness.** A plan computed against an older Xero is refused (``reverse_etl.plans.
   check_plan_is_current``; the caller extracts Xero first).
3. **Send.** ``XeroContactWriter.write`` batches the operations (50 a call, creates by PUT). Its
   ``on_attempt`` callback inserts the outbox row and commits it *before* the request leaves (DuckDB
   autocommit: no transaction is open while a request is in flight); each answered batch is recorded
   in one transaction: ``ledger.operation_outcomes``, ``ledger.written_contacts`` (the base of the
   next three-way diff, by the rule in ``sql/ledger.sql``), one ``ledger.audit`` row per field
   changed, the error queue.
4. **Error queue.** An item Xero refused goes to ``ledger.error_queue`` with Xero's message. A
   validation error or a refusal Xero's state decides is ``dead`` at once — it waits for a person —
   and ``ledger.error_queue_inputs`` keeps the hash of what was refused (``cx_operation_inputs``):
   new plans leave the party out while they would ask the very same thing, a plan that still holds
   it does not send it (outcome ``queued``), and a changed record, or ``release`` (``capsule-xero
   retry``), sends it again. A Name or ContactNumber another contact holds is left to each plan's
   preflight. Only a failure in ``RETRIED_ERROR_KINDS`` is retried by itself, after growing delays
   (``RetryPolicy``), dead after ``max_attempts``. Success takes the party out of the queue.
5. **Around the contact.** Contact groups (``ensure_groups`` + ``set_group_members``, one call per
   group); the History notes of ``ledger.plan_notes`` (each note_hash once, ever: ``ledger.note_outbox``
   records a note before it is sent and a crash is settled by reading the History); the ContactID
   written back to the Capsule field, durable in ``ledger.capsule_write_backs`` so what Capsule's
   hourly limit stops is done by the next run.
6. **End.** ``applied`` when every operation has a final outcome and nothing stopped the run (groups
   and notes included), else ``partly_applied``: the next run finishes it (``reverse_etl.plans.
   create_plan`` lets an interrupted plan stand while it still fits Xero). Xero's daily limit is
   said once, in ``ApplyResult.stopped``, with the writes not sent (``not_sent``: a 429 means Xero
   took nothing, so they are sent by a later run, not looked up).

Groups are recorded in ``written_contacts.contact_groups`` only once Xero holds them, and each
contact's target is in ``ledger.group_outbox`` from before the first group call until then: a run
killed between group calls leaves contacts in some of their groups, and the diff
(transform/sql/reconcile/contact_diffs.sql) counts that as this tool's own write, so the rest is sent
instead of being kept as if someone had edited Xero.

No dagster here (DESIGN.md layout); the Dagster asset and the CLI call ``apply_plan``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

from capsule_xero.capsule.pacing import CapsuleError
from capsule_xero.rules import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.pacing import DailyLimitReached, XeroUnavailable
from reverse_etl import sqlfile
from reverse_etl.capsule_writer import CapsuleWriteBack
from reverse_etl.ledger import COMPARED_FIELDS
from reverse_etl.payloads import NOT_SENT, ContactOperation, PayloadError, contact_element
from reverse_etl.plans import (
    PlanError,
    check_plan_is_current,
    define_macros,
    ensure_plans,
    has_table,
    mark_plan,
)
from reverse_etl.write_backs import write_backs_wanted
from reverse_etl.xero_writer import (
    BatchAttempt,
    BatchResult,
    GroupsEnsured,
    ItemOutcome,
    XeroContactWriter,
    XeroWriteError,
    split_note,
)

log = logging.getLogger(__name__)

APPLY_SQL = Path(__file__).resolve().parent / "sql" / "apply.sql"

APPLICABLE = ("approved", "applying", "partly_applied")
DONE = ("applied", "empty")
SUCCESS_STATUSES = ("created", "exists", "updated", "archived", "restored")
FINAL_STATUSES = (*SUCCESS_STATUSES, "failed", "refused", "queued")
# Capsule write-backs recorded per statement: setting a field to the same value twice is harmless, so
# a crash between a write and its record costs at most this many repeated writes.
WRITE_BACKS_PER_RECORD = 100
# Errors that stop the sending part of a run cleanly (the batch they happened in is recorded first).
XERO_STOPS = (XeroUnavailable, DailyLimitReached, XeroWriteError, httpx.TransportError)


# Error kinds the error queue retries by itself (with RetryPolicy's delays). Everything else Xero
# refuses — a validation error (the record must change), a refusal its state decides (an outstanding
# balance) — gives the same answer however often it is sent, so it waits for a person at once.
RETRIED_ERROR_KINDS = frozenset({"transient"})


def release_hint(party_id: int) -> str:
    """What ends a wait in the error queue, for the person reading it."""
    return (
        "fix the record in Capsule or Xero (a changed record is sent again by the next sync),"
        f" or `capsule-xero retry {party_id}` to send it again as it is"
    )


class PlanNotApplicable(PlanError):
    """The plan does not exist, or is not in a state that may be applied (pending approval, superseded)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How the error queue spaces the retries of a transient failure (``RETRIED_ERROR_KINDS``):
    ``first_delay`` × ``factor`` ^ (attempts − 1), at most ``max_delay``; after ``max_attempts``
    failed attempts the party is ``dead``. Other refusals are dead at once."""

    first_delay: timedelta = timedelta(minutes=15)
    factor: float = 4.0
    max_delay: timedelta = timedelta(hours=24)
    max_attempts: int = 5

    def delay(self, attempts: int) -> timedelta:
        return min(self.first_delay * (self.factor ** max(0, attempts - 1)), self.max_delay)


@dataclass
class ApplyResult:
    """What one run of ``apply_plan`` did. ``problems`` are one plain line each, for a person."""

    plan_id: int
    status: str = ""
    created: int = 0
    exists: int = 0  # creates an earlier, interrupted attempt had made (found, not made again)
    updated: int = 0
    archived: int = 0
    restored: int = 0
    failed: int = 0  # validation: the record must be fixed (in the error queue)
    refused: int = 0  # Xero's state forbids it, e.g. a repeating invoice (in the error queue)
    queued: int = 0  # not sent: the party waits in the error queue (dead, or not due yet)
    unknown: int = 0  # answer lost and not settled: looked up before anything is sent next run
    not_sent: int = 0  # never reached Xero (the run stopped first, e.g. at the daily limit): sent next run
    recovered: int = 0  # outcomes settled by a lookup after a crash
    write_calls: int = 0  # contact write attempts (batches sent, retries with a new key included)
    batches: int = 0
    groups_changed: int = 0  # contacts whose managed group membership was set
    notes: int = 0
    written_back: int = 0
    write_backs_pending: int = 0
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None  # why sending stopped early (Xero unavailable, daily limit ...)

    @property
    def complete(self) -> bool:
        """Every operation reached Xero or the error queue with a reason, and nothing stopped the run."""
        return self.status in DONE and self.stopped is None

    def counts(self) -> dict[str, int]:
        names = ("created", "exists", "updated", "archived", "restored", "failed", "refused", "queued")
        extra = ("unknown", "not_sent", "recovered", "write_calls", "groups_changed", "notes", "written_back")
        return {name: getattr(self, name) for name in (*names, *extra, "write_backs_pending")}


@dataclass(frozen=True)
class Progress:
    """Handed to ``on_progress``: ``stage`` (recover, contacts, groups, notes, write_back), done/total."""

    stage: str
    done: int
    total: int


# ---- SQL ---------------------------------------------------------------------------------------


def statements(path: Path = APPLY_SQL) -> dict[str, str]:
    """The named statements of an SQL file (``-- name: x`` starts statement x)."""
    return sqlfile.statements(path)


def sql(name: str) -> str:
    return statements()[name]


def rows(con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None) -> list[dict]:
    result = con.execute(sql(name), dict(params or {}))
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def insert_rows(
    con: duckdb.DuckDBPyConnection, name: str, records: Iterable[Mapping[str, Any]], **scalars: Any
) -> None:
    """Run the bulk statement ``name`` once for all ``records`` (passed as one list per column):
    DuckDB pays per statement, so a batch of 50 contacts costs a few statements, not hundreds."""
    records = list(records)
    if records:
        columns = {key: [record[key] for record in records] for key in records[0]}
        con.execute(sql(name), {**columns, **scalars})


def transaction(con: duckdb.DuckDBPyConnection) -> _Transaction:
    return _Transaction(con)


class _Transaction:
    """``with transaction(con):`` commits at the end, rolls back on any exception (a kill included)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.con.begin()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            self.con.commit()
        else:
            self.con.rollback()


def insert_audit(
    con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]], at: datetime, *, undo: bool = False
) -> None:
    """``ledger.audit`` rows (plan_id, seq, party_id, contact_id, field, before, after, reason)."""
    insert_rows(con, "audit", records, at=at, is_undo=undo)


def ensure_apply_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The ledger, the plan tables (``sql/plans.sql``) and the apply loop's (``sql/apply.sql``), when missing."""
    ensure_plans(con)
    con.execute(sql("tables"))


def canonical(value: Any) -> str | None:
    """A canonical field value as text (JSON values of addresses, persons, groups stay JSON text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def group_names(value: Any) -> list[str]:
    """The group names of a canonical ``contact_groups`` value (JSON text of a sorted list)."""
    text = canonical(value)
    if not text:
        return []
    names = json.loads(text)
    return [str(n) for n in names] if isinstance(names, list) else []


def groups_value(names: Iterable[str]) -> str | None:
    """Canonical ``contact_groups``: sorted, distinct, null when none (transform/sql/macros.sql cx_groups_json)."""
    unique = sorted(set(names))
    return canonical(unique) if unique else None


# ---- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedOp:
    """One row of ``ledger.plan_operations`` as the apply loop reads it."""

    plan_id: int
    seq: int
    operation: str
    party_id: int
    contact_id: str | None
    contact_number: str | None
    changed_fields: tuple[str, ...]
    after: Mapping[str, Any]
    before: Mapping[str, Any]
    kept_fields: tuple[str, ...]
    reason: str | None
    inputs_hash: str | None = None  # what it asks of Xero (sql/plans.sql cx_operation_inputs)

    @classmethod
    def from_row(cls, plan_id: int, row: Mapping[str, Any]) -> PlannedOp:
        return cls(
            plan_id,
            int(row["seq"]),
            row["operation"],
            int(row["party_id"]),
            row["contact_id"],
            row["contact_number"],
            tuple(row["changed_fields"] or ()),
            json.loads(row["after"]) if row["after"] else {},
            json.loads(row["before"]) if row["before"] else {},
            tuple(row["kept_fields"] or ()),
            row["reason"],
            row.get("inputs_hash"),
        )

    @property
    def sent_fields(self) -> list[str]:
        """The changed fields that go into the contact element (not Website, groups or the number)."""
        return [f for f in self.changed_fields if f not in NOT_SENT]

    def contact_operation(self) -> ContactOperation:
        fields = (
            {} if self.operation == "archive" else {f: canonical(self.after.get(f)) for f in self.sent_fields}
        )
        # An archive sends only ContactID + status; a contact without a ContactNumber is still named.
        number = self.contact_number or (f"party {self.party_id}" if self.operation == "archive" else "")
        contact_id = None if self.operation == "create" else self.contact_id
        return ContactOperation(self.operation, self.party_id, number, fields, contact_id)  # type: ignore[arg-type]


def release(con: duckdb.DuckDBPyConnection, party_ids: Iterable[int]) -> list[int]:
    """A person releases parties that wait in the error queue: the next plan sends their operation
    again, as it is (and if Xero refuses it again, it waits again). Returns the parties released."""
    ensure_apply_tables(con)
    wanted = {"party_ids": sorted(set(party_ids))}
    waiting = [row[0] for row in con.execute(sql("waiting_failures"), wanted).fetchall()]
    con.execute(sql("release_failures"), wanted)
    return waiting


def load_operations(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[PlannedOp]:
    define_macros(con)
    return [PlannedOp.from_row(plan_id, r) for r in rows(con, "plan_operations", {"plan_id": plan_id})]


# ---- the apply loop ----------------------------------------------------------------------------


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
    check_current: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ApplyResult:
    """Apply plan ``plan_id``; see the module docstring. Safe to call again at any time: a rerun of
    an applied plan sends nothing, a partly applied one continues where it stopped.

    ``writer`` / ``capsule`` default to clients made from ``settings`` (and closed afterwards).
    ``now``: a fixed time or a clock, for the error queue's delays (tests). ``check_current``
    replaces ``reverse_etl.plans.check_plan_is_current`` (with ``rules``). Raises
    ``PlanNotApplicable``, and ``StalePlanError`` for a plan computed against an older Xero, the
    rules changed or a newer plan; an exception from Xero that stops the run is reported in
    ``ApplyResult.stopped`` after what was done is recorded.
    """
    ensure_apply_tables(con)
    found = rows(con, "plan", {"plan_id": plan_id})
    if not found:
        raise PlanNotApplicable(f"there is no plan {plan_id}")
    status = found[0]["status"]
    if status not in (*APPLICABLE, *DONE):
        hint = {
            "pending_approval": f"it waits for approval: `capsule-xero approve {plan_id}`",
            "superseded": "a newer plan replaced it: apply the newest plan",
        }.get(status, f"its status is {status}")
        raise PlanNotApplicable(f"plan {plan_id} cannot be applied: {hint}")
    own_writer = writer is None
    own_capsule = capsule is None
    if writer is None:
        from capsule_xero.xero.auth import XeroAuth

        writer = XeroContactWriter(settings, XeroAuth(settings))
    if capsule is None:
        capsule = CapsuleWriteBack(settings, field_name=rules.capsule.xero_contact_id_field)
    try:
        run = _Apply(
            con,
            plan_id,
            writer,
            capsule,
            rules,
            clock=_clock(now),
            retry=retry or RetryPolicy(),
            on_progress=on_progress,
        )
        return run.run(status, check_current or (lambda c, p: check_plan_is_current(c, p, rules)))
    finally:
        if own_writer:
            writer.close()
        if own_capsule:
            capsule.close()


def _clock(now: datetime | Callable[[], datetime] | None) -> Callable[[], datetime]:
    if now is None:
        return lambda: datetime.now(UTC)
    if callable(now):
        return now
    return lambda: now


class _Apply:
    """One run of the apply loop over one plan (state kept on the instance for the callbacks)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        plan_id: int,
        writer: XeroContactWriter,
        capsule: CapsuleWriteBack,
        rules: Rules,
        *,
        clock: Callable[[], datetime],
        retry: RetryPolicy,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.con = con
        self.plan_id = plan_id
        self.writer = writer
        self.capsule = capsule
        self.rules = rules
        self.now = clock
        self.retry = retry
        self.on_progress = on_progress
        self.result = ApplyResult(plan_id)
        self.ops = load_operations(con, plan_id)
        self.by_seq = {op.seq: op for op in self.ops}
        self._seq_of: dict[int, int] = {}  # id(ContactOperation) -> seq, for the writer's callbacks
        self._batches_total = 0
        self._values: _PlanTimeValues | None = None
        self._written: dict[str, dict[str, Any] | None] = {}  # ledger rows read or written this run
        # Rows recorded but not yet written: flushed in one statement per table, inside the
        # transaction that records a batch (flush()).
        self._outcomes: dict[tuple[int, int], dict[str, Any]] = {}
        self._ledger: dict[str, dict[str, Any]] = {}
        self._audit: list[dict[str, Any]] = []
        self._queue = {r["party_id"]: r for r in rows(con, "error_queue")}
        self._capsule_updated_before: dict[int, Any] = {}  # party -> its updatedAt before the write-back

    def progress(self, stage: str, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(stage, done, total))

    # ---- the run ---------------------------------------------------------------------------
    def run(
        self, status: str, check_current: Callable[[duckdb.DuckDBPyConnection, int], None]
    ) -> ApplyResult:
        result = self.result
        try:
            self.recover()
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
        if status in APPLICABLE:
            check_current(self.con, self.plan_id)
            self.set_status("applying")
            try:
                self.send_contacts()
                self.set_groups()
                self.add_notes()
            except XERO_STOPS as exc:
                stop = exc
        self.write_back()
        outcomes = {r["seq"]: r["status"] for r in rows(self.con, "outcomes", {"plan_id": self.plan_id})}
        result.unknown = sum(1 for op in self.ops if outcomes.get(op.seq) == "unknown")
        result.not_sent = sum(1 for op in self.ops if outcomes.get(op.seq) is None)
        if stop is not None:
            # Said once, in `stopped` (the commands print it), never once per contact.
            result.stopped = self.stop_message(stop)
        if status in DONE:
            result.status = status
        else:
            done = stop is None and all(outcomes.get(op.seq) in FINAL_STATUSES for op in self.ops)
            result.status = "applied" if done else "partly_applied"
            self.set_status(result.status)
        return result

    def stop_message(self, stop: BaseException) -> str:
        """Why sending stopped, in one line: for Xero's daily limit, what was not sent and when it goes."""
        if not isinstance(stop, DailyLimitReached):
            return str(stop)
        left = self.result.not_sent + self.result.unknown
        what = (
            f"{left:,} contact {'write' if left == 1 else 'writes'} and the groups and History notes after them"
            if left
            else "the contact groups and History notes still to set"
        )
        return (
            f"{stop.situation}: writing stopped with {what} not sent; the next run sends them {stop.timing}."
        )

    def set_status(self, status: str) -> None:
        mark_plan(self.con, self.plan_id, status, at=self.now())

    # ---- 1. recovery -----------------------------------------------------------------------
    def recover(self) -> None:
        """Settle every attempt whose answer was never recorded, for every plan, before sending."""
        self.recover_notes()
        open_attempts = rows(self.con, "open_attempts")
        if not open_attempts:
            return
        self.progress("recover", 0, len(open_attempts))
        plans: dict[int, dict[int, PlannedOp]] = {self.plan_id: self.by_seq}
        outcomes: dict[int, dict[int, str]] = {}
        pending: list[tuple[PlannedOp, datetime]] = []
        for attempt in open_attempts:
            plan_id = attempt["plan_id"]
            if plan_id not in plans:
                plans[plan_id] = {op.seq: op for op in load_operations(self.con, plan_id)}
            if plan_id not in outcomes:
                outcomes[plan_id] = {
                    r["seq"]: r["status"] for r in rows(self.con, "outcomes", {"plan_id": plan_id})
                }
            for seq in attempt["seqs"]:
                op = plans[plan_id].get(seq)
                if op is not None and outcomes[plan_id].get(seq) in (None, "unknown"):
                    pending.append((op, attempt["started_at"]))
        creates = [op for op, _ in pending if op.operation == "create"]
        statuses = [op for op, _ in pending if op.operation in ("archive", "restore")]
        found = None
        if creates or statuses:
            found = self.writer.find_contacts(
                contact_numbers=[str(op.contact_number) for op in creates],
                contact_ids=[str(op.contact_id) for op in statuses],
                modified_since=min(started for _, started in pending),
            )
        at = self.now()
        self.read_written(op.contact_id for op, _ in pending)
        with transaction(self.con):
            for op, _ in pending:
                contact: Mapping[str, Any] | None = None
                if found is not None and op.operation == "create":
                    contact = found.number(str(op.contact_number))
                elif found is not None and op.operation in ("archive", "restore"):
                    candidate = found.contact(str(op.contact_id))
                    wanted = "ARCHIVED" if op.operation == "archive" else "ACTIVE"
                    if candidate is not None and candidate.get("ContactStatus") == wanted:
                        contact = candidate
                if contact is None:
                    continue  # did not land (or an update, which cannot be told): sent again below
                status = {"create": "created", "archive": "archived", "restore": "restored"}[op.operation]
                contact_id = str(contact.get("ContactID") or op.contact_id or "").lower()
                message = "settled after an interrupted run: found in Xero by a lookup"
                self.record_success(op, status, contact_id, message, at)
                self.result.recovered += 1
            self.flush(at)
            for attempt in open_attempts:
                self.con.execute(
                    sql("settle_attempts"),
                    {"plan_id": attempt["plan_id"], "batch_no": attempt["batch_no"], "at": at},
                )
        self.progress("recover", len(open_attempts), len(open_attempts))

    def recover_notes(self) -> None:
        """A History note whose call was never answered: read the History before sending it again."""
        for note in rows(self.con, "open_notes"):
            landed = False
            if note["note"]:
                present = {str(h.get("Details")) for h in self.writer.history(note["contact_id"])}
                landed = all(piece in present for piece in split_note(note["note"]))
            with transaction(self.con):
                if landed:
                    self.con.execute(
                        sql("note_written"),
                        {"note_hash": note["note_hash"], "item_keys": note["item_keys"], "at": self.now()},
                    )
                self.con.execute(sql("note_done"), {"note_hash": note["note_hash"]})

    # ---- 3. contacts -----------------------------------------------------------------------
    def send_contacts(self) -> None:
        outcomes = {r["seq"]: r["status"] for r in rows(self.con, "outcomes", {"plan_id": self.plan_id})}
        todo = [op for op in self.ops if outcomes.get(op.seq) not in FINAL_STATUSES]
        sendable: list[ContactOperation] = []
        at = self.now()
        with transaction(self.con):
            for op in todo:
                held = self.held_back(op, at)
                if held is not None:
                    self.record_outcome(op, "queued", None, "queued", held, at)
                    self.result.queued += 1
                    continue
                try:
                    operation = op.contact_operation()
                    contact_element(operation)  # a value that cannot be sent fails here, not mid-batch
                except PayloadError as exc:
                    self.record_failure(op, "failed", "validation", str(exc), at)
                    continue
                self._seq_of[id(operation)] = op.seq
                sendable.append(operation)
            self.flush(at)
        if not sendable:
            return
        first_batch = int(rows(self.con, "next_batch_no", {"plan_id": self.plan_id})[0]["batch_no"])
        self._batches_total = len(self.writer.batches(sendable))
        self.progress("contacts", 0, self._batches_total)
        for batch in self.writer.write(sendable, on_attempt=self.record_attempt, first_batch=first_batch):
            self.record_batch(batch)
            self.result.batches += 1
            self.progress("contacts", self.result.batches, self._batches_total)

    def held_back(self, op: PlannedOp, at: datetime) -> str | None:
        """Why the error queue keeps this party's operation back, or None when it may be sent."""
        row = self._queue.get(op.party_id)
        if row is None:
            return None
        if row["state"] == "dead":
            if row.get("inputs_hash") is None or row["inputs_hash"] != op.inputs_hash:
                return None  # the record changed since Xero refused it, or a person released it
            return f"waits for a person in the error queue ({row['message']}): {release_hint(op.party_id)}"
        if row["next_attempt_at"] is not None and row["next_attempt_at"] > at:
            return (
                f"waiting in the error queue until {row['next_attempt_at']:%Y-%m-%d %H:%M %Z} "
                f"(attempt {row['attempts']} failed: {row['message']})"
            )
        return None

    def record_attempt(self, attempt: BatchAttempt) -> None:
        """Before the request leaves: the attempt is in the outbox, committed (autocommit)."""
        self.con.execute(
            sql("insert_attempt"),
            {
                "plan_id": self.plan_id,
                "batch_no": attempt.batch,
                "attempt": attempt.attempt,
                "idempotency_key": attempt.idempotency_key,
                "seqs": [self._seq_of[id(op)] for op in attempt.operations],
                "started_at": attempt.started_at,
            },
        )
        self.result.write_calls += 1

    def record_batch(self, batch: BatchResult) -> None:
        at = self.now()
        self.read_written(item.contact_id for item in batch.items)
        with transaction(self.con):
            for item in batch.items:
                self.record_item(item, at)
            self.flush(at)
            unknown = any(item.status == "unknown" for item in batch.items)
            self.con.execute(
                sql("close_batch"),
                {
                    "plan_id": self.plan_id,
                    "batch_no": batch.batch,
                    "state": "answered" if unknown else "settled",
                    "at": at,
                },
            )

    def record_item(self, item: ItemOutcome, at: datetime) -> None:
        op = self.by_seq[self._seq_of[id(item.operation)]]
        if item.ok:
            self.record_success(op, item.status, item.contact_id or op.contact_id, item.message, at)
        elif item.status == "not_sent":
            pass  # no outcome: the next run sends it like any operation not yet sent
        elif item.status == "unknown":
            self.record_outcome(op, "unknown", None, item.error_kind, item.message, at)
            self.result.problems.append(
                f"party {op.party_id} ({op.operation} {op.contact_number}): {item.message}"
            )
        else:
            status = "refused" if item.error_kind == "refused" else "failed"
            self.record_failure(op, status, item.error_kind or "validation", item.message or "", at)

    # ---- recording outcomes ----------------------------------------------------------------
    def record_outcome(
        self,
        op: PlannedOp,
        status: str,
        contact_id: str | None,
        error_kind: str | None,
        message: str | None,
        at: datetime,
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
        insert_rows(self.con, "record_outcomes", self._outcomes.values(), at=at)
        insert_rows(self.con, "write_contacts", self._ledger.values(), written_at=at)
        insert_audit(self.con, self._audit, at)
        self._outcomes, self._ledger, self._audit = {}, {}, []

    def record_failure(self, op: PlannedOp, status: str, error_kind: str, message: str, at: datetime) -> None:
        self.record_outcome(op, status, op.contact_id, error_kind, message, at)
        previous = self._queue.get(op.party_id)
        attempts = (previous["attempts"] if previous else 0) + 1
        # A validation error or a refusal Xero's state decides gives the same answer however often
        # it is sent: it waits for a person (or a change of the record) at once. Only a failure
        # named transient is retried, with growing delays.
        retry = error_kind in RETRIED_ERROR_KINDS and attempts < self.retry.max_attempts
        # What is held back until it changes. A Name or ContactNumber another contact holds is no
        # fault of the record: every plan's preflight checks it against a fresh read of Xero (and
        # suffixes, links or sends it to review), so a plan that still carries the same write has
        # found the value free again; holding it back would only keep it from Xero.
        inputs_hash = None if "already assigned to another contact" in message.lower() else op.inputs_hash
        entry = {
            "party_id": op.party_id,
            "state": "retrying" if retry else "dead",
            "attempts": attempts,
            "next_attempt_at": at + self.retry.delay(attempts) if retry else None,
            "message": message,
            "inputs_hash": inputs_hash,
        }
        self._queue[op.party_id] = entry
        self.con.execute(
            sql("queue_failure"),
            {
                "party_id": op.party_id,
                "contact_id": op.contact_id,
                "plan_id": op.plan_id,
                "seq": op.seq,
                "operation": op.operation,
                "error_kind": error_kind,
                "message": message,
                "attempts": attempts,
                "max_attempts": self.retry.max_attempts,
                "delay": self.retry.delay(attempts),
                "retry": error_kind in RETRIED_ERROR_KINDS,
                "at": at,
            },
        )
        if inputs_hash is None or retry:
            self.con.execute(sql("forget_inputs"), {"party_id": op.party_id})
        else:
            self.con.execute(sql("keep_inputs"), {"party_id": op.party_id, "inputs_hash": inputs_hash})
        setattr(self.result, status, getattr(self.result, status) + 1)
        record = f"party {op.party_id} ({op.operation} {op.contact_number or op.contact_id})"
        if retry:
            self.result.problems.append(
                f"{record}: {status}: {message} — attempt {attempts} of {self.retry.max_attempts}, "
                f"retried after {entry['next_attempt_at']:%Y-%m-%d %H:%M %Z}"
            )
        elif inputs_hash is None:
            self.result.problems.append(
                f"{record}: {status}: {message} — sent again once no other Xero contact holds it"
                " (each plan checks a fresh read of Xero first)"
            )
        else:
            self.result.problems.append(
                f"{record}: {status}: {message} — waits for a person: {release_hint(op.party_id)}"
            )

    def record_success(
        self, op: PlannedOp, status: str, contact_id: str | None, message: str | None, at: datetime
    ) -> None:
        contact_id = (contact_id or "").lower() or None
        self.record_outcome(op, status, contact_id, None, message, at)
        if op.plan_id == self.plan_id:
            setattr(self.result, status, getattr(self.result, status) + 1)
        if self._queue.pop(op.party_id, None) is not None:
            self.con.execute(sql("clear_failure"), {"party_id": op.party_id})
            self.con.execute(sql("forget_inputs"), {"party_id": op.party_id})
        if contact_id is None:
            return
        self.write_ledger_row(op, contact_id, at)
        self.write_audit(op, contact_id, at)

    def values(self) -> _PlanTimeValues:
        if self._values is None:
            self._values = _PlanTimeValues.load(self.con, self.ops)
        return self._values

    def read_written(self, contact_ids: Iterable[str | None]) -> None:
        """Read the ledger rows of these contacts (one query for a batch) into the run's cache."""
        wanted = sorted({c.lower() for c in contact_ids if c} - set(self._written))
        if not wanted:
            return
        found = {r["contact_id"]: r for r in rows(self.con, "written_contacts", {"contact_ids": wanted})}
        for contact_id in wanted:
            self._written[contact_id] = found.get(contact_id)

    def written(self, contact_id: str) -> dict[str, Any] | None:
        self.read_written([contact_id])
        return self._written[contact_id.lower()]

    def write_ledger_row(self, op: PlannedOp, contact_id: str, at: datetime) -> None:
        """``ledger.written_contacts`` after a write, by the rule in ``sql/ledger.sql``."""
        existing = self.written(contact_id)
        values: dict[str, Any] = {}
        if op.operation == "archive":
            # Archiving changes only contact_status.
            for name in COMPARED_FIELDS:
                values[name] = existing[name] if existing else self.values().xero(op, name, existing)
            values["contact_status"] = "ARCHIVED"
        else:
            for name in COMPARED_FIELDS:
                values[name] = self.field_value(op, name, existing)
            values["contact_status"] = "ACTIVE"
        self._ledger[contact_id] = {
            **values,
            "contact_id": contact_id,
            "party_id": op.party_id,
            "plan_id": op.plan_id,
        }
        self._written[contact_id] = {"contact_id": contact_id, **values}

    def field_value(self, op: PlannedOp, name: str, existing: Mapping[str, Any] | None) -> str | None:
        if name == "contact_number" and op.contact_number:
            return op.contact_number  # sent on every create, update and restore
        if name == "contact_groups" and name in op.changed_fields:
            # Recorded as Xero held them until the group step has set them (see the module docstring).
            return None if op.operation == "create" else canonical(op.before.get(name))
        if name in op.changed_fields and name not in NOT_SENT:
            return canonical(op.after.get(name))
        if name in op.kept_fields:
            return self.values().capsule(op, name, existing)
        if op.operation == "create":
            return None  # a new contact holds nothing it was not sent
        return self.values().xero(op, name, existing)

    def write_audit(self, op: PlannedOp, contact_id: str, at: datetime) -> None:
        status_change = {
            "create": (None, "ACTIVE"),
            "archive": ("ACTIVE", "ARCHIVED"),
            "restore": ("ARCHIVED", "ACTIVE"),
        }
        entries: list[tuple[str, str | None, str | None]] = []
        if op.operation in status_change:
            entries.append(("contact_status", *status_change[op.operation]))
        if op.operation != "archive":
            for name in op.sent_fields:
                entries.append((name, canonical(op.before.get(name)), canonical(op.after.get(name))))
            if "contact_number" in op.changed_fields and op.contact_number:
                entries.append(
                    ("contact_number", canonical(op.before.get("contact_number")), op.contact_number)
                )
        for name, before, after in entries:
            self.audit(op, contact_id, name, before, after, at)

    def audit(
        self, op: PlannedOp, contact_id: str, name: str, before: str | None, after: str | None, at: datetime
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

    # ---- 5a. groups ------------------------------------------------------------------------
    def set_groups(self) -> None:
        """Managed group membership for every written contact of the plan whose groups changed."""
        contacts = {
            r["party_id"]: r["contact_id"]
            for r in rows(self.con, "party_contacts", {"plan_id": self.plan_id})
        }
        work: list[tuple[PlannedOp, str, list[str], list[str], list[str]]] = []
        for op in self.ops:
            if "contact_groups" not in op.changed_fields or op.operation == "archive":
                continue
            contact_id = contacts.get(op.party_id)
            if contact_id is None:
                continue  # the contact was not written (failed, queued, unknown)
            desired = group_names(op.after.get("contact_groups"))
            before = [] if op.operation == "create" else group_names(op.before.get("contact_groups"))
            written = self.written(contact_id)
            if written is not None and written["contact_groups"] == groups_value(desired):
                continue  # set by an earlier run of this plan
            add = [n for n in desired if n.casefold() not in {b.casefold() for b in before}]
            remove = [n for n in before if n.casefold() not in {d.casefold() for d in desired}]
            work.append((op, contact_id, before, add, remove))
        if not work:
            return
        # Recorded before the first call: a run killed between group calls leaves contacts in some of
        # their groups, and the next diff must see that as this tool's doing (ledger.sql group_outbox).
        insert_rows(
            self.con,
            "groups_sending",
            (
                {
                    "contact_id": contact_id,
                    "party_id": op.party_id,
                    "plan_id": op.plan_id,
                    "target": groups_value(group_names(op.after.get("contact_groups"))),
                }
                for op, contact_id, *_ in work
            ),
            at=self.now(),
        )
        wanted = [name for *_, add, _ in work for name in add]
        ensured = self.writer.ensure_groups(wanted) if wanted else GroupsEnsured(ids={})
        existing: dict[str, str] = {}
        if any(remove for *_, remove in work):
            existing = {
                str(g.get("Name", "")).strip().casefold(): str(g["ContactGroupID"]).lower()
                for g in self.writer.contact_groups()
            }
        adds: dict[str, list[str]] = {}
        removes: dict[str, list[str]] = {}
        for _op, contact_id, _before, add, remove in work:
            for name in add:
                if name in ensured.ids:
                    adds.setdefault(ensured.ids[name], []).append(contact_id)
            for name in remove:
                group_id = existing.get(name.strip().casefold())
                if group_id is not None:
                    removes.setdefault(group_id, []).append(contact_id)
        failed: dict[tuple[str, str], str] = {}  # (group id, contact id) -> Xero's message
        group_list = sorted(set(adds) | set(removes))
        for done, group_id in enumerate(group_list, start=1):
            outcome = self.writer.set_group_members(
                group_id, add=adds.get(group_id, ()), remove=removes.get(group_id, ())
            )
            for contact_id, message in outcome.failed.items():
                failed[(group_id, contact_id)] = message
            self.progress("groups", done, len(group_list))
        at = self.now()
        settled: list[dict[str, Any]] = []
        for op, contact_id, before, add, remove in work:
            result = {n.casefold(): n for n in before}
            problems = []
            for name in add:
                group_id = ensured.ids.get(name)
                if group_id is None:
                    problems.append(
                        f'group "{name}" could not be created: {ensured.failed.get(name, "refused")}'
                    )
                elif (group_id, contact_id) in failed:
                    problems.append(f'not added to "{name}": {failed[(group_id, contact_id)]}')
                else:
                    result[name.casefold()] = name
            for name in remove:
                group_id = existing.get(name.strip().casefold())
                if group_id is not None and (group_id, contact_id) in failed:
                    problems.append(f'not removed from "{name}": {failed[(group_id, contact_id)]}')
                else:
                    result.pop(name.casefold(), None)
            value = groups_value(result.values())
            settled.append({"contact_id": contact_id, "contact_groups": value, "plan_id": op.plan_id})
            if self._written.get(contact_id) is not None:
                self._written[contact_id]["contact_groups"] = value
            before_value = None if op.operation == "create" else canonical(op.before.get("contact_groups"))
            if value != before_value:
                self.audit(op, contact_id, "contact_groups", before_value, value, at)
            if not problems:
                self.result.groups_changed += 1
            for problem in problems:
                self.result.problems.append(
                    f"party {op.party_id} groups: {problem} (the next plan tries again)"
                )
        with transaction(self.con):
            insert_rows(self.con, "set_written_groups", settled, at=at)
            insert_rows(self.con, "groups_done", ({"contact_id": r["contact_id"]} for r in settled))
            self.flush(at)

    # ---- 5b. History notes -----------------------------------------------------------------
    def add_notes(self) -> None:
        notes = rows(self.con, "notes_to_add", {"plan_id": self.plan_id})
        if not notes:
            return
        created = {
            r["party_id"]: r["contact_id"]
            for r in rows(self.con, "party_contacts", {"plan_id": self.plan_id})
            if r["operation"] != "archive"
        }
        for done, note in enumerate(notes, start=1):
            contact_id = note["contact_id"] or created.get(note["party_id"])
            if contact_id is None:
                live = rows(self.con, "live_contact_of_party", {"party_id": note["party_id"]})
                contact_id = live[0]["contact_id"] if live else None
            if contact_id is None:
                # No Xero contact (yet): its create failed or waits. The items stay un-noted, so the
                # next plan carries the note again.
                self.result.problems.append(
                    f"party {note['party_id']}: History note waits: the party has no Xero contact yet"
                )
                continue
            self.con.execute(
                sql("note_sending"),
                {
                    "note_hash": note["note_hash"],
                    "plan_id": self.plan_id,
                    "party_id": note["party_id"],
                    "contact_id": contact_id,
                    "at": self.now(),
                },
            )
            outcome = self.writer.add_history(contact_id, note["note"])
            with transaction(self.con):
                if outcome.ok:
                    self.con.execute(
                        sql("note_written"),
                        {"note_hash": note["note_hash"], "item_keys": note["item_keys"], "at": self.now()},
                    )
                self.con.execute(sql("note_done"), {"note_hash": note["note_hash"]})
            if outcome.ok:
                self.result.notes += 1
            else:
                self.result.problems.append(
                    f"party {note['party_id']}: History note not added ({outcome.message}); the next plan tries again"
                )
            self.progress("notes", done, len(notes))

    # ---- 5c. write-back to Capsule ---------------------------------------------------------
    def write_back(self) -> None:
        if has_table(self.con, "staging", "capsule_parties"):
            self.con.execute(sql("settle_pending_write_backs"), {"at": self.now()})
        wanted = self.write_back_wanted()
        if not wanted:
            return
        insert_rows(
            self.con,
            "write_backs_pending",
            (
                {"party_id": p, "contact_id": c, "updated_before": self._capsule_updated_before.get(p)}
                for p, c in wanted.items()
            ),
            plan_id=self.plan_id,
            at=self.now(),
        )
        done: list[dict[str, Any]] = []  # written, not yet recorded: a lost record only costs a rewrite
        written = 0

        def record(state: str) -> None:
            insert_rows(self.con, "write_backs_done", done, state=state, at=self.now())
            done.clear()

        def on_written(party_id: int, _contact_id: str, updated_at: str | None) -> None:
            nonlocal written
            written += 1
            done.append({"party_id": party_id, "message": None, "updated_after": updated_at})
            if len(done) >= WRITE_BACKS_PER_RECORD:
                record("written")
            self.progress("write_back", written, len(wanted))

        try:
            outcome = self.capsule.write_contact_ids(
                wanted, self.rules.capsule.xero_contact_id_field, on_written=on_written
            )
        except (CapsuleError, httpx.HTTPError) as exc:
            record("written")
            self.result.write_backs_pending = len(wanted) - written
            self.result.problems.append(
                f"Capsule write-back stopped: {exc}; the rest is done by the next run"
            )
            return
        record("written")
        done.extend({"party_id": p, "message": m, "updated_after": None} for p, m in outcome.failed.items())
        record("failed")
        for party_id, message in outcome.failed.items():
            self.result.problems.append(f"party {party_id}: ContactID not written back to Capsule: {message}")
        self.result.written_back = len(outcome.written)
        self.result.write_backs_pending = len(outcome.pending)
        if outcome.warning:
            self.result.problems.append(outcome.warning)
        elif outcome.stopped:
            self.result.problems.append(
                f"Capsule write-back stopped with {len(outcome.pending)} left for the next run: {outcome.stopped}"
            )

    def write_back_wanted(self) -> dict[int, str]:
        return write_backs_wanted(self.con, self.plan_id, updated_before=self._capsule_updated_before)


@dataclass
class _PlanTimeValues:
    """Values the plan does not carry but the ledger rule needs: Xero's value of a field not sent, and
    the Capsule value of a kept field. Read from the reconcile tables the plan was made from
    (``reconcile.current_contacts`` / ``reconcile.desired_contacts``): an approved plan that is not
    stale is the newest, so those tables are its snapshot. Without them: the ledger's last value."""

    current: dict[str, dict[str, Any]]
    desired: dict[int, dict[str, Any]]

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, ops: list[PlannedOp]) -> _PlanTimeValues:
        ids = sorted({op.contact_id.lower() for op in ops if op.contact_id})
        parties = sorted({op.party_id for op in ops if op.kept_fields})
        current: dict[str, dict[str, Any]] = {}
        desired: dict[int, dict[str, Any]] = {}
        if ids and has_table(con, "reconcile", "current_contacts"):
            current = {r["contact_id"]: r for r in rows(con, "plan_time_xero", {"contact_ids": ids})}
        if parties and has_table(con, "reconcile", "desired_contacts"):
            desired = {int(r["party_id"]): r for r in rows(con, "plan_time_capsule", {"party_ids": parties})}
        return cls(current, desired)

    def xero(self, op: PlannedOp, name: str, existing: Mapping[str, Any] | None) -> str | None:
        if name in op.before:
            return canonical(op.before[name])
        record = self.current.get(str(op.contact_id).lower())
        if record is not None:
            return canonical(record.get(name))
        return existing[name] if existing else None

    def capsule(self, op: PlannedOp, name: str, existing: Mapping[str, Any] | None) -> str | None:
        if name in op.after:
            return canonical(op.after[name])
        record = self.desired.get(op.party_id)
        if record is not None:
            return canonical(record.get(name))
        log.warning(
            "plan %s party %s: no Capsule value for the kept field %s; the ledger keeps Xero's",
            op.plan_id,
            op.party_id,
            name,
        )
        return self.xero(op, name, existing)
