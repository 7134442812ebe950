"""`capsule-xero status` says when the nightly reconciliation and the Capsule polling check next run,
what each costs in API calls, and whether Dagster has them on (or that it cannot know)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from typer.testing import CliRunner, Result

from capsule_xero.xero.budget import OrganisationBudget, budget_file_in, record
from cli import app as cli
from cli.next_runs import next_nightly

XERO = "https://api.xero.com"  # the origin of the default XERO_API_URL


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "XERO_API_URL",
        "XERO_TENANT_ID",
        "CAPSULE_XERO_CONFIG",
        "DAGSTER_HOME",
        "CAPSULE_POLL_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "300")  # keep rich from wrapping the lines the tests read
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def synced_once(home: Path, *, contacts: int, tasks: int) -> None:
    """A DuckDB file as a sync leaves it, as far as the next runs' costs go."""
    home.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(home / "capsule_xero.duckdb")) as con:
        con.execute("create schema raw")
        con.execute("create table raw.xero_contacts as select range as n from range(?)", [contacts])
        con.execute("create table raw.capsule_tasks as select range as n from range(?)", [tasks])


def next_runs(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    section = result.output.split("Next automatic runs", 1)[1].split("Xero sign-in", 1)[0]
    return [line for line in section.splitlines() if line.strip()]


def test_status_says_when_the_nightly_and_the_polling_run_next_and_what_each_costs(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_once(home, contacts=1_234, tasks=250)
    record(
        budget_file_in(home),
        [
            OrganisationBudget(
                XERO, "t-1", day_remaining=812, seen_at=datetime.now(UTC), updated_at=datetime.now(UTC)
            )
        ],
    )
    monkeypatch.setenv("CAPSULE_POLL_SECONDS", "30")
    nightly, polling, left = next_runs(CliRunner().invoke(cli.app, ["status"]))
    assert nightly.startswith("Nightly reconciliation: ") and " 02:00 Sydney time (in " in nightly
    # 13 pages of contacts + groups + users; 9 one-page Capsule resources + 3 pages of tasks.
    assert "~15 Xero calls (1,234 contacts read in full)" in nightly
    assert "~12 Capsule calls" in nightly
    assert "on by default as configured" in nightly and "set DAGSTER_HOME to read it" in nightly
    assert polling.startswith(
        "Capsule polling: every 30 s while Dagster's daemon runs; 2 Capsule calls a check,"
    )
    assert "240 an hour of Capsule's 4,000 (CAPSULE_POLL_SECONDS=30)" in polling
    assert left == "Xero calls left today: 812 (each organisation's figure is under the budget below)."


def test_status_before_any_sync_still_says_when_the_runs_happen(home: Path) -> None:
    nightly, polling, left = next_runs(CliRunner().invoke(cli.app, ["status"]))
    assert "no sync has counted the contacts yet" in nightly
    assert "every 20 s" in polling and "360 an hour" in polling
    assert left == "Xero calls left today: not recorded yet (a sync records it)."


def test_the_next_nightly_is_two_in_the_morning_sydney_time_through_daylight_saving() -> None:
    sydney = ZoneInfo("Australia/Sydney")
    summer = next_nightly(datetime(2026, 12, 7, 17, 0, tzinfo=UTC))  # 04:00 on the 8th in Sydney (AEDT)
    assert summer == datetime(2026, 12, 9, 2, 0, tzinfo=sydney)
    assert summer.utcoffset().total_seconds() == 11 * 3600
    winter = next_nightly(datetime(2026, 6, 7, 12, 0, tzinfo=UTC))  # 22:00 on the 7th in Sydney (AEST)
    assert winter == datetime(2026, 6, 8, 2, 0, tzinfo=sydney)
    assert winter.utcoffset().total_seconds() == 10 * 3600


def test_with_dagster_home_status_says_the_nightly_was_turned_off_in_dagster(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
    )

    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with dg.DagsterInstance.get() as instance:  # what turning it off in the UI stores
        repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("capsule-xero"), "__repository__")
        instance.add_instigator_state(
            InstigatorState(
                RemoteInstigatorOrigin(repository, "nightly_reconciliation_schedule"),
                InstigatorType.SCHEDULE,
                InstigatorStatus.STOPPED,
                ScheduleInstigatorData("0 2 * * *"),
            )
        )
    nightly, polling, _ = next_runs(CliRunner().invoke(cli.app, ["status"]))
    assert nightly.startswith(
        "Nightly reconciliation: turned off in Dagster: it does not run until turned on there"
    )
    assert "it would cost" in nightly
    assert polling.endswith("It is on (never turned off in Dagster).")
