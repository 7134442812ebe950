"""Reconcile assets (schema ``reconcile``): scope, matches, desired and current contacts, the diff
and its operations, History notes, and the report views. Each asset runs one step of
``transform.stages`` so Dagster, the CLI and the benchmarks build the same tables."""

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.extract import DUCKDB_POOL
from assets.resources import RulesResource
from assets.staging import staging_capsule_parties, staging_quarantine, staging_xero_contacts
from reverse_etl.ledger.schema import ensure_ledger
from transform.plan_tables import build_plan_tables
from transform.reports import create_report_views
from transform.rules_sql import apply_transforms, build_sync_scope
from transform.sql import build
from transform.stages import sql_params
from transform.validation import build_planned_rejects

RECONCILE = {"group_name": "reconcile", "pool": DUCKDB_POOL, "kinds": {"duckdb", "sql"}}


def _counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    return {str(key): int(value) for key, value in con.sql(sql).fetchall()}


def _table(counts: dict[str, int], heading: str) -> dg.MetadataValue:
    lines = [f"| {heading} | rows |", "|---|---:|", *(f"| {k} | {v:,} |" for k, v in sorted(counts.items()))]
    return dg.MetadataValue.md("\n".join(lines))


@dg.asset(key=["reconcile", "sync_scope"], deps=[staging_capsule_parties], **RECONCILE)
def sync_scope(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """Which Capsule parties the rules file lets sync, and for the others the condition that kept them out."""
    with duckdb.get_connection() as con:
        rows = build_sync_scope(con, rules.load())
        ((out,),) = con.sql(
            "select count(*) filter (where not in_scope) from reconcile.sync_scope"
        ).fetchall()
    return dg.MaterializeResult(metadata={"rows": rows, "out_of_scope": out})


@dg.asset(key=["reconcile", "contact_matches"], deps=[sync_scope, staging_xero_contacts], **RECONCILE)
def contact_matches(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """Each syncable party's Xero contact: the rule that matched, its confidence, or why it waits for review."""
    with duckdb.get_connection() as con:
        rows = build(con, "reconcile", "contact_matches", sql_params(rules.load()))
        outcomes = _counts(con, "select outcome, count(*) from reconcile.contact_matches group by all")
        by_rule = _counts(
            con,
            "select match_rule, count(*) from reconcile.contact_matches where outcome = 'matched' group by all",
        )
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            **{outcome: outcomes.get(outcome, 0) for outcome in ("matched", "new", "review")},
            "matched_by_rule": _table(by_rule, "rule"),
        }
    )


@dg.asset(key=["reconcile", "xero_duplicates"], deps=[staging_xero_contacts], **RECONCILE)
def xero_duplicates(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Active Xero contacts that look like one business (same ABN, e-mail or folded name): for review."""
    with duckdb.get_connection() as con:
        rows = build(con, "reconcile", "xero_duplicates")
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(
    key=["reconcile", "owner_matches"],
    deps=[dg.AssetKey(["capsule", "users"]), dg.AssetKey(["xero", "users"])],
    **RECONCILE,
)
def owner_matches(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """Capsule owners matched to Xero users by e-mail; unmatched owners are reported, not guessed."""
    with duckdb.get_connection() as con:
        rows = build(con, "reconcile", "owner_matches", sql_params(rules.load()))
        outcomes = _counts(con, "select outcome, count(*) from reconcile.owner_matches group by all")
    return dg.MaterializeResult(metadata={"rows": rows, "outcomes": _table(outcomes, "outcome")})


@dg.asset(key=["reconcile", "desired_contacts"], deps=[contact_matches, staging_quarantine], **RECONCILE)
def desired_contacts(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """The Xero contact each syncable party should become, after the rules file's transforms."""
    loaded = rules.load()
    with duckdb.get_connection() as con:
        mapped = build(con, "reconcile", "mapped_contacts", sql_params(loaded))
        rows = apply_transforms(con, loaded)
    return dg.MaterializeResult(metadata={"rows": rows, "mapped_before_transforms": mapped})


@dg.asset(key=["reconcile", "current_contacts"], deps=[staging_xero_contacts], **RECONCILE)
def current_contacts(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """Every Xero contact in the same canonical shape as the desired ones, managed groups only."""
    with duckdb.get_connection() as con:
        rows = build(con, "reconcile", "current_contacts", sql_params(rules.load()))
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(key=["reconcile", "contact_operations"], deps=[desired_contacts, current_contacts], **RECONCILE)
def contact_operations(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """The three-way diff settled by the conflict policy and the preflight: one operation per contact."""
    with duckdb.get_connection() as con:
        ensure_ledger(con)
        tables = build_plan_tables(con, sql_params(rules.load()))
        # The planned-row rules run with the model so the plan can always leave out their rejects;
        # the blocking check below judges them.
        build_planned_rejects(con)
        operations = _counts(con, "select operation, count(*) from reconcile.contact_operations group by all")
        settled = _counts(con, "select winner, count(*) from reconcile.conflict_settlements group by all")
    return dg.MaterializeResult(
        metadata={
            **{
                op: operations.get(op, 0)
                for op in ("create", "update", "archive", "restore", "review", "noop")
            },
            "operations": _table(operations, "operation"),
            "settlements_by_winner": _table(settled, "winner"),
            "preflight_problems": tables.get("preflight_problems", 0),
        }
    )


@dg.asset_check(asset=contact_operations, blocking=True)
def planned_operations_are_writes_xero_accepts(
    duckdb: DuckDBResource, rules: RulesResource
) -> dg.AssetCheckResult:
    """Holds back planned rows Xero would refuse (lengths, ABN shape, ≤ 5 persons); fails on drift or too many."""
    max_share = rules.load().validation.max_reject_share
    with duckdb.get_connection() as con:
        rejects, drift, planned = build_planned_rejects(con)
    share = len(set(rejects["party_id"])) / planned if planned else 0.0
    return dg.AssetCheckResult(
        passed=not drift and share <= max_share,
        metadata={
            "planned_writes": planned,
            "held_back": len(set(rejects["party_id"])),
            "reject_share": round(share, 4),
            "max_reject_share": max_share,
            "by_rule": dg.MetadataValue.json(
                rejects.groupby("rule").size().astype(int).to_dict() if len(rejects) else {}
            ),
            "schema_drift": dg.MetadataValue.json(drift[:20]),
            "sample_ids": dg.MetadataValue.json(sorted({int(i) for i in rejects["party_id"]})[:10]),
        },
    )


@dg.asset(
    key=["reconcile", "history_notes"],
    deps=[contact_matches, *(dg.AssetKey(["capsule", t]) for t in ("opportunities", "kases", "tasks"))],
    **RECONCILE,
)
def history_notes(duckdb: DuckDBResource, rules: RulesResource) -> dg.MaterializeResult:
    """Summaries of new or changed opportunities, cases and tasks to add to each contact's History, never twice."""
    with duckdb.get_connection() as con:
        ensure_ledger(con)
        rows = build(con, "reconcile", "history_notes", sql_params(rules.load()))
    return dg.MaterializeResult(metadata={"notes": rows})


@dg.asset(
    key=["reports", "views"],
    deps=[contact_operations, history_notes, xero_duplicates, owner_matches],
    group_name="reports",
    pool=DUCKDB_POOL,
    kinds={"duckdb", "sql"},
)
def report_views(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The ``reports`` schema views: reconciliation, review queue, data quality and the pending diff."""
    with duckdb.get_connection() as con:
        unavailable = create_report_views(con)
    return dg.MaterializeResult(metadata={"unavailable": dg.MetadataValue.json(unavailable)})


RECONCILE_ASSETS = [
    sync_scope,
    contact_matches,
    xero_duplicates,
    owner_matches,
    desired_contacts,
    current_contacts,
    contact_operations,
    history_notes,
    report_views,
]
RECONCILE_CHECKS = [planned_operations_are_writes_xero_accepts]
