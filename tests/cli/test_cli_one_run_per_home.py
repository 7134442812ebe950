"""One run at a time per CAPSULE_XERO_HOME (issue 11, items 6 and 17).

A second command that would read or write the DuckDB file or dlt's folder while a sync holds the
home waits briefly, then says who holds it (command, PID, start) and exits 1 having touched nothing;
a lock left by a killed run never blocks; ``status`` shows what needs no DuckDB while a sync runs,
and a plan left "applying" by a killed run as interrupted, with how to finish it.

The running sync is a child process holding the home as ``capsule-xero sync --apply`` does (the
home's lock, and optionally the DuckDB file open for writing, as during its load).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
import pytest
from typer.testing import CliRunner, Result

from capsule_xero import home_lock
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from cli import app as cli
from reverse_etl.plans.store import mark_plan
from sandbox.control import SandboxControl
from sandbox.generator import generate
from sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from pathlib import Path

import duckdb

from capsule_xero.home_lock import home_lock

home = Path(sys.argv[1])
with home_lock(home, "capsule-xero sync --apply"):
    con = duckdb.connect(str(home / "capsule_xero.duckdb")) if sys.argv[2] == "open" else None
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def home(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """capsule-xero pointed at the sandbox (an empty account and organisation); a short wait for
    the home, so a refusal comes in a test's time."""
    home = tmp_path / "home"
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(home)}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(home_lock, "WAIT_SECONDS", 0.5)
    monkeypatch.setattr(home_lock, "READ_WAIT_SECONDS", 0.5)
    home.mkdir()
    return home


@pytest.fixture
def control(server: SandboxServer) -> Iterator[SandboxControl]:
    client = SandboxControl(server.xero_url)
    yield client
    client.close()


def sign_in() -> Settings:
    settings = Settings.from_env()
    login(
        XeroAuth(settings),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )
    return settings


def run(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


@contextmanager
def running_sync(home: Path, *, holds_the_file: bool = False) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home), "open" if holds_the_file else "lock"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "holding"
        yield process
    finally:
        if process.poll() is None:
            process.communicate("", timeout=30)


def says_another_sync_holds_it(result: Result, pid: int) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    out = result.output
    assert "Another sync is running" in out and f"PID {pid}" in out, out
    assert "capsule-xero sync --apply" in out and "started at" in out, out
    assert "credentials" not in out and "Traceback" not in out


@pytest.mark.parametrize(
    "command",
    [
        ["sync", "--apply"],
        ["sync"],
        ["extract"],
        ["plan", "--refresh"],
        ["plan"],
        ["approve", "1"],
        ["apply", "1"],
        ["undo", "1", "--yes"],
        ["report", "quarantine"],
    ],
    ids=" ".join,
)
def test_a_command_while_a_sync_holds_the_home_says_which_sync_and_touches_nothing(
    home: Path, control: SandboxControl, command: list[str]
) -> None:
    path = home / "capsule_xero.duckdb"
    duckdb.connect(str(path)).close()  # an earlier sync made the file
    before = path.read_bytes()
    with running_sync(home) as sync:
        result = run(*command)
    says_another_sync_holds_it(result, sync.pid)
    assert control.calls() == []  # neither Capsule nor Xero was asked anything
    assert path.read_bytes() == before
    assert not (home / "dlt").exists()


def test_a_lock_left_by_a_killed_sync_never_blocks_the_next_one(home: Path) -> None:
    sign_in()
    with running_sync(home) as sync:
        sync.send_signal(signal.SIGKILL)
        sync.wait(timeout=30)
    assert str(sync.pid) in (home / home_lock.LOCK_FILE).read_text()  # its line stays, its lock does not
    result = run("sync", "--apply")
    assert result.exit_code == 0, result.output
    assert "Nothing to do" in result.output


def test_status_while_a_sync_holds_the_duckdb_file_shows_sign_in_and_budget_and_who_holds_it(
    home: Path,
) -> None:
    sign_in()
    assert run("sync").exit_code == 0
    with running_sync(home, holds_the_file=True) as sync:
        result = run("status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Organisation:" in out and "Access token: valid until" in out
    assert "calls left of today's limit" in out
    line = next(line for line in out.splitlines() if "Plans and the error queue" in line)
    assert f"capsule-xero sync --apply, PID {sync.pid}, started at" in line
    assert "Cannot open" not in out and "Traceback" not in out


def test_status_shows_a_plan_left_applying_by_a_killed_run_as_interrupted_with_how_to_finish_it(
    home: Path, server: SandboxServer
) -> None:
    server.call(lambda: server.sandbox.load(generate(parties=200, seed=21)))
    settings = sign_in()
    assert run("sync").exit_code == 0
    with duckdb.connect(str(settings.duckdb_path)) as con:
        mark_plan(con, 1, "applying")  # what a run killed mid-apply leaves
    result = run("status")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.strip().startswith("1 "))
    assert "interrupted" in row and "applying" not in row
    assert (
        "Plan 1 was interrupted while it was being applied" in result.output
        and "`capsule-xero sync --apply` or `capsule-xero apply 1` finishes it" in result.output
    )


def test_the_lock_file_is_private_to_its_user(home: Path) -> None:
    with running_sync(home):
        pass
    assert (home / home_lock.LOCK_FILE).stat().st_mode & 0o077 == 0
