"""The tenants file: each client's folder, Capsule token variable, Xero organisation and rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from capsule_xero.settings import Settings, SettingsError
from capsule_xero.tenants import TenantsError, read_tenants

ORG_A = "4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b"
ORG_B = "9d2e1f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6"


def _write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "tenants.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _two_tenants(home: Path, rules_b: str = "") -> Path:
    return _write(
        home,
        f"""
tenants:
  - name: acme
    capsule_token_env: ACME_CAPSULE_TOKEN
    xero_tenant_id: {ORG_A}
    rules: acme-rules.yaml
  - name: bolt_co
    capsule_api_url: http://127.0.0.1:8720/api/v2
    capsule_token_env: BOLT_CAPSULE_TOKEN
    xero_tenant_id: {ORG_B}
{rules_b}""",
    )


def _refusal(home: Path, text: str) -> str:
    _write(home, text)
    with pytest.raises(TenantsError) as caught:
        read_tenants({"CAPSULE_XERO_HOME": str(home)})
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_without_a_tenants_file_the_settings_are_exactly_as_before(tmp_path: Path) -> None:
    env = {"CAPSULE_XERO_HOME": str(tmp_path), "XERO_TENANT_ID": ORG_A, "CAPSULE_API_TOKEN": "t" * 30}
    assert read_tenants(env) is None
    settings = Settings.from_env(env)
    assert settings.home == tmp_path and settings.xero_token_home == tmp_path
    assert settings.xero_tenant_id == ORG_A


def test_a_chosen_tenant_has_its_own_folder_token_and_organisation_and_shares_the_xero_sign_in(
    tmp_path: Path,
) -> None:
    _two_tenants(tmp_path)
    env = {
        "CAPSULE_XERO_HOME": str(tmp_path),
        "ACME_CAPSULE_TOKEN": "acme-secret-token-0123456789",
        "BOLT_CAPSULE_TOKEN": "bolt-secret-token-0123456789",
        "CAPSULE_API_TOKEN": "the-single-install-token",
    }
    bolt = Settings.from_env({**env, "CAPSULE_XERO_TENANT": "bolt_co"})
    assert bolt.home == tmp_path / "tenants" / "bolt_co"
    assert bolt.duckdb_path == tmp_path / "tenants" / "bolt_co" / "capsule_xero.duckdb"
    assert bolt.xero_token_home == tmp_path
    assert bolt.capsule_api_token.get_secret_value() == "bolt-secret-token-0123456789"
    assert bolt.capsule_api_url == "http://127.0.0.1:8720/api/v2"
    assert bolt.xero_tenant_id == ORG_B
    assert bolt.config_file is None  # never the working folder's capsule-xero.yaml
    acme = Settings.from_env({**env, "CAPSULE_XERO_TENANT": "acme"})
    assert acme.home == tmp_path / "tenants" / "acme"
    assert acme.capsule_api_token.get_secret_value() == "acme-secret-token-0123456789"
    assert acme.capsule_api_url == "https://api.capsulecrm.com/api/v2"
    assert acme.config_file == tmp_path / "acme-rules.yaml"


def test_an_unknown_tenant_is_a_settings_error_naming_those_that_exist(tmp_path: Path) -> None:
    _two_tenants(tmp_path)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CAPSULE_XERO_HOME": str(tmp_path), "CAPSULE_XERO_TENANT": "acne"})
    assert "No tenant 'acne'" in str(caught.value) and "acme, bolt_co" in str(caught.value)


def test_a_token_written_where_its_variable_name_belongs_is_refused_without_showing_it(
    tmp_path: Path,
) -> None:
    token = "k3JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9x"
    line = _refusal(
        tmp_path, f"tenants:\n  - name: acme\n    capsule_token_env: {token}\n    xero_tenant_id: {ORG_A}\n"
    )
    assert "tenant 'acme': capsule_token_env looks like a token" in line
    assert "put the token in an environment variable" in line
    assert token not in line


def test_an_unknown_key_is_refused_naming_the_tenant_and_the_key(tmp_path: Path) -> None:
    line = _refusal(
        tmp_path,
        f"tenants:\n  - name: acme\n    capsule_token_env: ACME\n    xero_tenant_id: {ORG_A}\n    capsule_token: x\n",
    )
    assert "tenant 'acme': capsule_token is not a key of a tenant" in line


def test_a_name_that_is_not_a_safe_folder_name_is_refused(tmp_path: Path) -> None:
    line = _refusal(
        tmp_path, f"tenants:\n  - name: ../bolt\n    capsule_token_env: ACME\n    xero_tenant_id: {ORG_A}\n"
    )
    assert "tenant '../bolt': name is not a safe folder name" in line


def test_an_organisation_id_that_is_not_a_guid_is_refused(tmp_path: Path) -> None:
    line = _refusal(
        tmp_path, "tenants:\n  - name: acme\n    capsule_token_env: ACME\n    xero_tenant_id: Acme Pty Ltd\n"
    )
    assert "tenant 'acme': xero_tenant_id is not a Xero organisation id" in line


def test_two_tenants_with_one_folder_or_one_organisation_are_refused(tmp_path: Path) -> None:
    line = _refusal(
        tmp_path,
        f"tenants:\n  - name: acme\n    capsule_token_env: A\n    xero_tenant_id: {ORG_A}\n"
        f"  - name: Acme\n    capsule_token_env: B\n    xero_tenant_id: {ORG_B}\n",
    )
    assert "tenant 'Acme': name is also tenant 'acme'" in line
    line = _refusal(
        tmp_path,
        f"tenants:\n  - name: acme\n    capsule_token_env: A\n    xero_tenant_id: {ORG_A}\n"
        f"  - name: bolt\n    capsule_token_env: B\n    xero_tenant_id: {ORG_A.upper()}\n",
    )
    assert "tenant 'bolt': xero_tenant_id is also tenant 'acme'" in line


@pytest.mark.parametrize("rules", ["tenants/acme/capsule-xero.yaml", "tenants/x/../acme/rules.yaml"])
def test_a_rules_file_in_another_tenants_folder_is_refused(tmp_path: Path, rules: str) -> None:
    _two_tenants(tmp_path, rules_b=f"    rules: {rules}\n")
    with pytest.raises(TenantsError) as caught:
        read_tenants({"CAPSULE_XERO_HOME": str(tmp_path)})
    assert "tenant 'bolt_co': rules points into another tenant's folder" in str(caught.value)


def test_a_rules_file_in_the_tenants_own_folder_is_accepted(tmp_path: Path) -> None:
    _two_tenants(tmp_path, rules_b="    rules: tenants/bolt_co/capsule-xero.yaml\n")
    tenants = read_tenants({"CAPSULE_XERO_HOME": str(tmp_path)})
    assert tenants is not None
    assert tenants.rules_file(tenants.get("bolt_co")) == tmp_path / "tenants/bolt_co/capsule-xero.yaml"


def test_the_tenants_module_knows_the_same_default_home_and_loopback_hosts_as_the_settings() -> None:
    from capsule_xero import settings, tenants

    assert tenants.DEFAULT_HOME == settings.DEFAULT_HOME
    assert tenants.LOOPBACK_HOSTS == settings.LOOPBACK_HOSTS


def test_a_capsule_address_over_plain_http_to_another_machine_is_refused(tmp_path: Path) -> None:
    line = _refusal(
        tmp_path,
        "tenants:\n  - name: acme\n    capsule_api_url: http://capsule.example.com/api/v2\n"
        f"    capsule_token_env: ACME\n    xero_tenant_id: {ORG_A}\n",
    )
    assert "tenant 'acme': capsule_api_url is not an https:// address" in line


def test_the_example_tenants_file_is_a_valid_tenants_file() -> None:
    example = Path(__file__).resolve().parents[2] / "tenants.example.yaml"
    tenants = read_tenants({"CAPSULE_XERO_TENANTS": str(example), "CAPSULE_XERO_HOME": "/nonexistent"})
    assert tenants is not None and tenants.names == ["acme-plumbing", "bolt_electrical"]
