"""A truncated or corrupt DuckDB file (issue 11, item 18): every command that opens it says so in one
line, with how to recover safely, and exits non-zero; no traceback from DuckDB or dlt."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner, Result

from cli import app as cli
from sandbox.server import SandboxServer
from transform.reports import create_report_views


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _empty(path: Path) -> None:
    os.truncate(path, 0)


def _garble_the_header(path: Path) -> None:
    with path.open("r+b") as file:
        file.write(b"\x5a" * 4096)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "emptied": _empty,
    "a garbled header": _garble_the_header,
}


@pytest.fixture
def home(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """capsule-xero pointed at the sandbox, with a DuckDB file of many blocks that reports read."""
    home = tmp_path / "home"
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(home)}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    home.mkdir()
    with duckdb.connect(str(home / "capsule_xero.duckdb")) as con:
        con.execute("create schema staging")
        con.execute("create table staging.capsule_parties (party_id bigint, display_name varchar)")
        # Enough distinct values for a file of many blocks (repeated text would compress to one).
        con.execute(
            "create table staging.quarantine as select 'capsule' as source, range::varchar as record_id,"
            " 'email_valid' as rule, 'emailAddresses' as field, md5(range::varchar) as value,"
            " null::varchar as detail, 'address not sent' as effect from range(200000)"
        )
        create_report_views(con)
    return home


def run(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def assert_says_damaged_in_one_line(result: Result, path: Path) -> None:
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), result.exception  # said, not crashed
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if "is damaged" in line]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert str(path) in line and f"mv {path} {path}.damaged" in line and "capsule-xero sync" in line
    assert "ledger" in line and "backup" in line
    assert "credentials" not in result.output and "another program" not in result.output.lower()


@pytest.mark.parametrize(
    "command",
    [
        ["report"],
        ["report", "reconciliation"],
        ["plan"],
        ["approve", "1"],
        ["apply", "1"],
        ["undo", "1", "--yes"],
        ["sync"],
        ["sync", "--apply", "--full"],
        ["extract"],
        ["extract", "--only", "xero"],
        ["extract", "--full"],
    ],
    ids=" ".join,
)
def test_every_command_on_a_truncated_duckdb_file_says_so_in_one_line_and_how_to_recover(
    home: Path, command: list[str]
) -> None:
    path = home / "capsule_xero.duckdb"
    _truncate(path)
    assert_says_damaged_in_one_line(run(*command), path)


@pytest.mark.parametrize("damage", DAMAGE, ids=str)
def test_a_report_on_a_damaged_duckdb_file_says_what_is_wrong_with_it(home: Path, damage: str) -> None:
    path = home / "capsule_xero.duckdb"
    DAMAGE[damage](path)
    result = run("report", "reconciliation")
    assert_says_damaged_in_one_line(result, path)


def test_status_on_a_damaged_duckdb_file_says_so_still_shows_sign_in_and_budget_and_exits_1(
    home: Path,
) -> None:
    path = home / "capsule_xero.duckdb"
    _truncate(path)
    result = run("status")
    assert_says_damaged_in_one_line(result, path)
    assert "Xero sign-in" in result.output and "Xero API budget" in result.output


def test_a_report_that_meets_a_corrupt_block_says_the_file_is_damaged(home: Path) -> None:
    path = home / "capsule_xero.duckdb"
    blocks = (path.stat().st_size - 3 * 4096) // (256 * 1024)
    with path.open("r+b") as file:  # a block of quarantine rows: the file opens, the query meets it
        file.seek(3 * 4096 + (blocks // 2) * 256 * 1024 + 1000)
        file.write(b"\x5a" * 4096)
    result = run("report", "quarantine", "--csv", str(home / "out.csv"))
    assert_says_damaged_in_one_line(result, path)
