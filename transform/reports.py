"""Reports: SQL views in schema ``reports``, one per ``transform/sql/reports/*.sql``
(docs/architecture.md#data-flow, step 10, Report).

The views live in the DuckDB file, so anything that can read the file can read them (the CLI, the
duckdb shell, a notebook). ``create_report_views`` makes them after each reconcile; a report whose
source tables do not exist yet (no sync has built them) is left out, and ``read_report`` says which
tables it is waiting for instead of failing on a missing table. No Dagster here: the CLI imports it.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from transform.sql import SQL_DIR

SCHEMA = "reports"
REPORTS_DIR = SQL_DIR / SCHEMA

# The catalogue, in the order people read it: name (the CLI argument and the view) → what it shows.
REPORTS: dict[str, str] = {
    "reconciliation": "One line per category: matched by each rule, only in Capsule, only in Xero, "
    "duplicates, conflicts, review queue, out of scope, quarantined.",
    "review_queue": "Every item a person must look at, with its reason: undecided matches, duplicates, "
    "conflicts left to a person, pre-flight problems, contacts the plan holds.",
    "only_in_capsule": "In-scope Capsule parties with no Xero contact: the sync creates them.",
    "only_in_xero": "Xero contacts no Capsule record accounts for: the sync leaves them alone.",
    "duplicates": "Capsule parties sharing an ABN, and active Xero contacts sharing an ABN, e-mail or name.",
    "conflicts": "Every field difference the conflict policy settled: both values, both timestamps, who won.",
    "data_quality": "Quarantined values counted by rule and field, with sample record ids.",
    "quarantine": "Every quarantined value: record, rule, field, value and what it costs the sync.",
    "xero_quarantine": "Two-way: Xero values not copied to Capsule (an invalid ABN, a phone of the other "
    "kind), with the rule: fixed in Xero.",
    "pending_diff": "What the next plan would do, counted by operation.",
    "pending_changes": "What the next plan would change, record by record: operation, fields, reason.",
    "out_of_scope": "Capsule parties the rules file keeps out of the sync, and why.",
    # Money (money.read in the rules file): exact decimals, one currency per row, GST apart.
    "receivables": "What each Capsule party (an organisation with its people) owes, per currency: outstanding, "
    "overdue, invoices, oldest due date, owner, tags.",
    "overdue_with_open_opportunities": "Parties with overdue invoices and open Capsule opportunities: overdue "
    "amount, open opportunities and their value.",
    "won_not_invoiced": "Won Capsule opportunities with no sales invoice money.won_not_invoiced_days after the win.",
    "sales_revenue": "Every document Xero counts as sales revenue (invoices, and credit notes as negatives), one "
    "row each, with the Capsule party it counts under: what the revenue reports add up.",
    "revenue_by_owner": "Invoiced revenue (invoices minus credit notes) by Capsule owner, month and currency: "
    "sub_total, GST, total.",
    "revenue_by_tag": "Invoiced revenue by Capsule tag, month and currency (a party's revenue under each of its tags).",
    "pipeline_vs_revenue": "Open pipeline (value and value weighted by probability) beside invoiced revenue, "
    "by month and currency.",
    "xero_customers_unknown": "Xero contacts with sales documents that no Capsule party is linked to.",
    "money_fields": "The Capsule fields money.capsule_fields fills with Xero's money: each one's state, and for a "
    "missing one the exact definition to create in Capsule.",
    "billing_review": "Draft quotes or invoices for won opportunities the newest plan holds in review, and why.",
}

# The raw tables only the rules file's money.read loads, and the key that turns each on.
MONEY_TABLES: dict[str, str] = {
    "raw.xero_invoices": "invoices",
    "raw.xero_credit_notes": "invoices",
    "raw.xero_quotes": "quotes",
    "raw.xero_payments": "payments",
}

_REFERENCE_RE = re.compile(r"\b(raw|staging|reconcile|ledger|reports)\.([a-z_][a-z0-9_]*)\b")


class UnknownReport(KeyError):
    """A name not in ``REPORTS``."""


class ReportUnavailable(Exception):
    """The report cannot be read yet; ``reason`` says why in words a user can act on."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"The {name} report is not available yet: {reason}")
        self.name = name
        self.reason = reason


def report_sql(name: str) -> str:
    if name not in REPORTS:
        raise UnknownReport(name)
    return (REPORTS_DIR / f"{name}.sql").read_text()


def sources(name: str) -> tuple[str, ...]:
    """What ``name`` reads directly (tables and other reports), as ``schema.table``."""
    code = "\n".join(line.split("--", 1)[0] for line in report_sql(name).splitlines())
    return tuple(dict.fromkeys(f"{schema}.{table}" for schema, table in _REFERENCE_RE.findall(code)))


def base_tables(name: str) -> tuple[str, ...]:
    """The tables ``name`` needs, through the other reports it reads."""
    found: list[str] = []
    for source in sources(name):
        schema, table = source.split(".")
        found += base_tables(table) if schema == SCHEMA else [source]
    return tuple(dict.fromkeys(found))


def _existing(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_catalog = current_database()"
    ).fetchall()
    return {name for (name,) in rows}


def _missing(name: str, existing: set[str]) -> str | None:
    """Why ``name`` cannot be built from what exists, or ``None`` when it can."""
    missing = [table for table in base_tables(name) if table not in existing]
    if not missing:
        return None
    money = list(dict.fromkeys(MONEY_TABLES[table] for table in missing if table in MONEY_TABLES))
    if money:
        return (
            f"it needs Xero's {' and '.join(money)} ({', '.join(t for t in missing if t in MONEY_TABLES)}): "
            f"list {', '.join(money)} under money.read in the rules file, then run `capsule-xero sync`"
        )
    return f"it needs {', '.join(missing)}, which a sync builds: run `capsule-xero sync` first"


def create_report_views(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Create or replace every report view whose tables exist; return the others with the reason.

    Call it after each reconcile, on the writing connection. A report whose tables are gone has its
    old view dropped, so no view is left reading a missing table. Reports that read other reports
    are created after them.
    """
    con.execute(f"create schema if not exists {SCHEMA}")
    existing = _existing(con)
    unavailable: dict[str, str] = {}
    done: set[str] = set()

    def create(name: str) -> None:
        if name in done:
            return
        done.add(name)
        for source in sources(name):
            schema, table = source.split(".")
            if schema == SCHEMA:
                create(table)
        reason = _missing(name, existing)
        if reason:
            unavailable[name] = reason
            con.execute(f"drop view if exists {SCHEMA}.{name}")
        else:
            con.execute(f"create or replace view {SCHEMA}.{name} as {report_sql(name)}")

    for name in REPORTS:
        create(name)
    return unavailable


def why_unavailable(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """``None`` when ``reports.<name>`` can be read from ``con``, else the reason in words."""
    if name not in REPORTS:
        raise UnknownReport(name)
    existing = _existing(con)
    reason = _missing(name, existing)
    if reason is None and f"{SCHEMA}.{name}" not in existing:
        reason = "its view is not in this DuckDB file yet: run `capsule-xero sync` first"
    return reason


def read_report(con: duckdb.DuckDBPyConnection, name: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of ``reports.<name>``; raises ``UnknownReport`` or ``ReportUnavailable``."""
    reason = why_unavailable(con, name)
    if reason:
        raise ReportUnavailable(name, reason)
    relation = con.table(f"{SCHEMA}.{name}")
    return list(relation.columns), relation.fetchall()
