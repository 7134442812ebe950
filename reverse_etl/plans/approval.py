"""Approval: which plans wait for a person, and a person approving one
(docs/architecture.md#plans-and-approval).

A new plan is ``approved`` automatically unless a rule of the rules file's ``approval:`` section says a
person must look first: more operations than ``max_operations``, any archive
(``archives_need_approval``), or a first migration (``first_migration_needs_approval``: nothing in
``ledger.written_contacts`` yet), Capsule parties to create from Xero contacts
(``capsule_creates_need_approval``, on by default: a new record in the CRM is a person's call) or Capsule
fields to change (``capsule_updates_need_approval``); DRAFT quotes or invoices for won opportunities
always wait unless ``billing.auto_approve_under`` lets one through (reverse_etl/plans/documents.py).
``approve`` approves only the newest plan, only while it waits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.plans.documents import approval_reason as documents_reason
from reverse_etl.plans.model import PLANNED_OPERATIONS, Plan, PlanError
from reverse_etl.plans.store import STORED, load_plan, no_such_plan

if TYPE_CHECKING:
    from capsule_xero.rules.model import Rules


def plural(count: int, word: str) -> str:
    if count == 1:
        return word
    return f"{word[:-1]}ies" if word.endswith("y") else f"{word}s"


def approval_reasons(con: duckdb.DuckDBPyConnection, rules: Rules, counts: dict[str, int]) -> list[str]:
    """Why a plan with these counts must wait for a person, by the ``approval:`` rules; [] = it need not."""
    approval = rules.approval
    reasons = []
    operations = sum(counts.get(op, 0) for op in PLANNED_OPERATIONS)
    if operations > approval.max_operations:
        reasons.append(
            f"{operations:,} {plural(operations, 'operation')}, over the limit of {approval.max_operations:,}"
            " (approval.max_operations)"
        )
    archives = counts.get("archive", 0)
    if archives and approval.archives_need_approval:
        reasons.append(f"{archives:,} {plural(archives, 'archive')} (approval.archives_need_approval)")
    creates = counts.get("capsule_create", 0)
    if creates and approval.capsule_creates_need_approval:
        reasons.append(
            f"{creates:,} Capsule {plural(creates, 'party')} to create from Xero contacts"
            " (approval.capsule_creates_need_approval)"
        )
    capsule_updates = sum(counts.get(kind, 0) for kind in ("capsule_update", "capsule_tag", "capsule_money"))
    if capsule_updates and approval.capsule_updates_need_approval:
        reasons.append(
            f"{capsule_updates:,} Capsule {plural(capsule_updates, 'party')} to change from Xero"
            " (approval.capsule_updates_need_approval)"
        )
    documents = documents_reason(counts, rules)
    if documents:
        reasons.append(documents)
    if approval.first_migration_needs_approval:
        ((written,),) = STORED.execute(con, "written_contacts").fetchall()
        if written == 0:
            reasons.append(
                "first migration: nothing written to Xero yet (approval.first_migration_needs_approval)"
            )
    return reasons


def approve(
    con: duckdb.DuckDBPyConnection,
    plan_id: int,
    *,
    now: datetime | None = None,
    approved_by: str | None = None,
    approved_in_run: str | None = None,
) -> Plan:
    """Approve plan ``plan_id``: only the newest plan, and only while it waits for approval.
    ``approved_by`` / ``approved_in_run``: the person and the Dagster run, when approved from the UI."""
    ensure_ledger(con)
    plan = load_plan(con, plan_id)
    if plan is None:
        raise no_such_plan(con, plan_id)
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
    STORED.execute(
        con,
        "approve",
        {
            "at": now or datetime.now(UTC),
            "plan_id": plan_id,
            "approved_by": approved_by,
            "approved_in_run": approved_in_run,
        },
    )
    approved = load_plan(con, plan_id)
    assert approved is not None
    return approved
