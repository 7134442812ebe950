"""``capsule-xero status``: the newest plans, the error queue, the Xero sign-in and the API budget."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from capsule_xero.display import markup_literal
from capsule_xero.duckdb_file import DuckDBFileProblem, damaged_reason, open_duckdb, problem
from capsule_xero.home_lock import READ_WAIT_SECONDS, HomeBusy, home_lock
from capsule_xero.settings import Settings
from capsule_xero.xero.budget import OrganisationBudget, api_origin, budget_file_in, read_budgets
from capsule_xero.xero.token_store import TokenStore
from cli.auth import auth_status
from cli.next_runs import ReadCounts, print_next_runs, read_counts
from cli.shared import console, print_error

if TYPE_CHECKING:
    import duckdb

# duckdb and reverse_etl.plans (duckdb) are imported inside the functions that read the file:
# `capsule-xero --help` does without them.

ERROR_QUEUE_ROWS_SHOWN = 20


def status_command(
    plans: int = typer.Option(5, min=1, help="How many of the newest plans to list."),
) -> None:
    """The newest plans, the error queue (retrying and dead items), the Xero sign-in and the API budget."""
    settings = Settings.from_env()
    path = settings.duckdb_path
    readable = True
    counts: list[ReadCounts] = []
    if not path.exists():
        console.print(
            f"No DuckDB file at {path} yet: no sync has run (`capsule-xero sync`).", highlight=False
        )
    else:
        readable = _print_duckdb_status(path, plans, counts)
    print_next_runs(settings, counts[0] if counts else ReadCounts())
    console.print("\n[bold]Xero sign-in[/bold]")
    with contextlib.suppress(typer.Exit):  # not signed in is a state to show, not a failure of status
        auth_status()
    console.print("\n[bold]Xero API budget[/bold]")
    _print_xero_budget(settings)
    if not readable:
        raise typer.Exit(1)


def _print_duckdb_status(path: Path, plans: int, counts: list[ReadCounts]) -> bool:
    """Plans and the error queue, read under a shared hold of the home; False when the file cannot
    be read (said in one line). While a sync holds the home they are skipped, with who holds it:
    opening the file then would also stop that sync from writing it."""
    import duckdb

    try:
        with home_lock(path.parent, shared=True, wait=READ_WAIT_SECONDS):
            try:
                con = open_duckdb(path, read_only=True)
            except DuckDBFileProblem as exc:
                print_error(exc)
                return False
            with con:
                try:
                    # Holding the home, this process knows no apply runs: an "applying" plan was cut off.
                    _print_plans(con, plans, apply_running=False)
                    _print_error_queue(con)
                    _print_capsule_refusals(con)
                    _print_money_fields(con)
                    counts.append(read_counts(con))
                except duckdb.Error as exc:
                    if damaged_reason(exc) is None:
                        raise
                    print_error(problem(path, exc))
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
        tokens = TokenStore(settings.xero_token_home).load()
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
    from reverse_etl.plans.store import latest_plans

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
    from reverse_etl.sqlfile import has_table

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


def _print_capsule_refusals(con: duckdb.DuckDBPyConnection) -> None:
    """Two-way syncs: the Capsule writes Capsule refused, with its message (held out of plans until the
    record changes)."""
    from reverse_etl.apply.capsule_changes import capsule_refusals

    refused = capsule_refusals(con, ERROR_QUEUE_ROWS_SHOWN + 1)
    if not refused:
        return
    console.print("\n[bold]Capsule refused[/bold] (sent again once the record changes):", highlight=False)
    for row in refused[:ERROR_QUEUE_ROWS_SHOWN]:
        who = f"party {row['party_id']}" if row["party_id"] is not None else "a new party"
        console.print(
            f"  {who} (Xero {markup_literal(row['contact_id'])}) {markup_literal(row['operation'])}:"
            f" {markup_literal(row['message'] or 'no message')}",
            highlight=False,
        )
    if len(refused) > ERROR_QUEUE_ROWS_SHOWN:
        console.print("  … and more in ledger.capsule_outcomes.", highlight=False)


def _print_money_fields(con: duckdb.DuckDBPyConnection) -> None:
    """One line when a Capsule field money.capsule_fields names cannot be written (issue 14, part 3)."""
    from reverse_etl.sqlfile import has_table

    if not has_table(con, "reconcile", "capsule_money_definitions"):
        return
    names = [
        name
        for (name,) in con.execute(
            "select field_name from reconcile.capsule_money_definitions where state <> 'ok' order by position"
        ).fetchall()
    ]
    if names:
        console.print(
            f"\n[yellow]Money fields not written to Capsule: {markup_literal(', '.join(names))}"
            " (missing in Capsule or not fit for the value):"
            " `capsule-xero report money_fields` shows the definition to create.[/yellow]",
            highlight=False,
        )
