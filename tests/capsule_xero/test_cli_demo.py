"""`capsule-xero demo` from nothing: no credentials, a fresh world each time, data left to query."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from capsule_xero import cli


def test_the_demo_signs_in_extracts_both_systems_and_leaves_the_duckdb_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")  # keep rich from wrapping the lines the test reads
    for name in ("CAPSULE_API_TOKEN", "XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    for _ in range(2):  # a second demo starts a fresh world rather than tripping over the first
        result = runner.invoke(cli.app, ["demo", "--no-serve", "--port", "0", "--parties", "300"])
        assert result.exit_code == 0, result.output
    assert "Signed in to Xero" in result.output and "Demo Company (AU)" in result.output
    with duckdb.connect(str(tmp_path / "demo" / "capsule_xero.duckdb"), read_only=True) as con:
        assert con.sql("select count(*) from raw.capsule_parties").fetchall() == [(300,)]
        assert con.sql("select count(*) from raw.xero_contacts").fetchall()[0][0] > 0
    assert "raw.capsule_parties" in result.output and "300" in result.output
