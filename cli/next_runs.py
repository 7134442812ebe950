"""``capsule-xero status``'s "Next automatic runs": when Dagster's nightly reconciliation and the Capsule
polling check next run, and the API calls each costs.

The nightly (assets/schedules.py) reads Xero in full (assets/jobs.py: balances and customer flags move
without moving UpdatedDateUTC): ceil(contacts / 100) pages of contacts plus one page each of contact
groups and users. It reads Capsule incrementally: one request per resource of pipelines/capsule's
table, tasks whole (ceil(tasks / 100) pages: no ``since``), parties, opportunities and kases one page
when fewer than 100 changed. The polling check (assets/sensors/polling.py) makes two one-record Capsule
requests every CAPSULE_POLL_SECONDS.

Whether the schedule and the sensor are on lives in Dagster's instance, not in the code: with
DAGSTER_HOME set, status reads it from there; without, it says what the code declares (on by default)
and that Dagster may have it turned off.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from capsule_xero.schedule_times import NIGHTLY_CRON, POLLING_SENSOR_NAME, SCHEDULE_NAME, SYDNEY
from capsule_xero.settings import Settings
from cli.shared import console

if TYPE_CHECKING:
    import duckdb

NEXT_RUNS_SQL = Path(__file__).parent / "sql" / "next_runs.sql"
XERO_PAGE = 100  # contacts per page (docs/api-facts.md#xero-reading-contacts)
CAPSULE_PAGE = 100  # records per page, Capsule's largest perPage
# pipelines/capsule/__init__.py's resources read in one request each on an incremental night: users,
# field definitions, tags, parties, opportunities, kases and the three deleted feeds (tasks apart).
CAPSULE_ONE_PAGE_RESOURCES = 9
XERO_ONE_PAGE_RESOURCES = 2  # contact groups, users
CALLS_PER_POLL = 2  # the newest party changed and the newest deleted (assets/sensors/polling.py)


@dataclass(frozen=True)
class ReadCounts:
    """What the DuckDB file holds that sets the nightly's cost (None: no file or no table yet)."""

    xero_contacts: int | None = None
    capsule_tasks: int | None = None


def read_counts(con: duckdb.DuckDBPyConnection) -> ReadCounts:
    from reverse_etl.sqlfile import SqlFile, has_table

    sql = SqlFile(NEXT_RUNS_SQL)
    contacts = (
        sql.execute(con, "xero_contacts").fetchone()[0] if has_table(con, "raw", "xero_contacts") else None
    )
    tasks = (
        sql.execute(con, "capsule_tasks").fetchone()[0] if has_table(con, "raw", "capsule_tasks") else None
    )
    return ReadCounts(contacts, tasks)


def nightly_xero_calls(contacts: int) -> int:
    return max(1, math.ceil(contacts / XERO_PAGE)) + XERO_ONE_PAGE_RESOURCES


def nightly_capsule_calls(tasks: int) -> int:
    return CAPSULE_ONE_PAGE_RESOURCES + max(1, math.ceil(tasks / CAPSULE_PAGE))


def polling_calls_per_hour(poll_seconds: int) -> int:
    return math.ceil(3600 / poll_seconds) * CALLS_PER_POLL


def next_nightly(now: datetime) -> datetime:
    """The schedule's next time after ``now``, in Sydney time (its execution time zone)."""
    from croniter import croniter

    return croniter(NIGHTLY_CRON, now.astimezone(ZoneInfo(SYDNEY))).get_next(datetime)


@dataclass(frozen=True)
class DagsterState:
    """What Dagster's instance says: ``on`` None when it cannot be known (no DAGSTER_HOME)."""

    on: bool | None
    last_tick: datetime | None = None
    source: str = "as configured"


def dagster_states() -> dict[str, DagsterState]:
    """The schedule's and the sensor's state from the instance at DAGSTER_HOME; empty without one."""
    if not os.environ.get("DAGSTER_HOME"):
        return {}
    try:
        import dagster as dg
        from dagster._core.scheduler.instigation import InstigatorStatus

        with dg.DagsterInstance.get() as instance:
            states: dict[str, DagsterState] = {}
            for stored in instance.all_instigator_state():
                if stored.name not in (SCHEDULE_NAME, POLLING_SENSOR_NAME):
                    continue
                ticks = instance.get_ticks(stored.instigator_origin_id, stored.selector_id, limit=1)
                last = datetime.fromtimestamp(ticks[0].timestamp).astimezone() if ticks else None
                on = stored.status in (InstigatorStatus.RUNNING, InstigatorStatus.DECLARED_IN_CODE)
                states[stored.name] = DagsterState(on, last, "in Dagster")
        for name in (SCHEDULE_NAME, POLLING_SENSOR_NAME):
            # Never turned on or off in the UI: Dagster keeps no state, and the code's default holds.
            states.setdefault(name, DagsterState(True, None, "default"))
        return states
    except Exception as exc:  # a damaged or foreign instance: say so, do not fail status
        console.print(
            f"Could not read Dagster's instance at DAGSTER_HOME ({type(exc).__name__}).", highlight=False
        )
        return {}


def _state_words(state: DagsterState | None) -> str:
    if state is None:
        return (
            "on by default as configured (whether it is turned off in Dagster is not known here: set "
            "DAGSTER_HOME to read it)"
        )
    if state.source == "default":
        return "on (never turned off in Dagster)"
    return "on in Dagster" if state.on else "turned off in Dagster: it does not run until turned on there"


def print_next_runs(settings: Settings, counts: ReadCounts, now: datetime | None = None) -> None:
    now = now or datetime.now(ZoneInfo(SYDNEY))
    states = dagster_states()
    nightly, polling = states.get(SCHEDULE_NAME), states.get(POLLING_SENSOR_NAME)
    console.print("\n[bold]Next automatic runs[/bold]")
    when = next_nightly(now)
    if counts.xero_contacts is None:
        xero = "a full read of Xero (ceil(contacts / 100) pages + 2; no sync has counted the contacts yet)"
    else:
        xero = f"~{nightly_xero_calls(counts.xero_contacts):,} Xero calls ({counts.xero_contacts:,} contacts read in full)"
    capsule = f"~{nightly_capsule_calls(counts.capsule_tasks or 0):,} Capsule calls (what changed since the last run)"
    if nightly is None or nightly.on:
        console.print(
            f"Nightly reconciliation: {when:%a %d %b %H:%M} Sydney time ({_in(when - now)}); costs {xero} and "
            f"{capsule}. It is {_state_words(nightly)}.",
            highlight=False,
        )
    else:
        console.print(
            f"Nightly reconciliation: {_state_words(nightly)} (it would cost {xero} and {capsule}).",
            highlight=False,
        )
    seconds = settings.capsule_poll_seconds
    per_hour = polling_calls_per_hour(seconds)
    cost = (
        f"{CALLS_PER_POLL} Capsule calls a check, {per_hour:,} an hour of Capsule's 4,000 "
        f"(CAPSULE_POLL_SECONDS={seconds}); a change found is synced in the check, with a Xero read and write"
    )
    if polling is None or polling.on:
        if polling is not None and polling.last_tick is not None:
            due = polling.last_tick + timedelta(seconds=seconds)
            next_check = f"next check at {due:%H:%M:%S} (every {seconds} s while Dagster's daemon runs)"
        else:
            next_check = f"every {seconds} s while Dagster's daemon runs"
        console.print(
            f"Capsule polling: {next_check}; {cost}. It is {_state_words(polling)}.", highlight=False
        )
    else:
        console.print(f"Capsule polling: {_state_words(polling)} (it would cost {cost}).", highlight=False)
    left = xero_calls_left_today(settings)
    if left is None:
        console.print("Xero calls left today: not recorded yet (a sync records it).", highlight=False)
    else:
        console.print(
            f"Xero calls left today: {left:,} (each organisation's figure is under the budget below).",
            highlight=False,
        )


def xero_calls_left_today(settings: Settings) -> int | None:
    """The fewest calls left today that Xero last reported for any organisation, less the calls made
    since; None when nothing recorded is from today's window."""
    from capsule_xero.xero.budget import api_origin, budget_file_in, read_budgets

    now = datetime.now(UTC)
    origin = api_origin(settings.xero_api_url)
    lefts = [
        max(0, entry.day_remaining - entry.calls_since)
        for entry in read_budgets(budget_file_in(settings.home))
        if entry.api == origin and entry.day_remaining is not None and not entry.figure_is_stale(now)
    ]
    return min(lefts) if lefts else None


def _in(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"in {hours} h {minutes:02d} min" if hours else f"in {minutes} min"
