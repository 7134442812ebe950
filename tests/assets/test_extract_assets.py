"""The extract assets materialise as a person would from the Dagster UI, against the sandbox."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
from dagster_dlt import DagsterDltResource

from assets.ingest import capsule_extract, xero_extract
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from sandbox.generator import generate
from sandbox.server import SandboxServer


@pytest.fixture
def sandbox_env(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    server.call(lambda: server.sandbox.load(generate(parties=300, seed=11)))
    env = server.env() | {"CAPSULE_XERO_HOME": str(tmp_path)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def logged(instance: dg.DagsterInstance, run_id: str, prefix: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.user_message.startswith(prefix)]


def test_materialising_the_capsule_extract_fills_raw_reports_row_counts_and_logs_its_progress(
    sandbox_env: dict[str, str],
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([capsule_extract], resources={"dlt": DagsterDltResource()}, instance=instance)
    assert result.success
    materialised = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("capsule_extract")
    }
    assert "capsule/parties" in materialised and "capsule/deleted_parties" in materialised
    assert materialised["capsule/parties"]["rows_loaded"].value >= 300
    with duckdb.connect(
        str(Path(sandbox_env["CAPSULE_XERO_HOME"]) / "capsule_xero.duckdb"), read_only=True
    ) as con:
        assert con.execute("select count(*) from raw.capsule_parties").fetchone()[0] == 300
    token = sandbox_env["CAPSULE_API_TOKEN"]
    assert all(token not in str(entry) for entry in instance.all_logs(result.run_id))
    progress = logged(instance, result.run_id, "Reading Capsule: ")
    assert progress[0] == "Reading Capsule: 0 pages, 0 calls, ETA unknown"
    assert progress[-1].endswith("calls left this hour, ETA done") and "/" in progress[-1]


def test_without_a_capsule_token_the_run_fails_naming_the_setting(
    sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAPSULE_API_TOKEN")
    result = dg.materialize(
        [capsule_extract],
        resources={"dlt": DagsterDltResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "CAPSULE_API_TOKEN is not set" in failure.step_failure_data.error.to_string()


def test_materialising_the_xero_extract_after_signing_in_fills_raw_with_every_contact_and_logs_its_progress(
    sandbox_env: dict[str, str], server: SandboxServer
) -> None:
    auth = XeroAuth(Settings.from_env())
    login(
        auth,
        choose_tenant=lambda c: c[0],
        open_url=lambda url: httpx.get(url, follow_redirects=True, timeout=10),
    )
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([xero_extract], resources={"dlt": DagsterDltResource()}, instance=instance)
    assert result.success
    keys = {m.asset_key.to_user_string() for m in result.asset_materializations_for_node("xero_extract")}
    assert {"xero/contacts", "xero/contact_groups", "xero/users"} <= keys
    expected = server.call(lambda: len(server.sandbox.xero.primary.contacts))
    with duckdb.connect(
        str(Path(sandbox_env["CAPSULE_XERO_HOME"]) / "capsule_xero.duckdb"), read_only=True
    ) as con:
        assert con.execute("select count(*) from raw.xero_contacts").fetchone()[0] == expected
    tokens = auth.store.load()
    secrets = (tokens.access_token, tokens.refresh_token, sandbox_env["XERO_CLIENT_SECRET"])
    assert all(secret not in str(entry) for entry in instance.all_logs(result.run_id) for secret in secrets)
    progress = logged(instance, result.run_id, "Reading Xero: ")
    assert progress[0] == "Reading Xero: 0 requests, 0 calls, ETA unknown"
    assert progress[-1].endswith("calls left today, ETA done") and "/" in progress[-1]


def test_the_xero_extract_before_signing_in_fails_saying_how_to_sign_in(sandbox_env: dict[str, str]) -> None:
    result = dg.materialize(
        [xero_extract],
        resources={"dlt": DagsterDltResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "capsule-xero auth login" in failure.step_failure_data.error.to_string()


def test_the_nightly_full_read_config_reads_every_contact_again(
    sandbox_env: dict[str, str], server: SandboxServer
) -> None:
    login(
        XeroAuth(Settings.from_env()),
        choose_tenant=lambda c: c[0],
        open_url=lambda url: httpx.get(url, follow_redirects=True, timeout=10),
    )
    assert dg.materialize([xero_extract], resources={"dlt": DagsterDltResource()}).success

    def contacts_loaded(**run_config: object) -> int:
        result = dg.materialize([xero_extract], resources={"dlt": DagsterDltResource()}, **run_config)
        assert result.success
        (contacts,) = [
            m.metadata
            for m in result.asset_materializations_for_node("xero_extract")
            if m.asset_key.to_user_string() == "xero/contacts"
        ]
        return contacts["rows_loaded"].value if "rows_loaded" in contacts else 0

    everyone = server.call(lambda: len(server.sandbox.xero.primary.contacts))
    assert contacts_loaded() == 0  # nothing changed since the cursor
    assert contacts_loaded(run_config={"ops": {"xero_extract": {"config": {"full_read": True}}}}) == everyone
