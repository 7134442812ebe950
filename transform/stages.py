"""The reconcile as ONE ordered list of stages (``STAGES``), each a plain function (no Dagster here).

``capsule-xero sync`` and the benchmarks run them all in order with ``reconcile``; the Dagster code
location has one asset per stage (assets/staging.py, assets/reconcile.py) whose key, upstream assets
and work come from this list, so both paths build the same tables. A stage is named after its main
table (``schema.table``, the asset key ``schema/table``); ``after`` names what must be built before it:
tables of earlier stages, or ``raw.*`` tables the extract loads. Every stage rebuilds its tables from
those; only the ``ledger`` schema (what this tool wrote) is never rebuilt. What each table holds:
transform/sql/reconcile/README.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from capsule_xero.rules.fields import COMPARED_FIELDS
from capsule_xero.rules.model import Rules
from reverse_etl.ledger.schema import ensure_ledger
from reverse_etl.sqlfile import has_table
from transform.planned_rejects import build_planned_rejects
from transform.quarantine import build_quarantine
from transform.reports import REPORTS, create_report_views
from transform.rules_sql import (
    apply_transforms,
    billing_params,
    build_money_report_settings,
    build_sync_scope,
    money_field_params,
)
from transform.sql import SQL_DIR, build

# A first run notes only the last 30 days of opportunities, cases and tasks: a first migration must
# not flood every Xero contact's History with years of CRM activity.
HISTORY_LOOKBACK = timedelta(days=30)

# The plan's models, in the order each reads the ones before it (transform/sql/reconcile/README.md).
PLAN_MODELS = (
    "contact_targets",
    "contact_diffs",
    "conflict_settlements",
    "operation_drafts",
    "preflight_problems",
    "contact_operations",
)
CONFLICT_POLICIES = ("newest_wins", "capsule_wins", "xero_wins", "manual")
NAME_COLLISION_POLICIES = ("suffix", "link", "review")

Build = Callable[[duckdb.DuckDBPyConnection, Rules, Mapping[str, Any]], dict[str, int]]


@dataclass(frozen=True)
class Stage:
    """One step of the reconcile: its name, the tables it (re)builds, what comes before it, and how."""

    name: str
    build: Build
    after: tuple[str, ...]
    tables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.tables:
            object.__setattr__(self, "tables", (self.name,))

    @property
    def summary(self) -> str:
        """The first line of the build function's docstring: what the stage's table holds."""
        return (self.build.__doc__ or self.name).strip().splitlines()[0]


def sql_params(rules: Rules, now: datetime | None = None) -> dict[str, Any]:
    """Every parameter a model may bind: the rules file's, the billing window's, plus the History
    cut-off (and, when ``now`` is given, the moment the money fields count "today" from: ``money_now``)."""
    moment = now or datetime.now(UTC)
    params = rules.sql_params() | billing_params(rules, moment) | {"history_since": moment - HISTORY_LOOKBACK}
    params |= money_field_params(rules)
    if now is not None:
        params["money_now"] = now
    return params


# ------------------------------------------------------------------------------------------ staging


def capsule_parties(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """One row per Capsule party: valid e-mail, E.164 phone, checked ABN, company domain, folded name."""
    ensure_ledger(con)  # the model reads this tool's own write-backs to Capsule
    return {"staging.capsule_parties": build(con, "staging", "capsule_parties", params)}


def xero_contacts(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """One row per Xero contact (archived included): ABN from TaxNumber, E.164 phones, folded name."""
    return {"staging.xero_contacts": build(con, "staging", "xero_contacts", params)}


def quarantine(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """Capsule values and parties that break a row rule, with the rule, the field, the value and the effect."""
    rows, drift = build_quarantine(con)
    return {"staging.quarantine": len(rows), **({"schema_drift": len(drift)} if drift else {})}


# ------------------------------------------------------------------------------------------- match


def sync_scope(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """Which Capsule parties the rules file lets sync, and for the others the condition that kept them out."""
    return {"reconcile.sync_scope": build_sync_scope(con, rules)}


def contact_matches(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """Each syncable party's Xero contact: the rule that matched, its confidence, or why it waits for review."""
    return {"reconcile.contact_matches": build(con, "reconcile", "contact_matches", params)}


def xero_duplicates(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """Active Xero contacts that look like one business (same ABN, e-mail or folded name): for review."""
    return {"reconcile.xero_duplicates": build(con, "reconcile", "xero_duplicates", params)}


def owner_matches(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """Capsule owners matched to Xero users by e-mail; unmatched owners are reported, not guessed."""
    return {"reconcile.owner_matches": build(con, "reconcile", "owner_matches", params)}


# ------------------------------------------------------------------------------------------ desire


def desired_contacts(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """The Xero contact each syncable party should become, after the rules file's transforms."""
    mapped = build(con, "reconcile", "mapped_contacts", params)
    return {"reconcile.mapped_contacts": mapped, "reconcile.desired_contacts": apply_transforms(con, rules)}


def current_contacts(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """Every Xero contact in the same canonical shape as the desired ones, managed groups only."""
    return {"reconcile.current_contacts": build(con, "reconcile", "current_contacts", params)}


# -------------------------------------------------------------------------------------------- diff


def check_plan_params(params: Mapping[str, Any]) -> None:
    """Refuse values the models would otherwise read as a silent default."""
    if params["conflict_policy"] not in CONFLICT_POLICIES:
        raise ValueError(
            f"conflict_policy must be one of {CONFLICT_POLICIES}, not {params['conflict_policy']!r}"
        )
    if params["name_collision"] not in NAME_COLLISION_POLICIES:
        raise ValueError(
            f"name_collision must be one of {NAME_COLLISION_POLICIES}, not {params['name_collision']!r}"
        )
    unknown = set(params["xero_owned_fields"]) - set(COMPARED_FIELDS)
    if unknown:
        raise ValueError(f"xero_owned_fields names fields that are not compared: {sorted(unknown)}")


def build_plan_tables(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> dict[str, int]:
    """The plan's tables in ``reconcile``, from the desired and current contacts and the ledger.

    ``params`` are the rules parameters (``Rules.sql_params()``); each model binds the ones it names.
    Returns the row count of each table built (by table name), in build order.
    """
    check_plan_params(params)
    ensure_ledger(con)
    return {table: build(con, "reconcile", table, params) for table in PLAN_MODELS}


def contact_operations(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """The three-way diff settled by the conflict policy and the preflight: one operation per contact."""
    counts = {f"reconcile.{table}": rows for table, rows in build_plan_tables(con, params).items()}
    # The planned-row rules run with the model so a plan can always leave their rejects out; the
    # blocking Dagster check judges them.
    rejects, drift, _ = build_planned_rejects(con)
    counts["reconcile.planned_rejects"] = len(rejects)
    if drift:
        counts["plan_schema_drift"] = len(drift)
    return counts


def capsule_creates(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """Xero contacts no Capsule party has, to create in Capsule (two-way), and look-alikes held for review."""
    ensure_ledger(con)
    # The candidates, then the look-alikes among them: a contact held for review is not created.
    return {
        f"reconcile.{model}": build(con, "reconcile", model, params)
        for model in ("capsule_create_candidates", "capsule_create_reviews", "capsule_creates")
    }


def capsule_operations(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """What a two-way sync writes to Capsule: pulled fields, archive tags and new parties, one row each."""
    ensure_ledger(con)
    counts = {
        f"reconcile.{model}": build(con, "reconcile", model, params)
        for model in ("pull_quarantine", "capsule_updates", "capsule_operations")
    }
    return counts


# ------------------------------------------------------------------------------------------ money

# Xero names an organisation's time zone with Windows' names (Organisation.Timezone); "today" for the
# overdue test is the organisation's day. Australian and New Zealand zones, the project's users; any
# other falls back to Sydney's (the project's home) rather than to UTC, which is a day behind
# Australia every morning.
XERO_TIME_ZONES = {
    "AUSEASTERNSTANDARDTIME": "Australia/Sydney",
    "EAUSTRALIASTANDARDTIME": "Australia/Brisbane",
    "CENAUSTRALIASTANDARDTIME": "Australia/Adelaide",
    "AUSCENTRALSTANDARDTIME": "Australia/Darwin",
    "WAUSTRALIASTANDARDTIME": "Australia/Perth",
    "TASMANIASTANDARDTIME": "Australia/Hobart",
    "LORDHOWESTANDARDTIME": "Australia/Lord_Howe",
    "NEWZEALANDSTANDARDTIME": "Pacific/Auckland",
    "UTC": "UTC",
}
DEFAULT_TIME_ZONE = "Australia/Sydney"

# The temporary views reconcile/capsule_money_*.sql read: each raw table's columns the models use,
# with their types, so a table the extract has not made (money.read leaves it out, or Xero or Capsule
# had none of it yet) reads as empty instead of failing the sync. Fixed names only: no user value.
MONEY_SOURCES: dict[str, tuple[str, dict[str, str]]] = {
    "money_invoices": (
        "raw.xero_invoices",
        {
            "type": "varchar", "status": "varchar", "contact__contact_id": "varchar",
            "invoice_number": "varchar", "currency_code": "varchar", "date": "date",
            "due_date": "date", "total": "decimal(18, 2)", "amount_due": "decimal(18, 2)",
        },
    ),
    "money_credit_notes": (
        "raw.xero_credit_notes",
        {
            "type": "varchar", "status": "varchar", "contact__contact_id": "varchar",
            "currency_code": "varchar", "date": "date", "total": "decimal(18, 2)",
        },
    ),
    "money_payments": (
        "raw.xero_payments",
        {
            "status": "varchar", "payment_type": "varchar", "invoice__contact__contact_id": "varchar",
            "date": "date",
        },
    ),
    "money_organisation": ("raw.xero_organisation", {"base_currency": "varchar", "timezone": "varchar"}),
    "money_field_definitions": (
        "raw.capsule_party_field_definitions",
        {"id": "bigint", "name": "varchar", "type": "varchar", "capture_rule": "varchar"},
    ),
    "money_party_fields": (
        "raw.capsule_parties__fields",
        {
            "_dlt_parent_id": "varchar", "_dlt_list_idx": "bigint", "definition__name": "varchar",
            "value": "varchar",
        },
    ),
}  # fmt: skip


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    rows = con.execute(
        "select column_name from information_schema.columns"
        " where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return {column for (column,) in rows}


def money_source_views(con: duckdb.DuckDBPyConnection) -> None:
    """The temporary views of ``MONEY_SOURCES``: the raw table's columns, null for a column it lacks,
    no rows when the table is not there."""
    for view, (table, columns) in MONEY_SOURCES.items():
        present = _columns(con, table)
        select = ", ".join(
            f'"{column}"' if column in present else f'cast(null as {kind}) as "{column}"'
            for column, kind in columns.items()
        )
        source = f"from {table}" if present else "where false"
        con.execute(f"create or replace temp view {view} as select {select} {source}")


def money_today(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> date:
    """``now`` (the real time when None) as a calendar day in the Xero organisation's time zone."""
    money_source_views(con)
    rows = con.execute("select max(timezone) from money_organisation").fetchall()
    zone = XERO_TIME_ZONES.get(str(rows[0][0] or "").upper(), DEFAULT_TIME_ZONE)
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).date()


def capsule_money(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """Xero's money per linked party for the Capsule fields money.capsule_fields names; only differences."""
    ensure_ledger(con)
    money_source_views(con)
    money = dict(params) | money_field_params(rules)
    money["money_today"] = money_today(con, params.get("money_now"))
    return {
        f"reconcile.{model}": build(con, "reconcile", model, money)
        for model in ("capsule_money_definitions", "capsule_money_fields", "capsule_money_updates")
    }


def history_notes(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """Summaries of new or changed opportunities, cases and tasks to add to each contact's History, never twice."""
    ensure_ledger(con)
    return {"reconcile.history_notes": build(con, "reconcile", "history_notes", params)}


# What the billing preflight checks a document against (transform/sql/reconcile/billing_preflight.sql).
BILLING_SETTINGS = (
    "xero_accounts",
    "xero_tax_rates",
    "xero_tracking_categories",
    "xero_tracking_categories__options",
    "xero_currencies",
    "xero_items",
)


def billing_documents(
    con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]
) -> dict[str, int]:
    """Draft quotes or invoices for newly won opportunities (billing:), and what the preflight found wrong."""
    ensure_ledger(con)  # the model leaves out what this tool already made
    counts = {
        f"reconcile.{model}": build(con, "reconcile", model, params)
        for model in ("won_opportunities", "billing_documents")
    }
    if all(has_table(con, "raw", table) for table in BILLING_SETTINGS):
        counts["reconcile.billing_preflight"] = build(con, "reconcile", "billing_preflight", params)
    else:
        con.execute((SQL_DIR / "reconcile" / "billing_preflight_unread.sql").read_text())
        ((counts["reconcile.billing_preflight"],),) = con.sql(
            "select count(*) from reconcile.billing_preflight"
        ).fetchall()
    return counts


def report_views(con: duckdb.DuckDBPyConnection, rules: Rules, params: Mapping[str, Any]) -> dict[str, int]:
    """The ``reports`` schema views: reconciliation, review queue, data quality, the pending diff, money."""
    build_money_report_settings(con, rules)
    unavailable = create_report_views(con)
    return {"reports.views": len(REPORTS) - len(unavailable)}


# ------------------------------------------------------------------------------------------ order

STAGES: tuple[Stage, ...] = (
    Stage(
        "staging.capsule_parties",
        capsule_parties,
        after=("raw.capsule_parties", "raw.capsule_deleted_parties", "raw.capsule_users"),
    ),
    Stage("staging.xero_contacts", xero_contacts, after=("raw.xero_contacts",)),
    Stage("staging.quarantine", quarantine, after=("staging.capsule_parties",)),
    Stage("reconcile.sync_scope", sync_scope, after=("staging.capsule_parties",)),
    Stage(
        "reconcile.contact_matches",
        contact_matches,
        after=("reconcile.sync_scope", "staging.xero_contacts"),
    ),
    Stage("reconcile.xero_duplicates", xero_duplicates, after=("staging.xero_contacts",)),
    Stage(
        "reconcile.owner_matches",
        owner_matches,
        after=("raw.capsule_users", "raw.xero_users", "raw.capsule_parties", "raw.capsule_deleted_parties"),
    ),
    Stage(
        "reconcile.desired_contacts",
        desired_contacts,
        after=("reconcile.contact_matches", "staging.quarantine"),
        tables=("reconcile.mapped_contacts", "reconcile.desired_contacts"),
    ),
    Stage(
        "reconcile.current_contacts",
        current_contacts,
        after=("staging.xero_contacts", "staging.capsule_parties"),
    ),
    Stage(
        "reconcile.contact_operations",
        contact_operations,
        after=("reconcile.desired_contacts", "reconcile.current_contacts"),
        tables=(*(f"reconcile.{model}" for model in PLAN_MODELS), "reconcile.planned_rejects"),
    ),
    Stage(
        "reconcile.capsule_creates",
        capsule_creates,
        after=("reconcile.contact_matches", "reconcile.current_contacts"),
        tables=(
            "reconcile.capsule_create_candidates",
            "reconcile.capsule_create_reviews",
            "reconcile.capsule_creates",
        ),
    ),
    Stage(
        "reconcile.capsule_money_updates",
        capsule_money,
        # Not the raw.xero_* money tables: their Dagster assets are skippable (not materialised with
        # money off), and a skipped upstream skips what is drawn after it, which would skip every Capsule
        # write. The Xero extract is one step, which contact_matches already comes after.
        after=("reconcile.contact_matches", "raw.capsule_parties", "raw.capsule_party_field_definitions"),
        tables=(
            "reconcile.capsule_money_definitions",
            "reconcile.capsule_money_fields",
            "reconcile.capsule_money_updates",
        ),
    ),
    Stage(
        "reconcile.capsule_operations",
        capsule_operations,
        after=(
            "reconcile.contact_operations",
            "reconcile.capsule_creates",
            "reconcile.capsule_money_updates",
            "raw.capsule_parties",
        ),
        tables=("reconcile.pull_quarantine", "reconcile.capsule_updates", "reconcile.capsule_operations"),
    ),
    Stage(
        "reconcile.history_notes",
        history_notes,
        after=(
            "reconcile.contact_matches",
            "staging.quarantine",
            "raw.capsule_opportunities",
            "raw.capsule_kases",
            "raw.capsule_tasks",
            "raw.capsule_deleted_opportunities",
            "raw.capsule_deleted_kases",
        ),
    ),
    Stage(
        "reconcile.billing_documents",
        billing_documents,
        after=(
            "reconcile.contact_operations",
            "raw.capsule_opportunities",
            "raw.capsule_deleted_opportunities",
            # Not the raw settings tables it checks against: like the money stage's, their assets are
            # skippable, and a skipped upstream would skip every stage and write after this one.
        ),
        tables=("reconcile.won_opportunities", "reconcile.billing_documents", "reconcile.billing_preflight"),
    ),
    Stage(
        "reports.views",
        report_views,
        after=(
            "reconcile.contact_operations",
            "reconcile.capsule_creates",
            "reconcile.capsule_operations",
            "reconcile.capsule_money_updates",
            "reconcile.history_notes",
            "reconcile.billing_documents",
            "reconcile.xero_duplicates",
            "reconcile.owner_matches",
        ),
        tables=("reconcile.money_report_settings", *(f"reports.{name}" for name in REPORTS)),
    ),
)
STAGE_BY_NAME = {stage.name: stage for stage in STAGES}


@dataclass
class ReconcileRun:
    """Rows out (by table) and seconds taken (by stage) of one reconcile."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def reconcile(
    con: duckdb.DuckDBPyConnection,
    rules: Rules | None = None,
    *,
    now: datetime | None = None,
    on_stage: Callable[[str, float], None] | None = None,
) -> ReconcileRun:
    """Every stage of ``STAGES``, in order, on one connection; ``on_stage(name, seconds)`` after each."""
    rules = rules or Rules()
    params = sql_params(rules, now)
    run = ReconcileRun()
    for stage in STAGES:
        started = time.perf_counter()
        run.rows.update(stage.build(con, rules, params))
        run.seconds[stage.name] = time.perf_counter() - started
        if on_stage:
            on_stage(stage.name, run.seconds[stage.name])
    return run
