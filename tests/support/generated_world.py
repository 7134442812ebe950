"""The generated world most staging, reconcile and asset tests read: extracted from the sandbox, staged
and matched once (a session fixture; tests/assets and tests/transform import it into their conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import httpx
import pytest

from capsule_xero.rules.model import Rules
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer
from transform.stages import reconcile, sql_params

SEED = 21
# Every model parameter of the default rules (no rules file).
SQL_PARAMS = sql_params(Rules())


@pytest.fixture(scope="session")
def sql_params() -> dict[str, object]:
    """Every model parameter the world was built with."""
    return dict(SQL_PARAMS)


@pytest.fixture(scope="session")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Dataset, duckdb.DuckDBPyConnection, int]]:
    """A 1,000-party world extracted, one party deleted and re-extracted, then reconciled with the default rules."""
    dataset = generate(parties=1000, seed=SEED)
    sandbox = Sandbox(seed=SEED)
    sandbox.load(dataset)
    home = tmp_path_factory.mktemp("home")
    with SandboxServer(sandbox) as server:
        settings = Settings.from_env(server.env() | {"CAPSULE_XERO_HOME": str(home)})
        login(
            XeroAuth(settings),
            choose_tenant=lambda c: c[0],
            open_url=lambda u: httpx.get(u, follow_redirects=True),
        )
        extract_capsule(settings)
        run_xero_extract(settings)
        deleted = dataset.cases["capsule_only"][0]
        CapsuleControl(server.capsule_url).delete_party(deleted)
        extract_capsule(settings)
    con = duckdb.connect(str(settings.duckdb_path))
    reconcile(con, Rules(), now=dataset.now)
    yield dataset, con, deleted
    con.close()
