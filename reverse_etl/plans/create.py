"""Making a plan: the reconcile's writes (``reconcile.contact_operations`` and ``reconcile.history_notes``)
snapshotted as the next numbered plan in the durable ``ledger`` schema
(docs/architecture.md#plans-and-approval).

Rules, in the order a run meets them:

0. The newest plan, when its apply was interrupted (``applying``: the run died; ``partly_applied``:
   it stopped), stands while it still fits Xero and the rules (``check_plan_is_current``):
   ``create_plan`` returns it (``Plan.resumes``) instead of a new plan, so the next apply finishes
   what it started with the approval it had. When it no longer fits it is closed as
   ``partly_applied`` and a new plan is made; the diff plans whatever it left undone.
1. ``create_plan`` numbers plans 1, 2, … Parties the error queue holds back (dead, while the draft
   asks Xero the very same thing that was refused; retrying, until due) are left out and listed;
   queue entries of parties the draft wants nothing from are dropped. A plan with nothing to write
   (no operation, note or write-back) is stored as ``empty`` — still numbered, so the newest plan
   always says what the newest reconcile found, and an ``empty`` plan supersedes an unapplied one the
   data has since made moot. A plan that comes out exactly like the newest unapplied (or empty) one —
   same rules, operations, notes and write-backs — is not stored again: the earlier plan is kept with
   its number and approval, and only its ``xero_state_at`` moves forward (it was just recomputed
   against the newer Xero and found the same). That keeps an approval valid across reruns and keeps
   nightly no-change runs from minting numbers.
2. Otherwise the earlier plans not yet applied (``pending_approval``, ``approved``) become
   ``superseded``, and the new one is ``approved`` automatically unless the approval rules say a
   person must look first (reverse_etl/plans/approval.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.plans import documents
from reverse_etl.plans.approval import approval_reasons
from reverse_etl.plans.model import (
    CAPSULE_COUNT_OF,
    CAPSULE_COUNTS,
    PLANNED_OPERATIONS,
    HeldBack,
    Plan,
    PlanError,
    StalePlanError,
)
from reverse_etl.plans.staleness import check_plan_is_current
from reverse_etl.plans.store import SQL_DIR, STORED, define_macros, latest_row, load_plan, query
from reverse_etl.plans.write_backs import write_backs_wanted
from reverse_etl.sqlfile import SqlFile, has_table, transaction

if TYPE_CHECKING:
    from capsule_xero.rules.model import Rules

DRAFT = SqlFile(SQL_DIR / "draft.sql")
# Plans nothing has been sent for yet: a newer plan replaces them.
NOT_STARTED = ("pending_approval", "approved")
# Plans a new identical one may stand in for (same number, approval kept).
REUSABLE = ("pending_approval", "approved", "empty")
# Plans whose apply started and did not finish (killed, or stopped by Xero or its daily limit): the
# newest such plan stands, while still current, until an apply finishes it (``create_plan``).
INTERRUPTED = ("applying", "partly_applied")


def create_plan(con: duckdb.DuckDBPyConnection, rules: Rules, *, now: datetime | None = None) -> Plan:
    """Snapshot the reconcile's writes as the next numbered plan (see the module docstring for the rules).

    Needs the reconcile tables (``transform.stages.reconcile``) and ``raw.xero_contacts``.
    """
    now = now or datetime.now(UTC)
    ensure_ledger(con)
    define_macros(con)
    for schema, table in (("reconcile", "contact_operations"), ("reconcile", "history_notes")):
        if not has_table(con, schema, table):
            raise PlanError(f"{schema}.{table} is missing: reconcile first (`capsule-xero plan --refresh`).")
    with transaction(con):
        return _interrupted(con, rules) or _from_draft(con, rules, rules.fingerprint(), now)


def _from_draft(con: duckdb.DuckDBPyConnection, rules: Rules, fingerprint: str, now: datetime) -> Plan:
    """Draft the plan from the reconcile, then store it, or let the identical newest plan stand."""
    con.execute(f"create or replace temp table plan_draft_operations as {query('operations')}")
    con.execute(f"create or replace temp table plan_draft_notes as {query('notes')}")
    _draft_capsule_operations(con)
    documents.draft_documents(con, rules)
    try:
        held_back = _hold_back(con, now)
        capsule_held_back = _hold_back_capsule(con)
        write_backs = _write_backs_wanted(con, rules)
        ((content_hash,),) = con.execute(
            query("content_hash"),
            {
                # The billing documents count in the hash too ('' when there are none).
                "rules_fingerprint": fingerprint + documents.draft_hash(con),
                "write_backs": ",".join(f"{p}:{c}" for p, c in sorted(write_backs.items())),
            },
        ).fetchall()
        counts = _draft_counts(con, len(held_back))
        counts["write_backs"] = len(write_backs)
        counts["capsule_held_back"] = capsule_held_back
        if has_table(con, "reconcile", "capsule_money_definitions"):
            ((counts["money_fields_not_written"],),) = con.execute(
                query("money_fields_not_written")
            ).fetchall()
        counts.update(documents.draft_counts(con))
        states = _source_states(con)
        latest = latest_row(con)
        if latest is not None and latest["status"] in REUSABLE and latest["content_hash"] == content_hash:
            return _reuse(con, rules, latest, counts, states, held_back, now)
        return _store(con, rules, fingerprint, content_hash, counts, states, held_back, now)
    finally:
        DRAFT.execute(con, "drop_draft_operations")
        DRAFT.execute(con, "drop_draft_notes")
        DRAFT.execute(con, "drop_draft_capsule_operations")
        documents.drop_draft(con)


def _store(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    fingerprint: str,
    content_hash: str,
    counts: dict[str, int],
    states: tuple[datetime | None, datetime | None],
    held_back: list[HeldBack],
    now: datetime,
) -> Plan:
    """The draft stored as the next plan; the plans it replaces are superseded."""
    ((plan_id,),) = STORED.execute(con, "next_plan_id").fetchall()
    superseded = [
        row[0] for row in STORED.execute(con, "supersede", {"statuses": list(NOT_STARTED)}).fetchall()
    ]
    empty = counts_total(counts) == 0
    reasons = [] if empty else approval_reasons(con, rules, counts)
    status = "empty" if empty else ("pending_approval" if reasons else "approved")
    STORED.execute(
        con,
        "insert_plan",
        {
            "plan_id": plan_id,
            "created_at": now,
            "rules_fingerprint": fingerprint,
            "xero_state_at": states[0],
            "capsule_state_at": states[1],
            "status": status,
            "approval_reasons": reasons,
            "operation_counts": json.dumps(counts),
            "approved_at": now if status == "approved" else None,
            "content_hash": content_hash,
        },
    )
    STORED.execute(con, "store_operations", {"plan_id": plan_id})
    STORED.execute(con, "store_notes", {"plan_id": plan_id})
    STORED.execute(con, "store_capsule_operations", {"plan_id": plan_id})
    documents.store_documents(con, plan_id)
    _store_held_back(con, plan_id, held_back)
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
    STORED.execute(
        con,
        "reuse_plan",
        {
            "xero_state_at": states[0],
            "capsule_state_at": states[1],
            "operation_counts": json.dumps(counts),
            "status": status,
            "approval_reasons": reasons,
            "now": now,
            "plan_id": plan_id,
        },
    )
    STORED.execute(con, "forget_held_back", {"plan_id": plan_id})
    _store_held_back(con, plan_id, held_back)
    plan = load_plan(con, plan_id)
    assert plan is not None
    return replace(plan, reused=True)


def counts_total(counts: dict[str, int]) -> int:
    """Writes (to Xero and to Capsule), notes and write-backs of a plan's counts: zero means the plan is empty."""
    return (
        sum(counts.get(op, 0) for op in (*PLANNED_OPERATIONS, *CAPSULE_COUNTS, *documents.DOCUMENT_COUNTS))
        + counts.get("notes", 0)
        + counts.get("write_backs", 0)
    )


def _hold_back_capsule(con: duckdb.DuckDBPyConnection) -> int:
    """Take out of the draft the Capsule writes Capsule refused before, asked again unchanged
    (plans/sql/capsule_held_back.sql); how many."""
    held = [row[0] for row in con.execute(query("capsule_held_back")).fetchall()]
    if held:
        DRAFT.execute(con, "drop_capsule_seqs", {"seqs": held})
        DRAFT.execute(con, "renumber_capsule_operations")
    return len(held)


def _draft_capsule_operations(con: duckdb.DuckDBPyConnection) -> None:
    """The Capsule writes of the draft (sync.direction: both); none when the reconcile made no such table."""
    if has_table(con, "reconcile", "capsule_operations"):
        con.execute(
            f"create or replace temp table plan_draft_capsule_operations as {query('capsule_operations')}"
        )
    else:
        con.execute(
            f"create or replace temp table plan_draft_capsule_operations as {query('capsule_operations_none')}"
        )


def _interrupted(con: duckdb.DuckDBPyConnection, rules: Rules) -> Plan | None:
    """The newest plan, when its apply was interrupted and it still fits Xero and the rules: it stands
    (a person approved it; what it started is finished by the next apply, without a new approval).
    A newest plan that was interrupted but no longer fits is closed as ``partly_applied``: its
    outcomes say what landed, and the new plan, made from the diff, carries the rest (the ledger
    and ``ledger.group_outbox`` keep this tool's own writes from looking like someone else's)."""
    latest = latest_row(con)
    if latest is None or latest["status"] not in INTERRUPTED:
        return None
    plan_id = latest["plan_id"]
    # No apply runs while a plan is made (one process holds the DuckDB file): "applying" here means
    # the run that was applying it died.
    STORED.execute(con, "close_interrupted", {"plan_id": plan_id})
    try:
        check_plan_is_current(con, plan_id, rules)
    except StalePlanError:
        return None
    plan = load_plan(con, plan_id)
    assert plan is not None
    return replace(plan, resumes=True)


def _write_backs_wanted(con: duckdb.DuckDBPyConnection, rules: Rules) -> dict[int, str]:
    """The ContactIDs Capsule should hold and does not (reverse_etl/plans/write_backs.py), unless Capsule
    has no field to hold them: then none can be written, and a plan carrying them would never be empty."""
    if has_table(con, "raw", "capsule_party_field_definitions"):
        ((defined,),) = con.execute(
            query("write_back_field"), {"field_name": rules.capsule.xero_contact_id_field}
        ).fetchall()
        if not defined:
            return {}
    return write_backs_wanted(con)


def _draft_counts(con: duckdb.DuckDBPyConnection, held_back: int) -> dict[str, int]:
    counts = dict.fromkeys(PLANNED_OPERATIONS, 0)
    for row in DRAFT.rows(con, "draft_counts"):
        counts[row["operation"]] = row["operations"]
    ((counts["notes"],),) = DRAFT.execute(con, "draft_notes").fetchall()
    counts.update(dict.fromkeys(CAPSULE_COUNTS, 0))
    for row in DRAFT.rows(con, "draft_capsule_counts"):
        counts[CAPSULE_COUNT_OF[row["operation"]]] += row["operations"]
    counts["held_back"] = held_back
    # What the reconcile found but no plan writes: shown so nobody wonders where those parties went.
    for operation in ("review", "hold"):
        ((counts[operation],),) = DRAFT.execute(con, "reconcile_count", {"operation": operation}).fetchall()
    return counts


def _source_states(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """The newest change seen in Xero's extract, and in Capsule's (for people reading the plan)."""
    xero = capsule = None
    if has_table(con, "raw", "xero_contacts"):
        ((xero,),) = DRAFT.execute(con, "xero_state").fetchall()
    if has_table(con, "staging", "capsule_parties"):
        ((capsule,),) = DRAFT.execute(con, "capsule_state").fetchall()
    return xero, capsule


def _hold_back(con: duckdb.DuckDBPyConnection, now: datetime) -> list[HeldBack]:
    """Take the parties the error queue holds back out of the draft (plans/sql/held_back.sql), and
    drop queue entries the reconcile no longer wants anything for (nothing is left to refuse)."""
    if not has_table(con, "ledger", "error_queue"):
        return []
    held = [HeldBack(*row) for row in con.execute(query("held_back"), {"now": now}).fetchall()]
    con.execute(query("moot_failures"))  # before the held parties leave the draft
    ids = sorted({h.party_id for h in held})
    if ids:
        DRAFT.execute(con, "drop_held_operations", {"party_ids": ids})
        DRAFT.execute(con, "drop_held_notes", {"party_ids": ids})
        DRAFT.execute(con, "renumber_operations")
    return held


def _store_held_back(con: duckdb.DuckDBPyConnection, plan_id: int, held_back: list[HeldBack]) -> None:
    for h in held_back:
        STORED.execute(
            con,
            "insert_held_back",
            {
                "plan_id": plan_id,
                "party_id": h.party_id,
                "operation": h.operation,
                "queue_state": h.queue_state,
                "next_attempt_at": h.next_attempt_at,
                "error_kind": h.error_kind,
                "message": h.message,
            },
        )
