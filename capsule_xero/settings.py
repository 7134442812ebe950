"""The configuration contract (DESIGN.md, "Contract"): every setting, its default, and where it comes from.

A leaf module: pipelines, reverse_etl and assets all read settings from here, and it imports
none of them. Secrets are held as ``SecretStr`` so a stray ``repr`` or log line never shows them.

Every value is checked here, once, by ``Settings.from_env``: a wrong one is a ``SettingsError`` that
lists every wrong setting, one line each (name, value, what it should be), so the command line and
the Dagster code location refuse before any work instead of failing with a traceback half-way.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Files under CAPSULE_XERO_HOME hold customer data (the DuckDB file, Dagster's runs, webhook events)
# and the Xero tokens: readable by their owner only. Every entry point sets this umask.
PRIVATE_UMASK = 0o077
# Xero allows 5,000 calls a day per organisation (specs/xero/FACTS.md §11): a reserve of all of
# them would stop every read.
XERO_DAILY_CALLS = 5_000
# The only hosts an http:// address may name (the sandbox): anywhere else, plain http would carry
# the tokens across a network.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SHOWN_VALUE_CHARACTERS = 200  # whole paths and addresses; never megabytes


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


class SettingsError(ValueError):
    """Settings with wrong values; ``problems`` holds one line per wrong setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


# ---- what each kind of value must be (the ValueError's text completes "NAME='value' ...") ----------


def _text(value: str) -> str:
    return value


def _web_address(value: str) -> str:
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if any(c.isspace() for c in value) or not host or parts.scheme not in {"https", "http"}:
        raise ValueError("is not a web address (https://host/path)")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError(
            "is not an https:// address: plain http would send the tokens across the network"
            " (http:// is only for this machine: 127.0.0.1 or localhost)"
        )
    return value.rstrip("/")


def _yes_or_no(value: str) -> bool:
    folded = value.lower()
    if folded in {"1", "true", "yes", "on"}:
        return True
    if folded in {"0", "false", "no", "off"}:
        return False
    raise ValueError("is not true or false")


def _whole_number(low: int, high: int, what: str, note: str = "") -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValueError(f"is not {what} from {low:,} to {high:,}{note}")
        return int(value)

    return parse


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or not 0 <= days <= 365:
        raise ValueError("is not a number of days from 0 (only on demand) to 365")
    return days


def _guid(value: str) -> str:
    try:
        if value:
            uuid.UUID(value)
    except ValueError:
        raise ValueError(
            "is not a Xero organisation id (a GUID such as 4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b)"
        ) from None
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    secret: bool = False
    parse: Callable[[str], Any] = _text


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "CAPSULE_API_URL",
        "https://api.capsulecrm.com/api/v2",
        "Capsule API v2 base URL",
        parse=_web_address,
    ),
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
        parse=_yes_or_no,
    ),
    Setting(
        "CAPSULE_POLL_SECONDS",
        "60",
        "Seconds between the Dagster sensor's checks for Capsule changes (each check: two one-record requests)",
        parse=_whole_number(1, 86_400, "a whole number of seconds"),
    ),
    Setting(
        "XERO_API_URL", "https://api.xero.com/api.xro/2.0", "Xero Accounting API base URL", parse=_web_address
    ),
    Setting(
        "XERO_IDENTITY_URL",
        "https://identity.xero.com",
        "Xero identity service (token endpoint /connect/token)",
        parse=_web_address,
    ),
    Setting(
        "XERO_LOGIN_URL",
        "https://login.xero.com/identity/connect/authorize",
        "Xero authorisation page",
        parse=_web_address,
    ),
    Setting(
        "XERO_CONNECTIONS_URL",
        "https://api.xero.com/connections",
        "Xero connections (tenants) endpoint",
        parse=_web_address,
    ),
    Setting("XERO_CLIENT_ID", None, "Xero app client id (developer.xero.com → My Apps)"),
    Setting("XERO_CLIENT_SECRET", None, "Xero app client secret (empty for a PKCE-only app)", True),
    Setting(
        "XERO_TENANT_ID",
        None,
        "Xero organisation to sync (asked for at `auth login` when unset)",
        parse=_guid,
    ),
    Setting(
        "XERO_CUSTOM_CONNECTION",
        "false",
        "true for a Xero custom connection (client_credentials: one organisation, no login, no refresh token)",
        parse=_yes_or_no,
    ),
    Setting(
        "XERO_FULL_READ_DAYS",
        "7",
        "Days between full re-reads of Xero contacts (balances and customer/supplier flags change"
        " without a date); 0 = only on demand",
        parse=_days,
    ),
    Setting(
        "XERO_DAILY_RESERVE",
        "250",
        "Xero calls a day kept back from reads for writes",
        parse=_whole_number(
            0,
            XERO_DAILY_CALLS - 1,
            "a whole number of calls",
            f" (Xero allows {XERO_DAILY_CALLS:,} a day; reads stop here)",
        ),
    ),
    Setting(
        "CAPSULE_XERO_HOME",
        "./.capsule-xero",
        "Where the DuckDB file, token store, dlt and Dagster state live (created readable by you only)",
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
    Setting(
        "WEBHOOK_PORT",
        "8790",
        "Port `webhooks serve` listens on (127.0.0.1; put TLS on 443 in front); 8790 is none of the"
        " ports the sandbox (8710, 8720), `ui` (3000) or `auth login` (8765) use",
        parse=_whole_number(1, 65_535, "a port number"),
    ),
    Setting(
        "WEBHOOK_SPOOL_DAYS",
        "7",
        "Days webhook deliveries are kept in spool/done/ after their sync run (a replay within them is"
        " recognised), then deleted",
        parse=_whole_number(1, 3_650, "a whole number of days"),
    ),
    Setting(
        "WEBHOOK_SPOOL_MAX_MB",
        "512",
        "Megabytes of webhook deliveries that may wait for a sync run; beyond it `webhooks serve` answers"
        " 503 and alerts",
        parse=_whole_number(1, 1_048_576, "a whole number of megabytes"),
    ),
)


def _shown(value: str) -> str:
    """A value as an error shows it: quoted, and cut (an environment variable can hold megabytes)."""
    if len(value) > SHOWN_VALUE_CHARACTERS:
        return repr(value[:SHOWN_VALUE_CHARACTERS])[:-1] + f"…' ({len(value):,} characters)"
    return repr(value)


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
    xero_full_read_days: float = 7.0  # 0: only on demand
    xero_daily_reserve: int = 250
    webhook_port: int = 8790
    # What was wrong, when read with ``lenient=True`` (each such setting then holds its default).
    problems: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, lenient: bool = False) -> Settings:
        """The settings in ``env`` (default: the process environment), every value checked.

        Raises ``SettingsError`` listing every wrong setting. ``lenient=True`` never raises: a wrong
        setting takes its default and its line is kept in ``problems`` (for the Dagster code location,
        which must load to say what is wrong).
        """
        env = os.environ if env is None else env
        problems: list[str] = []
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            given = env.get(spec.name, "").strip()
            try:
                values[spec.name] = spec.parse(given or spec.default or "")
            except ValueError as error:
                shown = "(hidden)" if spec.secret else _shown(given)
                problems.append(f"{spec.name}={shown} {error}")
                values[spec.name] = spec.parse(spec.default or "")
        home = Path(values["CAPSULE_XERO_HOME"]).expanduser()
        home_problem = _home_problem(home)
        if home_problem:
            problems.append(home_problem)
            home = Path(_default_of("CAPSULE_XERO_HOME"))
        if problems and not lenient:
            raise SettingsError(problems)

        config = values["CAPSULE_XERO_CONFIG"]
        config_file = (
            Path(config)
            if config
            else (Path("capsule-xero.yaml") if Path("capsule-xero.yaml").is_file() else None)
        )
        return cls(
            capsule_api_url=values["CAPSULE_API_URL"],
            capsule_api_token=SecretStr(values["CAPSULE_API_TOKEN"]),
            xero_api_url=values["XERO_API_URL"],
            xero_identity_url=values["XERO_IDENTITY_URL"],
            xero_login_url=values["XERO_LOGIN_URL"],
            xero_connections_url=values["XERO_CONNECTIONS_URL"],
            xero_client_id=values["XERO_CLIENT_ID"],
            xero_client_secret=SecretStr(values["XERO_CLIENT_SECRET"]),
            xero_tenant_id=values["XERO_TENANT_ID"],
            xero_custom_connection=values["XERO_CUSTOM_CONNECTION"],
            home=home,
            config_file=config_file,
            capsule_poll_seconds=values["CAPSULE_POLL_SECONDS"],
            apply_writes=values["CAPSULE_XERO_APPLY"],
            xero_full_read_days=values["XERO_FULL_READ_DAYS"],
            xero_daily_reserve=values["XERO_DAILY_RESERVE"],
            webhook_port=values["WEBHOOK_PORT"],
            problems=tuple(problems),
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

    def close_home(self) -> None:
        """Make an existing CAPSULE_XERO_HOME readable by its owner only (new ones are, by the umask).

        A home an earlier version created 0755 (or a person opened up) is closed to 0700: the DuckDB
        file, Dagster's storage and the webhook spool inside were made 0644, and a private folder is
        what keeps other local users out of them. A folder owned by someone else is left as it is.
        """
        with contextlib.suppress(OSError):
            info = self.home.stat()
            if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
                self.home.chmod(stat.S_IMODE(info.st_mode) & ~0o077)


def _default_of(name: str) -> str:
    return next(spec.default or "" for spec in SETTINGS if spec.name == name)


def _home_problem(home: Path) -> str | None:
    """Why ``home`` cannot be CAPSULE_XERO_HOME, found without creating anything (None: it can)."""
    shown = _shown(str(home))
    fix = "point it at a folder you can write"
    if home.exists():
        if not home.is_dir():
            return f"CAPSULE_XERO_HOME={shown} is a file, not a folder: {fix}"
        if not os.access(home, os.W_OK | os.X_OK):
            return f"CAPSULE_XERO_HOME={shown} is not writable by you: {fix}"
        return None
    parent = home.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"CAPSULE_XERO_HOME={shown} cannot be created: {_shown(str(parent))} is a file: {fix}"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"CAPSULE_XERO_HOME={shown} cannot be created: {_shown(str(parent))} is not writable by you: {fix}"
    return None


def startup_check(env: Mapping[str, str] | None = None) -> tuple[Settings, list[str]]:
    """What every entry point (the command line, the Dagster code location) does before any work.

    Files are private from here on (umask 077, for this process and every process it starts: a new
    CAPSULE_XERO_HOME is made 0700 by whoever writes first), every setting is checked, and an existing
    home left open is closed. Nothing is created here: a command that only reads leaves no folder.
    Returns the settings (defaults in place of wrong values) and one line per problem; none: go ahead.
    """
    os.umask(PRIVATE_UMASK)
    settings = Settings.from_env(env, lenient=True)
    if not settings.problems:
        settings.close_home()
    return settings, list(settings.problems)


def env_example() -> str:
    """The text of .env.example, generated from SETTINGS so the two never drift apart."""
    lines = ["# capsule-xero settings. Every one is optional except the credentials for the real APIs.", ""]
    for spec in SETTINGS:
        lines.append(f"# {spec.help}" + (" (secret)" if spec.secret else ""))
        lines.append(f"# {spec.name}={spec.default}" if spec.default else f"{spec.name}=")
        lines.append("")
    return "\n".join(lines)
