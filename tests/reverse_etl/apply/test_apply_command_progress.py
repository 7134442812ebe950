"""``capsule-xero apply`` says how far it has got, with the calls it made, the calls left today and an
ETA: plain lines when stdout is not a terminal (a log file, a cron job)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from sandbox.server import SandboxServer
from tests.reverse_etl.plans_by_hand import add_plan, cli, command_env, create, open_ledger


def test_the_apply_command_prints_each_stage_with_its_calls_the_calls_left_today_and_an_eta(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    auth: XeroAuth,
    parties: list[int],
) -> None:
    command_env(monkeypatch, server, settings)
    with open_ledger(settings.duckdb_path) as con:
        add_plan(con, [create(p) for p in parties[:3]])
    result = CliRunner().invoke(cli(), ["apply"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    contacts = [line for line in lines if line.startswith("Writing contacts (batches of ≤ 50): ")]
    assert contacts[0].startswith("Writing contacts (batches of ≤ 50): 0/1 batches, 0 calls, ")
    assert "calls left today, ETA " in contacts[0]
    last = contacts[-1]
    assert last.startswith("Writing contacts (batches of ≤ 50): 1/1 batches, ")
    assert last.endswith("calls left today, ETA done")
    assert any(line.startswith("Writing ContactIDs to Capsule: ") for line in lines)
