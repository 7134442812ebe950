"""The apply and retry commands on the apply loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth
from reverse_etl.writers.capsule import CapsuleWriteBack
from reverse_etl.writers.xero import XeroContactWriter
from sandbox.control import SandboxControl
from sandbox.server import SandboxServer
from sandbox.xero.control import XeroControl
from tests.reverse_etl.conftest import CONTACTS, by_number
from tests.reverse_etl.plans_by_hand import T0, add_plan, cli, command_env, create, open_ledger, run


def test_the_apply_command_reads_xero_writes_the_newest_approved_plan_and_then_has_nothing_to_do(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    auth: XeroAuth,
    parties: list[int],
    xero: XeroControl,
    control: SandboxControl,
) -> None:
    command_env(monkeypatch, server, settings)
    with open_ledger(settings.duckdb_path) as con:
        plan_id = add_plan(con, [create(p) for p in parties[:3]])
    since = control.last_seq()
    first = CliRunner().invoke(cli(), ["apply"])
    assert first.exit_code == 0, first.output
    assert "3 created" in first.output and f"Plan {plan_id} is applied" in first.output
    assert len(by_number(xero)) == 3
    contact_calls = [(c["method"], c["path"]) for c in control.calls("xero", since) if c["path"] == CONTACTS]
    assert contact_calls[0] == ("GET", CONTACTS) and contact_calls[-1] == (
        "PUT",
        CONTACTS,
    )  # read, then write
    again = CliRunner().invoke(cli(), ["apply"])
    assert (
        again.exit_code == 0 and f"Nothing to apply: the newest plan, {plan_id}, is applied" in again.output
    )


def test_the_apply_command_refuses_a_plan_xero_has_moved_on_from_and_exits_1(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    auth: XeroAuth,
    parties: list[int],
    xero: XeroControl,
) -> None:
    command_env(monkeypatch, server, settings)
    with open_ledger(settings.duckdb_path) as con:
        plan_id = add_plan(con, [create(parties[0])], xero_state_at=datetime.now(UTC) - timedelta(days=1))
    xero.create_contact(Name="Made By A Person Meanwhile")
    result = CliRunner().invoke(cli(), ["apply", str(plan_id)])
    assert result.exit_code == 1 and "out of date" in result.output
    assert [c["Name"] for c in xero.contacts()] == ["Made By A Person Meanwhile"]


def test_the_retry_command_releases_a_waiting_record_and_says_which_were_not_waiting(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    settings: Settings,
    writer: XeroContactWriter,
    back: CapsuleWriteBack,
    parties: list[int],
) -> None:
    command_env(monkeypatch, server, settings)
    refused = create(parties[0], name="Smith <Plumbing> Pty Ltd")
    with open_ledger(settings.duckdb_path) as con:
        assert run(con, settings, add_plan(con, [refused]), writer, back, now=T0).failed == 1
    result = CliRunner().invoke(cli(), ["retry", str(parties[0]), "42"])
    assert result.exit_code == 1  # 42 was not waiting: said, not silently passed over
    assert f"Released {parties[0]}: the next `capsule-xero sync --apply` sends it again." in result.output
    assert "Not waiting in the error queue: 42" in result.output
    with open_ledger(settings.duckdb_path) as con:
        again = run(con, settings, add_plan(con, [refused]), writer, back, now=T0 + timedelta(hours=1))
    assert (again.failed, again.queued) == (1, 0)  # sent again as it was, and refused again
