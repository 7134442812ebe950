"""Wrong settings, unusable token files and file permissions, as a person meets them on the command line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from capsule_xero.xero.token_store import TokenStore
from cli import app as cli
from sandbox.control import SandboxControl
from sandbox.generator import generate
from tests.support.sync_world import World

CAPSULE_XERO = Path(sys.executable).parent / "capsule-xero"
WRONG = {
    "CAPSULE_POLL_SECONDS": "abc",
    "XERO_DAILY_RESERVE": "lots",
    "XERO_FULL_READ_DAYS": "-3",
    "XERO_API_URL": "ftp://api.xero.com/api.xro/2.0",
}
WRONG_LINES = [
    "CAPSULE_POLL_SECONDS='abc' is not a whole number of seconds from 1 to 86,400",
    "XERO_API_URL='ftp://api.xero.com/api.xro/2.0' is not a web address (https://host/path)",
    "XERO_FULL_READ_DAYS='-3' is not a number of days from 0 (only on demand) to 365",
    "XERO_DAILY_RESERVE='lots' is not a whole number of calls from 0 to 4,999 (Xero allows 5,000 a day;"
    " reads stop here)",
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("XERO_TENANT_ID", "CAPSULE_XERO_CONFIG", *WRONG):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")  # keep rich from wrapping the lines the tests read
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with World(generate(parties=30, seed=11), tmp_path / "home") as running:
        for name in ("CAPSULE_XERO_CONFIG", *WRONG):
            monkeypatch.delenv(name, raising=False)
        for key, value in (running.server.env() | {"CAPSULE_XERO_HOME": str(tmp_path / "home")}).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("COLUMNS", "250")
        monkeypatch.chdir(tmp_path)
        yield running


def run(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# --- wrong settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["status"], ["report"], ["auth", "status"], ["sync"], ["plan"], ["extract"], ["ui"]]
)
def test_every_wrong_setting_stops_any_command_before_it_starts_one_line_each(
    home: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    for name, value in WRONG.items():
        monkeypatch.setenv(name, value)
    result = run(*command)
    assert result.exit_code == 2, result.output
    no_traceback(result)
    lines = result.output.splitlines()
    assert lines[0].startswith("capsule-xero cannot start: fix these settings")
    assert [line.strip() for line in lines[1:]] == WRONG_LINES


def test_a_wrong_reserve_is_refused_before_capsule_is_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_DAILY_RESERVE", "lots")
    control = SandboxControl(world.server.xero_url)
    since = control.last_seq()
    result = run("sync")
    assert result.exit_code == 2
    no_traceback(result)
    assert "XERO_DAILY_RESERVE='lots'" in result.output
    assert control.calls(None, since) == []  # neither Capsule nor Xero was asked anything


def test_help_still_shows_while_a_setting_is_wrong(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPSULE_POLL_SECONDS", "abc")
    result = run("sync", "--help")
    assert result.exit_code == 0 and "--apply" in result.output


def test_a_home_that_cannot_be_created_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = home.parent / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(blocker / "home"))
    result = run("status")
    assert result.exit_code == 2
    no_traceback(result)
    assert f"CAPSULE_XERO_HOME='{blocker / 'home'}' cannot be created: '{blocker}' is a file" in result.output


def test_a_huge_wrong_value_is_shown_cut(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XERO_FULL_READ_DAYS", "9" * 100_000)
    result = run("status")
    assert result.exit_code == 2
    assert "(100,000 characters)" in result.output and len(result.output) < 1_000


# --- token files that cannot be used ------------------------------------------------------------------


BROKEN_TOKEN_FILES = {
    "empty": (lambda path: path.write_text(""), "is empty"),
    "truncated": (lambda path: path.write_text('{"access_token": "tok-123", "expires_'), "is not valid JSON"),
    "a folder": (lambda path: path.mkdir(), "is a folder, not a file"),
    "no expires_at": (
        lambda path: path.write_text(
            '{"access_token": "tok-123", "refreshed_at": "2030-01-01T00:00:00+00:00"}'
        ),
        "has no expires_at",
    ),
}


@pytest.mark.parametrize("case", BROKEN_TOKEN_FILES)
def test_status_says_the_token_file_is_unusable_and_still_shows_everything_else(
    home: Path, case: str
) -> None:
    write, what = BROKEN_TOKEN_FILES[case]
    home.mkdir(parents=True)
    write(TokenStore(home).path)
    result = run("status")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    sign_in = result.output.split("Xero sign-in", 1)[1].split("Xero API budget", 1)[0]
    assert what in sign_in and "run `capsule-xero auth login`" in sign_in
    assert "Reserve kept for writes" in result.output.split("Xero API budget", 1)[1]
    assert "tok-123" not in result.output


@pytest.mark.parametrize("case", BROKEN_TOKEN_FILES)
def test_auth_status_says_the_token_file_is_unusable_and_how_to_fix_it(home: Path, case: str) -> None:
    write, what = BROKEN_TOKEN_FILES[case]
    home.mkdir(parents=True)
    write(TokenStore(home).path)
    result = run("auth", "status")
    no_traceback(result)
    assert result.exit_code == 1
    assert what in result.output and "run `capsule-xero auth login` to sign in again" in result.output


@pytest.mark.parametrize("case", ["truncated", "no expires_at"])
def test_sync_with_an_unusable_token_file_says_to_sign_in_again(world: World, case: str) -> None:
    write, what = BROKEN_TOKEN_FILES[case]
    write(world.auth.store.path)
    result = run("sync")
    no_traceback(result)
    assert result.exit_code == 1
    assert what in result.output and "run `capsule-xero auth login` to sign in again" in result.output


# --- private files ------------------------------------------------------------------------------------


def _opened_to_others(home: Path) -> list[str]:
    found = [home, *home.rglob("*")]
    return [
        f"{path.relative_to(home.parent)} {stat.S_IMODE(path.lstat().st_mode):04o}"
        for path in found
        if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077
    ]


def test_a_sync_leaves_nothing_under_the_home_readable_by_other_users(world: World) -> None:
    home = world.settings.home
    home.chmod(0o755)  # as earlier versions created it
    result = subprocess.run(
        [str(CAPSULE_XERO), "sync"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=240,
        preexec_fn=lambda: os.umask(0o022),  # a usual login umask
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert world.settings.duckdb_path.is_file() and (home / "dlt").is_dir()
    assert _opened_to_others(home) == []


def test_a_token_file_someone_opened_to_other_users_is_closed_with_a_warning(world: World) -> None:
    path = world.auth.store.path
    path.chmod(0o644)
    result = run("auth", "status")
    assert result.exit_code == 0, result.output
    assert f"The Xero token file {path} was readable by other users (0644); it is now 0600" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
