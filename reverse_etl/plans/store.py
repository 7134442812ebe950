"""Reading stored plans, and recording their status (the tables: reverse_etl/ledger/sql/plan*.sql)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from reverse_etl.plans.model import HeldBack, Plan, PlanError, PlanNote, PlanOperation
from reverse_etl.sqlfile import SqlFile, has_table, query_text
from reverse_etl.writers.capsule_parties import CapsuleChange

SQL_DIR = Path(__file__).resolve().parent / "sql"
STORED = SqlFile(SQL_DIR / "stored.sql")


def query(name: str) -> str:
    """The one query of ``plans/sql/<name>.sql``."""
    return query_text(SQL_DIR / f"{name}.sql")


def define_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The connection's macros over plans (``plans/sql/macros.sql``: ``cx_operation_inputs``)."""
    con.execute(query("macros"))


def utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def plan_rows(con: duckdb.DuckDBPyConnection, plan_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Rows of ``ledger.plans``, newest first: plan ``plan_id``, or the newest ``limit``."""
    result = con.execute(query("plan_rows"), {"plan_id": plan_id, "limit": limit})
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def latest_row(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = plan_rows(con, None, 1)
    return rows[0] if rows else None


def _plan(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> Plan:
    held = STORED.rows(con, "held_back", {"plan_id": row["plan_id"]})
    return Plan(
        plan_id=row["plan_id"],
        created_at=utc(row["created_at"]),
        status=row["status"],
        rules_fingerprint=row["rules_fingerprint"],
        xero_state_at=utc(row["xero_state_at"]),
        capsule_state_at=utc(row["capsule_state_at"]),
        approval_reasons=tuple(row["approval_reasons"] or ()),
        counts={k: int(v) for k, v in json.loads(row["operation_counts"]).items()},
        approved_at=utc(row["approved_at"]),
        applied_at=utc(row["applied_at"]),
        content_hash=row["content_hash"],
        approved_by=row["approved_by"],
        approved_in_run=row["approved_in_run"],
        held_back=tuple(HeldBack(**h | {"next_attempt_at": utc(h["next_attempt_at"])}) for h in held),
    )


def has_plans(con: duckdb.DuckDBPyConnection) -> bool:
    return has_table(con, "ledger", "plans")


def load_plan(con: duckdb.DuckDBPyConnection, plan_id: int | None = None) -> Plan | None:
    """Plan ``plan_id``, or the newest when None; None when there is no such plan (or no plan table)."""
    if not has_plans(con):
        return None
    rows = plan_rows(con, plan_id, 1)
    return _plan(con, rows[0]) if rows else None


def latest_plans(con: duckdb.DuckDBPyConnection, limit: int = 5) -> list[Plan]:
    """The newest ``limit`` plans, newest first."""
    if not has_plans(con):
        return []
    return [_plan(con, row) for row in plan_rows(con, None, limit)]


def plan_operations(
    con: duckdb.DuckDBPyConnection,
    plan_id: int,
    *,
    operation: str | None = None,
    limit: int | None = None,
) -> list[PlanOperation]:
    """The plan's operations in order (``seq``), optionally one kind only and at most ``limit``."""
    params = {"plan_id": plan_id, "operation": operation, "limit": limit}
    return [PlanOperation.from_row(row) for row in STORED.rows(con, "operations", params)]


def operations_to_apply(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[PlanOperation]:
    """The plan's writes as the apply loop sends them (ContactIDs lower-cased, ``inputs_hash`` set)."""
    define_macros(con)
    rows = STORED.rows(con, "operations_to_apply", {"plan_id": plan_id})
    return [PlanOperation.from_row(row) for row in rows]


def capsule_changes(
    con: duckdb.DuckDBPyConnection,
    plan_id: int,
    *,
    operation: str | None = None,
    limit: int | None = None,
) -> list[CapsuleChange]:
    """The plan's Capsule writes in order (``seq``), optionally one kind only and at most ``limit``."""
    if not has_table(con, "ledger", "plan_capsule_operations"):
        return []
    params = {"plan_id": plan_id, "operation": operation, "limit": limit}
    return [CapsuleChange.from_row(row) for row in STORED.rows(con, "capsule_operations", params)]


def plan_notes(con: duckdb.DuckDBPyConnection, plan_id: int) -> list[PlanNote]:
    rows = STORED.rows(con, "notes", {"plan_id": plan_id})
    return [PlanNote(**row | {"item_keys": tuple(row["item_keys"])}) for row in rows]


def no_such_plan(con: duckdb.DuckDBPyConnection, plan_id: int) -> PlanError:
    latest = load_plan(con)
    if latest is None:
        return PlanError(
            f"There is no plan {plan_id}: no plan has been made yet (`capsule-xero plan --refresh`)."
        )
    return PlanError(
        f"There is no plan {plan_id} (the newest is plan {latest.plan_id}): `capsule-xero plan` shows it."
    )


def mark_plan(
    con: duckdb.DuckDBPyConnection, plan_id: int, status: str, *, at: datetime | None = None
) -> None:
    """Record the apply loop's progress: ``applying``, ``applied`` or ``partly_applied`` (sets applied_at)."""
    if status not in ("applying", "applied", "partly_applied"):
        raise ValueError(f"mark_plan sets applying, applied or partly_applied, not {status!r}")
    STORED.execute(con, "mark", {"status": status, "at": at or datetime.now(UTC), "plan_id": plan_id})
