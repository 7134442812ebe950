"""The generated world most asset tests read: extracted from the sandbox, staged and matched once."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import httpx
import pytest

from assets.sql import build
from assets.staging import MATCH_PARAMS, STAGING_PARAMS
from assets.validation import build_quarantine
from capsule_xero.settings import Settings
from capsule_xero.xero_auth import XeroAuth, login
from pipelines.capsule import extract_capsule
from pipelines.xero import run_xero_extract
from sandbox.app import Sandbox
from sandbox.capsule.control import CapsuleControl
from sandbox.generator import Dataset, generate
from sandbox.server import SandboxServer

SEED = 21
# The desired-state parameters (README "Rules parameters") until the rules file provides them.
DESIRED_PARAMS = {
    "people_as_contacts": False,
    "group_tags": ["Customer", "Supplier", "Wholesale", "VIP"],
    "all_tags_are_groups": False,
    "owner_groups": True,
    "owner_group_prefix": "Owner: ",
}
SQL_PARAMS = STAGING_PARAMS | MATCH_PARAMS | DESIRED_PARAMS


@pytest.fixture(scope="session")
def sql_params() -> dict[str, object]:
    """Every model parameter the world was built with."""
    return dict(SQL_PARAMS)


@pytest.fixture(scope="session")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Dataset, duckdb.DuckDBPyConnection, int]]:
    """A 1,000-party world extracted, one party deleted and re-extracted, then staged, matched and mapped."""
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
    build(con, "staging", "capsule_parties", STAGING_PARAMS)
    build(con, "staging", "xero_contacts")
    build(con, "reconcile", "contact_matches", MATCH_PARAMS)
    build_quarantine(con)
    # Every party in scope until the rules file's scope (assets/rules_sql.py) takes over.
    con.execute(
        "create or replace table reconcile.sync_scope as"
        " select party_id, true as in_scope, cast(null as varchar) as scope_reason from staging.capsule_parties"
    )
    build(con, "reconcile", "mapped_contacts", SQL_PARAMS)
    build(con, "reconcile", "current_contacts", SQL_PARAMS)
    yield dataset, con, deleted
    con.close()
