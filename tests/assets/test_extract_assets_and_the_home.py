"""The Dagster path keeps the same promises as the CLI (issue 11, items 1 and 6): a lost or emptied
DuckDB file makes the extract assets read in full, and a Dagster step never runs while ``capsule-xero sync``
holds the home: it waits, then fails naming the sync."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
from dagster_dlt import DagsterDltResource

from assets import ingest, resources
from assets.ingest import capsule_extract, xero_extract
from assets.resources import HomeDuckDBResource
from capsule_xero.home_lock import HomeBusy
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from sandbox.generator import generate
from sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
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
    server.call(lambda: server.sandbox.load(generate(parties=300, seed=11)))
    home = tmp_path / "home"
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(home)}).items():
        monkeypatch.setenv(key, value)
    login(
        XeroAuth(Settings.from_env()),
        choose_tenant=lambda c: c[0],
        open_url=lambda url: httpx.get(url, follow_redirects=True, timeout=10),
    )
    return home


@contextmanager
def running_sync(home: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.communicate("", timeout=30)


def materialise(*assets: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
    return dg.materialize(list(assets), resources={"dlt": DagsterDltResource()}, raise_on_error=False)


def test_after_the_duckdb_file_is_lost_or_emptied_the_extract_assets_read_in_full(
    home: Path, server: SandboxServer
) -> None:
    assert materialise(capsule_extract, xero_extract).success
    path = home / "capsule_xero.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("delete from raw.xero_contacts; delete from raw.capsule_parties")

    assert materialise(capsule_extract, xero_extract).success

    contacts = server.call(lambda: len(server.sandbox.xero.primary.contacts))
    parties = server.call(lambda: len(server.sandbox.capsule.parties.by_id))
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from raw.xero_contacts").fetchone()[0] == contacts
        assert con.execute("select count(*) from raw.capsule_parties").fetchone()[0] == parties
    path.unlink()

    assert materialise(capsule_extract, xero_extract).success

    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from raw.xero_contacts").fetchone()[0] == contacts
        assert con.execute("select count(*) from raw.capsule_parties").fetchone()[0] == parties


def test_an_extract_step_while_a_cli_sync_holds_the_home_fails_naming_that_sync(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "DAGSTER_WAIT_SECONDS", 0.5)
    with running_sync(home) as sync:
        result = materialise(capsule_extract)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.to_string()
    assert "Another sync is running" in message and f"PID {sync.pid}" in message
    assert not (home / "capsule_xero.duckdb").exists()


def test_a_reconcile_or_write_step_gets_the_duckdb_file_only_while_no_cli_sync_holds_the_home(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "DAGSTER_WAIT_SECONDS", 0.5)
    duckdb_resource = HomeDuckDBResource(database=str(home / "capsule_xero.duckdb"))
    with (
        running_sync(home) as sync,
        pytest.raises(HomeBusy, match=f"PID {sync.pid}"),
        duckdb_resource.get_connection(),
    ):
        pass
    with duckdb_resource.get_connection() as con:
        assert con.execute("select 1").fetchone() == (1,)
