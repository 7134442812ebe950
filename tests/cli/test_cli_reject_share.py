"""`capsule-xero sync` stops when rejects pass ``validation.max_reject_share`` (README, "Validate"),
as Dagster's blocking checks do: one clear message, exit 1, no plan, nothing written to Xero."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from cli import app as cli
from sandbox.generator import generate
from sandbox.server import SandboxServer

RULES = """\
validation:
  max_reject_share: {share}
approval:
  max_operations: 100000
  archives_need_approval: false
  first_migration_needs_approval: false
"""


@pytest.fixture
def signed_in(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A generated 200-party world (a few percent of its parties carry a bad ABN, e-mail or phone)."""
    server.call(lambda: server.sandbox.load(generate(parties=200, seed=21)))
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(tmp_path / "home")}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CAPSULE_XERO_CONFIG", str(tmp_path / "capsule-xero.yaml"))
    monkeypatch.setenv("COLUMNS", "400")  # one line stays one line
    settings = Settings.from_env()
    login(  # before the test writes its rules file: sign in with the default scopes
        XeroAuth(settings, rules=Rules()),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )
    return settings


def xero_writes(server: SandboxServer) -> list[str]:
    records = server.call(lambda: server.sandbox.calls.records("xero", 0))
    return [f"{c.method} {c.path}" for c in records if c.method in {"POST", "PUT"} and "/api.xro/" in c.path]


def test_sync_apply_stops_when_quarantined_parties_pass_the_max_reject_share(
    signed_in: Settings, server: SandboxServer, tmp_path: Path
) -> None:
    (tmp_path / "capsule-xero.yaml").write_text(RULES.format(share=0.01))

    result = CliRunner().invoke(cli.app, ["sync", "--apply"])

    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if "max_reject_share" in line]
    assert "of Capsule parties" in line and "break a data rule" in line
    assert "validation.max_reject_share (1.0%)" in line
    assert "`capsule-xero report quarantine`" in line and "nothing was planned or written" in line
    assert "Traceback" not in result.output
    with duckdb.connect(str(signed_in.duckdb_path), read_only=True) as con:
        quarantined = con.execute("select count(distinct record_id) from staging.quarantine").fetchone()
        assert quarantined is not None and quarantined[0] > 2  # the world does break the rules
        assert con.execute("select count(*) from ledger.plans").fetchone() == (0,)
    assert xero_writes(server) == []


def test_sync_plans_when_the_quarantined_share_is_within_the_limit(
    signed_in: Settings, server: SandboxServer, tmp_path: Path
) -> None:
    (tmp_path / "capsule-xero.yaml").write_text(RULES.format(share=0.5))

    result = CliRunner().invoke(cli.app, ["sync"])

    assert result.exit_code == 0, result.output
    assert "max_reject_share" not in result.output
    with duckdb.connect(str(signed_in.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*) from ledger.plans").fetchone() == (1,)
