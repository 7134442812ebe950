"""Reconcile assets (schema ``reconcile``) and the report views: scope, matches, desired and current
contacts, the diff and its operations, History notes. Each runs its stage of transform/stages.py
(assets/stages.py), so Dagster, ``capsule-xero sync`` and the benchmarks build the same tables."""

from typing import Any

import dagster as dg
import duckdb

from assets.queues import queue_metadata, review_queue_view
from assets.stages import counts, counts_table, stage_asset
from transform.reports import REPORTS, why_unavailable

OPERATIONS = ("create", "update", "archive", "restore", "review", "noop")


@stage_asset("reconcile.sync_scope")
def sync_scope(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Which Capsule parties the rules file lets sync, and for the others the condition that kept them out."""
    ((out,),) = con.sql("select count(*) filter (where not in_scope) from reconcile.sync_scope").fetchall()
    return {"rows": rows["reconcile.sync_scope"], "out_of_scope": out}


@stage_asset("reconcile.contact_matches")
def contact_matches(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Each syncable party's Xero contact: the rule that matched, its confidence, or why it waits for review."""
    outcomes = counts(con, "select outcome, count(*) from reconcile.contact_matches group by all")
    by_rule = counts(
        con,
        "select match_rule, count(*) from reconcile.contact_matches where outcome = 'matched' group by all",
    )
    return {
        "rows": rows["reconcile.contact_matches"],
        **{outcome: outcomes.get(outcome, 0) for outcome in ("matched", "new", "review")},
        "matched_by_rule": counts_table(by_rule, "rule"),
    }


@stage_asset("reconcile.xero_duplicates")
def xero_duplicates(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Active Xero contacts that look like one business (same ABN, e-mail or folded name): for review."""
    return {"rows": rows["reconcile.xero_duplicates"]}


@stage_asset("reconcile.owner_matches")
def owner_matches(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Capsule owners matched to Xero users by e-mail; unmatched owners are reported, not guessed."""
    outcomes = counts(con, "select outcome, count(*) from reconcile.owner_matches group by all")
    return {"rows": rows["reconcile.owner_matches"], "outcomes": counts_table(outcomes, "outcome")}


@stage_asset("reconcile.desired_contacts")
def desired_contacts(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """The Xero contact each syncable party should become, after the rules file's transforms."""
    return {
        "rows": rows["reconcile.desired_contacts"],
        "mapped_before_transforms": rows["reconcile.mapped_contacts"],
    }


@stage_asset("reconcile.current_contacts")
def current_contacts(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Every Xero contact in the same canonical shape as the desired ones, managed groups only."""
    return {"rows": rows["reconcile.current_contacts"]}


@stage_asset("reconcile.contact_operations")
def contact_operations(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """The three-way diff settled by the conflict policy and the preflight: one operation per contact."""
    operations = counts(con, "select operation, count(*) from reconcile.contact_operations group by all")
    settled = counts(con, "select winner, count(*) from reconcile.conflict_settlements group by all")
    return {
        **{operation: operations.get(operation, 0) for operation in OPERATIONS},
        "operations": counts_table(operations, "operation"),
        "settlements_by_winner": counts_table(settled, "winner"),
        "preflight_problems": rows["reconcile.preflight_problems"],
    }


@stage_asset("reconcile.capsule_creates")
def capsule_creates(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Xero contacts no Capsule party has, to create in Capsule (two-way), and look-alikes held for review."""
    return {
        "creates": rows["reconcile.capsule_creates"],
        "held_for_review": rows["reconcile.capsule_create_reviews"],
    }


@stage_asset("reconcile.capsule_operations")
def capsule_operations(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """What a two-way sync writes to Capsule: pulled fields, archive tags and new parties, one row each."""
    operations = counts(con, "select operation, count(*) from reconcile.capsule_operations group by all")
    return {
        "operations": counts_table(operations, "operation"),
        "pull_quarantine": rows["reconcile.pull_quarantine"],
    }


@stage_asset("reconcile.capsule_money_updates")
def capsule_money_updates(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Xero's money per linked party for the Capsule fields money.capsule_fields names; only differences."""
    ((not_written,),) = con.sql(
        "select count(*) from reconcile.capsule_money_definitions where state <> 'ok'"
    ).fetchall()
    return {
        "linked_parties": rows["reconcile.capsule_money_fields"],
        "parties_to_update": rows["reconcile.capsule_money_updates"],
        "fields_not_written": not_written,
    }


@stage_asset("reconcile.history_notes")
def history_notes(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Summaries of new or changed opportunities, cases and tasks to add to each contact's History, never twice."""
    return {"notes": rows["reconcile.history_notes"]}


@stage_asset("reconcile.billing_documents")
def billing_documents(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Draft quotes or invoices for newly won opportunities (billing:), and what the preflight found wrong."""
    ((in_review,),) = con.sql("select count(distinct reference) from reconcile.billing_preflight").fetchall()
    return {
        "won_opportunities": rows["reconcile.won_opportunities"],
        "documents": rows["reconcile.billing_documents"],
        "in_review": in_review,
    }


@stage_asset("reports.views")
def report_views(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """The ``reports`` schema views: reconciliation, review queue, data quality and the pending diff."""
    unavailable = {name: reason for name in REPORTS if (reason := why_unavailable(con, name))}
    return {"unavailable": dg.MetadataValue.json(unavailable), **queue_metadata(review_queue_view(con))}


RECONCILE_ASSETS = [
    sync_scope,
    contact_matches,
    xero_duplicates,
    owner_matches,
    desired_contacts,
    current_contacts,
    contact_operations,
    capsule_creates,
    capsule_money_updates,
    capsule_operations,
    history_notes,
    billing_documents,
    report_views,
]
