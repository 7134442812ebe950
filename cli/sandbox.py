"""``capsule-xero sandbox`` and ``capsule-xero demo``: the local stand-ins of Capsule and Xero, served
for trying things by hand, or driven through one whole sync with no credentials.

The only module that uses the ``sandbox`` package (docs/architecture.md#layers)."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer
from rich.table import Table

from capsule_xero.display import cell, literal, markup_literal
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from cli.shared import connect, console, home_held_for_the_block, load_rules_or_exit
from cli.sync import extract_both, print_apply_result, reconcile_and_plan

if TYPE_CHECKING:
    import duckdb

    from capsule_xero.rules.model import Rules
    from reverse_etl.plans.model import Plan
    from sandbox.app import Sandbox
    from sandbox.server import SandboxServer

# The sandbox (its generator, Starlette and uvicorn), reverse_etl and transform (duckdb, pandas) are
# imported inside the commands that use them: `capsule-xero --help` does without them.


def sandbox_command(
    parties: int = typer.Option(1000, help="How many Capsule parties to generate (1k to 1M)."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same data."),
    xero_port: int = typer.Option(8710, help="Port of the Xero stand-in (0 picks a free one)."),
    capsule_port: int = typer.Option(8720, help="Port of the Capsule stand-in (0 picks a free one)."),
    speed: float = typer.Option(
        1.0, help="Sandbox clock speed: 60 makes a rate-limit minute last one second."
    ),
    xero_organisations: int = typer.Option(
        0, min=0, help="Empty Xero organisations to add to the two it always has (a consultant's clients)."
    ),
) -> None:
    """Serve local stand-ins of the Capsule and Xero APIs with a generated dataset, for trying things by hand."""
    settings = Settings.from_env()
    _serve_sandbox(
        parties, seed, xero_port, capsule_port, speed, settings.home / "sandbox.env", xero_organisations
    )


def _serve_sandbox(
    parties: int,
    seed: int,
    xero_port: int,
    capsule_port: int,
    speed: float,
    env_file: Path,
    xero_organisations: int = 0,
) -> None:
    import asyncio  # ~30 ms that `capsule-xero --help` does without

    from sandbox.app import Sandbox
    from sandbox.generator import generate
    from sandbox.server import SandboxServer

    sandbox = Sandbox(seed=seed, speed=speed)
    started = time.perf_counter()
    with console.status(f"Generating {parties:,} Capsule parties (seed {seed})…"):
        dataset = generate(parties=parties, seed=seed)
        sandbox.load(dataset)
        sandbox.xero.add_organisations(xero_organisations)
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


def demo_command(
    parties: int = typer.Option(1000, help="How many Capsule parties to generate."),
    seed: int = typer.Option(42, help="Random seed."),
    port: int = typer.Option(8710, help="Xero stand-in port; Capsule's is port + 10 (0: any free ports)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep the stand-ins running afterwards."),
) -> None:
    """Run the demo with no credentials: sandbox → sign-in → extract → reconcile → plan → apply → report."""
    home = Settings.from_env().home / "demo"
    shutil.rmtree(home, ignore_errors=True)  # every demo is a fresh world: the sandbox is generated anew
    server = _start_demo_world(parties, seed, port)
    try:
        home.mkdir(parents=True, exist_ok=True)
        rules_file = home / "capsule-xero.yaml"
        rules_file.write_text(DEMO_RULES)
        env = server.env() | {"CAPSULE_XERO_HOME": str(home), "CAPSULE_XERO_CONFIG": str(rules_file)}
        settings = Settings.from_env(env)
        console.print(f"1. Local Capsule and Xero stand-ins on {server.capsule_url} and {server.xero_url}.")
        _sign_in_to_the_stand_in(settings)
        env_file = home / "sandbox.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        with home_held_for_the_block():  # let go before serving: status, report and ui use the home
            _demo_sync(settings)
            _demo_money(settings, server)
        _say_where_to_look(settings, env_file)
        if serve:
            console.print("The stand-ins keep running for you to browse. Ctrl-C stops.", style="dim")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    finally:
        server.stop()


# The demo's rules file: contacts as by default, plus Xero's money read beside Capsule's data and a
# won deal made a DRAFT quote (docs/billing.md).
DEMO_RULES = """\
money:
  read: [invoices, quotes, payments]
billing:
  won_opportunities: quote
  account_code: "200"
  tax_type: OUTPUT
"""
# An open Australian-dollar opportunity of a party the first plan gave a Xero contact.
WON_IN_THE_DEMO = """
select o.id, o.name
from raw.capsule_opportunities as o
where
    o.closed_on is null and o.value__currency = 'AUD' and o.value__amount > 0
    and o.party__id in (select party_id from ledger.written_contacts where contact_status = 'ACTIVE')
order by o.id
limit 1
"""
DEMO_DOCUMENT = """
select document_number
from ledger.document_outcomes
where plan_id = ? and opportunity_id = ? and status = 'done'
"""


def _start_demo_world(parties: int, seed: int, port: int) -> SandboxServer:
    """A generated Capsule and the Xero organisation it partly matches, served on 127.0.0.1."""
    from sandbox.app import Sandbox
    from sandbox.generator import generate
    from sandbox.server import SandboxServer

    sandbox = Sandbox(seed=seed)
    with console.status(
        f"Generating {parties:,} Capsule parties and the Xero organisation they partly match…"
    ):
        sandbox.load(generate(parties=parties, seed=seed))
    return SandboxServer(sandbox, xero_port=port, capsule_port=port + 10 if port else 0).start()


def _sign_in_to_the_stand_in(settings: Settings) -> None:
    # The sandbox's consent page answers at once, so the browser step is a plain GET here. The rules
    # file turns money on, so the sign-in asks for the invoice and payment scopes too.
    tokens = login(
        XeroAuth(settings, rules=load_rules_or_exit(settings)),
        choose_tenant=lambda connections: connections[0],
        open_url=lambda url: httpx.get(url, follow_redirects=True, timeout=30),
    )
    console.print(
        f"2. Signed in to Xero (authorization code + PKCE) as the organisation {markup_literal(tokens.tenant_name)}."
    )


def _say_where_to_look(settings: Settings, env_file: Path) -> None:
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


def _demo_sync(settings: Settings) -> None:
    """Steps 3-7 of the demo: what `capsule-xero sync --apply` does, with the approval a person gives."""
    rules = load_rules_or_exit(settings)
    console.print("3. ", end="")
    extract_both(settings, full=False)
    with connect(settings.duckdb_path, read_only=False) as con:
        console.print("4. ", end="")
        plan = reconcile_and_plan(con, rules)
        _print_reconciliation(con)
        console.print("5. The plan:")
        _show_and_approve(con, plan)
        _write_the_plan(con, settings, rules, plan)
    console.print("7. Syncing again, to show a rerun writes nothing:")
    extract_both(settings, full=False)
    with connect(settings.duckdb_path, read_only=False) as con:
        again = reconcile_and_plan(con, rules)
        console.print(
            "   Nothing to write: Xero holds what Capsule says."
            if again.status == "empty"
            else f"   Plan {again.plan_id} still has {again.operations} operations: `capsule-xero plan` shows them.",
            highlight=False,
        )


def _demo_money(settings: Settings, server: SandboxServer) -> None:
    """Steps 8-9: a money report from Xero's invoices, then a deal won in Capsule becoming a DRAFT quote."""
    from reverse_etl.plans.render import render_plan
    from sandbox.capsule.control import CapsuleControl

    rules = load_rules_or_exit(settings)
    with connect(settings.duckdb_path, read_only=True) as con:
        _print_report(
            con, "receivables", "8. Money: what Capsule's customers owe in Xero (first rows of", rows=5
        )
        won = con.execute(WON_IN_THE_DEMO).fetchone()
    if won is None:
        console.print("9. No open opportunity of a synced party to win in this world.")
        return
    opportunity_id, name = won
    CapsuleControl(server.capsule_url).win_opportunity(opportunity_id)
    console.print(
        f"9. A deal is won in Capsule: {markup_literal(name)} (opportunity {opportunity_id}). Syncing:",
        highlight=False,
    )
    extract_both(settings, full=False)
    with connect(settings.duckdb_path, read_only=False) as con:
        plan = reconcile_and_plan(con, rules)
        console.print(render_plan(con, plan, limit=5))
        _approve_for_the_demo(con, plan)
        _write_the_plan(con, settings, rules, plan, step="   ")
        done = con.execute(DEMO_DOCUMENT, [plan.plan_id, opportunity_id]).fetchone()
    if done is not None:
        field = server.call(
            _opportunity_field, server.sandbox, opportunity_id, rules.billing.opportunity_field
        )
        console.print(
            f"   Xero now holds the DRAFT quote {markup_literal(done[0])} with Reference CAP-OPP-{opportunity_id},"
            f" and the opportunity's Capsule field {markup_literal(rules.billing.opportunity_field)} says"
            f" {markup_literal(field or '(nothing yet)')}. The tool never approves or sends it: a person does.",
            highlight=False,
            soft_wrap=True,
        )


def _opportunity_field(sandbox: Sandbox, opportunity_id: int, name: str) -> str | None:
    for value in (sandbox.capsule.opportunities.get(opportunity_id) or {}).get("fields") or ():
        if value["definition"]["name"] == name:
            return str(value["value"])
    return None


def _print_report(con: duckdb.DuckDBPyConnection, name: str, title: str, rows: int) -> None:
    from transform.reports import read_report

    columns, found = read_report(con, name)
    table = Table(*columns, title=f"{title} `capsule-xero report {name}`)", title_justify="left")
    for row in found[:rows]:
        table.add_row(*(literal(cell(value)) for value in row))
    console.print(table)


def _print_reconciliation(con: duckdb.DuckDBPyConnection) -> None:
    from transform.reports import read_report

    columns, rows = read_report(con, "reconciliation")
    table = Table(*columns, title="Reconciliation")
    for row in rows:
        table.add_row(*(literal(cell(value)) for value in row))
    console.print(table)


def _show_and_approve(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """The plan's summary; one that waits is approved here, as a person would after reading it."""
    from reverse_etl.plans.render import render_summary

    console.print(render_summary(plan))
    _approve_for_the_demo(con, plan)


def _approve_for_the_demo(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """A plan that waits is approved here, as a person would after reading it."""
    from reverse_etl.plans.approval import approve

    if plan.waits_for_approval:
        approve(con, plan.plan_id)
        console.print(
            f"   The demo approves plan {plan.plan_id} for you; on real data you read it with "
            f"`capsule-xero plan` and run `capsule-xero approve {plan.plan_id}`.",
            highlight=False,
        )


def _write_the_plan(
    con: duckdb.DuckDBPyConnection, settings: Settings, rules: Rules, plan: Plan, step: str = "6. "
) -> None:
    from reverse_etl.apply.loop import apply_plan

    with console.status(f"{step}Writing the plan to Xero (batches of 50, at most 60 calls a minute)…"):
        result = apply_plan(con, settings, rules, plan.plan_id)
    console.print(step, end="")
    print_apply_result(result)
