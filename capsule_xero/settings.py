"""The configuration contract (DESIGN.md, "Contract"): every setting, its default, and where it comes from.

A leaf module: pipelines, reverse_etl and assets all read settings from here, and it imports
none of them. Secrets are held as ``SecretStr`` so a stray ``repr`` or log line never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class SecretStr:
    """A string that prints as ``'**********'``; ``.reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("CAPSULE_API_URL", "https://api.capsulecrm.com/api/v2", "Capsule API v2 base URL"),
    Setting(
        "CAPSULE_API_TOKEN",
        None,
        "Capsule personal access token (My Preferences → API Authentication Tokens)",
        True,
    ),
    Setting(
        "CAPSULE_XERO_APPLY",
        "false",
        "true: Dagster's incremental sync writes approved plans to Xero; false: it stores and shows them only",
    ),
    Setting(
        "CAPSULE_POLL_SECONDS",
        "60",
        "Seconds between the Dagster sensor's checks for Capsule changes (each check: two one-record requests)",
    ),
    Setting("XERO_API_URL", "https://api.xero.com/api.xro/2.0", "Xero Accounting API base URL"),
    Setting(
        "XERO_IDENTITY_URL",
        "https://identity.xero.com",
        "Xero identity service (token endpoint /connect/token)",
    ),
    Setting("XERO_LOGIN_URL", "https://login.xero.com/identity/connect/authorize", "Xero authorisation page"),
    Setting(
        "XERO_CONNECTIONS_URL", "https://api.xero.com/connections", "Xero connections (tenants) endpoint"
    ),
    Setting("XERO_CLIENT_ID", None, "Xero app client id (developer.xero.com → My Apps)"),
    Setting("XERO_CLIENT_SECRET", None, "Xero app client secret (empty for a PKCE-only app)", True),
    Setting("XERO_TENANT_ID", None, "Xero organisation to sync (asked for at `auth login` when unset)"),
    Setting(
        "XERO_CUSTOM_CONNECTION",
        "false",
        "true for a Xero custom connection (client_credentials: one organisation, no login, no refresh token)",
    ),
    Setting(
        "XERO_FULL_READ_DAYS",
        "7",
        "Days between full re-reads of Xero contacts (balances and customer/supplier flags change"
        " without a date); 0 = only on demand",
    ),
    Setting("XERO_DAILY_RESERVE", "250", "Xero calls a day kept back from reads for writes"),
    Setting(
        "CAPSULE_XERO_HOME",
        "./.capsule-xero",
        "Where the DuckDB file, token store, dlt and Dagster state live",
    ),
    Setting("CAPSULE_XERO_CONFIG", None, "The rules file (default: capsule-xero.yaml when present)"),
    Setting(
        "XERO_WEBHOOK_KEY",
        None,
        "Xero webhook signing key (developer.xero.com → My Apps → Webhooks), for `webhooks serve`",
        True,
    ),
    Setting(
        "CAPSULE_HOOK_TOKEN",
        None,
        "Secret in the Capsule REST hook URL (…/capsule/TOKEN; Capsule signs nothing), at least 24 characters",
        True,
    ),
    Setting("WEBHOOK_PORT", "8710", "Port `webhooks serve` listens on (127.0.0.1; put TLS on 443 in front)"),
    Setting(
        "WEBHOOK_SPOOL_DAYS",
        "7",
        "Days webhook deliveries are kept in spool/done/ after their sync run (a replay within them is"
        " recognised), then deleted",
    ),
    Setting(
        "WEBHOOK_SPOOL_MAX_MB",
        "512",
        "Megabytes of webhook deliveries that may wait for a sync run; beyond it `webhooks serve` answers"
        " 503 and alerts",
    ),
)


@dataclass(frozen=True)
class Settings:
    capsule_api_url: str
    capsule_api_token: SecretStr
    xero_api_url: str
    xero_identity_url: str
    xero_login_url: str
    xero_connections_url: str
    xero_client_id: str
    xero_client_secret: SecretStr
    xero_tenant_id: str
    xero_custom_connection: bool
    home: Path
    config_file: Path | None
    extra: Mapping[str, str] = field(default_factory=dict)
    capsule_poll_seconds: int = 60
    apply_writes: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str:
            spec = next(s for s in SETTINGS if s.name == name)
            value = env.get(name, "").strip()
            return value or (spec.default or "")

        home = Path(get("CAPSULE_XERO_HOME")).expanduser()
        config = get("CAPSULE_XERO_CONFIG")
        config_file = (
            Path(config)
            if config
            else (Path("capsule-xero.yaml") if Path("capsule-xero.yaml").is_file() else None)
        )
        poll = get("CAPSULE_POLL_SECONDS")
        if not poll.isdigit() or int(poll) < 1:
            raise ValueError(
                f"CAPSULE_POLL_SECONDS must be a whole number of seconds (1 or more), not {poll!r}"
            )
        return cls(
            capsule_api_url=get("CAPSULE_API_URL").rstrip("/"),
            capsule_api_token=SecretStr(get("CAPSULE_API_TOKEN")),
            xero_api_url=get("XERO_API_URL").rstrip("/"),
            xero_identity_url=get("XERO_IDENTITY_URL").rstrip("/"),
            xero_login_url=get("XERO_LOGIN_URL"),
            xero_connections_url=get("XERO_CONNECTIONS_URL").rstrip("/"),
            xero_client_id=get("XERO_CLIENT_ID"),
            xero_client_secret=SecretStr(get("XERO_CLIENT_SECRET")),
            xero_tenant_id=get("XERO_TENANT_ID"),
            xero_custom_connection=get("XERO_CUSTOM_CONNECTION").lower() in {"1", "true", "yes"},
            home=home,
            config_file=config_file,
            capsule_poll_seconds=int(poll),
            apply_writes=get("CAPSULE_XERO_APPLY").lower() in {"1", "true", "yes"},
        )

    @property
    def duckdb_path(self) -> Path:
        return self.home / "capsule_xero.duckdb"

    def missing(self, *names: str) -> list[str]:
        """Which of the named settings are unset, for an error that says exactly what to set."""
        values = {
            "CAPSULE_API_TOKEN": bool(self.capsule_api_token),
            "XERO_CLIENT_ID": bool(self.xero_client_id),
            "XERO_CLIENT_SECRET": bool(self.xero_client_secret),
            "XERO_TENANT_ID": bool(self.xero_tenant_id),
        }
        return [name for name in names if not values.get(name, True)]


def env_example() -> str:
    """The text of .env.example, generated from SETTINGS so the two never drift apart."""
    lines = ["# capsule-xero settings. Every one is optional except the credentials for the real APIs.", ""]
    for spec in SETTINGS:
        lines.append(f"# {spec.help}" + (" (secret)" if spec.secret else ""))
        lines.append(f"# {spec.name}={spec.default}" if spec.default else f"{spec.name}=")
        lines.append("")
    return "\n".join(lines)
