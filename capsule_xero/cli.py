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
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from capsule_xero.settings import Settings
from capsule_xero.token_store import TokenStore
from capsule_xero.xero_auth import CALLBACK_PORT, XeroAuth, XeroAuthError, login

app = typer.Typer(
    help="Capsule CRM → Xero contact sync: extract to DuckDB, reconcile in SQL, write only the difference.",
    no_args_is_help=True,
    add_completion=False,
)
# soft_wrap: long lines (paths, URLs, commands to copy) are left whole for the terminal to wrap.
console = Console(soft_wrap=True)


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


DEMO_TABLES = (
    ("raw.capsule_parties", "Capsule parties"),
    ("raw.capsule_deleted_parties", "Capsule deletions"),
    ("raw.capsule_opportunities", "Capsule opportunities"),
    ("raw.capsule_tasks", "Capsule tasks"),
    ("raw.xero_contacts", "Xero contacts"),
    ("raw.xero_contact_groups", "Xero contact groups"),
    ("raw.xero_users", "Xero users"),
)


@app.command()
def demo(
    parties: int = typer.Option(1000, help="How many Capsule parties to generate."),
    seed: int = typer.Option(42, help="Random seed."),
    port: int = typer.Option(8710, help="Xero stand-in port; Capsule's is port + 10 (0: any free ports)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep the stand-ins running afterwards."),
) -> None:
    """Run the demo with no credentials: sandbox → Xero sign-in → extract both systems into DuckDB.

    Reconcile, plan, apply and the reports join the demo as they are built.
    """
    import duckdb
    import httpx
    from rich.table import Table

    from pipelines.capsule import extract_capsule
    from pipelines.xero import XeroRun, run_xero_extract
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
            f"2. Signed in to Xero (authorization code + PKCE) as the organisation {tokens.tenant_name}."
        )
        with console.status("Reading Capsule…"):
            capsule = extract_capsule(settings)
        run = XeroRun()
        with console.status("Reading Xero (at most 60 calls a minute, as the real one)…"):
            run_xero_extract(settings, run=run)
        console.print(
            f"3. Extracted both systems into DuckDB with {capsule.calls + sum(run.requests.values()):,} API calls."
        )
        table = Table("table", "what", "rows")
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            for name, label in DEMO_TABLES:
                ((rows,),) = con.table(name).aggregate("count(*)").fetchall()
                table.add_row(name, label, f"{rows:,}")
        console.print(table)
        env_file = home / "sandbox.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        example = "select name, type from raw.capsule_parties limit 5"
        console.print(
            f"The DuckDB file is {settings.duckdb_path}: query it with the duckdb package, e.g.\n"
            f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.duckdb_path}', read_only=True)"
            f".sql('{example}'))\"\n"
            "Reconcile, plan and apply arrive next; the stand-ins' settings are in "
            f"{env_file} (`set -a; . {env_file}; set +a` before `capsule-xero extract` or `capsule-xero ui`).",
            soft_wrap=True,
        )
        if serve:
            console.print("The stand-ins keep running for you to browse. Ctrl-C stops.", style="dim")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    finally:
        server.stop()


@app.command()
def extract(
    full: bool = typer.Option(False, "--full", help="Read everything again instead of from the cursors."),
    only: str = typer.Option("both", help="capsule, xero or both."),
) -> None:
    """Read Capsule and Xero into DuckDB (schema raw): only what changed since the last run."""
    from pipelines.capsule import CapsuleError, extract_capsule
    from pipelines.xero import XeroRun, run_xero_extract, xero_error

    if only not in {"capsule", "xero", "both"}:
        console.print("[red]--only takes capsule, xero or both.[/red]")
        raise typer.Exit(2)
    settings = Settings.from_env()
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
                console.print(f"[yellow]Capsule schema drift:[/yellow] {change.describe()}")
        except CapsuleError as exc:
            console.print(f"[red]Capsule: {exc}[/red]")
            failed = True
    if only in {"xero", "both"}:
        run = XeroRun()
        try:
            with console.status("Reading Xero…"):
                run_xero_extract(settings, full_refresh=full, run=run)
            console.print(
                f"Xero: {sum(run.records.values()):,} records read with {sum(run.requests.values()):,} API calls "
                f"(contacts: {run.modes.get('xero_contacts', 'not run')})."
            )
        except Exception as exc:
            cause = xero_error(exc)  # sign-in, API and daily-limit errors, however dlt wrapped them
            if cause is None:
                raise
            console.print(f"[red]Xero: {cause}[/red]")
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

    from assets.reports import REPORTS, ReportUnavailable, read_report, why_unavailable

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
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        # DuckDB lets one process write a file; a running sync or Dagster holds it until it finishes.
        console.print(f"[red]Cannot open {escape(str(path))}:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    with con:
        if name is None:
            _list_reports({report: why_unavailable(con, report) for report in REPORTS})
            return
        try:
            columns, rows = read_report(con, name)
        except ReportUnavailable as exc:
            console.print(f"[yellow]{escape(str(exc))}[/yellow]", highlight=False)
            raise typer.Exit(1) from None
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

    from assets.reports import REPORTS

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
        table.add_row(*(_cell(value) for value in row))
    console.print(table)
    if not rows:
        console.print("No rows.")
    elif len(rows) > limit:
        console.print(
            f"… and {len(rows) - limit:,} more rows ({len(rows):,} in all): "
            f"--limit {len(rows)} shows them, --csv FILE writes them all.",
            highlight=False,
        )


@app.command()
def ui(
    port: int = typer.Option(3000, help="Port of the Dagster UI (on 127.0.0.1)."),
) -> None:
    """Open the Dagster UI on this project (DAGSTER_HOME under CAPSULE_XERO_HOME)."""
    from capsule_xero.dagster_home import prepare_dagster_home

    settings = Settings.from_env()
    env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(settings.home))}
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dagster = Path(sys.executable).parent / "dagster"
    console.print(f"Dagster UI on http://127.0.0.1:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    command = [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    raise typer.Exit(subprocess.call(command, env=env, cwd=workspace.parent))  # noqa: S603 - our own dagster


auth_app = typer.Typer(help="Sign in to Xero, see the token's state, or sign out.", no_args_is_help=True)
app.add_typer(auth_app, name="auth")
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
        console.print(f"  {number}. {connection.get('tenantName')}  ({connection['tenantId']})")
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
        tokens = auth.current()
        console.print(f"Custom connection ready: access token valid until {tokens.expires_at:%H:%M} UTC.")
        return

    def show(url: str) -> None:
        console.print(f"Open this address to sign in to Xero:\n{url}", soft_wrap=True)
        if open_browser:
            webbrowser.open(url)

    try:
        tokens = login(auth, choose_tenant=_choose_tenant, open_url=show, port=port)
    except XeroAuthError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"Signed in. capsule-xero will sync to [bold]{tokens.tenant_name}[/bold] ({tokens.tenant_id})."
    )


@auth_app.command("status")
def auth_status() -> None:
    """Show the organisation, scopes and how long until the refresh token dies (warns under 14 days)."""
    settings = Settings.from_env()
    tokens = TokenStore(settings.home).load()
    if tokens is None:
        console.print("Not signed in to Xero: run `capsule-xero auth login`.")
        raise typer.Exit(1)
    console.print(
        f"Organisation: {tokens.tenant_name or '-'} ({settings.xero_tenant_id or tokens.tenant_id or 'not chosen'})"
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
    tokens = auth.store.load()
    if tokens is None:
        console.print("Not signed in.")
        return
    if tokens.refresh_token:
        try:
            auth.revoke(tokens.refresh_token)
        except XeroAuthError as exc:
            console.print(f"[yellow]{exc} The local tokens are deleted anyway.[/yellow]")
    auth.store.delete()
    console.print("Signed out: tokens revoked and deleted.")


if __name__ == "__main__":
    app()
