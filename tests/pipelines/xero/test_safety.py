"""Errors a person must fix, secrets kept out of everything written, drift, and where files go."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from dlt.common.runtime import run_context

import sandbox.xero.organisation as organisation
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, XeroAuthError
from pipelines.xero import XeroAccessDenied, XeroRun, run_xero_extract, xero_source
from sandbox.app import Sandbox
from sandbox.control import SandboxControl
from sandbox.generator import Dataset
from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import XeroIdentityControl
from tests.pipelines.xero.conftest import api_calls, options, query, token_refreshes


def test_a_401_that_is_not_expiry_is_tried_once_more_with_a_refreshed_token_and_the_read_goes_on(
    settings: Settings, auth: XeroAuth, dataset: Dataset, control: SandboxControl
) -> None:
    tokens = auth.store.load()
    tokens.access_token = "not-a-token-xero-issued"  # still valid by our clock, unknown to Xero
    auth.store.save(tokens)
    since = control.last_seq()
    run = XeroRun()
    run_xero_extract(settings, options=options(), run=run)
    statuses = [c["status"] for c in api_calls(control, since)]
    assert statuses[0] == 401 and set(statuses[1:]) == {200}  # the refused call, then the read
    assert len(token_refreshes(control, since)) == 1
    assert sum(run.records.values()) > 0


def test_a_401_a_refresh_cannot_cure_says_to_sign_in_again(
    settings: Settings, auth: XeroAuth, dataset: Dataset, control: SandboxControl
) -> None:
    tokens = auth.store.load()
    tokens.access_token = "not-a-token-xero-issued"
    tokens.refresh_token = "not-a-refresh-token-xero-issued"  # the consent is gone too
    auth.store.save(tokens)
    since = control.last_seq()
    with pytest.raises(XeroAuthError, match=r"consent again.*capsule-xero auth login"):
        run_xero_extract(settings, options=options(), run=XeroRun())
    assert [c["status"] for c in api_calls(control, since)] == [401]  # the first refusal ends the run
    assert len(token_refreshes(control, since)) == 1


def test_a_403_is_not_retried_and_names_the_organisation_and_what_to_check(
    settings: Settings, auth: XeroAuth, dataset: Dataset, control: SandboxControl
) -> None:
    foreign = str(uuid.UUID(int=42))
    since = control.last_seq()
    with pytest.raises(XeroAccessDenied) as denied:
        run_xero_extract(
            settings.model_copy(update={"xero_tenant_id": foreign}), options=options(), run=XeroRun()
        )
    assert f"organisation {foreign}" in str(denied.value) and "XERO_TENANT_ID" in str(denied.value)
    assert "403" in str(denied.value)
    assert [c["status"] for c in api_calls(control, since)] == [403]
    # The failed run's traces in the working folder carry no credential either.
    secrets = _secrets(auth, auth.store.load())
    for path in (p for p in (settings.home / "dlt").rglob("*") if p.is_file()):
        assert not any(secret.encode() in path.read_bytes() for secret in secrets), path


def test_a_missing_scope_says_which_scope_to_grant(
    server: SandboxServer, sandbox: Sandbox, settings: Settings, auth: XeroAuth, dataset: Dataset
) -> None:
    tokens = auth.store.load()
    narrow = server.call(
        lambda: sandbox.xero.identity.issue_access_token(scopes=frozenset({"accounting.settings.read"}))
    )
    tokens.access_token = narrow.token
    auth.store.save(tokens)
    with pytest.raises(XeroAccessDenied, match=r"insufficient_scope.*accounting.contacts"):
        run_xero_extract(settings, options=options(), run=XeroRun())


def _secrets(auth: XeroAuth, *tokens: Any) -> list[str]:
    out = [auth.settings.xero_client_secret.get_secret_value()]
    for token in tokens:
        out += [token.access_token, token.refresh_token, token.previous_refresh_token]
    return [s for s in out if s]


def test_no_token_or_client_secret_in_logs_the_duckdb_file_or_the_pipelines_folder(
    settings: Settings,
    auth: XeroAuth,
    dataset: Dataset,
    control: SandboxControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    before = auth.store.load()

    def expire_after_first_page(table: str, page: int, records: int) -> None:
        if table == "xero_contacts" and page == 1:
            control.set_clock(advance_seconds=31 * 60)  # forces a refresh mid-run: two token sets

    run_xero_extract(settings, options=options(page_size=100, on_page=expire_after_first_page), run=XeroRun())
    run_xero_extract(settings, options=options(), run=XeroRun())
    after = auth.store.load()
    assert after.access_token != before.access_token
    secrets = _secrets(auth, before, after)
    assert len(secrets) >= 5
    assert "xero_contacts" in caplog.text  # the logs did capture the runs
    for secret in secrets:
        assert secret not in caplog.text
    written = [settings.duckdb_path, *(p for p in (settings.home / "dlt").rglob("*") if p.is_file())]
    assert len(written) > 10
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a secret is in {path}"


def test_schema_drift_is_recorded_and_reported_and_the_data_still_loads(
    server: SandboxServer,
    sandbox: Sandbox,
    settings: Settings,
    auth: XeroAuth,
    dataset: Dataset,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Xero starts sending a field its spec does not know, and Discount as text.
    monkeypatch.setattr(organisation, "VIEW_ORDER", (*organisation.VIEW_ORDER, "LoyaltyTier"))
    first, second = (c["ContactID"] for c in dataset.xero_contacts[:2])

    def change() -> None:
        sandbox.xero.primary.contacts[first]["LoyaltyTier"] = "Gold"
        sandbox.xero.primary.contacts[second]["Discount"] = "12.5%"

    server.call(change)
    caplog.set_level(logging.WARNING)
    report = XeroRun()
    run_xero_extract(settings, options=options(), run=report)
    found = {(d["object"], d["field"], d["change"], d["observed_type"]) for d in report.drift}
    assert found == {
        ("Contact", "LoyaltyTier", "new field", "string"),
        ("Contact", "Discount", "type changed", "string"),
    }
    assert "Xero schema drift: Contact field LoyaltyTier is new" in caplog.text
    assert "Xero schema drift: Contact field Discount changed type (number → string)" in caplog.text
    rows = query(
        settings,
        "select object, field, change, expected_type, observed_type, example_id from raw.xero_schema_drift order by field",
    )
    assert rows == [
        ("Contact", "Discount", "type changed", "number", "string", second),
        ("Contact", "LoyaltyTier", "new field", None, "string", first),
    ]
    assert query(settings, "select loyalty_tier from raw.xero_contacts where contact_id = ?", first) == [
        ("Gold",)
    ]
    assert query(settings, "select discount__v_text from raw.xero_contacts where contact_id = ?", second) == [
        ("12.5%",)
    ]
    assert query(settings, "select count(*) from raw.xero_contacts")[0][0] == len(dataset.xero_contacts)


def test_the_dlt_working_folder_is_under_capsule_xero_home_and_nothing_lands_in_the_users_home(
    settings: Settings, auth: XeroAuth, dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    run_xero_extract(settings, options=options(), run=XeroRun())
    assert (settings.home / "dlt" / "xero" / "state.json").is_file()
    assert settings.duckdb_path.is_file()
    assert list(user_home.iterdir()) == []
    # dlt's global folder (~/.dlt, or /var/dlt for root), where it drops an anonymous id on every
    # step even with telemetry off, is pointed into CAPSULE_XERO_HOME as well.
    assert run_context.active().global_dir == str(settings.home / "dlt")
    assert (settings.home / "dlt" / ".anonymous_id").is_file()


def test_the_source_is_built_without_any_credential_or_call(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID", "CAPSULE_XERO_HOME"):
        monkeypatch.delenv(name, raising=False)
    source = xero_source()
    assert set(source.resources) >= {"xero_contacts", "xero_contact_groups", "xero_users"}


def test_a_custom_connection_extracts_without_a_tenant_header(
    server: SandboxServer, sandbox: Sandbox, dataset: Dataset, tmp_path: Path, control: SandboxControl
) -> None:
    app = XeroIdentityControl(server.xero_url).app("custom")
    env = server.env() | {
        "CAPSULE_XERO_HOME": str(tmp_path / "custom-home"),
        "XERO_CLIENT_ID": app["client_id"],
        "XERO_CLIENT_SECRET": app["client_secret"],
        "XERO_CUSTOM_CONNECTION": "true",
    }
    settings = Settings.from_env(env)
    since = control.last_seq()
    run_xero_extract(settings, options=options(), run=XeroRun())
    calls = api_calls(control, since)
    assert calls and all(c["status"] == 200 for c in calls)
    assert calls[0]["tenant"] == sandbox.xero.primary_tenant_id  # the one organisation it serves
    assert query(settings, "select count(*) from raw.xero_contacts")[0][0] == len(dataset.xero_contacts)
