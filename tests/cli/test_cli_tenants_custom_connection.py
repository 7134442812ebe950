"""A tenant with its own Xero custom connection (client_credentials: one organisation each) keeps its
tokens in its own folder and needs no shared sign-in; one that serves another organisation is
refused before any data is read (against the sandbox's custom connections)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.tenants import TenantsError, read_tenants
from capsule_xero.xero.auth import XeroAuth
from capsule_xero.xero.token_store import STORE_FILE_NAME, TokenStore
from cli import app as cli
from sandbox.generator import generate
from sandbox.server import SandboxServer
from sandbox.xero.oauth_control import XeroIdentityControl


@pytest.fixture
def home(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """acme: its own custom connection to the sandbox's seeded organisation; bolt: the shared sign-in
    on the second one."""
    server.call(lambda: server.sandbox.load(generate(parties=20, seed=4)))
    env = server.env()
    capsule_token = env.pop("CAPSULE_API_TOKEN")
    for key, value in (env | {"CAPSULE_XERO_HOME": str(tmp_path)}).items():
        monkeypatch.setenv(key, value)
    for name in ("CAPSULE_API_TOKEN", "XERO_TENANT_ID", "CAPSULE_XERO_CONFIG", "XERO_CUSTOM_CONNECTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSULE_XERO_TENANT", "")  # --tenant sets it; the fixture's undo removes it
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("ACME_CAPSULE_TOKEN", capsule_token)
    acme, bolt = list(server.call(lambda: list(server.sandbox.xero.tenants)))[:2]
    custom = XeroIdentityControl(server.xero_url).register_app(
        name="acme's own", kind="custom", tenant_id=acme
    )
    monkeypatch.setenv("ACME_XERO_CLIENT_ID", custom["client_id"])
    monkeypatch.setenv("ACME_XERO_CLIENT_SECRET", custom["client_secret"])
    (tmp_path / "tenants.yaml").write_text(
        f"""tenants:
  - name: acme
    capsule_api_url: {env["CAPSULE_API_URL"]}
    capsule_token_env: ACME_CAPSULE_TOKEN
    xero_tenant_id: {acme}
    xero_client_id_env: ACME_XERO_CLIENT_ID
    xero_client_secret_env: ACME_XERO_CLIENT_SECRET
  - name: bolt
    capsule_token_env: BOLT_CAPSULE_TOKEN
    xero_tenant_id: {bolt}
""",
        encoding="utf-8",
    )
    return tmp_path


def test_a_tenant_with_its_own_custom_connection_reads_its_organisation_with_no_shared_sign_in(
    home: Path, server: SandboxServer
) -> None:
    runner = CliRunner()
    login = runner.invoke(cli.app, ["--tenant", "acme", "auth", "login"])
    assert login.exit_code == 0 and "Custom connection ready" in login.output, login.output
    own = TokenStore(home / "tenants" / "acme").load()
    assert own is not None and own.kind == "custom"
    assert not (home / STORE_FILE_NAME).exists()  # the shared sign-in was neither needed nor touched
    # What the extract does for acme: its settings' auth, one page of contacts from its organisation.
    settings = Settings.from_env({**os.environ, "CAPSULE_XERO_TENANT": "acme"})
    auth = XeroAuth(settings)
    response = httpx.get(
        f"{settings.xero_api_url}/Contacts",
        headers=auth.headers() | {"Accept": "application/json"},
        params={"page": 1},
    )
    assert response.status_code == 200
    seeded = server.call(lambda: set(server.sandbox.xero.primary.contacts))
    read = {c["ContactID"] for c in response.json()["Contacts"]}
    assert read and read <= seeded  # acme's organisation, through acme's own connection
    assert "custom connection" in runner.invoke(cli.app, ["--tenant", "acme", "auth", "status"]).output
    # bolt still uses the shared sign-in, which nobody has made yet.
    assert "Not signed in" in runner.invoke(cli.app, ["--tenant", "bolt", "auth", "status"]).output


def test_a_custom_connection_serving_another_organisation_is_refused_before_anything_is_read(
    home: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    bolt = list(server.call(lambda: list(server.sandbox.xero.tenants)))[1]
    wrong = XeroIdentityControl(server.xero_url).register_app(name="bolt's", kind="custom", tenant_id=bolt)
    monkeypatch.setenv("ACME_XERO_CLIENT_ID", wrong["client_id"])
    monkeypatch.setenv("ACME_XERO_CLIENT_SECRET", wrong["client_secret"])
    result = CliRunner().invoke(cli.app, ["--tenant", "acme", "auth", "login"])
    assert result.exit_code == 1
    assert "the Xero custom connection serves" in result.output and "not organisation" in result.output
    assert not (home / "tenants" / "acme" / STORE_FILE_NAME).exists()  # no token: no call reads bolt's data


def test_a_tenant_naming_only_one_of_its_custom_connections_variables_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text(
        "tenants:\n  - name: acme\n    capsule_token_env: ACME_CAPSULE_TOKEN\n"
        "    xero_tenant_id: 4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b\n    xero_client_id_env: ACME_XERO_CLIENT_ID\n",
        encoding="utf-8",
    )
    with pytest.raises(TenantsError) as refused:
        read_tenants({"CAPSULE_XERO_HOME": str(tmp_path)})
    assert refused.value.problems == [
        f"{tmp_path / 'tenants.yaml'}: tenant 'acme': xero_client_id_env and xero_client_secret_env go"
        " together: name both (its own Xero custom connection) or neither (the shared sign-in)"
    ]
