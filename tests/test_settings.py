"""The configuration contract of DESIGN.md: every setting, its default, and secrets kept secret."""

from __future__ import annotations

from pathlib import Path

from capsule_xero.settings import SETTINGS, Settings, env_example

REPO = Path(__file__).resolve().parents[1]
CONTRACT = [
    "CAPSULE_API_URL", "CAPSULE_API_TOKEN", "CAPSULE_XERO_APPLY", "CAPSULE_POLL_SECONDS", "XERO_API_URL", "XERO_IDENTITY_URL",
    "XERO_LOGIN_URL", "XERO_CONNECTIONS_URL", "XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID", "XERO_CUSTOM_CONNECTION",
    "XERO_FULL_READ_DAYS", "XERO_DAILY_RESERVE", "CAPSULE_XERO_HOME", "CAPSULE_XERO_CONFIG",
    "XERO_WEBHOOK_KEY", "CAPSULE_HOOK_TOKEN", "WEBHOOK_PORT", "WEBHOOK_SPOOL_DAYS", "WEBHOOK_SPOOL_MAX_MB",
]  # fmt: skip


def test_env_example_lists_every_setting_of_the_contract_and_is_up_to_date() -> None:
    text = (REPO / ".env.example").read_text()
    assert text == env_example(), (
        "regenerate with: python -c 'from capsule_xero.settings import env_example; print(env_example())' > .env.example"
    )
    for name in CONTRACT:
        assert f"{name}=" in text
    assert [s.name for s in SETTINGS] == CONTRACT


def test_with_nothing_set_the_real_services_are_the_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.capsule_api_url == "https://api.capsulecrm.com/api/v2"
    assert settings.xero_api_url == "https://api.xero.com/api.xro/2.0"
    assert settings.xero_identity_url == "https://identity.xero.com"
    assert settings.xero_login_url == "https://login.xero.com/identity/connect/authorize"
    assert settings.xero_connections_url == "https://api.xero.com/connections"
    assert settings.home == Path(".capsule-xero")
    assert settings.missing("CAPSULE_API_TOKEN", "XERO_CLIENT_ID") == ["CAPSULE_API_TOKEN", "XERO_CLIENT_ID"]


def test_base_urls_come_from_the_environment_so_the_same_code_runs_against_the_sandbox() -> None:
    settings = Settings.from_env(
        {"XERO_API_URL": "http://127.0.0.1:9/api.xro/2.0/", "CAPSULE_API_URL": "http://127.0.0.1:8/api/v2"}
    )
    assert settings.xero_api_url == "http://127.0.0.1:9/api.xro/2.0"
    assert settings.capsule_api_url == "http://127.0.0.1:8/api/v2"


def test_secrets_never_show_in_repr_str_or_formatted_text() -> None:
    settings = Settings.from_env(
        {"CAPSULE_API_TOKEN": "cap-token-123", "XERO_CLIENT_SECRET": "xero-secret-456"}
    )
    for text in (repr(settings), str(settings), f"{settings}", f"{settings.capsule_api_token}"):
        assert "cap-token-123" not in text and "xero-secret-456" not in text
    assert settings.capsule_api_token.reveal() == "cap-token-123"
