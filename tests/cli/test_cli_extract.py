"""`capsule-xero extract`: one command lands both systems in DuckDB, and says what went wrong."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from cli import app as cli
from sandbox.generator import generate
from sandbox.server import SandboxServer


@pytest.fixture
def env(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    server.call(lambda: server.sandbox.load(generate(parties=300, seed=4)))
    values = server.env() | {"CAPSULE_XERO_HOME": str(tmp_path)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_extract_loads_both_systems_shows_its_progress_and_a_rerun_reads_only_what_changed(
    env: dict[str, str], server: SandboxServer
) -> None:
    login(
        XeroAuth(Settings.from_env()),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )
    runner = CliRunner()
    first = runner.invoke(cli.app, ["extract"])
    assert first.exit_code == 0, first.output
    assert "Capsule:" in first.output and "Xero:" in first.output
    # Progress as plain lines (stdout is not a terminal): pages read, calls made, calls left, and done.
    lines = first.output.splitlines()
    capsule = [line for line in lines if line.startswith("Reading Capsule: ")]
    assert capsule[0] == "Reading Capsule: 0 pages, 0 calls, ETA unknown"
    assert capsule[-1].endswith("calls left this hour, ETA done")
    xero = [line for line in lines if line.startswith("Reading Xero: ")]
    assert xero[-1].endswith("calls left today, ETA done") and "/" in xero[-1]
    with duckdb.connect(str(Path(env["CAPSULE_XERO_HOME"]) / "capsule_xero.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.capsule_parties").fetchone()[0] == 300
        contacts = con.execute("select count(*) from raw.xero_contacts").fetchone()[0]
    assert contacts == server.call(lambda: len(server.sandbox.xero.primary.contacts))
    second = runner.invoke(cli.app, ["extract", "--only", "xero"])
    assert second.exit_code == 0 and "with 3 API calls" in second.output


def test_extract_before_signing_in_to_xero_exits_non_zero_and_says_how_to_sign_in(
    env: dict[str, str],
) -> None:
    result = CliRunner().invoke(cli.app, ["extract", "--only", "xero"])
    assert result.exit_code == 1
    assert "capsule-xero auth login" in result.output
