"""`capsule-xero auth login` with a tenants file: one shared sign-in asks Xero for what every client's
rules need, or with --tenant for what that client's need, and names any client it leaves short
(against the sandbox, the authorize URL's `scope` parameter read as Xero would)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from capsule_xero.xero.scopes import SIGN_IN_SCOPES
from capsule_xero.xero.token_store import TokenStore
from cli import app as cli
from cli import auth as cli_auth
from sandbox.server import SandboxServer

NOT_GRANTED = "0b7e5a52-3c1d-4e8f-9a6b-5d4c3b2a1f00"


@pytest.fixture
def asked(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Two clients on the sandbox's two organisations: acme reads invoices, bolt reads payments. Each
    sign-in's requested scopes are recorded as the browser opens the authorize URL."""
    for key, value in (server.env() | {"CAPSULE_XERO_HOME": str(tmp_path)}).items():
        monkeypatch.setenv(key, value)
    for name in ("XERO_TENANT_ID", "CAPSULE_XERO_CONFIG", "CAPSULE_XERO_TENANTS", "XERO_SCOPE_STYLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSULE_XERO_TENANT", "")  # --tenant sets it; the fixture's undo removes it
    monkeypatch.setenv("COLUMNS", "250")
    acme, bolt = list(server.call(lambda: list(server.sandbox.xero.tenants)))[:2]
    (tmp_path / "acme.yaml").write_text("money: {read: [invoices]}\n", encoding="utf-8")
    (tmp_path / "bolt.yaml").write_text("money: {read: [payments]}\n", encoding="utf-8")
    (tmp_path / "tenants.yaml").write_text(
        f"""tenants:
  - {{name: acme, capsule_token_env: ACME_CAPSULE_TOKEN, xero_tenant_id: {acme}, rules: acme.yaml}}
  - {{name: bolt, capsule_token_env: BOLT_CAPSULE_TOKEN, xero_tenant_id: {bolt}, rules: bolt.yaml}}
""",
        encoding="utf-8",
    )
    scopes: list[list[str]] = []

    def browser(url: str) -> None:
        scopes.append(parse_qs(urlsplit(url).query)["scope"][0].split())
        httpx.get(url, follow_redirects=True, timeout=10)  # the person consents

    monkeypatch.setattr(cli_auth.webbrowser, "open", browser)
    return scopes


def test_login_for_one_tenant_asks_xero_only_for_the_scopes_its_rules_need_and_names_who_it_leaves_short(
    asked: list[list[str]],
) -> None:
    result = CliRunner().invoke(cli.app, ["--tenant", "acme", "auth", "login", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert asked == [[*SIGN_IN_SCOPES, "accounting.invoices.read"]]
    assert "acme: ready" in result.output
    assert (
        "bolt: its rules need accounting.payments.read, which this sign-in lacks: run"
        " `capsule-xero auth login` without --tenant" in result.output
    )


def test_login_without_a_tenant_asks_once_for_every_tenants_needs_and_serves_them_all(
    asked: list[list[str]], tmp_path: Path
) -> None:
    # cairn reads Xero through its own custom connection: its needs (writing invoices) are not asked for.
    (tmp_path / "cairn.yaml").write_text(
        "billing: {won_opportunities: quote, account_code: '200'}\n", encoding="utf-8"
    )
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        tenants.read_text(encoding="utf-8")
        + f"  - {{name: cairn, capsule_token_env: CAIRN_CAPSULE_TOKEN, xero_tenant_id: {NOT_GRANTED},"
        " rules: cairn.yaml, xero_client_id_env: CAIRN_XERO_ID, xero_client_secret_env: CAIRN_XERO_SECRET}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.app, ["auth", "login", "--port", "0"])  # no organisation asked for
    assert result.exit_code == 0, result.output
    assert asked == [[*SIGN_IN_SCOPES, "accounting.invoices.read", "accounting.payments.read"]]
    assert "acme: ready" in result.output and "bolt: ready" in result.output
    assert "cairn: its own custom connection" in result.output
    granted = TokenStore(tmp_path).load().scopes
    assert {"accounting.invoices.read", "accounting.payments.read"} <= set(granted)


def test_login_without_a_tenant_names_a_tenant_whose_organisation_was_not_granted(
    asked: list[list[str]], tmp_path: Path
) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        tenants.read_text(encoding="utf-8")
        + f"  - {{name: stray, capsule_token_env: STRAY_CAPSULE_TOKEN, xero_tenant_id: {NOT_GRANTED}}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.app, ["auth", "login", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert f"stray: organisation {NOT_GRANTED} was not granted" in result.output
    assert "acme: ready" in result.output


def test_login_help_says_one_sign_in_serves_every_client() -> None:
    result = CliRunner().invoke(cli.app, ["auth", "login", "--help"], env={"COLUMNS": "250"})
    assert "one sign-in serves every" in " ".join(result.output.split())
