"""The configuration contract (docs/operations.md#settings): every setting, its default, and secrets kept secret."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from capsule_xero.settings import Settings, SettingsError, env_example, startup_check

REPO = Path(__file__).resolve().parents[1]
CONTRACT = [
    "CAPSULE_API_URL", "CAPSULE_API_TOKEN", "CAPSULE_XERO_APPLY", "CAPSULE_POLL_SECONDS", "XERO_API_URL", "XERO_IDENTITY_URL",
    "XERO_LOGIN_URL", "XERO_CONNECTIONS_URL", "XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID", "XERO_CUSTOM_CONNECTION", "XERO_SCOPE_STYLE",
    "XERO_FULL_READ_DAYS", "XERO_DAILY_RESERVE", "CAPSULE_XERO_HOME", "CAPSULE_XERO_CONFIG",
    "XERO_WEBHOOK_KEY", "CAPSULE_HOOK_TOKEN", "WEBHOOK_PORT", "WEBHOOK_FAST_LANE", "WEBHOOK_SPOOL_DAYS", "WEBHOOK_SPOOL_MAX_MB",
]  # fmt: skip


def test_env_example_lists_every_setting_of_the_contract_and_is_up_to_date() -> None:
    text = (REPO / ".env.example").read_text()
    assert text == env_example(), (
        "regenerate with: python -c 'from capsule_xero.settings import env_example; print(env_example())' > .env.example"
    )
    for name in CONTRACT:
        assert f"{name}=" in text
    assert list(Settings.fields_by_name()) == CONTRACT


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
    for text in (
        repr(settings),
        str(settings),
        f"{settings}",
        f"{settings.capsule_api_token}",
        str(settings.model_dump()),
        settings.model_dump_json(),
    ):
        assert "cap-token-123" not in text and "xero-secret-456" not in text
    assert settings.capsule_api_token.get_secret_value() == "cap-token-123"


def test_no_error_about_the_settings_quotes_a_secret() -> None:
    secrets = {"CAPSULE_API_TOKEN": "cap-token-123", "XERO_WEBHOOK_KEY": "hook-key-789"}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**secrets, "WEBHOOK_PORT": "http"})
    assert caught.value.problems == ["WEBHOOK_PORT='http' is not a port number from 1 to 65,535"]
    # The model's own error, for a value set in code, quotes no input at all.
    with pytest.raises(ValidationError) as raw:
        Settings(capsule_api_token="cap-token-123", webhook_port="http")
    assert "cap-token-123" not in str(raw.value) and "input_value" not in str(raw.value)


# --- every value checked, all wrong ones at once (issue 11) ------------------------------------------


def test_every_wrong_value_is_named_in_one_line_each_and_all_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "CAPSULE_POLL_SECONDS": "abc",
                "XERO_API_URL": "ftp://api.xero.com/api.xro/2.0",
                "CAPSULE_XERO_APPLY": "ture",
                "XERO_TENANT_ID": "Acme Pty Ltd",
                "XERO_FULL_READ_DAYS": "abc",
                "XERO_DAILY_RESERVE": "lots",
                "WEBHOOK_PORT": "99999",
            }
        )
    assert caught.value.problems == [
        "CAPSULE_XERO_APPLY='ture' is not true or false",
        "CAPSULE_POLL_SECONDS='abc' is not a whole number of seconds from 1 to 86,400",
        "XERO_API_URL='ftp://api.xero.com/api.xro/2.0' is not a web address (https://host/path)",
        "XERO_TENANT_ID='Acme Pty Ltd' is not a Xero organisation id (a GUID such as"
        " 4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b)",
        "XERO_FULL_READ_DAYS='abc' is not a number of days from 0 (only on demand) to 365",
        "XERO_DAILY_RESERVE='lots' is not a whole number of calls from 0 to 4,999 (Xero allows 5,000 a day;"
        " reads stop here)",
        "WEBHOOK_PORT='99999' is not a port number from 1 to 65,535",
    ]
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("days", ["-3", "nan", "inf", "1e9", "366"])
def test_a_full_read_interval_below_zero_or_past_a_year_is_refused(days: str) -> None:
    with pytest.raises(SettingsError, match=r"XERO_FULL_READ_DAYS=.* is not a number of days from 0"):
        Settings.from_env({"XERO_FULL_READ_DAYS": days})


def test_the_xero_read_options_come_from_the_settings_contract() -> None:
    from pipelines.xero.settings import XeroExtractConfig

    settings = Settings.from_env({"XERO_FULL_READ_DAYS": "0.5", "XERO_DAILY_RESERVE": "400"})
    options = XeroExtractConfig.of(settings)
    assert options.full_read_every == timedelta(hours=12) and options.pacing.daily_reserve == 400
    assert XeroExtractConfig.of(Settings.from_env({"XERO_FULL_READ_DAYS": "0"})).full_read_every is None


def test_plain_http_is_only_for_this_machine_so_tokens_never_cross_a_network_unencrypted() -> None:
    assert Settings.from_env({"XERO_IDENTITY_URL": "http://localhost:8710"}).xero_identity_url
    with pytest.raises(
        SettingsError, match=r"XERO_IDENTITY_URL='http://identity.example.com' is not an https://"
    ):
        Settings.from_env({"XERO_IDENTITY_URL": "http://identity.example.com"})


def test_yes_and_no_read_as_true_and_false_and_nothing_else_does() -> None:
    assert Settings.from_env({"CAPSULE_XERO_APPLY": "YES", "XERO_CUSTOM_CONNECTION": "off"}).apply_writes
    assert not Settings.from_env({"XERO_CUSTOM_CONNECTION": "0"}).xero_custom_connection


def test_read_leniently_a_wrong_value_takes_its_default_and_is_listed() -> None:
    settings = Settings.from_env({"CAPSULE_POLL_SECONDS": "abc", "XERO_DAILY_RESERVE": "400"}, lenient=True)
    assert settings.capsule_poll_seconds == 20 and settings.xero_daily_reserve == 400
    assert settings.problems == (
        "CAPSULE_POLL_SECONDS='abc' is not a whole number of seconds from 1 to 86,400",
    )


def test_a_home_that_is_a_file_or_inside_one_is_refused_without_creating_anything(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match=r"CAPSULE_XERO_HOME='.*a-file' is a file, not a folder"):
        Settings.from_env({"CAPSULE_XERO_HOME": str(blocker)})
    with pytest.raises(SettingsError, match=r"cannot be created: '.*a-file' is a file"):
        Settings.from_env({"CAPSULE_XERO_HOME": str(blocker / "home")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_the_startup_check_makes_new_files_private_and_closes_a_home_made_open(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        settings, problems = startup_check({"CAPSULE_XERO_HOME": str(tmp_path / "new" / "home")})
        assert problems == [] and not settings.home.exists()  # a command that only reads creates nothing
        settings.home.mkdir(parents=True)  # what the first writer does
        assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
        opened = tmp_path / "old-home"
        opened.mkdir()
        opened.chmod(0o755)
        startup_check({"CAPSULE_XERO_HOME": str(opened)})
        assert stat.S_IMODE(opened.stat().st_mode) == 0o700
    finally:
        os.umask(previous)
