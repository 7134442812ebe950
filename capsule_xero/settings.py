"""The configuration contract (docs/operations.md#settings): every setting, its default, and where it comes from.

A leaf module: pipelines, reverse_etl and assets all read settings from here, and it imports none of
them. ``Settings`` is a pydantic-settings model: one typed field per environment variable (its
``alias``), described by ``description`` (which ``.env.example`` is generated from). Secrets are
``pydantic.SecretStr``, so ``repr``, ``str``, ``model_dump`` and validation errors never show them
(``hide_input_in_errors``); ``.get_secret_value()`` is the only way to read one.

Every value is checked once, by ``Settings.from_env``: a wrong one is a ``SettingsError`` that lists
every wrong setting, one line each (name, value, what it should be), so the command line and the
Dagster code location refuse before any work instead of failing with a traceback half-way.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, PrivateAttr, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

# Files under CAPSULE_XERO_HOME hold customer data (the DuckDB file, Dagster's runs, webhook events)
# and the Xero tokens: readable by their owner only. Every entry point sets this umask.
PRIVATE_UMASK = 0o077
# Xero allows 5,000 calls a day per organisation (docs/api-facts.md#xero-rate-limits): a reserve of
# all of them would stop every read.
XERO_DAILY_CALLS = 5_000
# The only hosts an http:// address may name (the sandbox): anywhere else, plain http would carry
# the tokens across a network.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SHOWN_VALUE_CHARACTERS = 200  # whole paths and addresses; never megabytes
DEFAULT_HOME = "./.capsule-xero"
DEFAULT_RULES_FILE = "capsule-xero.yaml"


class SettingsError(ValueError):
    """Settings with wrong values; ``problems`` holds one line per wrong setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


# ---- what each kind of value must be (the ValueError's text completes "NAME='value' ...") ----------


def _from_text(parse: Callable[[str], Any]) -> BeforeValidator:
    """``parse`` applied to a setting's text (a value set in code is read as its text first)."""
    return BeforeValidator(lambda value: parse(value if isinstance(value, str) else str(value)))


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


def _whole_number(low: int, high: int, what: str, note: str = "") -> BeforeValidator:
    def parse(value: str) -> int:
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValueError(f"is not {what} from {low:,} to {high:,}{note}")
        return int(value)

    return _from_text(parse)


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or not 0 <= days <= 365:
        raise ValueError("is not a number of days from 0 (only on demand) to 365")
    return days


def _scope_style(value: str) -> str:
    folded = value.lower()
    if folded not in {"granular", "broad"}:
        raise ValueError(
            "is not granular or broad (granular: a Xero app registered on or after 2 March 2026)"
        )
    return folded


def _guid(value: str) -> str:
    try:
        if value:
            uuid.UUID(value)
    except ValueError:
        raise ValueError(
            "is not a Xero organisation id (a GUID such as 4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b)"
        ) from None
    return value


def _rules_file(value: str) -> Path | None:
    """CAPSULE_XERO_CONFIG, else capsule-xero.yaml in the working folder when there is one."""
    if value:
        return Path(value)
    return Path(DEFAULT_RULES_FILE) if Path(DEFAULT_RULES_FILE).is_file() else None


WebAddress = Annotated[str, _from_text(_web_address)]
YesOrNo = Annotated[bool, _from_text(_yes_or_no)]
Seconds = Annotated[int, _whole_number(1, 86_400, "a whole number of seconds")]
Days = Annotated[float, _from_text(_days)]
Reserve = Annotated[
    int,
    _whole_number(
        0,
        XERO_DAILY_CALLS - 1,
        "a whole number of calls",
        f" (Xero allows {XERO_DAILY_CALLS:,} a day; reads stop here)",
    ),
]
ScopeStyle = Annotated[str, _from_text(_scope_style)]
TenantId = Annotated[str, _from_text(_guid)]
Folder = Annotated[Path, _from_text(lambda value: Path(value).expanduser())]
RulesFile = Annotated[Path | None, _from_text(_rules_file)]
Port = Annotated[int, _whole_number(1, 65_535, "a port number")]
KeptDays = Annotated[int, _whole_number(1, 3_650, "a whole number of days")]
Megabytes = Annotated[int, _whole_number(1, 1_048_576, "a whole number of megabytes")]


def _setting(name: str, default: str, description: str) -> Any:
    """One environment variable: its name, its default as text (empty: none) and what it is for."""
    return Field(default, alias=name, description=description)


class _Environment(EnvSettingsSource):
    """The process environment, or a mapping read in its place (tests, the demo's sandbox)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class Settings(BaseSettings):
    """Every setting, in the contract's order; read with ``Settings.from_env``."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,
        validate_default=True,  # defaults are text, parsed like a value that was set
        validate_by_name=True,
        hide_input_in_errors=True,  # a ValidationError's text never quotes a value (a secret)
        extra="ignore",
    )

    capsule_api_url: WebAddress = _setting(
        "CAPSULE_API_URL", "https://api.capsulecrm.com/api/v2", "Capsule API v2 base URL"
    )
    capsule_api_token: SecretStr = _setting(
        "CAPSULE_API_TOKEN", "", "Capsule personal access token (My Preferences → API Authentication Tokens)"
    )
    apply_writes: YesOrNo = _setting(
        "CAPSULE_XERO_APPLY",
        "false",
        "true: Dagster's incremental sync writes approved plans to Xero; false: it stores and shows them only",
    )
    capsule_poll_seconds: Seconds = _setting(
        "CAPSULE_POLL_SECONDS",
        "20",
        "Seconds between the Dagster sensor's checks for Capsule changes (each check: two one-record requests)",
    )
    xero_api_url: WebAddress = _setting(
        "XERO_API_URL", "https://api.xero.com/api.xro/2.0", "Xero Accounting API base URL"
    )
    xero_identity_url: WebAddress = _setting(
        "XERO_IDENTITY_URL",
        "https://identity.xero.com",
        "Xero identity service (token endpoint /connect/token)",
    )
    xero_login_url: WebAddress = _setting(
        "XERO_LOGIN_URL", "https://login.xero.com/identity/connect/authorize", "Xero authorisation page"
    )
    xero_connections_url: WebAddress = _setting(
        "XERO_CONNECTIONS_URL", "https://api.xero.com/connections", "Xero connections (tenants) endpoint"
    )
    xero_client_id: str = _setting("XERO_CLIENT_ID", "", "Xero app client id (developer.xero.com → My Apps)")
    xero_client_secret: SecretStr = _setting(
        "XERO_CLIENT_SECRET", "", "Xero app client secret (empty for a PKCE-only app)"
    )
    xero_tenant_id: TenantId = _setting(
        "XERO_TENANT_ID", "", "Xero organisation to sync (asked for at `auth login` when unset)"
    )
    xero_custom_connection: YesOrNo = _setting(
        "XERO_CUSTOM_CONNECTION",
        "false",
        "true for a Xero custom connection (client_credentials: one organisation, no login, no refresh token)",
    )
    # Xero offers apps registered on or after 2 March 2026 granular scopes only (accounting.invoices,
    # accounting.payments); older apps keep the broad accounting.transactions until September 2027
    # (docs/api-facts.md#xero-scopes-for-money). Only money needs either: contacts are the same.
    xero_scope_style: ScopeStyle = _setting(
        "XERO_SCOPE_STYLE",
        "granular",
        "granular (a Xero app registered on or after 2 March 2026) or broad (an older app): the form of"
        " the invoice and payment scopes asked for when the rules file turns money on",
    )
    xero_full_read_days: Days = _setting(
        "XERO_FULL_READ_DAYS",
        "7",
        "Days between full re-reads of Xero contacts (balances and customer/supplier flags change"
        " without a date); 0 = only on demand",
    )
    xero_daily_reserve: Reserve = _setting(
        "XERO_DAILY_RESERVE", "250", "Xero calls a day kept back from reads for writes"
    )
    home: Folder = _setting(
        "CAPSULE_XERO_HOME",
        DEFAULT_HOME,
        "Where the DuckDB file, token store, dlt and Dagster state live (created readable by you only)",
    )
    config_file: RulesFile = _setting(
        "CAPSULE_XERO_CONFIG", "", "The rules file (default: capsule-xero.yaml when present)"
    )
    xero_webhook_key: SecretStr = _setting(
        "XERO_WEBHOOK_KEY",
        "",
        "Xero webhook signing key (developer.xero.com → My Apps → Webhooks), for `webhooks serve`",
    )
    capsule_hook_token: SecretStr = _setting(
        "CAPSULE_HOOK_TOKEN",
        "",
        "Secret in the Capsule REST hook URL (…/capsule/TOKEN; Capsule signs nothing), at least 24 characters",
    )
    webhook_port: Port = _setting(
        "WEBHOOK_PORT",
        "8790",
        "Port `webhooks serve` listens on (127.0.0.1; put TLS on 443 in front); 8790 is none of the"
        " ports the sandbox (8710, 8720), `ui` (3000) or `auth login` (8765) use",
    )
    webhook_fast_lane: YesOrNo = _setting(
        "WEBHOOK_FAST_LANE",
        "true",
        "true: `webhooks serve` syncs a contact change itself in seconds and reports it to Dagster; false:"
        " every webhook waits for the sensor's incremental run",
    )
    webhook_spool_days: KeptDays = _setting(
        "WEBHOOK_SPOOL_DAYS",
        "7",
        "Days webhook deliveries are kept in spool/done/ after their sync run (a replay within them is"
        " recognised), then deleted",
    )
    webhook_spool_max_mb: Megabytes = _setting(
        "WEBHOOK_SPOOL_MAX_MB",
        "512",
        "Megabytes of webhook deliveries that may wait for a sync run; beyond it `webhooks serve` answers"
        " 503 and alerts",
    )

    # What was wrong, when read with ``lenient=True`` (each such setting then holds its default).
    _problems: tuple[str, ...] = PrivateAttr(default=())
    # With a tenant chosen (CAPSULE_XERO_TENANT), the top-level home: its one Xero sign-in serves
    # every tenant's organisation (capsule_xero/tenants.py); a tenant's own custom connection: its folder.
    _xero_token_home: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """Surrounding spaces are dropped, and a setting set to nothing takes its default."""
        if not isinstance(data, Mapping):
            return data
        stripped = {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}
        return {key: value for key, value in stripped.items() if value != ""}

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment only: no .env file or secrets folder is read behind the contract's back.
        return (init_settings, _Environment(settings_cls, os.environ))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, lenient: bool = False) -> Settings:
        """The settings in ``env`` (default: the process environment), every value checked.

        Raises ``SettingsError`` listing every wrong setting. ``lenient=True`` never raises: a wrong
        setting takes its default and its line is kept in ``problems`` (for the Dagster code location,
        which must load to say what is wrong).
        """
        environ = dict(os.environ if env is None else env)
        problems: list[str] = []
        tenant = None
        if environ.get("CAPSULE_XERO_TENANT", "").strip():
            from capsule_xero.tenants import TenantsError, tenant_environment

            try:
                tenant = tenant_environment(environ)
            except TenantsError as error:
                problems.extend(error.problems)
            if tenant is not None:
                environ.update(tenant[0])
        try:
            settings = cls._read(environ)
        except ValidationError as error:
            wrong_lines, wrong = _problem_lines(error)
            problems.extend(wrong_lines)
            settings = cls._read({name: value for name, value in environ.items() if name not in wrong})
        if tenant is not None:
            # A tenant without a rules file gets the defaults, never the working folder's file.
            settings = settings.model_copy(update={"config_file": tenant[2]})
            settings._xero_token_home = tenant[1]
        home_problem = _home_problem(settings.home)
        if home_problem:
            problems.append(home_problem)
            settings = settings.model_copy(update={"home": Path(DEFAULT_HOME)})
        if problems and not lenient:
            raise SettingsError(problems)
        settings._problems = tuple(problems)
        return settings

    @classmethod
    def _read(cls, environ: Mapping[str, str]) -> Settings:
        return cls(_build_sources=((_Environment(cls, environ),), {}))

    @classmethod
    def fields_by_name(cls) -> dict[str, FieldInfo]:
        """Every setting's field, by its environment variable, in the contract's order."""
        return {str(info.alias): info for info in cls.model_fields.values()}

    @property
    def problems(self) -> tuple[str, ...]:
        return self._problems

    @property
    def xero_token_home(self) -> Path:
        """The folder of the Xero token store: the home, or with tenants the top-level one they share."""
        return self._xero_token_home or self.home

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


def is_secret(info: FieldInfo) -> bool:
    return info.annotation is SecretStr


def _shown(value: str) -> str:
    """A value as an error shows it: quoted, and cut (an environment variable can hold megabytes)."""
    if len(value) > SHOWN_VALUE_CHARACTERS:
        return repr(value[:SHOWN_VALUE_CHARACTERS])[:-1] + f"…' ({len(value):,} characters)"
    return repr(value)


def _problem_lines(error: ValidationError) -> tuple[list[str], set[str]]:
    """One line per wrong setting, in the contract's order, and the names of the wrong settings."""
    fields = Settings.fields_by_name()
    order = list(fields)
    lines: dict[str, str] = {}
    for item in error.errors(include_url=False):
        name = str(item["loc"][0])
        cause = (item.get("ctx") or {}).get("error")
        reason = str(cause) if isinstance(cause, ValueError) else item["msg"]
        shown = "(hidden)" if name not in fields or is_secret(fields[name]) else _shown(str(item["input"]))
        lines.setdefault(name, f"{name}={shown} {reason}")
    names = sorted(lines, key=lambda name: order.index(name) if name in order else len(order))
    return [lines[name] for name in names], set(names)


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
    """The text of .env.example, generated from the model's fields so the two never drift apart."""
    lines = ["# capsule-xero settings. Every one is optional except the credentials for the real APIs.", ""]
    for name, info in Settings.fields_by_name().items():
        lines.append(f"# {info.description}" + (" (secret)" if is_secret(info) else ""))
        lines.append(f"# {name}={info.default}" if info.default else f"{name}=")
        lines.append("")
    return "\n".join(lines)
