"""The whole reconcile, stage by stage, as plain functions (no Dagster): the assets run these one
stage per asset, and ``capsule-xero sync`` and the benchmarks run them all in order.

Order and tables: transform/sql/reconcile/README.md. Every stage rebuilds its tables from the ones
before it; only the ``ledger`` schema (what this tool wrote) is never rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from capsule_xero.rules import Rules
from reverse_etl.ledger.schema import ensure_ledger
from transform.plan_tables import build_plan_tables
from transform.reports import create_report_views
from transform.rules_sql import apply_transforms, build_sync_scope
from transform.sql import build
from transform.validation import build_planned_rejects, build_quarantine

# A first run notes only the last 30 days of opportunities, cases and tasks: a first migration must
# not flood every Xero contact's History with years of CRM activity.
HISTORY_LOOKBACK = timedelta(days=30)


def sql_params(rules: Rules, now: datetime | None = None) -> dict[str, Any]:
    """Every parameter a model may bind: the rules file's, plus the History cut-off."""
    return rules.sql_params() | {"history_since": (now or datetime.now(UTC)) - HISTORY_LOOKBACK}


def stage(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> dict[str, int]:
    """Staging rows of both systems and the quarantine of broken rows."""
    ensure_ledger(con)  # staging.capsule_parties reads this tool's own write-backs to Capsule
    counts = {
        "staging.capsule_parties": build(con, "staging", "capsule_parties", params),
        "staging.xero_contacts": build(con, "staging", "xero_contacts", params),
    }
    rows, drift = build_quarantine(con)
    counts["staging.quarantine"] = len(rows)
    if drift:
        counts["schema_drift"] = len(drift)
    return counts


def match(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """Which parties sync, which Xero contact each is, and the duplicates inside Xero."""
    return {
        "reconcile.sync_scope": build_sync_scope(con, rules),
        "reconcile.contact_matches": build(con, "reconcile", "contact_matches", params),
        "reconcile.xero_duplicates": build(con, "reconcile", "xero_duplicates", params),
        "reconcile.owner_matches": build(con, "reconcile", "owner_matches", params),
    }


def desire(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """The Xero contact each party should become (after the rules' transforms), and Xero's in the same shape."""
    counts = {"reconcile.mapped_contacts": build(con, "reconcile", "mapped_contacts", params)}
    counts["reconcile.desired_contacts"] = apply_transforms(con, rules)
    counts["reconcile.current_contacts"] = build(con, "reconcile", "current_contacts", params)
    return counts


def diff(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> dict[str, int]:
    """Three-way diff, settlements, preflight, operations, History notes; then the report views."""
    ensure_ledger(con)
    counts = {f"reconcile.{table}": rows for table, rows in build_plan_tables(con, params).items()}
    rejects, drift, _ = build_planned_rejects(con)
    counts["reconcile.planned_rejects"] = len(rejects)
    if drift:
        counts["plan_schema_drift"] = len(drift)
    counts["reconcile.history_notes"] = build(con, "reconcile", "history_notes", params)
    create_report_views(con)
    return counts


@dataclass
class ReconcileRun:
    """Rows out and seconds taken by each stage of one reconcile."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def reconcile(
    con: duckdb.DuckDBPyConnection,
    rules: Rules | None = None,
    *,
    now: datetime | None = None,
    on_stage: Callable[[str, float], None] | None = None,
) -> ReconcileRun:
    """Stage → validate → match → desire → diff, in order, on one connection."""
    rules = rules or Rules()
    params = sql_params(rules, now)
    run = ReconcileRun()
    stages: list[tuple[str, Callable[[], dict[str, int]]]] = [
        ("stage", lambda: stage(con, params)),
        ("match", lambda: match(con, rules, params)),
        ("desire", lambda: desire(con, rules, params)),
        ("diff", lambda: diff(con, params)),
    ]
    for name, step in stages:
        started = time.perf_counter()
        run.rows.update(step())
        run.seconds[name] = time.perf_counter() - started
        if on_stage:
            on_stage(name, run.seconds[name])
    return run
