"""``capsule-xero report [NAME]``: the reports (SQL views in schema reports) on screen or in a CSV file."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Column, Table

from capsule_xero.display import cell, literal
from capsule_xero.settings import Settings
from cli.shared import connect, console, exit_if_damaged

# duckdb and transform.reports (duckdb, phonenumbers) are imported inside the command that reads the
# file: `capsule-xero --help` does without them.

REPORT_ROWS_SHOWN = 50


def report_command(
    name: str | None = typer.Argument(None, help="The report to show; leave out to list them."),
    csv_file: str | None = typer.Option(
        None, "--csv", help="Write every row to this CSV file (UTF-8, with a header) instead of a table."
    ),
    limit: int = typer.Option(REPORT_ROWS_SHOWN, min=1, help="At most this many rows on screen."),
) -> None:
    """Show a report from the DuckDB file (reconciliation, review queue, data quality, pending diff …)."""
    import duckdb

    from transform.reports import REPORTS, ReportUnavailable, read_report, why_unavailable

    if name is not None and name not in REPORTS:
        console.print(
            f"[red]No report called {escape(repr(name))}.[/red] Reports: {', '.join(REPORTS)}.",
            highlight=False,
        )
        raise typer.Exit(2)
    path = Settings.from_env().duckdb_path
    if not path.exists():
        _say_there_is_no_file_yet(path, name)
        return
    with connect(path, read_only=True) as con:
        try:
            if name is None:
                _list_reports({report: why_unavailable(con, report) for report in REPORTS})
                return
            columns, rows = read_report(con, name)
        except ReportUnavailable as exc:
            console.print(f"[yellow]{escape(str(exc))}[/yellow]", highlight=False)
            raise typer.Exit(1) from None
        except duckdb.Error as exc:
            exit_if_damaged(path, exc)
            raise
    if csv_file is not None:
        _save_csv(csv_file, name, columns, rows)
        return
    _print_report(f"{name}: {REPORTS[name]}", columns, rows, limit)


def _say_there_is_no_file_yet(path: Path, name: str | None) -> None:
    """Without a DuckDB file the catalogue can still be listed; a report named cannot be read (exit 1)."""
    if name is None:
        _list_reports(None)
        console.print(f"No DuckDB file at {path} yet: run `capsule-xero sync` first.", highlight=False)
        return
    console.print(
        f"[red]No DuckDB file at {escape(str(path))}:[/red] run `capsule-xero sync` first.",
        highlight=False,
    )
    raise typer.Exit(1)


def _list_reports(unavailable: dict[str, str | None] | None) -> None:
    """The catalogue; with a DuckDB file, whether each report can be read from it yet."""
    from transform.reports import REPORTS

    # no_wrap: a name is typed back whole (overdue_with_open_opportunities on an 80-column terminal)
    table = Table(
        Column("report", no_wrap=True), "what it shows", *([] if unavailable is None else ["ready"])
    )
    for report_name, description in REPORTS.items():
        ready = [] if unavailable is None else ["yes" if unavailable[report_name] is None else "after a sync"]
        table.add_row(report_name, description, *ready)
    console.print(table)
    console.print("Show one with `capsule-xero report NAME` (add --csv FILE to save every row).")


def _save_csv(csv_file: str, name: str, columns: list[str], rows: list[tuple]) -> None:
    try:
        _write_csv(Path(csv_file), columns, rows)
    except OSError as exc:
        console.print(f"[red]Cannot write {escape(csv_file)}:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"Wrote the {name} report ({len(rows):,} rows) to {csv_file}.", highlight=False)


def _write_csv(csv_file: Path, columns: list[str], rows: list[tuple]) -> None:
    csv_file.parent.mkdir(parents=True, exist_ok=True)
    with csv_file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([cell(value) for value in row] for row in rows)


def _print_report(title: str, columns: list[str], rows: list[tuple], limit: int) -> None:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        values = [row[index] for row in rows if row[index] is not None]
        numeric = bool(values) and all(
            isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values
        )
        # fold: ids and reasons stay whole on a narrow terminal, never cut to "…"
        table.add_column(column, overflow="fold", justify="right" if numeric else "left")
    for row in rows[:limit]:
        table.add_row(*(literal(cell(value)) for value in row))  # a value is never read as markup
    console.print(table)
    if not rows:
        console.print("No rows.")
    elif len(rows) > limit:
        console.print(
            f"… and {len(rows) - limit:,} more rows ({len(rows):,} in all): "
            f"--limit {len(rows)} shows them, --csv FILE writes them all.",
            highlight=False,
        )
