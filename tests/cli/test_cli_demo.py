"""`capsule-xero demo` from nothing: no credentials, a fresh world each time, a whole sync, data left to query."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli import app as cli


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
    for parties in ("40", "300"):  # a second demo starts a fresh world rather than tripping over the first
        result = runner.invoke(cli.app, ["demo", "--no-serve", "--port", "0", "--parties", parties])
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
        # The money steps: a receivables report from Xero's invoices, then the deal the demo wins in
        # Capsule made one DRAFT quote in Xero under its opportunity's reference.
        ((receivables,),) = con.sql("select count(*) from reports.receivables").fetchall()
        assert receivables > 0
        quotes = con.sql(
            "select reference, document_number from ledger.document_outcomes where status = 'done'"
        ).fetchall()
    assert "8. Money" in output and "capsule-xero report receivables" in output
    assert len(quotes) == 1, quotes
    ((reference, number),) = quotes
    assert f"+ draft quote {reference}" in output
    assert f"Xero now holds the DRAFT quote {number} with Reference {reference}" in output


def test_while_the_demo_serves_the_stand_ins_other_commands_use_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's sync lets go of the home before it keeps serving: `status` (and the Dagster UI the
    demo suggests) read the plans it made instead of waiting for a sync that has finished."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "CAPSULE_XERO_CONFIG"},
        "CAPSULE_XERO_HOME": str(tmp_path),
        "COLUMNS": "200",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [str(Path(sys.executable).parent / "capsule-xero"), "demo", "--parties", "200", "--port", "0"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "keep running" not in log.read_text(errors="replace"):
            assert demo.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        home = tmp_path / "demo"
        for line in (home / "sandbox.env").read_text().splitlines():
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
        result = CliRunner().invoke(cli.app, ["status"])
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    assert result.exit_code == 0, result.output
    assert "Plans (newest first)" in result.output and "a sync holds" not in result.output
