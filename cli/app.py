"""The one entry point, ``capsule-xero``: the Typer app, the check before every command, and the list
of commands, each kept in the module of its group beside this one (docs/architecture.md#the-command-line)."""

from __future__ import annotations

import os

import click
import typer
from typer.core import TyperGroup

from capsule_xero.display import markup_literal
from capsule_xero.settings import PRIVATE_UMASK, startup_check
from capsule_xero.xero.token_store import token_file_made_private
from cli import auth, report, sandbox, status, sync, tenants, ui, webhooks, write
from cli.deploy import deploy_command
from cli.shared import console


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


@app.callback()
def _before_every_command(
    ctx: typer.Context,
    tenant: str = typer.Option(
        "", "--tenant", envvar="CAPSULE_XERO_TENANT", help="The client (tenants.yaml) this command is for."
    ),
) -> None:
    # Customer data and tokens are written by this process and every process it starts (dlt, DuckDB,
    # `dagster dev`): startup_check makes them private, then refuses wrong settings before any work.
    if any(arg in {"--help", "-h"} for arg in ctx.meta.get("capsule_xero.args", [])):
        os.umask(PRIVATE_UMASK)
        return
    tenants.choose_tenant(ctx.invoked_subcommand, tenant.strip())
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
    opened = token_file_made_private(settings.xero_token_home)
    if opened:
        console.print(f"[yellow]{markup_literal(opened)}[/yellow]", highlight=False)


# In the order `capsule-xero --help` lists them (command groups come after the commands).
app.command("sandbox")(sandbox.sandbox_command)
app.command("demo")(sandbox.demo_command)
app.command("extract")(sync.extract_command)
app.command("report")(report.report_command)
app.command("plan")(sync.plan_command)
app.command("approve")(sync.approve_command)
app.command("sync")(sync.sync_command)
app.command("status")(status.status_command)
app.command("ui")(ui.ui_command)
app.command("deploy")(deploy_command)
app.command("apply")(write.apply_command)
app.command("undo")(write.undo_command)
app.command("retry")(write.retry_command)
app.add_typer(auth.auth_app, name="auth")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(tenants.tenants_app, name="tenants")


if __name__ == "__main__":
    app()
