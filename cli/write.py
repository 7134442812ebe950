"""``capsule-xero apply [PLAN]`` and ``capsule-xero undo PLAN``: the commands that write to Xero, and
``capsule-xero retry PARTY...``, which lets records waiting in the error queue be sent again.

Exit codes (docs/architecture.md#the-command-line: 0 only when the run did what it said):

- ``apply``: 0 when the plan ends ``applied`` and nothing stopped the run — every operation reached
  Xero, or sits in the error queue with Xero's reason (those are listed; ``capsule-xero status`` shows
  the queue); also 0 when there is nothing to apply (the newest plan is applied or empty). 1 when the
  plan is left ``partly_applied`` (Xero unavailable, the daily limit, answers still unknown: the next
  run settles and continues), when it is out of date (plan again), waits for approval, or the
  DuckDB file or Xero cannot be read. 2 for a plan that cannot be applied at all (no such plan,
  superseded) or a broken rules file.
- ``undo``: 0 when every value undo set out to write back was written (values changed since are
  kept and listed: that is the answer, not a failure); 1 when Xero refused some.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from capsule_xero.display import markup_literal
from capsule_xero.progress import APPLY_STAGES
from capsule_xero.settings import Settings
from cli.progress import ProgressDisplay
from cli.shared import connect, console, load_rules_or_exit, print_error, require_duckdb_file

if TYPE_CHECKING:
    import duckdb

    from reverse_etl.apply.result import ApplyResult
    from reverse_etl.undo import UndoResult

# pipelines (dlt), reverse_etl (duckdb) and capsule_xero.xero.pacing (requests) are imported inside the
# commands that use them: `capsule-xero --help` does without them.

LINES_SHOWN = 50


def retry_command(
    party_ids: Annotated[
        list[int], typer.Argument(metavar="PARTY...", help="Capsule party ids from `capsule-xero status`.")
    ],
) -> None:
    """Send records waiting in the error queue again, as they are, with the next sync (e.g. after a balance was settled in Xero)."""
    from reverse_etl.apply.error_queue import release

    path = Settings.from_env().duckdb_path
    require_duckdb_file(path)
    with connect(path, read_only=False) as con:
        released = release(con, party_ids)
    if released:
        console.print(
            f"Released {', '.join(map(str, released))}: the next `capsule-xero sync --apply` sends "
            f"{'it' if len(released) == 1 else 'them'} again.",
            highlight=False,
        )
    others = sorted(set(party_ids) - set(released))
    if others:
        console.print(
            f"Not waiting in the error queue: {', '.join(map(str, others))} (`capsule-xero status` lists what waits).",
            highlight=False,
        )
        raise typer.Exit(1)


def apply_command(
    plan_id: int | None = typer.Argument(
        None, metavar="[PLAN]", help="The plan to write; the newest when left out (it must be approved)."
    ),
    extract: bool = typer.Option(
        True,
        "--extract/--no-extract",
        help="Read Xero first, so a plan computed against an older Xero is refused (--no-extract only "
        "right after a sync has read it).",
    ),
) -> None:
    """Write an approved plan to Xero exactly once: contacts, groups, History notes, ContactIDs back to Capsule."""
    settings = Settings.from_env()
    rules = load_rules_or_exit(settings)
    path = settings.duckdb_path
    require_duckdb_file(path)
    with connect(path, read_only=True) as con:
        plan_id = _plan_to_apply(con, plan_id)
    if extract:
        _read_xero(settings)
    from reverse_etl.apply.loop import apply_plan
    from reverse_etl.apply.result import PlanNotApplicable
    from reverse_etl.plans.model import PlanError, StalePlanError

    with connect(path, read_only=False) as con:
        try:
            with ProgressDisplay(APPLY_STAGES) as shown:
                result = apply_plan(con, settings, rules, plan_id, on_progress=shown)
        except StalePlanError as exc:
            print_error(exc)
            raise typer.Exit(1) from None
        except PlanNotApplicable as exc:
            print_error(exc)
            raise typer.Exit(1 if "approve" in str(exc) else 2) from None
        except PlanError as exc:
            print_error(exc)
            raise typer.Exit(2) from None
    _print_result(result)
    if not result.complete:
        raise typer.Exit(1)


def _plan_to_apply(con: duckdb.DuckDBPyConnection, plan_id: int | None) -> int:
    """The plan ``apply`` writes: the one named, else the newest when it may be applied."""
    from reverse_etl.apply.result import APPLICABLE
    from reverse_etl.plans.store import load_plan

    if plan_id is not None:
        return plan_id
    newest = load_plan(con)
    if newest is None:
        console.print("No plan yet: `capsule-xero sync` (or `capsule-xero plan --refresh`) makes one.")
        raise typer.Exit(1)
    if newest.status in APPLICABLE:
        return newest.plan_id
    if newest.status == "pending_approval":
        console.print(
            f"Plan {newest.plan_id} waits for approval ({'; '.join(newest.approval_reasons)}): "
            f"`capsule-xero plan` shows it, `capsule-xero approve {newest.plan_id}` approves it.",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(
        f"Nothing to apply: the newest plan, {newest.plan_id}, is {newest.status.replace('_', ' ')}.",
        highlight=False,
    )
    raise typer.Exit(0)


def _read_xero(settings: Settings) -> None:
    from pipelines.xero import run_xero_extract, xero_error

    try:
        with console.status("Reading Xero, to check the plan is not out of date…"):
            run_xero_extract(settings)
    except Exception as exc:
        cause = xero_error(exc)  # sign-in, API and daily-limit errors, however dlt wrapped them
        if cause is None:
            raise
        console.print(f"[red]Xero: {escape(str(cause))}[/red] Nothing was written.", highlight=False)
        raise typer.Exit(1) from None


def _print_result(result: ApplyResult) -> None:
    counts = {name: value for name, value in result.counts().items() if value}
    summary = (
        ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items()) or "nothing sent"
    )
    console.print(f"Plan {result.plan_id}: {summary}.", highlight=False)
    queued = result.failed + result.refused
    if queued:
        console.print(
            f"[yellow]{queued:,} went to the error queue with Xero's reason[/yellow] (they wait for a person, or"
            " for the record to change): `capsule-xero status` lists them.",
            highlight=False,
        )
    for problem in result.problems[:LINES_SHOWN]:
        console.print(f"  {markup_literal(problem)}", highlight=False)
    if len(result.problems) > LINES_SHOWN:
        console.print(f"  … and {len(result.problems) - LINES_SHOWN:,} more.", highlight=False)
    if result.complete:
        console.print(f"Plan {result.plan_id} is {result.status.replace('_', ' ')}.", highlight=False)
    else:
        console.print(
            f"[red]Plan {result.plan_id} is {result.status.replace('_', ' ')}.[/red] "
            + (f"{markup_literal(result.stopped)} " if result.stopped else "")
            + "Run `capsule-xero apply` again to settle and continue it (nothing is sent twice).",
            highlight=False,
        )


def undo_command(
    plan_id: int = typer.Argument(..., metavar="PLAN", help="The plan whose changes to take back."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before writing to Xero."),
) -> None:
    """Write back the values a plan replaced, where Xero still holds what the plan wrote; report the rest."""
    from capsule_xero.xero.errors import DailyLimitReached, XeroUnavailable
    from reverse_etl.plans.model import PlanError
    from reverse_etl.undo import undo_plan
    from reverse_etl.writers.xero_session import XeroWriteError

    settings = Settings.from_env()
    path = settings.duckdb_path
    require_duckdb_file(path, "nothing was ever applied")
    if not yes and not typer.confirm(
        f"Write the values plan {plan_id} replaced back to Xero and Capsule (where nobody changed them since)?"
    ):
        raise typer.Exit(1)
    with connect(path, read_only=False) as con:
        try:
            result = undo_plan(con, settings, plan_id, rules=load_rules_or_exit(settings))
        except PlanError as exc:
            print_error(exc)
            raise typer.Exit(2) from None
        except (XeroUnavailable, DailyLimitReached, XeroWriteError) as exc:
            console.print(f"[red]Xero: {escape(str(exc))}[/red] Run the undo again later.", highlight=False)
            raise typer.Exit(1) from None
    _print_undo(result)
    if not result.complete:
        raise typer.Exit(1)


def _print_undo(result: UndoResult) -> None:

    fields = [line for line in result.reverted if line.field != "contact_status"]
    console.print(
        f"Undo of plan {result.plan_id}: {len(fields):,} field(s) written back, "
        f"{len(result.archived):,} contact(s) the plan created archived, "
        f"{len(result.restored):,} contact(s) it archived restored; "
        f"{len(result.kept):,} kept because they changed since"
        + (f"; {result.already_undone:,} already undone before" if result.already_undone else "")
        + ".",
        highlight=False,
    )
    if result.drafts_left:
        console.print(
            f"Left alone in Xero: {len(result.drafts_left):,} DRAFT quote(s) or invoice(s) the plan made for won"
            " opportunities (the tool never deletes a document: delete them in Xero if they should go).",
            highlight=False,
        )
        for line in result.drafts_left[:LINES_SHOWN]:
            console.print(f"  {markup_literal(line)}", highlight=False)
    capsule = result.capsule
    if capsule.reverted or capsule.kept or capsule.failed:
        console.print(
            f"Capsule: {len(capsule.reverted):,} change(s) put back, {len(capsule.kept):,} kept because they"
            " changed since" + (f", {len(capsule.failed):,} refused" if capsule.failed else "") + ".",
            highlight=False,
        )
        for line in [*capsule.kept, *capsule.failed][:LINES_SHOWN]:
            console.print(f"  {markup_literal(line)}", highlight=False)
    for title, lines in (("Changed since: kept", result.kept), ("Xero refused", result.failed)):
        if not lines:
            continue
        console.print(f"[bold]{title}[/bold]")
        for line in lines[:LINES_SHOWN]:
            who = f"party {line.party_id}, " if line.party_id is not None else ""
            what = "the contact" if line.field == "*" else line.field
            console.print(
                f"  {who}contact {markup_literal(line.contact_id)}: {what}: {markup_literal(line.detail)}",
                highlight=False,
            )
        if len(lines) > LINES_SHOWN:
            console.print(f"  … and {len(lines) - LINES_SHOWN:,} more.", highlight=False)
