"""`capsule-xero status` and the alerts say how much of Xero's daily call budget is left, from its record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
from typer.testing import CliRunner, Result

from assets.sensors.alerts import alerts_sensor
from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from capsule_xero.xero.budget import OrganisationBudget, budget_file_in, flush_all, record
from cli import app as cli
from reverse_etl.alerts.finding import find_alerts
from sandbox.generator import generate
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.reverse_etl.test_alerts import HttpReceiver

XERO = "https://api.xero.com"  # the origin of the default XERO_API_URL


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """capsule-xero with its defaults (the real Xero's address) and an empty home folder."""
    for name in ("XERO_API_URL", "XERO_DAILY_RESERVE", "XERO_TENANT_ID", "CAPSULE_XERO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")  # keep rich from wrapping the lines the tests read
    monkeypatch.chdir(tmp_path)  # no stray ./capsule-xero.yaml
    return tmp_path / "home"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    http = HttpReceiver()
    yield http
    http.server.shutdown()
    http.server.server_close()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def budget_section(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.split("Xero API budget", 1)[1]


def recorded(home: Path, **fields: object) -> None:
    now = datetime.now(UTC)
    record(budget_file_in(home), [OrganisationBudget(XERO, "t-1", updated_at=now, **fields)])  # type: ignore[arg-type]


def test_after_an_extract_status_shows_the_calls_left_that_xero_reported(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.call(lambda: server.sandbox.load(generate(parties=60, seed=5)))
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(tmp_path / "home")}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    login(
        XeroAuth(Settings.from_env()),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )
    assert "No Xero call recorded yet" in budget_section(run("status"))
    extracted = run("extract", "--only", "xero")
    assert extracted.exit_code == 0, extracted.output
    flush_all()  # what the extract process writes as it exits
    with XeroControl(server.xero_url) as xero:
        tenant = xero.primary_tenant_id()
        (app,) = xero.limits(tenant)["apps"].values()
    section = budget_section(run("status"))
    line = next(line for line in section.splitlines() if tenant.lower() in line)
    assert f"{app['day_remaining']:,} calls left of today's limit as of" in line
    assert re.search(r"\((just now|1 minute ago)\)", line), line
    assert "Reserve kept for writes: 250 calls a day (XERO_DAILY_RESERVE)" in section
    assert "5,000 calls a day" in section and "1,000 on the Starter tier" in section


def test_status_before_any_xero_call_says_none_is_recorded_and_the_reserve_kept_for_writes(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_DAILY_RESERVE", "400")
    section = budget_section(run("status"))
    assert "No Xero call recorded yet" in section
    assert "Reserve kept for writes: 400 calls a day" in section


def test_status_shows_a_figure_from_yesterday_as_stale(home: Path) -> None:
    seen = datetime.now(UTC) - timedelta(hours=30)
    recorded(home, day_remaining=4_321, seen_at=seen)
    section = budget_section(run("status"))
    assert f"4,321 calls left as of {seen:%Y-%m-%d %H:%M} UTC (1 day ago): stale" in section
    assert "of today's limit" not in section


def test_status_says_the_budget_is_used_up_until_xeros_window_resets(home: Path) -> None:
    now = datetime.now(UTC)
    resume = now + timedelta(hours=5)
    recorded(
        home,
        day_remaining=0,
        seen_at=now - timedelta(minutes=3),
        resume_after=resume,
        resume_exact=True,
        stop_remaining=0,
        stop_changed_at=now - timedelta(minutes=3),
    )
    section = budget_section(run("status"))
    assert f"t-1: used up; Xero's window resets by {resume:%Y-%m-%d %H:%M} UTC." in section


def test_status_says_reads_stopped_at_the_reserve_until_the_latest_the_window_resets(home: Path) -> None:
    now = datetime.now(UTC)
    resume = now + timedelta(hours=23)
    recorded(
        home,
        day_remaining=250,
        seen_at=now - timedelta(hours=1),
        resume_after=resume,
        stop_remaining=250,
        stop_changed_at=now - timedelta(hours=1),
    )
    section = budget_section(run("status"))
    assert "250 calls left as of" in section and "(1 hour ago), kept for writes" in section
    assert f"go on after {resume:%Y-%m-%d %H:%M} UTC at the latest" in section


def test_the_alerts_sensor_sends_a_recorded_budget_stop_once_and_nothing_after_the_window_resets(
    home: Path, receiver: HttpReceiver
) -> None:
    home.mkdir(parents=True)
    (home.parent / "capsule-xero.yaml").write_text(
        f"alerts:\n  channels:\n    - webhook: {{url: {receiver.url}/ops}}\n"
    )
    now = datetime.now(UTC)
    resume = now + timedelta(hours=2)
    recorded(
        home,
        day_remaining=0,
        seen_at=now,
        resume_after=resume,
        resume_exact=True,
        stop_remaining=0,
        stop_changed_at=now,
    )
    alerts_sensor(dg.build_sensor_context())
    alerts_sensor(dg.build_sensor_context())  # the next check sends nothing new
    sent = [body for path, body in receiver.posts if path == "/ops"]
    assert [body["kind"] for body in sent] == ["budget_exhausted"]
    assert f"{resume:%Y-%m-%d %H:%M} UTC" in sent[0]["detail"] and "t-1" in sent[0]["detail"]
    later = find_alerts(None, Settings.from_env(), Rules(), resume + timedelta(minutes=1))
    assert [a for a in later if a.kind == "budget_exhausted"] == []
