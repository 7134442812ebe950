"""`capsule-xero auth login|status|logout` as a person uses them, against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from capsule_xero.xero.token_store import TokenStore
from cli import app as cli
from cli import auth as cli_auth
from sandbox.server import SandboxServer


@pytest.fixture
def env(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = server.env() | {"CAPSULE_XERO_HOME": str(tmp_path)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("XERO_TENANT_ID", raising=False)
    # The person's browser: it follows Xero's consent redirect back to our loopback callback.
    monkeypatch.setattr(
        cli_auth.webbrowser, "open", lambda url: httpx.get(url, follow_redirects=True, timeout=10)
    )
    return values


def test_login_asks_which_organisation_when_there_are_several_and_remembers_it(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli.app, ["auth", "login", "--port", "0"], input="2\n")
    assert result.exit_code == 0, result.output
    assert "1. Demo Company (AU)" in result.output and "2. Harbourside Holdings (AU)" in result.output
    assert "sync to Harbourside Holdings (AU)" in result.output
    assert TokenStore(Path(env["CAPSULE_XERO_HOME"])).load().tenant_name == "Harbourside Holdings (AU)"


def test_status_shows_the_organisation_and_days_left_and_warns_when_under_fourteen(
    env: dict[str, str],
) -> None:
    runner = CliRunner()
    runner.invoke(cli.app, ["auth", "login", "--port", "0"], input="1\n")
    result = runner.invoke(cli.app, ["auth", "status"])
    assert (
        result.exit_code == 0 and "Demo Company (AU)" in result.output and "dies in 60 days" in result.output
    )
    store = TokenStore(Path(env["CAPSULE_XERO_HOME"]))
    tokens = store.load()
    tokens.refreshed_at = datetime.now(UTC) - timedelta(days=50)
    store.save(tokens)
    result = runner.invoke(cli.app, ["auth", "status"])
    assert "dies in 10 days" in result.output and "soon" in result.output
    assert tokens.access_token not in result.output and tokens.refresh_token not in result.output


def test_logout_revokes_in_xero_and_deletes_the_tokens(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(cli.app, ["auth", "login", "--port", "0"], input="1\n")
    store = TokenStore(Path(env["CAPSULE_XERO_HOME"]))
    access = store.load().access_token
    result = runner.invoke(cli.app, ["auth", "logout"])
    assert result.exit_code == 0 and "revoked" in result.output
    assert store.load() is None
    # The access token is a JWT that lives out its 30 minutes, but no organisation is connected any more.
    connections = httpx.get(env["XERO_CONNECTIONS_URL"], headers={"Authorization": f"Bearer {access}"})
    assert connections.status_code == 401 or connections.json() == []
    assert runner.invoke(cli.app, ["auth", "status"]).exit_code == 1


def test_login_without_a_client_id_names_the_setting_to_fill(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XERO_CLIENT_ID")
    result = CliRunner().invoke(cli.app, ["auth", "login", "--port", "0"])
    assert result.exit_code == 2 and "XERO_CLIENT_ID" in result.output
