"""``capsule-xero extract``, ``plan``, ``approve`` and ``sync``: read both systems, reconcile, make a
plan and show it; ``sync --apply`` also writes it (``apply``, ``undo`` and ``retry`` are cli/write.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from capsule_xero.display import json_for_terminal, markup_literal
from capsule_xero.duckdb_file import DuckDBFileProblem
from capsule_xero.progress import APPLY_STAGES, EXTRACT_STAGES
from capsule_xero.settings import Settings
from cli.progress import ProgressDisplay
from cli.shared import connect, console, hold_home, load_rules_or_exit, print_error, require_duckdb_file

if TYPE_CHECKING:
    import duckdb

    from capsule_xero.rules.model import Rules
    from reverse_etl.plans.model import Plan

# pipelines (dlt), transform and reverse_etl (duckdb, pandas) are imported inside the commands that
# use them: together they take seconds, which `capsule-xero --help` does without.

PLAN_ROWS_SHOWN = 50


def extract_command(
    full: bool = typer.Option(False, "--full", help="Read everything again instead of from the cursors."),
    only: str = typer.Option("both", help="capsule, xero or both."),
) -> None:
    """Read Capsule and Xero into DuckDB (schema raw): only what changed since the last run."""
    if only not in {"capsule", "xero", "both"}:
        console.print("[red]--only takes capsule, xero or both.[/red]")
        raise typer.Exit(2)
    settings = Settings.from_env()
    hold_home(settings.home, shared=False)
    failed = False
    if only in {"capsule", "both"}:
        failed = not _extract_capsule(settings, full)
    if only in {"xero", "both"}:
        failed = not _extract_xero(settings, full) or failed
    console.print(f"DuckDB file: {settings.duckdb_path}")
    if failed:
        raise typer.Exit(1)


def _extract_capsule(settings: Settings, full: bool) -> bool:
    """Capsule into schema raw, saying what was loaded; False when Capsule failed (said in one line)."""
    from pipelines.capsule import CapsuleError, extract_capsule

    try:
        with ProgressDisplay(EXTRACT_STAGES) as shown:
            result = extract_capsule(settings, full_refresh=full, progress=shown)
    except CapsuleError as exc:
        console.print(f"[red]Capsule: {markup_literal(exc)}[/red]", highlight=False)
        return False
    except DuckDBFileProblem as exc:
        print_error(exc)
        raise typer.Exit(1) from None
    rows = sum(v for k, v in result.row_counts.items() if k.startswith("capsule_"))
    console.print(
        f"Capsule: {rows:,} rows loaded with {result.calls:,} API calls ({result.retries} retried)."
    )
    for change in result.schema_changes:
        console.print(f"[yellow]Capsule schema drift:[/yellow] {markup_literal(change.describe())}")
    return True


def _extract_xero(settings: Settings, full: bool) -> bool:
    """Xero into schema raw, saying what was read; False when Xero failed (said in one line)."""
    from pipelines.xero import XeroRun, run_xero_extract, xero_error

    run = XeroRun()
    try:
        with ProgressDisplay(EXTRACT_STAGES) as shown:
            run_xero_extract(settings, full_refresh=full, run=run, progress=shown)
    except DuckDBFileProblem as exc:
        print_error(exc)
        raise typer.Exit(1) from None
    except Exception as exc:
        cause = xero_error(exc)  # sign-in, API and daily-limit errors, however dlt wrapped them
        if cause is None:
            raise
        console.print(f"[red]Xero: {markup_literal(cause)}[/red]", highlight=False)
        return False
    console.print(
        f"Xero: {sum(run.records.values()):,} records read with {sum(run.requests.values()):,} API calls "
        f"(contacts: {run.modes.get('xero_contacts', 'not run')})."
    )
    return True


def extract_both(settings: Settings, full: bool) -> None:
    """Capsule then Xero into schema raw; exit 1 (after saying why) when either fails."""
    from pipelines.capsule import CapsuleError, extract_capsule
    from pipelines.xero import XeroRun, run_xero_extract, xero_error

    hold_home(settings.home, shared=False)
    try:
        with ProgressDisplay(EXTRACT_STAGES) as shown:
            result = extract_capsule(settings, full_refresh=full, progress=shown)
    except CapsuleError as exc:
        console.print(f"[red]Capsule: {escape(str(exc))}[/red] Nothing was planned.", highlight=False)
        raise typer.Exit(1) from None
    except DuckDBFileProblem as exc:
        print_error(exc)
        raise typer.Exit(1) from None
    run = XeroRun()
    try:
        with ProgressDisplay(EXTRACT_STAGES) as shown:
            run_xero_extract(settings, full_refresh=full, run=run, progress=shown)
    except DuckDBFileProblem as exc:
        print_error(exc)
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


def reconcile_and_plan(con: duckdb.DuckDBPyConnection, rules: Rules) -> Plan:
    """The whole reconcile, then the next plan; says what became of earlier plans."""
    from reverse_etl.plans.create import create_plan
    from transform.planned_rejects import reject_shares
    from transform.stages import reconcile

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
    from reverse_etl.plans.model import PLANNED_OPERATIONS
    from reverse_etl.plans.render import plan_json, render_plan

    if operation is not None and operation not in PLANNED_OPERATIONS:
        console.print(f"--operation takes one of {', '.join(PLANNED_OPERATIONS)}.", highlight=False)
        raise typer.Exit(2)
    if refresh and plan_id is not None:
        console.print("--refresh makes a new plan: leave out PLAN.")
        raise typer.Exit(2)
    settings = Settings.from_env()
    if refresh:
        rules = load_rules_or_exit(settings)
        extract_both(settings, full=False)
        con = connect(settings.duckdb_path, read_only=False)
    else:
        require_duckdb_file(settings.duckdb_path, "run `capsule-xero plan --refresh` first")
        con = connect(settings.duckdb_path, read_only=True)
    with con:
        shown = _new_plan_or_exit(con, rules) if refresh else _stored_plan_or_exit(con, plan_id)
        if as_json:
            typer.echo(json_for_terminal(plan_json(con, shown, limit=limit, operation=operation)))
        else:
            console.print(render_plan(con, shown, limit=limit or PLAN_ROWS_SHOWN, operation=operation))


def _new_plan_or_exit(con: duckdb.DuckDBPyConnection, rules: Rules) -> Plan:
    from reverse_etl.plans.model import PlanError

    try:
        return reconcile_and_plan(con, rules)
    except PlanError as exc:
        console.print(f"[red]{markup_literal(exc)}[/red]", highlight=False)
        raise typer.Exit(1) from None


def _stored_plan_or_exit(con: duckdb.DuckDBPyConnection, plan_id: int | None) -> Plan:
    """The plan named, or the newest; exit 1 saying which plans there are when it does not exist."""
    from reverse_etl.plans.store import load_plan

    found = load_plan(con, plan_id)
    if found is not None:
        return found
    latest = load_plan(con)
    if latest is None:
        console.print("No plan yet: run `capsule-xero plan --refresh` (or `capsule-xero sync`).")
    else:
        console.print(f"There is no plan {plan_id}; the newest is plan {latest.plan_id}.", highlight=False)
    raise typer.Exit(1)


def approve_command(
    plan_id: int = typer.Argument(..., metavar="PLAN", help="The number of the plan to approve."),
) -> None:
    """Approve a plan that waits (too many operations, archives, or a first migration)."""
    from reverse_etl.plans.approval import approve
    from reverse_etl.plans.model import PlanError

    path = Settings.from_env().duckdb_path
    require_duckdb_file(path)
    with connect(path, read_only=False) as con:
        try:
            approved = approve(con, plan_id)
        except PlanError as exc:
            console.print(f"[red]{markup_literal(exc)}[/red]", highlight=False)
            raise typer.Exit(1) from None
    console.print(
        f"Plan {approved.plan_id} approved: {approved.operations:,} operations and {approved.notes:,} History notes. "
        f"`capsule-xero apply {approved.plan_id}` writes it now; `capsule-xero sync --apply` writes it too "
        "while neither system has changed (a change makes a new plan to look at).",
        highlight=False,
    )


def sync_command(
    apply: bool = typer.Option(False, "--apply", help="Also write the plan to Xero when it is approved."),
    full: bool = typer.Option(False, "--full", help="Read everything again instead of from the cursors."),
) -> None:
    """Extract both systems, reconcile and make a plan; with --apply also write it to Xero."""
    from reverse_etl.plans.model import PlanError
    from reverse_etl.plans.render import render_summary

    settings = Settings.from_env()
    hold_home(settings.home, shared=False)  # one run per home, before anything is read or written
    rules = load_rules_or_exit(settings)
    extract_both(settings, full)
    with connect(settings.duckdb_path, read_only=False) as con:
        try:
            plan = reconcile_and_plan(con, rules)
        except PlanError as exc:
            print_error(exc)
            raise typer.Exit(1) from None
        console.print(render_summary(plan))
        if plan.status == "empty":
            console.print("Nothing to do: Xero already holds what Capsule says.")
        elif not apply:
            _say_nothing_was_written(plan)
        elif plan.waits_for_approval:
            console.print(
                f"[yellow]Plan {plan.plan_id} waits for approval; nothing was written.[/yellow] Look at it with "
                f"`capsule-xero plan`, then run `capsule-xero approve {plan.plan_id}` and `capsule-xero sync --apply` "
                "again.",
                highlight=False,
            )
        else:
            _apply_and_say_how_it_ended(con, settings, rules, plan.plan_id)


def _say_nothing_was_written(plan: Plan) -> None:
    """Without --apply: where to read the plan, and the command that approves or writes it."""
    number = plan.plan_id
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


def _apply_and_say_how_it_ended(
    con: duckdb.DuckDBPyConnection, settings: Settings, rules: Rules, number: int
) -> None:
    """``sync --apply``'s write: what the apply loop did, then exit 1 unless the plan ended applied."""
    from reverse_etl.apply.loop import apply_plan
    from reverse_etl.plans.model import PlanError
    from reverse_etl.plans.store import load_plan

    try:
        with ProgressDisplay(APPLY_STAGES) as shown:
            result = apply_plan(con, settings, rules, number, on_progress=shown)
    except PlanError as exc:  # stale (Xero changed meanwhile, other rules), or not applicable
        print_error(exc)
        raise typer.Exit(1) from None
    print_apply_result(result)
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


def print_apply_result(result: object) -> None:
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
