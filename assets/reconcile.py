"""Reconcile assets (schema ``reconcile``) and the report views: scope, matches, desired and current
contacts, the diff and its operations, History notes. Each runs its stage of transform/stages.py
(assets/stages.py), so Dagster, ``capsule-xero sync`` and the benchmarks build the same tables."""

from typing import Any

import dagster as dg
import duckdb

from assets.queues import queue_metadata, review_queue_view
from assets.report_metadata import report_metadata
from assets.stages import counts, counts_table, stage_asset
from transform.reports import REPORTS, why_unavailable

OPERATIONS = ("create", "update", "archive", "restore", "review", "noop")


@stage_asset("reconcile.sync_scope")
def sync_scope(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Which Capsule parties the rules file lets sync, and for each of the others the condition that kept
    it out.

    See docs/mapping.md#which-capsule-records-become-xero-contacts."""
    ((out,),) = con.sql("select count(*) filter (where not in_scope) from reconcile.sync_scope").fetchall()
    return {"rows": rows["reconcile.sync_scope"], "out_of_scope": out}


@stage_asset("reconcile.contact_matches")
def contact_matches(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """The Xero contact each Capsule party is: by its saved Xero link, contact number, ABN, e-mail or
    name, with how sure the match is; a doubtful one waits in the review queue instead of being guessed.

    See docs/mapping.md#matching-which-xero-contact-a-party-is."""
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
    """Active Xero contacts that look like the same business (same ABN, e-mail or name): reported for a
    person to merge in Xero.

    See docs/operations.md#the-review-queue."""
    return {"rows": rows["reconcile.xero_duplicates"]}


@stage_asset("reconcile.owner_matches")
def owner_matches(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Capsule owners matched to Xero users by e-mail; an owner with no match is reported, not guessed.

    See docs/mapping.md#contact-groups-tags-and-owners."""
    outcomes = counts(con, "select outcome, count(*) from reconcile.owner_matches group by all")
    return {"rows": rows["reconcile.owner_matches"], "outcomes": counts_table(outcomes, "outcome")}


@stage_asset("reconcile.desired_contacts")
def desired_contacts(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """What each Capsule party's Xero contact should look like, field by field, after the rules file's
    changes (transforms).

    See docs/mapping.md#field-by-field."""
    return {
        "rows": rows["reconcile.desired_contacts"],
        "mapped_before_transforms": rows["reconcile.mapped_contacts"],
    }


@stage_asset("reconcile.current_contacts")
def current_contacts(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """What each Xero contact looks like now, in the same shape, so the two can be compared field by field.

    See docs/mapping.md#the-three-way-diff."""
    return {"rows": rows["reconcile.current_contacts"]}


@stage_asset("reconcile.contact_operations")
def contact_operations(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """What the next plan does to each contact (create, update, archive, restore, review or nothing):
    Capsule, Xero and what the sync last wrote compared, each conflict settled by the rules file's
    policy, and anything Xero would refuse held back.

    See docs/mapping.md#what-is-compared-and-who-wins."""
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
    """Two-way: Xero contacts no Capsule party has, to create in Capsule, and look-alikes of an existing
    party held for a person to review.

    See docs/two-way.md#creates-archives-merges."""
    return {
        "creates": rows["reconcile.capsule_creates"],
        "held_for_review": rows["reconcile.capsule_create_reviews"],
    }


@stage_asset("reconcile.capsule_operations")
def capsule_operations(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Two-way: what the sync writes to Capsule (fields Xero owns, archive tags, new parties), one row each.

    See docs/two-way.md#which-fields-and-how-they-land-in-capsule."""
    operations = counts(con, "select operation, count(*) from reconcile.capsule_operations group by all")
    return {
        "operations": counts_table(operations, "operation"),
        "pull_quarantine": rows["reconcile.pull_quarantine"],
    }


@stage_asset("reconcile.capsule_money_updates")
def capsule_money_updates(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Xero's figures (what a party owes, has paid, ...) for the Capsule fields the rules file's
    money.capsule_fields names, for parties whose figure changed.

    See docs/money-in-capsule.md#what-each-figure-counts."""
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
    """Notes of new or changed Capsule opportunities, projects and tasks to add to each contact's History
    in Xero, each once.

    See docs/mapping.md#history-notes-opportunities-cases-and-tasks."""
    return {"notes": rows["reconcile.history_notes"]}


@stage_asset("reconcile.billing_documents")
def billing_documents(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict[str, Any]:
    """Draft quotes or invoices in Xero for newly won Capsule opportunities (the rules file's billing:),
    and any problem that holds one back for review.

    See docs/billing.md#which-opportunities."""
    ((in_review,),) = con.sql("select count(distinct reference) from reconcile.billing_preflight").fetchall()
    return {
        "won_opportunities": rows["reconcile.won_opportunities"],
        "documents": rows["reconcile.billing_documents"],
        "in_review": in_review,
    }


@stage_asset("reports.views", per_tenant=True)
def report_views(con: duckdb.DuckDBPyConnection, rows: dict[str, int], tenant: str | None) -> dict[str, Any]:
    """The reports: reconciliation, review queue, data quality, what the next plan changes and, with money
    on, receivables and revenue. Each shows its first rows and totals here, with the command that saves
    it as CSV.

    See docs/reports.md#in-the-dagster-ui."""
    unavailable = {name: reason for name in REPORTS if (reason := why_unavailable(con, name))}
    return {
        "unavailable": dg.MetadataValue.json(unavailable),
        # The review queue's own entry is its report (rows, totals, CSV command); its size and what waits
        # are the queue's other entries.
        **queue_metadata(review_queue_view(con)),
        **report_metadata(con, unavailable, tenant),
    }


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
