"""What several commands share: the console, the hold of CAPSULE_XERO_HOME, the DuckDB file opened
under it, the rules file, and how a value is shown.

The DuckDB file takes one writing process at a time (docs/architecture.md#the-duckdb-file): the
commands open it only after the extract (dlt) has closed it, and read-only when they only show
something.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from capsule_xero import home_lock
from capsule_xero.display import LiteralConsole
from capsule_xero.duckdb_file import DuckDBFileProblem, damaged_reason, open_duckdb, problem

# The running command's context: Typer 0.29 (pinned) runs commands on its own copy of click
# (typer._click), whose context the installed click package cannot see.
try:
    from typer.main import get_current_context
except ImportError:  # a Typer that runs on click itself
    from click import get_current_context

if TYPE_CHECKING:
    import duckdb

    from capsule_xero.rules.model import Rules
    from capsule_xero.settings import Settings

# soft_wrap: long lines (paths, URLs, commands to copy) are left whole for the terminal to wrap.
# LiteralConsole: no control character from a value reaches the terminal, and no emoji code is read
# (capsule_xero/display.py); values inside markup still go through markup_literal, in tables through literal.
console = LiteralConsole(soft_wrap=True)

RULES_PROBLEMS_SHOWN = 20


def print_error(error: object) -> None:
    """One red line saying what went wrong, the error's own words read as text, never as markup."""
    console.print(f"[red]{escape(str(error))}[/red]", highlight=False)


def load_rules_or_exit(settings: Settings) -> Rules:
    """The rules file; exit 2 with its problems (the first twenty) when it has any."""
    # Imported here: the rules file's models (pydantic) take ~0.6 s, which `capsule-xero --help` skips.
    from capsule_xero.rules.loading import RulesError, load_rules

    try:
        return load_rules(settings.config_file)
    except RulesError as exc:
        console.print("[red]The rules file has problems:[/red]")
        for found in exc.problems[:RULES_PROBLEMS_SHOWN]:
            console.print(f"  {escape(found)}", highlight=False)
        hidden = len(exc.problems) - RULES_PROBLEMS_SHOWN
        if hidden > 0:
            console.print(
                f"  … and {hidden:,} more problems: fix these first, then run the command again.",
                highlight=False,
            )
        raise typer.Exit(2) from None


def require_duckdb_file(path: Path, then: str = "run `capsule-xero sync` first") -> None:
    """Exit 1 saying what to run when there is no DuckDB file yet."""
    if not path.exists():
        console.print(f"No DuckDB file at {path} yet: {then}.", highlight=False)
        raise typer.Exit(1)


# Holds of CAPSULE_XERO_HOME taken outside any command context: kept for the life of the process.
_HOLDS_FOR_THE_PROCESS: list[contextlib.AbstractContextManager[None]] = []
# Open ``home_held_for_the_block`` scopes, innermost last: holds taken inside end with the block.
_HOLD_SCOPES: list[list[contextlib.AbstractContextManager[None]]] = []


@contextlib.contextmanager
def home_held_for_the_block() -> Iterator[None]:
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


def hold_home(home: Path, *, shared: bool, wait: float | None = None) -> None:
    """Hold CAPSULE_XERO_HOME's lock (capsule_xero/home_lock.py) until the command ends; exit 1 with
    the holder named when another run keeps it. Re-entrant: a command takes it once for its whole
    run and the helpers it calls take it again without waiting for themselves."""
    if wait is None:
        wait = home_lock.READ_WAIT_SECONDS if shared else home_lock.WAIT_SECONDS
    hold = home_lock.home_lock(home, shared=shared, wait=wait)
    try:
        hold.__enter__()
    except home_lock.HomeBusy as exc:
        print_error(exc)
        raise typer.Exit(1) from None
    context = get_current_context(silent=True)
    if _HOLD_SCOPES:
        _HOLD_SCOPES[-1].append(hold)
    elif context is None:
        _HOLDS_FOR_THE_PROCESS.append(hold)  # the kernel lets go when the process ends
    else:
        context.call_on_close(lambda: hold.__exit__(None, None, None))  # type: ignore[attr-defined]


def connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The DuckDB file, under the home's lock (shared to read, exclusive to write, until the command
    ends): exit 1 with one line when another run holds it, or it is damaged or held elsewhere."""
    hold_home(path.parent, shared=read_only)
    try:
        return open_duckdb(path, read_only=read_only)
    except DuckDBFileProblem as exc:
        print_error(exc)
        raise typer.Exit(1) from None


def exit_if_damaged(path: Path, exc: BaseException) -> None:
    """Exit 1 with one line when a DuckDB error met while reading says the file is damaged (a bad
    block shows only when a query reaches it); return otherwise, for the caller to raise."""
    if damaged_reason(exc) is not None:
        print_error(problem(path, exc))
        raise typer.Exit(1) from None
