"""Numbered, stored plans: what a sync will write to Xero, approved before anything is sent.

A plan is a snapshot of the reconcile's writes (``reconcile.contact_operations`` and
``reconcile.history_notes``) in the durable ``ledger`` schema (DDL: ``sql/plans.sql``):

- ``ledger.plans``: one row per plan — number, when, the rules' fingerprint, the Xero state it was
  computed against (``xero_state_at``: the newest ``UpdatedDateUTC`` extracted), its status
  (``pending_approval | approved | applying | applied | partly_applied | superseded | empty``), why it
  waits for approval, and counts per operation;
- ``ledger.plan_operations``: one row per contact written, with per-field ``before`` / ``after``
  values (canonical text, transform/sql/reconcile/README.md "The contact shape") and the reason;
- ``ledger.plan_notes``: the History notes it adds; ``ledger.plan_held_back``: the parties the error
  queue kept out of it; ``counts["write_backs"]``: ContactIDs of contacts Xero already has that the
  Capsule field should hold and does not (left pending by an earlier run, or never written).

Rules, in the order a run meets them:

0. The newest plan, when its apply was interrupted (``applying``: the run died; ``partly_applied``:
   it stopped), stands while it still fits Xero and the rules (``check_plan_is_current``):
   ``create_plan`` returns it (``Plan.resumes``) instead of a new plan, so the next apply finishes
   what it started with the approval it had. When it no longer fits it is closed as
   ``partly_applied`` and a new plan is made; the diff plans whatever it left undone.
1. ``create_plan`` numbers plans 1, 2, … Parties the error queue holds back (dead, while the draft
   asks Xero the very same thing that was refused; retrying, until due) are left out and listed;
   queue entries of parties the draft wants nothing from are dropped. A plan with nothing to write
   (no operation, note or write-back) is stored as ``empty`` — still
   numbered, so the newest plan always says what the newest reconcile found, and an ``empty`` plan
   supersedes an unapplied one the data has since made moot. A plan that comes out exactly like the
   newest unapplied (or empty) one — same rules, operations, notes and write-backs — is not stored again:
   the earlier plan is kept with its number and approval, and only its ``xero_state_at`` moves
   forward (it was just recomputed against the newer Xero and found the same). That keeps an
   approval valid across reruns and keeps nightly no-change runs from minting numbers.
2. Otherwise the earlier plans not yet applied (``pending_approval``, ``approved``) become
   ``superseded``, and the new one is ``approved`` automatically unless a rule of the ``approval:``
   section says a person must look first: more operations than ``max_operations``, any archive
   (``archives_need_approval``), or a first migration (``first_migration_needs_approval``: nothing in
   ``ledger.written_contacts`` yet).
3. ``approve`` approves only the newest plan, only while it waits.
4. ``check_plan_is_current`` (the apply loop calls it after a fresh Xero extract) raises
   ``StalePlanError`` when a Xero contact changed or appeared after the plan's ``xero_state_at`` (the
   plan's own writes excepted, so an interrupted apply can resume), when a newer plan exists, or when
   the rules changed.

No dagster, no assets import (DESIGN.md layout: ``assets → reverse_etl``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from reverse_etl.ledger import ensure_ledger, has_table
from reverse_etl.write_backs import write_backs_wanted

if TYPE_CHECKING:
    from capsule_xero.rules import Rules

SQL_DIR = Path(__file__).resolve().parent / "sql"
PLANS_SQL = SQL_DIR / "plans.sql"
PLAN_MACROS_SQL = SQL_DIR / "plan_macros.sql"
QUERIES = SQL_DIR / "plans"

PLANNED_OPERATIONS = ("create", "update", "archive", "restore")
STATUSES = ("pending_approval", "approved", "applying", "applied", "partly_applied", "superseded", "empty")
# Plans nothing has been sent for yet: a newer plan replaces them.
NOT_STARTED = ("pending_approval", "approved")
# Plans a new identical one may stand in for (same number, approval kept).
REUSABLE = ("pending_approval", "approved", "empty")
# Plans whose apply started and did not finish (killed, or stopped by Xero or its daily limit): the
# newest such plan stands, while still current, until an apply finishes it (``create_plan``).
INTERRUPTED = ("applying", "partly_applied")
# Contact ids shown in a staleness message; the count says how many there are in all.
STALE_IDS_SHOWN = 5
# The apply loop's tables (owned by reverse_etl/apply.py): what a plan already sent, when they exist.
OWN_WRITES = {
    "written_contacts": "own_written",
    "operation_outcomes": "own_outcomes",
    "outbox": "own_outbox",
    "history_notes": "own_notes",
}


class PlanError(ValueError):
    """A plan cannot be made, found, approved or applied as asked; the message says what to do."""


class StalePlanError(PlanError):
    """The plan was computed against an older Xero (or other rules) and must not be applied."""

    def __init__(
        self,
        message: str,
        *,
        plan_id: int,
        changed_contacts: int = 0,
        contact_ids: Sequence[str] = (),
        rules_changed: bool = False,
        superseded_by: int | None = None,
    ) -> None:
        super().__init__(message)
        self.plan_id = plan_id
        self.changed_contacts = changed_contacts
        self.contact_ids = list(contact_ids)
        self.rules_changed = rules_changed
        self.superseded_by = superseded_by


@dataclass(frozen=True)
class HeldBack:
    """A party the error queue kept out of a plan."""

    party_id: int
    operation: str | None
    queue_state: str
    next_attempt_at: datetime | None
    error_kind: str | None
    message: str | None


@dataclass(frozen=True)
class Plan:
    """One stored plan (a row of ``ledger.plans``), with what the run that made it learnt."""

    plan_id: int
    created_at: datetime
    status: str
    rules_fingerprint: str
    xero_state_at: datetime | None
    capsule_state_at: datetime | None
    approval_reasons: tuple[str, ...]
    counts: dict[str, int]
    approved_at: datetime | None = None
    applied_at: datetime | None = None
    held_back: tuple[HeldBack, ...] = ()
    # Set by create_plan: the earlier plan stood in for an identical new one / plans it superseded /
    # the newest plan's apply was interrupted and it stands until an apply finishes it.
    reused: bool = False
    superseded: tuple[int, ...] = field(default=())
    resumes: bool = False

    @property
    def operations(self) -> int:
        """Contacts the plan writes (History notes not counted)."""
        return sum(self.counts.get(op, 0) for op in PLANNED_OPERATIONS)

    @property
    def notes(self) -> int:
        return self.counts.get("notes", 0)

    @property
    def write_backs(self) -> int:
        """ContactIDs to write back to Capsule for contacts Xero already has (pending or missing)."""
        return self.counts.get("write_backs", 0)

    @property
    def waits_for_approval(self) -> bool:
        return self.status == "pending_approval"


@dataclass(frozen=True)
class PlanOperation:
    """One row of ``ledger.plan_operations``; ``after`` / ``before`` parsed (before is None for a create)."""

    plan_id: int
    seq: int
    operation: str
    party_id: int
    contact_id: str | None
    contact_number: str | None
    name: str | None
    changed_fields: tuple[str, ...]
    after: dict[str, str | None]
    before: dict[str, str | None] | None
    kept_fields: tuple[str, ...]
    reason: str | None
    expect_refusal: bool


@dataclass(frozen=True)
class PlanNote:
    plan_id: int
    party_id: int
    contact_id: str | None
    note_hash: str
    item_keys: tuple[str, ...]
    note: str


def ensure_plans(con: duckdb.DuckDBPyConnection) -> None:
    """Create the plan tables (and the ledger they sit beside) when missing; never touch existing rows."""
    ensure_ledger(con)
    con.execute(PLANS_SQL.read_text())
    define_macros(con)


def define_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The connection's macros over plans (``sql/plan_macros.sql``: ``cx_operation_inputs``)."""
    con.execute(PLAN_MACROS_SQL.read_text())


def _query(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text()


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


# ---- making a plan --------------------------------------------------------------------------------


def create_plan(con: duckdb.DuckDBPyConnection, rules: Rules, *, now: datetime | None = None) -> Plan:
    """Snapshot the reconcile's writes as the next numbered plan (see the module docstring for the rules).

    Needs the reconcile tables (``transform.stages.reconcile``) and ``raw.xero_contacts``.
    """
    now = now or datetime.now(UTC)
    ensure_plans(con)
    for schema, table in (("reconcile", "contact_operations"), ("reconcile", "history_notes")):
        if not has_table(con, schema, table):
            raise PlanError(f"{schema}.{table} is missing: reconcile first (`capsule-xero plan --refresh`).")
    fingerprint = rules.fingerprint()
    con.begin()
    try:
        plan = _create_plan(con, rules, fingerprint, now)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return plan


def _create_plan(con: duckdb.DuckDBPyConnection, rules: Rules, fingerprint: str, now: datetime) -> Plan:
    interrupted = _interrupted(con, rules)
    if interrupted is not None:
        return interrupted
    con.execute(f"create or replace temp table plan_draft_operations as {_query('operations')}")
    con.execute(f"create or replace temp table plan_draft_notes as {_query('notes')}")
    try:
        held_back = _hold_back(con, now)
        write_backs = _write_backs_wanted(con, rules)
        ((content_hash,),) = con.execute(
            _query("content_hash"),
            {
                "rules_fingerprint": fingerprint,
                "write_backs": ",".join(f"{p}:{c}" for p, c in sorted(write_backs.items())),
            },
        ).fetchall()
        counts = _draft_counts(con, len(held_back))
        counts["write_backs"] = len(write_backs)
        xero_state_at, capsule_state_at = _source_states(con)
        latest = _latest_row(con)
        if latest is not None and latest["status"] in REUSABLE and latest["content_hash"] == content_hash:
            return _reuse(con, rules, latest, counts, (xero_state_at, capsule_state_at), held_back, now)
        ((plan_id,),) = con.execute("select coalesce(max(plan_id), 0) + 1 from ledger.plans").fetchall()
        superseded = [
            row[0]
            for row in con.execute(
                "update ledger.plans set status = 'superseded' where list_contains(?, status) returning plan_id",
                [list(NOT_STARTED)],
            ).fetchall()
        ]
        empty = counts_total(counts) == 0
        reasons = [] if empty else approval_reasons(con, rules, counts)
        status = "empty" if empty else ("pending_approval" if reasons else "approved")
        con.execute(
            "insert into ledger.plans (plan_id, created_at, rules_fingerprint, xero_state_at, capsule_state_at,"
            " status, approval_reasons, operation_counts, approved_at, applied_at, content_hash)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?)",
            [
                plan_id,
                now,
                fingerprint,
                xero_state_at,
                capsule_state_at,
                status,
                reasons,
                json.dumps(counts),
                now if status == "approved" else None,
                content_hash,
            ],
        )
        con.execute(
            "insert into ledger.plan_operations (plan_id, seq, operation, party_id, contact_id, contact_number,"
            " changed_fields, after, before, kept_fields, reason, expect_refusal, name)"
            " select ?, seq, operation, party_id, contact_id, contact_number, changed_fields, after, before,"
            " kept_fields, reason, expect_refusal, name from plan_draft_operations",
            [plan_id],
        )
        con.execute(
            "insert into ledger.plan_notes (plan_id, party_id, contact_id, note_hash, item_keys, note)"
            " select ?, party_id, contact_id, note_hash, item_keys, note from plan_draft_notes",
            [plan_id],
        )
        _store_held_back(con, plan_id, held_back)
    finally:
        con.execute("drop table if exists plan_draft_operations")
        con.execute("drop table if exists plan_draft_notes")
    plan = load_plan(con, plan_id)
    assert plan is not None
    return replace(plan, superseded=tuple(superseded))


def _reuse(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    latest: dict[str, Any],
    counts: dict[str, int],
    states: tuple[datetime | None, datetime | None],
    held_back: list[HeldBack],
    now: datetime,
) -> Plan:
    """The newest plan stands in for an identical new one: recomputed against a newer Xero, same result."""
    plan_id = latest["plan_id"]
    status = latest["status"]
    reasons = list(latest["approval_reasons"])
    if status == "pending_approval":
        # The reasons depend on the ledger too (a first migration ends with the first write).
        reasons = approval_reasons(con, rules, counts)
        if not reasons:
            status = "approved"
    con.execute(
        "update ledger.plans set xero_state_at = ?, capsule_state_at = ?, operation_counts = ?, status = ?,"
        " approval_reasons = ?, approved_at = case when ? = 'approved' then coalesce(approved_at, ?) end"
        " where plan_id = ?",
        [*states, json.dumps(counts), status, reasons, status, now, plan_id],
    )
    con.execute("delete from ledger.plan_held_back where plan_id = ?", [plan_id])
    _store_held_back(con, plan_id, held_back)
    plan = load_plan(con, plan_id)
    assert plan is not None
    return replace(plan, reused=True)


def counts_total(counts: dict[str, int]) -> int:
    """Writes, notes and write-backs of a plan's counts: zero means the plan is empty."""
    return (
        sum(counts.get(op, 0) for op in PLANNED_OPERATIONS)
        + counts.get("notes", 0)
        + counts.get("write_backs", 0)
    )


def _interrupted(con: duckdb.DuckDBPyConnection, rules: Rules) -> Plan | None:
    """The newest plan, when its apply was interrupted and it still fits Xero and the rules: it stands
    (a person approved it; what it started is finished by the next apply, without a new approval).
    A newest plan that was interrupted but no longer fits is closed as ``partly_applied``: its
    outcomes say what landed, and the new plan, made from the diff, carries the rest (the ledger
    and ``ledger.group_outbox`` keep this tool's own writes from looking like someone else's)."""
    latest = _latest_row(con)
    if latest is None or latest["status"] not in INTERRUPTED:
        return None
    plan_id = latest["plan_id"]
    # No apply runs while a plan is made (one process holds the DuckDB file): "applying" here means
    # the run that was applying it died.
    con.execute("update ledger.plans set status = 'partly_applied' where plan_id = ?", [plan_id])
    try:
        check_plan_is_current(con, plan_id, rules)
    except StalePlanError:
        return None
    plan = load_plan(con, plan_id)
    assert plan is not None
    return replace(plan, resumes=True)


def _write_backs_wanted(con: duckdb.DuckDBPyConnection, rules: Rules) -> dict[int, str]:
    """The ContactIDs Capsule should hold and does not (reverse_etl/write_backs.py), unless Capsule has
    no field to hold them: then none can be written, and a plan carrying them would never be empty."""
    if has_table(con, "raw", "capsule_party_field_definitions"):
        ((defined,),) = con.execute(
            _query("write_back_field"), {"field_name": rules.capsule.xero_contact_id_field}
        ).fetchall()
        if not defined:
            return {}
    return write_backs_wanted(con)


def _draft_counts(con: duckdb.DuckDBPyConnection, held_back: int) -> dict[str, int]:
    counts = dict.fromkeys(PLANNED_OPERATIONS, 0)
    for operation, rows in con.execute(
        "select operation, count(*) from plan_draft_operations group by operation"
    ).fetchall():
        counts[operation] = rows
    ((counts["notes"],),) = con.execute("select count(*) from plan_draft_notes").fetchall()
    counts["held_back"] = held_back
    # What the reconcile found but no plan writes: shown so nobody wonders where those parties went.
    for operation in ("review", "hold"):
        ((counts[operation],),) = con.execute(
            "select count(*) from reconcile.contact_operations where operation = ?", [operation]
        ).fetchall()
    return counts


def _source_states(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """The newest change seen in Xero's extract, and in Capsule's (for people reading the plan)."""
    xero = capsule = None
    if has_table(con, "raw", "xero_contacts"):
        ((xero,),) = con.execute("select max(updated_date_utc) from raw.xero_contacts").fetchall()
    if has_table(con, "staging", "capsule_parties"):
        ((capsule,),) = con.execute(
            "select max(greatest(updated_at, deleted_at)) from staging.capsule_parties"
        ).fetchall()
    return xero, capsule


def approval_reasons(con: duckdb.DuckDBPyConnection, rules: Rules, counts: dict[str, int]) -> list[str]:
    """Why a plan with these counts must wait for a person, by the ``approval:`` rules; [] = it need not."""
    approval = rules.approval
    reasons = []
    operations = sum(counts.get(op, 0) for op in PLANNED_OPERATIONS)
    if operations > approval.max_operations:
        reasons.append(
            f"{operations:,} {_plural(operations, 'operation')}, over the limit of {approval.max_operations:,}"
            " (approval.max_operations)"
        )
    archives = counts.get("archive", 0)
    if archives and approval.archives_need_approval:
        reasons.append(f"{archives:,} {_plural(archives, 'archive')} (approval.archives_need_approval)")
    if approval.first_migration_needs_approval:
        ((written,),) = con.execute("select count(*) from ledger.written_contacts").fetchall()
        if written == 0:
            reasons.append(
                "first migration: nothing written to Xero yet (approval.first_migration_needs_approval)"
            )
    return reasons


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _hold_back(con: duckdb.DuckDBPyConnection, now: datetime) -> list[HeldBack]:
    """Take the parties the error queue holds back out of the draft (sql/plans/held_back.sql), and
    drop queue entries the reconcile no longer wants anything for (nothing is left to refuse)."""
    if not has_table(con, "ledger", "error_queue"):
        return []
    held = [HeldBack(*row) for row in con.execute(_query("held_back"), {"now": now}).fetchall()]
    con.execute(_query("moot_failures"))  # before the held parties leave the draft
    ids = sorted({h.party_id for h in held})
    if ids:
        con.execute("delete from plan_draft_operations where list_contains(?, party_id)", [ids])
        con.execute("delete from plan_draft_notes where list_contains(?, party_id)", [ids])
        con.execute(
            "create or replace temp table plan_draft_operations as select * replace"
            " (cast(row_number() over (order by seq) as integer) as seq) from plan_draft_operations"
        )
    return held


def _store_held_back(con: duckdb.DuckDBPyConnection, plan_id: int, held_back: list[HeldBack]) -> None:
    for h in held_back:
        con.execute(
            "insert into ledger.plan_held_back values (?, ?, ?, ?, ?, ?, ?)",
            [plan_id, h.party_id, h.operation, h.queue_state, h.next_attempt_at, h.error_kind, h.message],
        )


# ---- reading plans --------------------------------------------------------------------------------


def _latest_row(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = _plan_rows(con, None, 1)
    return rows[0] if rows else None


def _plan_rows(con: duckdb.DuckDBPyConnection, plan_id: int | None, limit: int) -> list[dict[str, Any]]:
    result = con.execute(_query("plan_rows"), {"plan_id": plan_id, "limit": limit})
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _plan(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> Plan:
    held = con.execute(
        "select party_id, operation, queue_state, next_attempt_at, error_kind, message"
        " from ledger.plan_held_back where plan_id = ? order by party_id",
        [row["plan_id"]],
    ).fetchall()
    return Plan(
        plan_id=row["plan_id"],
        created_at=_utc(row["created_at"]),
        status=row["status"],
        rules_fingerprint=row["rules_fingerprint"],
        xero_state_at=_utc(row["xero_state_at"]),
        capsule_state_at=_utc(row["capsule_state_at"]),
        approval_reasons=tuple(row["approval_reasons"] or ()),
        counts={k: int(v) for k, v in json.loads(row["operation_counts"]).items()},
        approved_at=_utc(row["approved_at"]),
        applied_at=_utc(row["applied_at"]),
        held_back=tuple(HeldBack(*h[:3], _utc(h[3]), *h[4:]) for h in held),
    )


def has_plans(con: duckdb.DuckDBPyConnection) -> bool:
    return has_table(con, "ledger", "plans")


def load_plan(con: duckdb.DuckDBPyConnection, plan_id: int | None = None) -> Plan | None:
    """Plan ``plan_id``, or the newest when None; None when there is no such plan (or no plan table)."""
    if not has_plans(con):
        return None
    rows = _plan_rows(con, plan_id, 1)
    return _plan(con, rows[0]) if rows else None


def latest_plans(con: duckdb.DuckDBPyConnection, limit: int = 5) -> list[Plan]:
    """The newest ``limit`` plans, newest first."""
    if not has_plans(con):
        return []
    return [_plan(con, row) for row in _plan_rows(con, None, limit)]


def plan_operations(
    con: duckdb.DuckDBPyConnection,
    plan_id: int,
    *,
    operation: str | None = None,
    limit: int | None = None,
) -> list[PlanOperation]:
    """The plan's operations in order (``seq``), optionally one kind only and at most ``limit``."""
    result = con.execute(
        "select plan_id, seq, operation, party_id, contact_id, contact_number, name, changed_fields,"
        " after, before, kept_fields, reason, expect_refusal from ledger.plan_operations"
        " where plan_id = $plan_id and ($operation is null or operation = $operation)"
        " order by seq limit $limit",
        {"plan_id": plan_id, "operation": operation, "limit": limit},
    )
    return [
        PlanOperation(
            plan_id=row[0],
            seq=row[1],
            operation=row[2],
            party_id=row[3],
            contact_id=row[4],
            contact_number=row[5],
            name=row[6],
            changed_fields=tuple(row[7]),
            after=json.loads(row[8]),
            before=json.loads(row[9]) if row[9] is not None else None,
            kept_fields=tuple(row[10]),
            reason=row[11],
            expect_refusal=bool(row[12]),
        )
        for row in result.fetchall()
    ]


def plan_notes(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[PlanNote]:
    rows = con.execute(
        "select plan_id, party_id, contact_id, note_hash, item_keys, note from ledger.plan_notes"
        " where plan_id = ? order by party_id, note_hash",
        [plan_id],
    ).fetchall()
    return [PlanNote(r[0], r[1], r[2], r[3], tuple(r[4]), r[5]) for r in rows]


# ---- approving and applying -----------------------------------------------------------------------


def _no_such_plan(con: duckdb.DuckDBPyConnection, plan_id: int) -> PlanError:
    latest = load_plan(con)
    if latest is None:
        return PlanError(
            f"There is no plan {plan_id}: no plan has been made yet (`capsule-xero plan --refresh`)."
        )
    return PlanError(
        f"There is no plan {plan_id} (the newest is plan {latest.plan_id}): `capsule-xero plan` shows it."
    )


def approve(con: duckdb.DuckDBPyConnection, plan_id: int, *, now: datetime | None = None) -> Plan:
    """Approve plan ``plan_id``: only the newest plan, and only while it waits for approval."""
    ensure_plans(con)
    plan = load_plan(con, plan_id)
    if plan is None:
        raise _no_such_plan(con, plan_id)
    latest = load_plan(con)
    assert latest is not None
    if plan.status == "superseded" or latest.plan_id != plan_id:
        raise PlanError(
            f"Plan {plan_id} is out of date: plan {latest.plan_id} was made from a newer reconcile. "
            f"Look at it with `capsule-xero plan` and approve that one if it waits."
        )
    if plan.status == "approved":
        raise PlanError(
            f"Plan {plan_id} is already approved: `capsule-xero apply {plan_id}` (or `capsule-xero sync --apply`)"
            " writes it."
        )
    if plan.status == "empty":
        raise PlanError(f"Plan {plan_id} is empty: there is nothing to approve.")
    if plan.status != "pending_approval":
        raise PlanError(
            f"Plan {plan_id} is {plan.status.replace('_', ' ')}: only a waiting plan can be approved."
        )
    con.execute(
        "update ledger.plans set status = 'approved', approved_at = ? where plan_id = ?",
        [now or datetime.now(UTC), plan_id],
    )
    approved = load_plan(con, plan_id)
    assert approved is not None
    return approved


def mark_plan(
    con: duckdb.DuckDBPyConnection, plan_id: int, status: str, *, at: datetime | None = None
) -> None:
    """Record the apply loop's progress: ``applying``, ``applied`` or ``partly_applied`` (sets applied_at)."""
    if status not in ("applying", "applied", "partly_applied"):
        raise ValueError(f"mark_plan sets applying, applied or partly_applied, not {status!r}")
    con.execute(
        "update ledger.plans set status = ?,"
        " applied_at = case when ? = 'applying' then applied_at else ? end where plan_id = ?",
        [status, status, at or datetime.now(UTC), plan_id],
    )


def _own_contact_ids(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[str]:
    """Contacts the plan itself has written or may have written (their UpdatedDateUTC moved because of it)."""
    own: set[str] = set()
    for table, query in OWN_WRITES.items():
        if has_table(con, "ledger", table):
            own.update(row[0] for row in con.execute(_query(query), {"plan_id": plan_id}).fetchall())
    return sorted(own)


def check_plan_is_current(con: duckdb.DuckDBPyConnection, plan_id: int, rules: Rules | None = None) -> None:
    """Raise ``StalePlanError`` unless plan ``plan_id`` still fits Xero as extracted now (and ``rules``).

    Call it after a fresh Xero extract into ``raw.xero_contacts``. Stale when: any contact was changed
    or created in Xero after the plan's ``xero_state_at`` — except the plan's own writes (contacts in
    the ledger, the outcomes or the outbox of this plan, and contacts carrying the ContactNumber of one
    of its creates), so a plan whose apply was interrupted can be resumed; or a newer plan superseded
    it or any newer plan exists (it holds what is still to do); or ``rules`` (when given) have another
    fingerprint than the plan was made with.
    """
    ensure_plans(con)
    plan = load_plan(con, plan_id)
    if plan is None:
        raise _no_such_plan(con, plan_id)
    again = "Run `capsule-xero plan --refresh` (or `capsule-xero sync`) to plan again."
    latest = load_plan(con)
    assert latest is not None
    if plan.status == "superseded" or latest.plan_id != plan_id:
        # A newer plan was made from a newer reconcile: it holds whatever of this one is still to do,
        # so sending this one as well would write older values over it.
        raise StalePlanError(
            f"Plan {plan_id} was superseded by plan {latest.plan_id}, made from a newer reconcile; "
            f"`capsule-xero plan` shows it.",
            plan_id=plan_id,
            superseded_by=latest.plan_id,
        )
    problems = []
    rules_changed = rules is not None and rules.fingerprint() != plan.rules_fingerprint
    if rules_changed:
        problems.append("the rules file changed since it was made")
    changed: list[tuple[str, str | None, datetime]] = []
    if has_table(con, "raw", "xero_contacts"):
        changed = con.execute(
            _query("changed_contacts"),
            {"plan_id": plan_id, "own_contact_ids": _own_contact_ids(con, plan_id)},
        ).fetchall()
    if changed:
        ids = [row[0] for row in changed]
        shown = ", ".join(ids[:STALE_IDS_SHOWN]) + (", …" if len(ids) > STALE_IDS_SHOWN else "")
        since = f"{plan.xero_state_at:%Y-%m-%d %H:%M:%S} UTC" if plan.xero_state_at else "an empty Xero"
        problems.append(
            f"{len(ids):,} Xero {_plural(len(ids), 'contact')} changed or appeared after the state it was"
            f" computed against ({since}): {shown}"
        )
    if problems:
        raise StalePlanError(
            f"Plan {plan_id} is out of date and was not applied: {'; '.join(problems)}. {again}",
            plan_id=plan_id,
            changed_contacts=len(changed),
            contact_ids=[row[0] for row in changed],
            rules_changed=rules_changed,
        )
