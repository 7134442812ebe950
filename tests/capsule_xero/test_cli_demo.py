"""`capsule-xero demo` from nothing: no credentials, a fresh world each time, a whole sync, data left to query."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from capsule_xero import cli


def test_the_demo_syncs_a_fresh_world_into_xero_and_a_rerun_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")  # keep rich from wrapping the lines the test reads
    for name in (
        "CAPSULE_API_TOKEN",
        "XERO_CLIENT_ID",
        "XERO_CLIENT_SECRET",
        "XERO_TENANT_ID",
        "CAPSULE_XERO_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    for _ in range(2):  # a second demo starts a fresh world rather than tripping over the first
        result = runner.invoke(cli.app, ["demo", "--no-serve", "--port", "0", "--parties", "300"])
        assert result.exit_code == 0, result.output
    output = result.output
    assert "Signed in to Xero" in output and "Demo Company (AU)" in output
    assert "Reconciliation" in output and "The demo approves plan 1" in output
    assert "Nothing to write: Xero holds what Capsule says." in output
    with duckdb.connect(str(tmp_path / "demo" / "capsule_xero.duckdb"), read_only=True) as con:
        assert con.sql("select count(*) from raw.capsule_parties").fetchall() == [(300,)]
        ((created,),) = con.sql(
            "select count(*) from ledger.operation_outcomes where status = 'created'"
        ).fetchall()
        assert created > 0
        # Every contact the demo created is in Xero once, under its Capsule number.
        ((numbers, distinct),) = con.sql(
            "select count(*), count(distinct contact_number) from raw.xero_contacts where contact_number like 'CAP-%'"
        ).fetchall()
        assert numbers == distinct
        assert con.sql("select count(*) from reports.review_queue").fetchall()[0][0] > 0
