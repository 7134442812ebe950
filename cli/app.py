"""The one entry point, ``capsule-xero``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import typer
from typer.core import TyperGroup

from capsule_xero.display import LiteralConsole, json_for_terminal, literal, markup_literal
from capsule_xero.settings import PRIVATE_UMASK, Settings, startup_check
from capsule_xero.xero.auth import CALLBACK_PORT, XeroAuth, XeroAuthError, login
from capsule_xero.xero.budget import OrganisationBudget, api_origin, budget_file_in, read_budgets
from capsule_xero.xero.token_store import TokenFileError, TokenStore, token_file_made_private
from cli import webhooks as cli_webhooks
from cli import write as cli_write

if TYPE_CHECKING:
    import duckdb

    from capsule_xero.rules import Rules
    from reverse_etl.plans import Plan


class _CommandGroup(TyperGroup):
    """Keeps the command line in ``ctx.meta`` so the check before every command can let --help through."""

    def invoke(self, ctx: click.Context) -> object:
        ctx.meta["capsule_xero.args"] = [*getattr(ctx, "_protected_args", []), *ctx.args]
        return super().invoke(ctx)


app = typer.Typer(
    cls=_CommandGroup,
    help="Capsule CRM → Xero contact sync: extract to DuckDB, reconcile in SQL, write only the difference.",
    no_args_is_help=True,
    add_completion=False,
)
# soft_wrap: long lines (paths, URLs, commands to copy) are left whole for the terminal to wrap.
# LiteralConsole: no control character from a value reaches the terminal, and no emoji code is read
# (capsule_xero/display.py); values inside markup still go through markup_literal, in tables through literal.
console = LiteralConsole(soft_wrap=True)


@app.callback()
def _before_every_command(ctx: typer.Context) -> None:
    # Customer data and tokens are written by this process and every process it starts (dlt, DuckDB,
    # `dagster dev`): startup_check makes them private, then refuses wrong settings before any work.
    if any(arg in {"--help", "-h"} for arg in ctx.meta.get("capsule_xero.args", [])):
        os.umask(PRIVATE_UMASK)
        return
    settings, problems = startup_check()
    if problems:
        console.print(
            "[red]capsule-xero cannot start:[/red] fix these settings (.env.example lists them all),"
            " then run the command again.",
            highlight=False,
        )
        for problem in problems:
            console.print(f"  {markup_literal(problem)}", highlight=False)
        raise typer.Exit(2)
    opened = token_file_made_private(settings.home)
    if opened:
        console.print(f"[yellow]{markup_literal(opened)}[/yellow]", highlight=False)


def _serve_sandbox(
    parties: int, seed: int, xero_port: int, capsule_port: int, speed: float, env_file: Path
) -> None:
    from sandbox.app import Sandbox
    from sandbox.generator import generate
    from sandbox.server import SandboxServer

    sandbox = Sandbox(seed=seed, speed=speed)
    started = time.perf_counter()
    with console.status(f"Generating {parties:,} Capsule parties (seed {seed})…"):
        dataset = generate(parties=parties, seed=seed)
        sandbox.load(dataset)
    summary = dataset.summary()
    console.print(
        f"Generated in {time.perf_counter() - started:.1f}s: "
        f"{summary['capsule']['parties']:,} Capsule parties, {summary['xero']['contacts']:,} Xero contacts."
    )
    server = SandboxServer(sandbox, xero_port=xero_port, capsule_port=capsule_port)
    env = server.env()
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    console.print(f"\n[bold]Point capsule-xero at the sandbox[/bold] (also written to {env_file}):\n")
    for key, value in env.items():
        console.print(f"export {key}={value}", highlight=False, soft_wrap=True)
    console.print(_usage(env), highlight=False, soft_wrap=True)
    console.print("Serving on 127.0.0.1 only. Ctrl-C stops.", style="dim")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve())


def _usage(env: dict[str, str]) -> str:
    xero = env["XERO_IDENTITY_URL"]
    capsule = env["CAPSULE_API_URL"]
    return f"""
[bold]Try it with curl[/bold]
  # Capsule: the first five parties with their tags and custom fields
  curl -s -H "Authorization: Bearer $CAPSULE_API_TOKEN" "{capsule}/parties?perPage=5&embed=tags,fields"
  # Xero: a 30-minute access token for the demo organisation, then its first page of contacts
  TOKEN=$(curl -s -X POST {xero}/_sandbox/xero/tokens | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  TENANT=$(curl -s -H "Authorization: Bearer $TOKEN" $XERO_CONNECTIONS_URL | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["tenantId"])')
  curl -s -H "Authorization: Bearer $TOKEN" -H "xero-tenant-id: $TENANT" -H "Accept: application/json" "$XERO_API_URL/Contacts?page=1&pageSize=5"
  # What the stand-ins were asked, and misbehaviour on demand
  curl -s {xero}/_sandbox/stats
  curl -s -X POST {xero}/_sandbox/faults -d '{{"api": "xero", "path": "/api.xro/2.0/Contacts*", "probabilities": {{"503": 0.2}}}}'
"""


@app.command()
def sandbox(
    parties: int = typer.Option(1000, help="How many Capsule parties to generate (1k to 1M)."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same data."),
    xero_port: int = typer.Option(8710, help="Port of the Xero stand-in (0 picks a free one)."),
    capsule_port: int = typer.Option(8720, help="Port of the Capsule stand-in (0 picks a free one)."),
    speed: float = typer.Option(
        1.0, help="Sandbox clock speed: 60 makes a rate-limit minute last one second."
    ),
) -> None:
    """Serve local stand-ins of the Capsule and Xero APIs with a generated dataset, for trying things by hand."""
    settings = Settings.from_env()
    _serve_sandbox(parties, seed, xero_port, capsule_port, speed, settings.home / "sandbox.env")


@app.command()
def demo(
    parties: int = typer.Option(1000, help="How many Capsule parties to generate."),
    seed: int = typer.Option(42, help="Random seed."),
    port: int = typer.Option(8710, help="Xero stand-in port; Capsule's is port + 10 (0: any free ports)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep the stand-ins running afterwards."),
) -> None:
    """Run the demo with no credentials: sandbox → sign-in → extract → reconcile → plan → apply → report."""
    import httpx

    from sandbox.app import Sandbox
    from sandbox.generator import generate
    from sandbox.server import SandboxServer

    home = Settings.from_env().home / "demo"
    shutil.rmtree(home, ignore_errors=True)  # every demo is a fresh world: the sandbox is generated anew
    sandbox = Sandbox(seed=seed)
    with console.status(
        f"Generating {parties:,} Capsule parties and the Xero organisation they partly match…"
    ):
        sandbox.load(generate(parties=parties, seed=seed))
    server = SandboxServer(sandbox, xero_port=port, capsule_port=port + 10 if port else 0).start()
    try:
        env = server.env() | {"CAPSULE_XERO_HOME": str(home)}
        settings = Settings.from_env(env)
        console.print(f"1. Local Capsule and Xero stand-ins on {server.capsule_url} and {server.xero_url}.")
        # The sandbox's consent page answers at once, so the browser step is a plain GET here.
        tokens = login(
            XeroAuth(settings),
            choose_tenant=lambda connections: connections[0],
            open_url=lambda url: httpx.get(url, follow_redirects=True, timeout=30),
        )
        console.print(
            f"2. Signed in to Xero (authorization code + PKCE) as the organisation {markup_literal(tokens.tenant_name)}."
        )
        env_file = home / "sandbox.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        with _home_held_for_the_block():  # let go before serving: status, report and ui use the home
            _demo_sync(settings)
        query = "select * from reports.review_queue"
        console.print(
            f"\nThe DuckDB file is {settings.duckdb_path}; query it with the duckdb package, e.g.\n"
            f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.duckdb_path}', read_only=True)"
            f".sql('{query}'))\"\n"
            f"The stand-ins' settings are in {env_file}: `set -a; . {env_file}; set +a`, then "
            "`capsule-xero report`, `capsule-xero status`, `capsule-xero sync` or `capsule-xero ui` "
            "(the Dagster UI on the same data) work against them while they run.",
            soft_wrap=True,
        )
        if serve:
            console.print("The stand-ins keep running for you to browse. Ctrl-C stops.", style="dim")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    finally:
        server.stop()


def _demo_sync(settings: Settings) -> None:
    """Steps 3-7 of the demo: what `capsule-xero sync --apply` does, with the approval a person gives."""
    from rich.table import Table

    from reverse_etl.apply import apply_plan
    from reverse_etl.plan_render import render_summary
    from reverse_etl.plans import approve
    from transform.reports import read_report

    rules = _load_rules_or_exit(settings)
    console.print("3. ", end="")
    _extract_both(settings, full=False)
    with _connect(settings.duckdb_path, read_only=False) as con:
        console.print("4. ", end="")
        plan = _reconcile_and_plan(con, rules)
        columns, rows = read_report(con, "reconciliation")
        table = Table(*columns, title="Reconciliation")
        for row in rows:
            table.add_row(*(literal(_cell(value)) for value in row))
        console.print(table)
        console.print("5. The plan:")
        console.print(render_summary(plan))
        if plan.waits_for_approval:
            approve(con, plan.plan_id)
            console.print(
                f"   The demo approves plan {plan.plan_id} for you; on real data you read it with "
                f"`capsule-xero plan` and run `capsule-xero approve {plan.plan_id}`.",
                highlight=False,
            )
        with console.status("6. Writing the plan to Xero (batches of 50, at most 60 calls a minute)…"):
            result = apply_plan(con, settings, rules, plan.plan_id)
        console.print("6. ", end="")
        _print_apply_result(result)
    console.print("7. Syncing again, to show a rerun writes nothing:")
    _extract_both(settings, full=False)
    with _connect(settings.duckdb_path, read_only=False) as con:
        again = _reconcile_and_plan(con, rules)
        console.print(
            "   Nothing to write: Xero holds what Capsule says."
            if again.status == "empty"
            else f"   Plan {again.plan_id} still has {again.operations} operations: `capsule-xero plan` shows them.",
            highlight=False,
        )


@app.command()
def extract(
    full: bool = typer.Option(False, "--full", help="Read everything again instead of from the cursors."),
    only: str = typer.Option("both", help="capsule, xero or both."),
) -> None:
    """Read Capsule and Xero into DuckDB (schema raw): only what changed since the last run."""
    from rich.markup import escape

    from capsule_xero.duckdb_file import DuckDBFileProblem
    from pipelines.capsule import CapsuleError, extract_capsule
    from pipelines.xero import XeroRun, run_xero_extract, xero_error

    if only not in {"capsule", "xero", "both"}:
        console.print("[red]--only takes capsule, xero or both.[/red]")
        raise typer.Exit(2)
    settings = Settings.from_env()
    _hold_home(settings.home, shared=False)
    failed = False
    if only in {"capsule", "both"}:
        try:
            with console.status("Reading Capsule…"):
                result = extract_capsule(settings, full_refresh=full)
            rows = sum(v for k, v in result.row_counts.items() if k.startswith("capsule_"))
            console.print(
                f"Capsule: {rows:,} rows loaded with {result.calls:,} API calls ({result.retries} retried)."
            )
            for change in result.schema_changes:
                console.print(f"[yellow]Capsule schema drift:[/yellow] {markup_literal(change.describe())}")
        except CapsuleError as exc:
            console.print(f"[red]Capsule: {markup_literal(exc)}[/red]", highlight=False)
            failed = True
        except DuckDBFileProblem as exc:
            console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
            raise typer.Exit(1) from None
    if only in {"xero", "both"}:
        run = XeroRun()
        try:
            with console.status("Reading Xero…"):
                run_xero_extract(settings, full_refresh=full, run=run)
            console.print(
                f"Xero: {sum(run.records.values()):,} records read with {sum(run.requests.values()):,} API calls "
                f"(contacts: {run.modes.get('xero_contacts', 'not run')})."
            )
        except DuckDBFileProblem as exc:
            console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
            raise typer.Exit(1) from None
        except Exception as exc:
            cause = xero_error(exc)  # sign-in, API and daily-limit errors, however dlt wrapped them
            if cause is None:
                raise
            console.print(f"[red]Xero: {markup_literal(cause)}[/red]", highlight=False)
            failed = True
    console.print(f"DuckDB file: {settings.duckdb_path}")
    if failed:
        raise typer.Exit(1)


REPORT_ROWS_SHOWN = 50


def _cell(value: object) -> str:
    """One report value as text, the same on screen and in CSV: empty for null, ISO for times."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(_cell(item) for item in value)
    return str(value)


@app.command()
def report(
    name: str | None = typer.Argument(None, help="The report to show; leave out to list them."),
    csv_file: str | None = typer.Option(
        None, "--csv", help="Write every row to this CSV file (UTF-8, with a header) instead of a table."
    ),
    limit: int = typer.Option(REPORT_ROWS_SHOWN, min=1, help="At most this many rows on screen."),
) -> None:
    """Show a report from the DuckDB file (reconciliation, review queue, data quality, pending diff …)."""
    import duckdb
    from rich.markup import escape

    from transform.reports import REPORTS, ReportUnavailable, read_report, why_unavailable

    if name is not None and name not in REPORTS:
        console.print(
            f"[red]No report called {escape(repr(name))}.[/red] Reports: {', '.join(REPORTS)}.",
            highlight=False,
        )
        raise typer.Exit(2)
    path = Settings.from_env().duckdb_path
    if not path.exists():
        if name is None:
            _list_reports(None)
            console.print(f"No DuckDB file at {path} yet: run `capsule-xero sync` first.", highlight=False)
            return
        console.print(
            f"[red]No DuckDB file at {escape(str(path))}:[/red] run `capsule-xero sync` first.",
            highlight=False,
        )
        raise typer.Exit(1)
    with _connect(path, read_only=True) as con:
        try:
            if name is None:
                _list_reports({report: why_unavailable(con, report) for report in REPORTS})
                return
            columns, rows = read_report(con, name)
        except ReportUnavailable as exc:
            console.print(f"[yellow]{escape(str(exc))}[/yellow]", highlight=False)
            raise typer.Exit(1) from None
        except duckdb.Error as exc:
            _exit_if_damaged(path, exc)
            raise
    if csv_file is not None:
        try:
            _write_csv(Path(csv_file), columns, rows)
        except OSError as exc:
            console.print(f"[red]Cannot write {escape(csv_file)}:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None
        console.print(f"Wrote the {name} report ({len(rows):,} rows) to {csv_file}.", highlight=False)
        return
    _print_report(f"{name}: {REPORTS[name]}", columns, rows, limit)


def _list_reports(unavailable: dict[str, str | None] | None) -> None:
    """The catalogue; with a DuckDB file, whether each report can be read from it yet."""
    from rich.table import Table

    from transform.reports import REPORTS

    table = Table("report", "what it shows", *([] if unavailable is None else ["ready"]))
    for report_name, description in REPORTS.items():
        ready = [] if unavailable is None else ["yes" if unavailable[report_name] is None else "after a sync"]
        table.add_row(report_name, description, *ready)
    console.print(table)
    console.print("Show one with `capsule-xero report NAME` (add --csv FILE to save every row).")


def _write_csv(csv_file: Path, columns: list[str], rows: list[tuple]) -> None:
    import csv

    csv_file.parent.mkdir(parents=True, exist_ok=True)
    with csv_file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([_cell(value) for value in row] for row in rows)


def _print_report(title: str, columns: list[str], rows: list[tuple], limit: int) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        values = [row[index] for row in rows if row[index] is not None]
        numeric = bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        # fold: ids and reasons stay whole on a narrow terminal, never cut to "…"
        table.add_column(column, overflow="fold", justify="right" if numeric else "left")
    for row in rows[:limit]:
        table.add_row(*(literal(_cell(value)) for value in row))  # a value is never read as markup
    console.print(table)
    if not rows:
        console.print("No rows.")
    elif len(rows) > limit:
        console.print(
            f"… and {len(rows) - limit:,} more rows ({len(rows):,} in all): "
            f"--limit {len(rows)} shows them, --csv FILE writes them all.",
            highlight=False,
        )


# ---- plan, approve, sync, status --------------------------------------------------------------------
# The DuckDB file takes one writing process at a time (DESIGN.md, limits): these commands open it only
# after the extract (dlt) has closed it, and read-only when they only show something.

PLAN_ROWS_SHOWN = 50
ERROR_QUEUE_ROWS_SHOWN = 20
RULES_PROBLEMS_SHOWN = 20


def _load_rules_or_exit(settings: Settings) -> Rules:
    from rich.markup import escape

    from capsule_xero.rules import RulesError, load_rules

    try:
        return load_rules(settings.config_file)
    except RulesError as exc:
        console.print("[red]The rules file has problems:[/red]")
        for problem in exc.problems[:RULES_PROBLEMS_SHOWN]:
            console.print(f"  {escape(problem)}", highlight=False)
        hidden = len(exc.problems) - RULES_PROBLEMS_SHOWN
        if hidden > 0:
            console.print(
                f"  … and {hidden:,} more problems: fix these first, then run the command again.",
                highlight=False,
            )
        raise typer.Exit(2) from None


# Holds of CAPSULE_XERO_HOME taken outside any command context: kept for the life of the process.
_HOLDS_FOR_THE_PROCESS: list[contextlib.AbstractContextManager[None]] = []
# Open ``_home_held_for_the_block`` scopes, innermost last: holds taken inside end with the block.
_HOLD_SCOPES: list[list[contextlib.AbstractContextManager[None]]] = []


@contextlib.contextmanager
def _home_held_for_the_block() -> Iterator[None]:
    """Holds of the home taken inside the block are let go when it ends, not when the command does
    (the demo syncs, then keeps serving the stand-ins for other commands and Dagster to use)."""
    holds: list[contextlib.AbstractContextManager[None]] = []
    _HOLD_SCOPES.append(holds)
    try:
        yield
    finally:
        _HOLD_SCOPES.remove(holds)
        for hold in reversed(holds):
            hold.__exit__(None, None, None)


def _current_command_context() -> object | None:
    """The running command's context. Typer 0.29 (pinned) runs commands on its own copy of click
    (typer._click), whose context the installed click package cannot see."""
    try:
        from typer.main import get_current_context
    except ImportError:  # a Typer that runs on click itself
        from click import get_current_context
    return get_current_context(silent=True)


def _hold_home(home: Path, *, shared: bool, wait: float | None = None) -> None:
    """Hold CAPSULE_XERO_HOME's lock (capsule_xero/home_lock.py) until the command ends; exit 1 with
    the holder named when another run keeps it. Re-entrant: a command takes it once for its whole
    run and the helpers it calls take it again without waiting for themselves."""
    from rich.markup import escape

    from capsule_xero import home_lock

    if wait is None:
        wait = home_lock.READ_WAIT_SECONDS if shared else home_lock.WAIT_SECONDS
    hold = home_lock.home_lock(home, shared=shared, wait=wait)
    try:
        hold.__enter__()
    except home_lock.HomeBusy as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    context = _current_command_context()
    if _HOLD_SCOPES:
        _HOLD_SCOPES[-1].append(hold)
    elif context is None:
        _HOLDS_FOR_THE_PROCESS.append(hold)  # the kernel lets go when the process ends
    else:
        context.call_on_close(lambda: hold.__exit__(None, None, None))  # type: ignore[attr-defined]


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The DuckDB file, under the home's lock (shared to read, exclusive to write, until the command
    ends): exit 1 with one line when another run holds it, or it is damaged or held elsewhere."""
    from rich.markup import escape

    from capsule_xero.duckdb_file import DuckDBFileProblem, open_duckdb

    _hold_home(path.parent, shared=read_only)
    try:
        return open_duckdb(path, read_only=read_only)
    except DuckDBFileProblem as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None


def _exit_if_damaged(path: Path, exc: BaseException) -> None:
    """Exit 1 with one line when a DuckDB error met while reading says the file is damaged (a bad
    block shows only when a query reaches it); return otherwise, for the caller to raise."""
    from rich.markup import escape

    from capsule_xero.duckdb_file import damaged_reason, problem

    if damaged_reason(exc) is not None:
        console.print(f"[red]{escape(str(problem(path, exc)))}[/red]", highlight=False)
        raise typer.Exit(1) from None


def _extract_both(settings: Settings, full: bool) -> None:
    """Capsule then Xero into schema raw; exit 1 (after saying why) when either fails."""
    from rich.markup import escape

    from capsule_xero.duckdb_file import DuckDBFileProblem
    from pipelines.capsule import CapsuleError, extract_capsule
    from pipelines.xero import XeroRun, run_xero_extract, xero_error

    _hold_home(settings.home, shared=False)
    try:
        with console.status("Reading Capsule…"):
            result = extract_capsule(settings, full_refresh=full)
    except CapsuleError as exc:
        console.print(f"[red]Capsule: {escape(str(exc))}[/red] Nothing was planned.", highlight=False)
        raise typer.Exit(1) from None
    except DuckDBFileProblem as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    run = XeroRun()
    try:
        with console.status("Reading Xero…"):
            run_xero_extract(settings, full_refresh=full, run=run)
    except DuckDBFileProblem as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    except Exception as exc:
        cause = xero_error(exc)  # sign-in, API and daily-limit errors, however dlt wrapped them
        if cause is None:
            raise
        console.print(f"[red]Xero: {escape(str(cause))}[/red] Nothing was planned.", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"Read Capsule ({result.calls:,} API calls) and Xero ({sum(run.requests.values()):,} API calls).",
        highlight=False,
    )


def _reconcile_and_plan(con: duckdb.DuckDBPyConnection, rules: Rules) -> Plan:
    """The whole reconcile, then the next plan; says what became of earlier plans."""
    from reverse_etl.plans import create_plan
    from transform.stages import reconcile
    from transform.validation import reject_shares

    with console.status("Reconciling…"):
        run = reconcile(con, rules)
    console.print(
        f"Reconciled {run.rows.get('staging.capsule_parties', 0):,} Capsule parties with "
        f"{run.rows.get('staging.xero_contacts', 0):,} Xero contacts in {sum(run.seconds.values()):.1f}s.",
        highlight=False,
    )
    # README: a run fails when rejects pass validation.max_reject_share, as Dagster's blocking checks do.
    for verdict in reject_shares(con, rules.validation.max_reject_share):
        if not verdict.passed:
            console.print(f"[red]{markup_literal(verdict.message())}[/red]", highlight=False)
            raise typer.Exit(1)
    plan = create_plan(con, rules)
    if plan.reused:
        console.print(
            f"Nothing changed since plan {plan.plan_id} was made, so it stands (with its approval, if any).",
            highlight=False,
        )
    if plan.superseded:
        numbers = ", ".join(str(n) for n in plan.superseded)
        console.print(
            f"Plan {numbers} will not be applied: superseded by plan {plan.plan_id}.", highlight=False
        )
    return plan


@app.command("plan")
def plan_command(
    plan_id: int | None = typer.Argument(
        None, metavar="PLAN", help="The plan to show; the newest when left out."
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="Extract both systems and reconcile first, then make a new plan and show it."
    ),
    limit: int | None = typer.Option(
        None,
        min=1,
        help=f"At most this many operations (default {PLAN_ROWS_SHOWN} on screen, all in --json).",
    ),
    operation: str | None = typer.Option(
        None, help="Only these operations: create, update, archive or restore."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON (before/after values whole)."),
) -> None:
    """Show a plan: counts per operation, then each contact with its fields before → after."""

    from reverse_etl.plan_render import plan_json, render_plan
    from reverse_etl.plans import PLANNED_OPERATIONS, PlanError, load_plan

    if operation is not None and operation not in PLANNED_OPERATIONS:
        console.print(f"--operation takes one of {', '.join(PLANNED_OPERATIONS)}.", highlight=False)
        raise typer.Exit(2)
    if refresh and plan_id is not None:
        console.print("--refresh makes a new plan: leave out PLAN.")
        raise typer.Exit(2)
    settings = Settings.from_env()
    path = settings.duckdb_path
    if refresh:
        rules = _load_rules_or_exit(settings)
        _extract_both(settings, full=False)
        con = _connect(path, read_only=False)
    elif not path.exists():
        console.print(
            f"No DuckDB file at {path} yet: run `capsule-xero plan --refresh` first.", highlight=False
        )
        raise typer.Exit(1)
    else:
        con = _connect(path, read_only=True)
    with con:
        if refresh:
            try:
                shown = _reconcile_and_plan(con, rules)
            except PlanError as exc:
                console.print(f"[red]{markup_literal(exc)}[/red]", highlight=False)
                raise typer.Exit(1) from None
        else:
            found = load_plan(con, plan_id)
            if found is None:
                latest = load_plan(con)
                if latest is None:
                    console.print("No plan yet: run `capsule-xero plan --refresh` (or `capsule-xero sync`).")
                else:
                    console.print(
                        f"There is no plan {plan_id}; the newest is plan {latest.plan_id}.", highlight=False
                    )
                raise typer.Exit(1)
            shown = found
        if as_json:
            typer.echo(json_for_terminal(plan_json(con, shown, limit=limit, operation=operation)))
        else:
            console.print(render_plan(con, shown, limit=limit or PLAN_ROWS_SHOWN, operation=operation))


@app.command()
def approve(
    plan_id: int = typer.Argument(..., metavar="PLAN", help="The number of the plan to approve."),
) -> None:
    """Approve a plan that waits (too many operations, archives, or a first migration)."""
    from reverse_etl.plans import PlanError
    from reverse_etl.plans import approve as approve_plan

    path = Settings.from_env().duckdb_path
    if not path.exists():
        console.print(f"No DuckDB file at {path} yet: run `capsule-xero sync` first.", highlight=False)
        raise typer.Exit(1)
    with _connect(path, read_only=False) as con:
        try:
            approved = approve_plan(con, plan_id)
        except PlanError as exc:
            console.print(f"[red]{markup_literal(exc)}[/red]", highlight=False)
            raise typer.Exit(1) from None
    console.print(
        f"Plan {approved.plan_id} approved: {approved.operations:,} operations and {approved.notes:,} History notes. "
        f"`capsule-xero apply {approved.plan_id}` writes it now; `capsule-xero sync --apply` writes it too "
        "while neither system has changed (a change makes a new plan to look at).",
        highlight=False,
    )


@app.command()
def sync(
    apply: bool = typer.Option(False, "--apply", help="Also write the plan to Xero when it is approved."),
    full: bool = typer.Option(False, "--full", help="Read everything again instead of from the cursors."),
) -> None:
    """Extract both systems, reconcile and make a plan; with --apply also write it to Xero."""
    from rich.markup import escape

    from reverse_etl.plan_render import render_summary
    from reverse_etl.plans import PlanError, load_plan

    settings = Settings.from_env()
    _hold_home(settings.home, shared=False)  # one run per home, before anything is read or written
    rules = _load_rules_or_exit(settings)
    _extract_both(settings, full)
    with _connect(settings.duckdb_path, read_only=False) as con:
        try:
            plan = _reconcile_and_plan(con, rules)
        except PlanError as exc:
            console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
            raise typer.Exit(1) from None
        console.print(render_summary(plan))
        number = plan.plan_id
        if plan.status == "empty":
            console.print("Nothing to do: Xero already holds what Capsule says.")
            return
        if not apply:
            console.print(
                "Nothing was written (no --apply). `capsule-xero plan` lists every operation"
                + (
                    f"; `capsule-xero approve {number}` approves it"
                    if plan.waits_for_approval
                    else f"; `capsule-xero apply {number}` or `capsule-xero sync --apply` writes it"
                )
                + ".",
                highlight=False,
            )
            return
        if plan.waits_for_approval:
            console.print(
                f"[yellow]Plan {number} waits for approval; nothing was written.[/yellow] Look at it with "
                f"`capsule-xero plan`, then run `capsule-xero approve {number}` and `capsule-xero sync --apply` "
                "again.",
                highlight=False,
            )
            return
        try:
            from reverse_etl.apply import apply_plan
        except ModuleNotFoundError as exc:
            if exc.name != "reverse_etl.apply":
                raise
            console.print("[red]This version cannot apply plans yet (reverse_etl.apply is missing).[/red]")
            raise typer.Exit(1) from None
        try:
            result = apply_plan(con, settings, rules, number)
        except PlanError as exc:  # stale (Xero changed meanwhile, other rules), or not applicable
            console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
            raise typer.Exit(1) from None
        _print_apply_result(result)
        done = load_plan(con, number)
        status = done.status if done is not None else "unknown"
        stopped = getattr(result, "stopped", None)
        if status != "applied" or stopped:
            console.print(
                f"[red]Plan {number} is {status.replace('_', ' ')}.[/red] "
                + (f"{escape(str(stopped))} " if stopped else "")
                + "The next `capsule-xero sync --apply` continues it; `capsule-xero status` shows what failed "
                "and when it is retried.",
                highlight=False,
            )
            raise typer.Exit(1)
        console.print(f"Plan {number} applied.", highlight=False)


def _print_apply_result(result: object) -> None:
    """What the apply loop did, in its own words: counts that are not zero, then its problems."""
    counts = getattr(result, "counts", None)
    if callable(counts):
        done = {name: value for name, value in counts().items() if value}
        if done:
            console.print(
                "Xero: "
                + ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in done.items())
                + ".",
                highlight=False,
            )
        queued = sum(done.get(name, 0) for name in ("failed", "refused"))
        if queued:
            console.print(
                f"[yellow]{queued:,} {'operation' if queued == 1 else 'operations'} went to the error queue"
                " with Xero's reason:[/yellow] "
                "`capsule-xero status` lists them.",
                highlight=False,
            )
    for problem in getattr(result, "problems", None) or []:
        console.print(f"  {markup_literal(problem)}", highlight=False)


@app.command()
def status(
    plans: int = typer.Option(5, min=1, help="How many of the newest plans to list."),
) -> None:
    """The newest plans, the error queue (retrying and dead items), the Xero sign-in and the API budget."""
    settings = Settings.from_env()
    path = settings.duckdb_path
    readable = True
    if not path.exists():
        console.print(
            f"No DuckDB file at {path} yet: no sync has run (`capsule-xero sync`).", highlight=False
        )
    else:
        readable = _print_duckdb_status(path, plans)
    console.print("\n[bold]Xero sign-in[/bold]")
    with contextlib.suppress(typer.Exit):  # not signed in is a state to show, not a failure of status
        auth_status()
    console.print("\n[bold]Xero API budget[/bold]")
    _print_xero_budget(settings)
    if not readable:
        raise typer.Exit(1)


def _print_duckdb_status(path: Path, plans: int) -> bool:
    """Plans and the error queue, read under a shared hold of the home; False when the file cannot
    be read (said in one line). While a sync holds the home they are skipped, with who holds it:
    opening the file then would also stop that sync from writing it."""
    import duckdb
    from rich.markup import escape

    from capsule_xero.duckdb_file import DuckDBFileProblem, damaged_reason, open_duckdb, problem
    from capsule_xero.home_lock import READ_WAIT_SECONDS, HomeBusy, home_lock

    try:
        with home_lock(path.parent, shared=True, wait=READ_WAIT_SECONDS):
            try:
                con = open_duckdb(path, read_only=True)
            except DuckDBFileProblem as exc:
                console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
                return False
            with con:
                try:
                    # Holding the home, this process knows no apply runs: an "applying" plan was cut off.
                    _print_plans(con, plans, apply_running=False)
                    _print_error_queue(con)
                except duckdb.Error as exc:
                    if damaged_reason(exc) is None:
                        raise
                    console.print(f"[red]{escape(str(problem(path, exc)))}[/red]", highlight=False)
                    return False
    except HomeBusy as busy:
        who = busy.holder.describe() if busy.holder is not None else "another capsule-xero command"
        console.print(
            f"[yellow]Plans and the error queue are in the DuckDB file, which a sync holds ({escape(who)}):"
            " `capsule-xero status` shows them once it has finished.[/yellow]",
            highlight=False,
        )
    return True


def _print_xero_budget(settings: Settings) -> None:
    """Per organisation, what the pacers recorded of today's calls (xero-budget.json), and the reserve."""
    now = datetime.now(UTC)
    origin = api_origin(settings.xero_api_url)
    entries = [e for e in read_budgets(budget_file_in(settings.home)) if e.api == origin]
    names: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        tokens = TokenStore(settings.home).load()
        if tokens is not None and tokens.tenant_name:
            names[(tokens.tenant_id or "").lower()] = tokens.tenant_name
    if not entries:
        console.print(
            "No Xero call recorded yet: a sync records how many of today's calls Xero has left.",
            highlight=False,
        )
    for entry in entries:
        who = names.get(entry.tenant, "")
        label = (
            f"{who} ({entry.tenant})" if who and entry.tenant else (who or entry.tenant or "The organisation")
        )
        console.print(f"{markup_literal(label)}: {_budget_state(entry, now)}", highlight=False)
    kept = f"Reserve kept for writes: {settings.xero_daily_reserve:,} calls a day (XERO_DAILY_RESERVE); reads stop there."
    console.print(
        f"{kept} Xero allows 5,000 calls a day per organisation (1,000 on the Starter tier), counted in a"
        " 24-hour window that resets at a time of its own for each organisation.",
        highlight=False,
    )


def _budget_state(entry: OrganisationBudget, now: datetime) -> str:
    """One organisation's recorded budget in words: left as of when, used up until when, or stale."""
    resume = f"{entry.resume_after.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if entry.resume_after else ""
    latest = "" if entry.resume_exact else " at the latest"
    if entry.used_up(now):
        return f"used up; Xero's window resets by {resume}{latest}."
    if entry.day_remaining is None or entry.seen_at is None:
        return "no Xero call recorded yet."
    seen = f"as of {entry.seen_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({_ago(now - entry.seen_at)})"
    left = f"{entry.day_remaining:,} {'call' if entry.day_remaining == 1 else 'calls'} left"
    if entry.stopped(now):
        return (
            f"{left} {seen}, kept for writes: reads stopped at the reserve and go on after {resume}{latest}."
        )
    if entry.figure_is_stale(now):
        return (
            f"{left} {seen}: stale, older than Xero's 24-hour window, which has reset since; the next sync"
            " records today's figure."
        )
    if entry.resume_after is not None and entry.day_remaining == 0:
        return f"was used up until {resume}; the window has reset since, and the next sync records today's figure."
    since = f"; {entry.calls_since:,} more calls made after that figure" if entry.calls_since else ""
    return f"{left} of today's limit {seen}{since}."


def _ago(elapsed: timedelta) -> str:
    seconds = max(0, int(elapsed.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def _print_plans(con: duckdb.DuckDBPyConnection, limit: int, *, apply_running: bool = True) -> None:
    """The newest plans. ``apply_running=False`` (the caller holds the home, so no apply runs): a plan
    still marked "applying" was cut off mid-apply and shows as interrupted, with how to finish it."""
    from rich import box
    from rich.table import Table

    from reverse_etl.plans import latest_plans

    found = latest_plans(con, limit)
    if not found:
        console.print("No plan yet: `capsule-xero sync` makes one.")
        return
    table = Table(title="Plans (newest first)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("plan", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("made (UTC)", no_wrap=True)
    table.add_column("writes", overflow="fold")
    table.add_column("held back", justify="right")
    interrupted = [p.plan_id for p in found if p.status == "applying" and not apply_running]
    for p in found:
        writes = ", ".join(
            f"{p.counts.get(op, 0):,} {op}" for op in ("create", "update", "archive", "restore")
        )
        table.add_row(
            str(p.plan_id),
            "interrupted" if p.plan_id in interrupted else p.status,
            f"{p.created_at:%Y-%m-%d %H:%M}",
            f"{writes}, {p.notes:,} notes",
            f"{p.counts.get('held_back', 0):,}",
        )
    console.print(table)
    for number in interrupted:
        console.print(
            f"Plan {number} was interrupted while it was being applied (the run writing it ended): the next "
            f"`capsule-xero sync --apply` or `capsule-xero apply {number}` finishes it.",
            highlight=False,
        )
    newest = found[0]
    if newest.waits_for_approval:
        console.print(
            f"Plan {newest.plan_id} waits for approval ({'; '.join(newest.approval_reasons)}): "
            f"`capsule-xero plan` shows it, `capsule-xero approve {newest.plan_id}` approves it.",
            highlight=False,
        )


def _print_error_queue(con: duckdb.DuckDBPyConnection) -> None:
    from reverse_etl.plans import has_table

    if not has_table(con, "ledger", "error_queue"):
        console.print("\n[bold]Error queue[/bold]: empty (nothing has failed).")
        return
    counts = dict(con.execute("select state, count(*) from ledger.error_queue group by state").fetchall())
    retrying, dead = counts.get("retrying", 0), counts.get("dead", 0)
    console.print(
        f"\n[bold]Error queue[/bold]: {retrying:,} retrying (sent again on later runs, with growing delays), "
        f"{dead:,} dead (a person must act).",
        highlight=False,
    )
    result = con.execute(
        "select state, party_id, contact_id, operation, error_kind, attempts, next_attempt_at, message"
        " from ledger.error_queue where state in ('dead', 'retrying')"
        " order by state, next_attempt_at nulls last, party_id limit ?",
        [ERROR_QUEUE_ROWS_SHOWN],
    )
    for state, party, contact, operation, kind, attempts, next_at, message in result.fetchall():
        when = (
            f", next attempt {next_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            if state == "retrying" and next_at is not None
            else ""
        )
        where = f"party {party}" + (f" (Xero {markup_literal(contact)})" if contact else "")
        console.print(
            f"  {state:<8}  {where} {markup_literal(operation or '-')}: {markup_literal(message or 'no message')}"
            f"  [dim]({markup_literal(kind or 'error')}, {attempts or 0} attempts{when})[/dim]",
            highlight=False,
        )
    if retrying + dead > ERROR_QUEUE_ROWS_SHOWN:
        console.print(
            f"  … and {retrying + dead - ERROR_QUEUE_ROWS_SHOWN:,} more in ledger.error_queue.",
            highlight=False,
        )


@app.command()
def ui(
    port: int = typer.Option(3000, help="Port of the Dagster UI (on 127.0.0.1)."),
) -> None:
    """Open the Dagster UI on this project (DAGSTER_HOME under CAPSULE_XERO_HOME)."""
    from cli.dagster_home import prepare_dagster_home

    settings = Settings.from_env()
    env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(settings.home))}
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dagster = Path(sys.executable).parent / "dagster"
    console.print(f"Dagster UI on http://127.0.0.1:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    command = [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    raise typer.Exit(subprocess.call(command, env=env, cwd=workspace.parent))  # noqa: S603 - our own dagster


auth_app = typer.Typer(help="Sign in to Xero, see the token's state, or sign out.", no_args_is_help=True)
app.add_typer(auth_app, name="auth")
cli_write.register(app)  # apply, undo
cli_webhooks.register(app)  # webhooks serve
REFRESH_WARNING_DAYS = 14


def _auth() -> XeroAuth:
    settings = Settings.from_env()
    missing = settings.missing("XERO_CLIENT_ID")
    if missing:
        console.print(
            f"[red]Set {', '.join(missing)}[/red] (see .env.example): the id of your app at developer.xero.com."
        )
        raise typer.Exit(2)
    return XeroAuth(settings)


def _choose_tenant(connections: list[dict]) -> dict:
    console.print("This login can reach several Xero organisations:")
    for number, connection in enumerate(connections, start=1):
        console.print(
            f"  {number}. {markup_literal(connection.get('tenantName'))}  ({markup_literal(connection['tenantId'])})"
        )
    while True:
        choice = typer.prompt("Which one should capsule-xero sync to? (number)", type=int)
        if 1 <= choice <= len(connections):
            return connections[choice - 1]
        console.print(f"Please answer with a number from 1 to {len(connections)}.")


@auth_app.command("login")
def auth_login(
    open_browser: bool = typer.Option(
        True, "--browser/--no-browser", help="Open the Xero login page in a browser."
    ),
    port: int = typer.Option(
        CALLBACK_PORT,
        help="Callback port; register http://localhost:PORT/callback in your Xero app (0: any free port).",
    ),
) -> None:
    """Authorise capsule-xero in Xero (authorization code + PKCE through a loopback redirect)."""
    auth = _auth()
    if auth.settings.xero_custom_connection:
        try:
            tokens = auth.current()
        except XeroAuthError as exc:
            console.print(f"[red]{markup_literal(str(exc))}[/red]", highlight=False)
            raise typer.Exit(1) from None
        console.print(f"Custom connection ready: access token valid until {tokens.expires_at:%H:%M} UTC.")
        return

    def show(url: str) -> None:
        console.print(f"Open this address to sign in to Xero:\n{url}", soft_wrap=True)
        if open_browser:
            webbrowser.open(url)

    try:
        tokens = login(auth, choose_tenant=_choose_tenant, open_url=show, port=port)
    except XeroAuthError as exc:
        console.print(f"[red]{markup_literal(exc)}[/red]", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"Signed in. capsule-xero will sync to [bold]{markup_literal(tokens.tenant_name)}[/bold] ({markup_literal(tokens.tenant_id)})."
    )


@auth_app.command("status")
def auth_status() -> None:
    """Show the organisation, scopes and how long until the refresh token dies (warns under 14 days)."""
    settings = Settings.from_env()
    try:
        tokens = TokenStore(settings.home).load()
    except TokenFileError as exc:
        console.print(f"[red]{markup_literal(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    if tokens is None:
        console.print("Not signed in to Xero: run `capsule-xero auth login`.")
        raise typer.Exit(1)
    console.print(
        f"Organisation: {markup_literal(tokens.tenant_name or '-')} ({settings.xero_tenant_id or tokens.tenant_id or 'not chosen'})"
    )
    console.print(
        f"Connection:   {'custom connection' if tokens.kind == 'custom' else 'OAuth 2 (authorization code)'}"
    )
    console.print(f"Scopes:       {' '.join(tokens.scopes) or '-'}")
    console.print(
        f"Access token: valid until {tokens.expires_at:%Y-%m-%d %H:%M} UTC (refreshed automatically)"
    )
    dies = tokens.refresh_token_expires_at()
    if dies is not None:
        days = (dies - datetime.now(UTC)).total_seconds() / 86400
        if days <= 0:
            console.print("[red]The refresh token has expired: run `capsule-xero auth login`.[/red]")
            raise typer.Exit(1)
        line = f"Refresh token: dies in {days:.0f} days unless used (every sync uses it)"
        if days < REFRESH_WARNING_DAYS:
            console.print(f"[yellow]{line}. Run a sync or `capsule-xero auth login` soon.[/yellow]")
        else:
            console.print(line)


@auth_app.command("logout")
def auth_logout() -> None:
    """Revoke capsule-xero's access in Xero and delete the stored tokens."""
    auth = _auth()
    try:
        tokens = auth.store.load()
    except TokenFileError as exc:
        # Nothing in it can be revoked; Xero drops an unused refresh token after 60 days (FACTS §12).
        try:
            auth.store.delete()
        except OSError:
            console.print(
                f"[red]The Xero token file {markup_literal(str(exc.path))} {markup_literal(exc.what)} and cannot be"
                " deleted: remove it yourself.[/red]",
                highlight=False,
            )
            raise typer.Exit(1) from None
        console.print(
            f"The Xero token file {markup_literal(str(exc.path))} {markup_literal(exc.what)}, so there was nothing"
            " to revoke: it is deleted. Xero forgets a sign-in left unused for 60 days.",
            highlight=False,
        )
        return
    if tokens is None:
        console.print("Not signed in.")
        return
    if tokens.refresh_token:
        try:
            auth.revoke(tokens.refresh_token)
        except XeroAuthError as exc:
            console.print(f"[yellow]{markup_literal(exc)} The local tokens are deleted anyway.[/yellow]")
    auth.store.delete()
    console.print("Signed out: tokens revoked and deleted.")


if __name__ == "__main__":
    app()
