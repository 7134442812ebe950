"""`capsule-xero tenants overview`: every client at a glance, one row each (issue 15), against the
sandbox. A tenant that never synced, one whose DuckDB file a sync holds and one whose file is damaged
each say so in their own row, and the other rows still show."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from capsule_xero.xero.token_store import REFRESH_TOKEN_IDLE_DAYS
from capsule_xero.xero.transports import reset_pacers
from cli import app as cli
from reverse_etl.ledger.schema import ensure_ledger
from sandbox.generator import generate
from sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
# A sync holding a tenant's home, as `capsule-xero sync --apply` does (tests/cli/test_cli_one_run_per_home.py).
HOLDER = """
import sys
from pathlib import Path

from capsule_xero.home_lock import home_lock

with home_lock(Path(sys.argv[1]), "capsule-xero sync --apply"):
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def home(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Clients acme (the sandbox's seeded organisation, 30 parties), bolt (its second organisation) and
    cold, busy (organisations the sign-in was not granted: their rows need no Xero call)."""
    server.call(lambda: server.sandbox.load(generate(parties=30, seed=7)))
    env = server.env()
    capsule_token = env.pop("CAPSULE_API_TOKEN")
    for key, value in (env | {"CAPSULE_XERO_HOME": str(tmp_path)}).items():
        monkeypatch.setenv(key, value)
    for key in ("CAPSULE_API_TOKEN", "XERO_TENANT_ID", "CAPSULE_XERO_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # keep rich from cutting the table cells the tests read
    monkeypatch.setenv("CAPSULE_XERO_TENANT", "")
    monkeypatch.setenv("CLIENT_CAPSULE_TOKEN", capsule_token)
    acme, bolt = list(server.call(lambda: list(server.sandbox.xero.tenants)))[:2]
    organisations = {
        "acme": acme,
        "bolt": bolt,
        "cold": "0b7e5a52-3c1d-4e8f-9a6b-5d4c3b2a1f01",
        "busy": "0b7e5a52-3c1d-4e8f-9a6b-5d4c3b2a1f02",
    }
    listed = "".join(
        f"  - name: {name}\n    capsule_api_url: {env['CAPSULE_API_URL']}\n"
        f"    capsule_token_env: CLIENT_CAPSULE_TOKEN\n    xero_tenant_id: {organisation}\n"
        for name, organisation in organisations.items()
    )
    (tmp_path / "tenants.yaml").write_text(f"tenants:\n{listed}", encoding="utf-8")
    return tmp_path


def _sign_in() -> None:
    login(
        XeroAuth(Settings.from_env()),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )


def _overview(*options: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, ["tenants", "overview", *options])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _row(output: str, tenant: str) -> str:
    return next(line for line in output.splitlines() if line.strip().startswith(tenant + " "))


def test_the_overview_shows_a_synced_clients_figures_and_never_for_one_that_has_not_synced(
    home: Path, server: SandboxServer
) -> None:
    _sign_in()
    before = datetime.now(UTC)
    synced = CliRunner().invoke(cli.app, ["--tenant", "acme", "sync"])
    assert synced.exit_code == 0, synced.output
    reset_pacers()  # each command is a process of its own: what acme's pacer still held is written now
    acme_id = next(iter(server.call(lambda: list(server.sandbox.xero.tenants))))
    limiter = server.sandbox.xero.limiter  # the sandbox's own count of the organisation's calls today
    headers = server.call(lambda: limiter.headers(os.environ["XERO_CLIENT_ID"], acme_id))
    calls_left = int(headers["X-DayLimit-Remaining"])
    assert calls_left < limiter.limits_for(acme_id).day  # the sync did call Xero
    # Xero refused one party for good (a person must act) and another for now (sent again later).
    with duckdb.connect(str(home / "tenants" / "acme" / "capsule_xero.duckdb")) as con:
        ensure_ledger(con)
        con.execute(
            "insert into ledger.error_queue (party_id, operation, message, attempts, first_failed_at, state)"
            " values (1, 'create', 'ValidationException', 1, now(), 'dead'),"
            " (2, 'update', 'Service unavailable', 1, now(), 'retrying')"
        )

    code, output = _overview("--json")
    assert code == 0, output
    rows = {row["tenant"]: row for row in json.loads(output)["tenants"]}
    acme, bolt = rows["acme"], rows["bolt"]
    assert acme["state"] == "ok"
    assert before <= datetime.fromisoformat(acme["last_successful_sync"]) <= datetime.now(UTC)
    assert acme["plans_waiting"] == 1  # a first migration waits for approval
    assert acme["error_queue"] == 1  # the dead item only: the retrying one needs nobody
    assert acme["calls_left_today"] == calls_left
    expires = datetime.fromisoformat(acme["token_refresh_expires_at"])
    assert abs(expires - (before + timedelta(days=REFRESH_TOKEN_IDLE_DAYS))) < timedelta(minutes=5)
    assert bolt["state"] == "never" and bolt["last_successful_sync"] is None
    assert bolt["calls_left_today"] is None
    assert bolt["token_refresh_expires_at"] == acme["token_refresh_expires_at"]  # one shared sign-in

    code, table = _overview()

    assert code == 0, table
    assert f"{datetime.fromisoformat(acme['last_successful_sync']):%Y-%m-%d %H:%M} UTC" in _row(table, "acme")
    assert re.split(r"\s{2,}", _row(table, "acme").strip())[2:4] == ["1", "1"]  # plans waiting, error queue
    assert f"{calls_left:,}" in _row(table, "acme")
    assert f"{expires:%Y-%m-%d}" in _row(table, "acme")
    assert "never" in _row(table, "bolt")
    secrets = json.loads((home / "xero-token.json").read_text(encoding="utf-8"))
    for secret in (secrets["access_token"], secrets["refresh_token"]):
        assert secret not in table and secret not in output


def test_a_busy_or_damaged_client_says_so_in_its_own_row_and_the_others_still_show(home: Path) -> None:
    (home / "tenants" / "cold").mkdir(parents=True)
    (home / "tenants" / "cold" / "capsule_xero.duckdb").write_bytes(b"not a database, cut short" * 40)
    (home / "tenants" / "busy").mkdir(parents=True)
    (home / "tenants" / "busy" / "capsule_xero.duckdb").write_bytes(b"")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home / "tenants" / "busy")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        code, table = _overview()
        _, output = _overview("--json")
    finally:
        holder.communicate("")
    assert code == 1  # a damaged file is a problem for a person, as in `capsule-xero status`
    assert "never" in _row(table, "acme") and "never" in _row(table, "bolt")
    assert "not signed in" in _row(table, "acme")
    assert "damaged" in _row(table, "cold")
    assert "busy" in _row(table, "busy")
    assert f"PID {holder.pid}" in table  # who holds it, as status says
    assert "mv " in table  # the damaged file's line says what to do
    rows = {row["tenant"]: row for row in json.loads(output)["tenants"]}
    assert [rows[name]["state"] for name in ("acme", "bolt", "cold", "busy")] == [
        "never",
        "never",
        "damaged",
        "busy",
    ]
