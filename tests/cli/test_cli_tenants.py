"""`--tenant NAME` and `capsule-xero tenants list | check`: many clients from one install, each in
its own folder, none able to reach another's data (against the sandbox)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from capsule_xero.settings import Settings
from capsule_xero.xero.auth import XeroAuth, login
from capsule_xero.xero.transports import reset_pacers
from cli import app as cli
from sandbox.generator import generate
from sandbox.server import SandboxServer

NOT_GRANTED = "0b7e5a52-3c1d-4e8f-9a6b-5d4c3b2a1f00"


@pytest.fixture
def home(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two clients, acme (the sandbox's seeded organisation) and bolt (its second, empty one)."""
    server.call(lambda: server.sandbox.load(generate(parties=60, seed=4)))
    env = server.env()
    capsule_token = env.pop("CAPSULE_API_TOKEN")
    for key, value in (env | {"CAPSULE_XERO_HOME": str(tmp_path)}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAPSULE_API_TOKEN", raising=False)
    monkeypatch.delenv("XERO_TENANT_ID", raising=False)
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # keep rich from cutting the table cells the tests read
    monkeypatch.setenv("CAPSULE_XERO_TENANT", "")  # --tenant sets it; the fixture's undo removes it
    monkeypatch.setenv("ACME_CAPSULE_TOKEN", capsule_token)
    monkeypatch.setenv("BOLT_CAPSULE_TOKEN", capsule_token)
    acme, bolt = list(server.call(lambda: list(server.sandbox.xero.tenants)))[:2]
    (tmp_path / "tenants.yaml").write_text(
        f"""tenants:
  - name: acme
    capsule_api_url: {env["CAPSULE_API_URL"]}
    capsule_token_env: ACME_CAPSULE_TOKEN
    xero_tenant_id: {acme}
  - name: bolt
    capsule_api_url: {env["CAPSULE_API_URL"]}
    capsule_token_env: BOLT_CAPSULE_TOKEN
    xero_tenant_id: {bolt}
  - name: stray
    capsule_api_url: {env["CAPSULE_API_URL"]}
    capsule_token_env: STRAY_CAPSULE_TOKEN
    xero_tenant_id: {NOT_GRANTED}
""",
        encoding="utf-8",
    )
    return tmp_path


def _sign_in() -> None:
    """One Xero sign-in, at the top-level home, granted every sandbox organisation."""
    login(
        XeroAuth(Settings.from_env()),
        choose_tenant=lambda c: c[0],
        open_url=lambda u: httpx.get(u, follow_redirects=True),
    )


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_a_command_without_a_tenant_names_the_tenants_that_exist(home: Path) -> None:
    result = CliRunner().invoke(cli.app, ["status"])
    assert result.exit_code == 2
    assert "capsule-xero --tenant NAME" in result.output and "acme, bolt, stray" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_an_unknown_tenant_exits_2_naming_those_that_exist(home: Path) -> None:
    result = CliRunner().invoke(cli.app, ["--tenant", "acne", "status"])
    assert result.exit_code == 2
    assert "No tenant 'acne'" in result.output and "acme, bolt, stray" in result.output


def test_tenants_list_shows_each_client_and_whether_its_token_is_set_never_the_token(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOLT_CAPSULE_TOKEN")
    result = CliRunner().invoke(cli.app, ["tenants", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "ACME_CAPSULE_TOKEN set" in rows["acme"] and str(home / "tenants" / "acme") in rows["acme"]
    assert "BOLT_CAPSULE_TOKEN not set" in rows["bolt"]
    assert os.environ["ACME_CAPSULE_TOKEN"] not in result.output


def test_extract_for_one_tenant_writes_only_into_its_own_folder(home: Path, server: SandboxServer) -> None:
    _sign_in()
    acme_id, bolt_id = list(server.call(lambda: list(server.sandbox.xero.tenants)))[:2]
    runner = CliRunner()
    bolt = runner.invoke(cli.app, ["--tenant", "bolt", "extract"])
    assert bolt.exit_code == 0, bolt.output
    reset_pacers()  # each command is a process of its own: what bolt's pacer still held is written now
    bolt_files = _files(home / "tenants" / "bolt")
    top_level_before = {p.name for p in home.iterdir()}
    acme = runner.invoke(cli.app, ["--tenant", "acme", "extract"])
    assert acme.exit_code == 0, acme.output
    assert _files(home / "tenants" / "bolt") == bolt_files  # acme's run touched nothing of bolt's
    assert {p.name for p in home.iterdir()} == top_level_before  # nor any DuckDB file outside its folder
    assert not (home / "capsule_xero.duckdb").exists()
    bolt_budget = json.loads((home / "tenants" / "bolt" / "xero-budget.json").read_text(encoding="utf-8"))
    assert acme_id not in json.dumps(bolt_budget) and bolt_id in json.dumps(bolt_budget)
    seeded = server.call(lambda: len(server.sandbox.xero.primary.contacts))
    with duckdb.connect(str(home / "tenants" / "acme" / "capsule_xero.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.xero_contacts").fetchone()[0] == seeded
    with duckdb.connect(str(home / "tenants" / "bolt" / "capsule_xero.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.xero_contacts").fetchone()[0] == 0  # its own, empty org


def test_a_tenant_whose_organisation_the_sign_in_was_not_granted_gets_one_line_and_no_data(
    home: Path,
) -> None:
    _sign_in()
    result = CliRunner().invoke(cli.app, ["--tenant", "stray", "extract", "--only", "xero"])
    assert result.exit_code != 0
    assert NOT_GRANTED in result.output
    assert "Traceback" not in result.output
    folder = home / "tenants" / "stray" / "capsule_xero.duckdb"
    if folder.exists():
        with duckdb.connect(str(folder), read_only=True) as con:
            tables = {
                row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()
            }
            if "xero_contacts" in tables:
                assert con.execute("select count(*) from raw.xero_contacts").fetchone()[0] == 0


def test_tenants_check_shows_each_tenants_problem_with_its_fix(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sign_in()
    monkeypatch.setenv("BOLT_CAPSULE_TOKEN", "not-the-right-token-at-all")
    result = CliRunner().invoke(cli.app, ["tenants", "check"])
    assert result.exit_code == 1, result.output
    problems = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    problems = [line for line in problems if line.split(":")[0] in {"acme", "bolt", "stray"}]
    assert not [line for line in problems if line.startswith("acme:")], result.output
    assert any(
        line.startswith("bolt:") and "refused the token in BOLT_CAPSULE_TOKEN" in line for line in problems
    )
    assert any(line.startswith("stray:") and "STRAY_CAPSULE_TOKEN is not set" in line for line in problems)
    assert any(
        line.startswith("stray:") and f"no connection to organisation {NOT_GRANTED}" in line
        for line in problems
    )
    assert "not-the-right-token-at-all" not in result.output


def test_tenants_check_names_the_xero_scopes_a_tenants_rules_need_that_the_sign_in_lacks(home: Path) -> None:
    _sign_in()  # contacts only: no rules file turned money on
    (home / "acme-rules.yaml").write_text("money: {read: [invoices]}\n", encoding="utf-8")
    text = (home / "tenants.yaml").read_text(encoding="utf-8")
    (home / "tenants.yaml").write_text(
        text.replace("ACME_CAPSULE_TOKEN\n", "ACME_CAPSULE_TOKEN\n    rules: acme-rules.yaml\n"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.app, ["tenants", "check"])
    assert result.exit_code == 1, result.output
    acme = [line.strip() for line in result.output.splitlines() if line.strip().startswith("acme:")]
    assert len(acme) == 1 and "the Xero sign-in lacks" in acme[0] and "invoices" in acme[0]
    # Not `--tenant acme auth login`: the one sign-in would then leave every other client short.
    assert "capsule-xero auth login" in acme[0] and "--tenant" not in acme[0]


def test_the_environment_variable_chooses_a_tenant_as_the_option_does(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSULE_XERO_TENANT", "bolt")
    result = CliRunner().invoke(cli.app, ["status"])
    assert f"No DuckDB file at {home / 'tenants' / 'bolt' / 'capsule_xero.duckdb'}" in result.output


def test_without_a_tenants_file_a_tenant_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path))
    monkeypatch.setenv("CAPSULE_XERO_TENANT", "")
    monkeypatch.delenv("CAPSULE_XERO_TENANTS", raising=False)
    result = CliRunner().invoke(cli.app, ["--tenant", "acme", "status"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"--tenant acme: there is no tenants file {tmp_path / 'tenants.yaml'}: list your clients there (see"
        " tenants.example.yaml)"
    ]


@pytest.mark.parametrize("chosen", [[], ["--tenant", "acme"]])
def test_one_dagster_ui_serves_every_client_from_the_top_level_home(
    home: Path, chosen: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[dict[str, str]] = []
    monkeypatch.setattr("cli.ui.subprocess.call", lambda command, env, cwd: started.append(env) or 0)
    result = CliRunner().invoke(cli.app, [*chosen, "ui"])
    assert result.exit_code == 0, result.output
    dagster_home = Path(started[0]["DAGSTER_HOME"])
    assert dagster_home == (home / "dagster").resolve()
    limits = (dagster_home / "dagster.yaml").read_text(encoding="utf-8")
    assert "capsule_xero/tenant" in limits and "max_concurrent_runs" in limits
