"""What the ``reports/views`` asset shows of each report in the Dagster UI: its first rows, its totals
and the command that saves every row as CSV, so a person reads a report without a terminal.

Totals are exact: the report's amount columns (DuckDB ``DECIMAL``) are summed by DuckDB and shown as
the ``Decimal`` it returns, never through a float; a report with a ``currency`` column is totalled
per currency (AUD is never added to USD, docs/reports.md#money-reports).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from decimal import Decimal

import dagster as dg
import duckdb
from duckdb import ColumnExpression, ConstantExpression, FunctionExpression

from capsule_xero.display import cell
from transform.reports import REPORTS, SCHEMA

FIRST_ROWS = 20
CURRENCY = "currency"


def csv_command(name: str, tenant: str | None = None) -> str:
    """The command that writes every row of report ``name`` to a CSV file (cli/report.py)."""
    client = f"--tenant {shlex.quote(tenant)} " if tenant else ""
    return f"capsule-xero {client}report {name} --csv {name}.csv"


def totalled_columns(relation: duckdb.DuckDBPyRelation) -> list[str]:
    """The columns worth a total: amounts (``DECIMAL``) and counts (``*_count``); never ids or days."""
    return [
        column
        for column, kind in zip(relation.columns, relation.types, strict=True)
        if str(kind).startswith("DECIMAL") or column.endswith("_count")
    ]


def report_totals(
    relation: duckdb.DuckDBPyRelation,
) -> list[tuple[str | None, int, dict[str, Decimal | int]]]:
    """(currency or ``None``, rows, {column: sum}) for the whole report, or per currency when it has one."""
    columns = totalled_columns(relation)
    sums = [FunctionExpression("count", ConstantExpression(1)).alias("rows")] + [
        FunctionExpression("sum", ColumnExpression(column)).alias(column) for column in columns
    ]
    if CURRENCY in relation.columns:
        grouped = relation.aggregate([ColumnExpression(CURRENCY), *sums], ColumnExpression(CURRENCY))
        found = grouped.order(CURRENCY).fetchall()
    else:
        found = [(None, *row) for row in relation.aggregate(sums).fetchall()]
    return [
        (currency, int(rows), {column: value for column, value in zip(columns, values, strict=True)})
        for currency, rows, *values in found
    ]


# A value from Capsule or Xero is shown as text: a name like "<b>" or "[x](y)" is never read as markup.
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|~"} | {"\n": " ", "\r": " "})


def _markdown_cell(value: object) -> str:
    """A value as the CLI and the CSV show it (cli/shared.py ``cell``), as text inside a Markdown table."""
    return cell(value).translate(_MARKDOWN_SPECIAL)


def _amount(value: Decimal | int | None) -> str:
    # Decimal formats with its own digits (1000.00 stays "1,000.00"); a float never enters.
    return "0" if value is None else f"{value:,}"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return "\n".join(
        [
            "| " + " | ".join(columns) + " |",
            "|" + "---|" * len(columns),
            *("| " + " | ".join(_markdown_cell(value) for value in row) + " |" for row in rows),
        ]
    )


def report_markdown(con: duckdb.DuckDBPyConnection, name: str, tenant: str | None = None) -> tuple[str, int]:
    """Report ``name`` as Markdown (what it shows, its first rows, its totals, the CSV command) and its
    number of rows."""
    relation = con.table(f"{SCHEMA}.{name}")
    first = relation.limit(FIRST_ROWS + 1).fetchall()
    totals = report_totals(relation)
    rows = sum(count for _currency, count, _sums in totals)
    lines = [f"**{name}**: {REPORTS[name]}", ""]
    if not rows:
        lines.append("No rows.")
    else:
        shown = min(rows, FIRST_ROWS)
        lines += [
            f"{rows:,} rows; the first {shown}:" if rows > shown else f"{rows:,} rows:",
            "",
            markdown_table(relation.columns, first[:FIRST_ROWS]),
            "",
        ]
        for currency, count, sums in totals:
            figures = " · ".join(f"{column} {_amount(value)}" for column, value in sums.items())
            where = f" ({currency}, {count:,} rows)" if currency is not None else ""
            lines.append(f"- Totals{where}: {figures}" if figures else f"- Totals{where}: {count:,} rows")
    lines += ["", f"Every row as CSV: `{csv_command(name, tenant)}`"]
    return "\n".join(lines), rows


def report_metadata(
    con: duckdb.DuckDBPyConnection, unavailable: dict[str, str], tenant: str | None = None
) -> dict[str, dg.MetadataValue]:
    """One Markdown entry per report that can be read (named after it), and ``reports``: the
    catalogue with each report's rows, or why it is not available (``unavailable``: name → reason,
    from ``why_unavailable``), and its CSV command."""
    catalogue = ["| report | rows | CSV of every row |", "|---|---:|---|"]
    entries: dict[str, dg.MetadataValue] = {}
    for name in REPORTS:
        reason = unavailable.get(name)
        if reason:
            catalogue.append(f"| {name} | not available: {_markdown_cell(reason)} | |")
            continue
        text, rows = report_markdown(con, name, tenant)
        entries[name] = dg.MetadataValue.md(text)
        catalogue.append(f"| {name} | {rows:,} | `{csv_command(name, tenant)}` |")
    return {"reports": dg.MetadataValue.md("\n".join(catalogue)), **entries}
