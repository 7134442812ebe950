"""`capsule-xero demo` from nothing: no credentials, a fresh world each time, a whole sync, data left to query.

One demo is run before the module's checks and keeps serving while they read what it left (the demo
takes about 25 s of CPU; each check reads, none changes what the others see)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli import app as cli

PARTIES = 200


@dataclass
class ServingDemo:
    home: Path  # the demo's own home, <CAPSULE_XERO_HOME>/demo
    output: str  # what the serving demo printed up to "keep running"


CREDENTIALS = (
    "CAPSULE_API_TOKEN",
    "XERO_CLIENT_ID",
    "XERO_CLIENT_SECRET",
    "XERO_TENANT_ID",
    "CAPSULE_XERO_CONFIG",
)


@pytest.fixture(scope="module")
def serving_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingDemo]:
    """A 40-party demo run to its end, then a second demo in the same home that keeps serving its
    stand-ins: the second starts a fresh world rather than tripping over the first."""
    root = tmp_path_factory.mktemp("demo")
    home = {"CAPSULE_XERO_HOME": str(root), "COLUMNS": "200"}  # COLUMNS: rich must not wrap what is read
    first = CliRunner().invoke(
        cli.app,
        ["demo", "--no-serve", "--port", "0", "--parties", "40"],
        env={**dict.fromkeys(CREDENTIALS), **home},
    )
    assert first.exit_code == 0, first.output
    log = root / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "capsule-xero"),
                "demo",
                "--parties",
                str(PARTIES),
                "--port",
                "0",
            ],
            env={k: v for k, v in os.environ.items() if k not in CREDENTIALS} | home,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 600  # a loaded CI machine: the demo's own pace is not under test
        while "keep running" not in log.read_text(errors="replace"):
            assert demo.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        yield ServingDemo(root / "demo", log.read_text(errors="replace"))
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)


def test_the_demo_syncs_a_fresh_world_into_xero_and_a_rerun_writes_nothing(serving_demo: ServingDemo) -> None:
    output = serving_demo.output
    assert "Signed in to Xero" in output and "Demo Company (AU)" in output
    assert "Reconciliation" in output and "The demo approves plan 1" in output
    assert "Nothing to write: Xero holds what Capsule says." in output
    with duckdb.connect(str(serving_demo.home / "capsule_xero.duckdb"), read_only=True) as con:
        # Only the second demo's world: the first one's parties are gone with its home.
        assert con.sql("select count(*) from raw.capsule_parties").fetchall() == [(PARTIES,)]
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
    serving_demo: ServingDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's sync lets go of the home before it keeps serving: `status` (and the Dagster UI the
    demo suggests) read the plans it made instead of waiting for a sync that has finished."""
    for line in (serving_demo.home / "sandbox.env").read_text().splitlines():
        key, _, value = line.partition("=")
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    result = CliRunner().invoke(cli.app, ["status"])
    assert result.exit_code == 0, result.output
    assert "Plans (newest first)" in result.output and "a sync holds" not in result.output
