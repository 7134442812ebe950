"""The tenants file: one deployment, many client organisations (docs/operations.md#for-consultants).

``$CAPSULE_XERO_HOME/tenants.yaml`` (or the file ``CAPSULE_XERO_TENANTS`` names) lists each client:
its name (its folder, ``$CAPSULE_XERO_HOME/tenants/<name>/``, which holds everything a single install
keeps in CAPSULE_XERO_HOME), its Capsule address, the NAME of the environment variable holding its
Capsule token, its Xero organisation and its rules file. No secret is ever written in it: a value that
looks like a token where a variable's name belongs is refused, without being shown.

The Xero sign-in stays in the top-level home: one sign-in serves every organisation it was granted
(Xero's /connections), and its token store already lets one refresher at a time across processes;
each tenant picks its organisation by ``xero_tenant_id``. A tenant that names its own Xero custom
connection (``xero_client_id_env``, ``xero_client_secret_env``: client_credentials, which serve one
organisation each) keeps that connection's tokens in its own folder instead. Without a tenants file
nothing changes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

# capsule_xero/settings.py reads a chosen tenant through this module, so this one cannot import it:
# the default home and the address rule are CAPSULE_XERO_HOME's and CAPSULE_API_URL's (a test holds
# them equal).
DEFAULT_HOME = "./.capsule-xero"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

TENANTS_FILE_NAME = "tenants.yaml"
TENANTS_FOLDER = "tenants"
TENANT_VARIABLE = "CAPSULE_XERO_TENANT"
TENANTS_FILE_VARIABLE = "CAPSULE_XERO_TENANTS"
# The run tag naming a Dagster run's client (assets/tenancy.py). The run queue admits one run per value
# (cli/deploy.py, cli/ui.py): a client's runs all write its one DuckDB file, and DuckDB allows one
# writing process per file. Kept here, below both, so the CLI knows it without importing Dagster.
TENANT_TAG = "capsule_xero/tenant"
# The tag Dagster puts on a run for one partition (a run launched for a partition, a backfill's runs,
# a schedule's or sensor's request with a partition key); the partitions are the tenants.
PARTITION_TAG = "dagster/partition"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# Environment variables are named in capitals by convention; anything else (lower case, dots, dashes,
# a long run of letters and digits with no underscore) is far likelier a pasted token than a name.
VARIABLE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
TOKEN_LIKE_LENGTH = 20
PUT_IT_IN_A_VARIABLE = (
    "looks like a token, not the name of an environment variable: put the token in an environment"
    " variable (export ACME_CAPSULE_TOKEN=…) and write the variable's name here; no secret belongs in this file"
)


class TenantsError(ValueError):
    """A tenants file that cannot be used, or a tenant that is not in it; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _variable_name(value: str) -> str:
    looks_like_token = (
        len(value) >= TOKEN_LIKE_LENGTH and "_" not in value and any(c.isdigit() for c in value)
    )
    if not VARIABLE_PATTERN.match(value) or looks_like_token:
        raise ValueError(PUT_IT_IN_A_VARIABLE)
    return value


def _organisation(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(
            "is not a Xero organisation id (a GUID such as 4a1c6b2e-0f9d-4f3a-9b7e-2d5c8e1f0a6b;"
            " `capsule-xero auth status` shows it)"
        ) from None


def _web_address(value: str) -> str:
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if any(c.isspace() for c in value) or not host or parts.scheme not in {"https", "http"}:
        raise ValueError("is not a web address (https://host/path)")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError("is not an https:// address: plain http would send the token across the network")
    return value.rstrip("/")


class Tenant(BaseModel):
    """One client: where its data lives, how to reach its Capsule account and its Xero organisation."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(pattern=NAME_PATTERN)
    capsule_api_url: Annotated[str, AfterValidator(_web_address)] | None = None
    capsule_token_env: Annotated[str, AfterValidator(_variable_name)]
    xero_tenant_id: Annotated[str, AfterValidator(_organisation)]
    rules: Path | None = None
    # The secret in the client's own Capsule REST hook URL (/capsule/<name>/<token>, capsule_xero/webhooks.py).
    capsule_hook_token_env: Annotated[str, AfterValidator(_variable_name)] | None = None
    # The client's own Xero custom connection (client_credentials, one organisation each): its token
    # store then lives in its own folder, not in the shared sign-in's.
    xero_client_id_env: Annotated[str, AfterValidator(_variable_name)] | None = None
    xero_client_secret_env: Annotated[str, AfterValidator(_variable_name)] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Tenant:
        if (self.xero_client_id_env is None) != (self.xero_client_secret_env is None):
            raise ValueError(
                "xero_client_id_env and xero_client_secret_env go together: name both (its own Xero"
                " custom connection) or neither (the shared sign-in)"
            )
        return self

    @property
    def own_xero_connection(self) -> bool:
        return self.xero_client_id_env is not None

    def folder(self, home: Path) -> Path:
        return home / TENANTS_FOLDER / self.name


class TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    tenants: list[Tenant] = Field(default_factory=list)


class Tenants:
    """The tenants of one home, as the tenants file lists them, with their paths made absolute."""

    def __init__(self, path: Path, home: Path, tenants: list[Tenant]) -> None:
        self.path = path
        self.home = home
        self.by_name = {tenant.name: tenant for tenant in tenants}

    @property
    def names(self) -> list[str]:
        return list(self.by_name)

    def folder(self, tenant: Tenant) -> Path:
        return tenant.folder(self.home)

    def rules_file(self, tenant: Tenant) -> Path | None:
        """The tenant's rules file; a relative path is read from the tenants file's folder."""
        if tenant.rules is None:
            return None
        rules = tenant.rules.expanduser()
        return rules if rules.is_absolute() else self.path.parent / rules

    def get(self, name: str) -> Tenant:
        """The tenant called ``name``; ``TenantsError`` naming those that exist when there is none."""
        tenant = self.by_name.get(name)
        if tenant is None:
            raise TenantsError([f"No tenant {name!r} in {self.path}: {self.choose_one()}"])
        return tenant

    def choose_one(self) -> str:
        names = ", ".join(self.names) or "none yet"
        return f"choose one with `capsule-xero --tenant NAME …` (tenants: {names})"


def home_of(environ: Mapping[str, str]) -> Path:
    return Path((environ.get("CAPSULE_XERO_HOME") or "").strip() or DEFAULT_HOME).expanduser()


def tenants_file_path(environ: Mapping[str, str]) -> Path:
    named = (environ.get(TENANTS_FILE_VARIABLE) or "").strip()
    return Path(named).expanduser() if named else home_of(environ) / TENANTS_FILE_NAME


def read_tenants(environ: Mapping[str, str]) -> Tenants | None:
    """The tenants file of this environment, checked; None when there is none (one implicit tenant)."""
    path = tenants_file_path(environ)
    home = home_of(environ)
    if not path.exists():
        if (environ.get(TENANTS_FILE_VARIABLE) or "").strip():
            raise TenantsError([f"{path}: no such tenants file (set {TENANTS_FILE_VARIABLE} to its path)"])
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise TenantsError([f"{path}: cannot be read ({error})"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise TenantsError([f"{path}{where}: not valid YAML"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TenantsError([f"{path}: should hold `tenants:`, a list of clients (see tenants.example.yaml)"])
    try:
        parsed = TenantsFile.model_validate(data)
    except ValidationError as error:
        raise TenantsError(_problem_lines(path, data, error)) from None
    tenants = Tenants(path, home, parsed.tenants)
    problems = _clashes(tenants, parsed.tenants)
    if problems:
        raise TenantsError(problems)
    return tenants


def _problem_lines(path: Path, data: dict[str, Any], error: ValidationError) -> list[str]:
    listed = data.get("tenants")
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = item["loc"]
        cause = (item.get("ctx") or {}).get("error")
        reason = str(cause) if isinstance(cause, ValueError) else item["msg"]
        if item["type"] == "extra_forbidden":
            reason = (
                "is not a key of a tenant (name, capsule_api_url, capsule_token_env, xero_tenant_id, rules,"
                " capsule_hook_token_env, xero_client_id_env, xero_client_secret_env)"
            )
        elif item["type"] == "string_pattern_mismatch":
            reason = "is not a safe folder name (letters, digits, - and _, at most 64)"
        if len(loc) >= 2 and loc[0] == "tenants" and isinstance(loc[1], int):
            entry = listed[loc[1]] if isinstance(listed, list) and loc[1] < len(listed) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            who = f"tenant {name!r}" if isinstance(name, str) and name else f"tenant number {loc[1] + 1}"
            key = ".".join(str(step) for step in loc[2:])
            lines.append(f"{path}: {who}: {key} {reason}" if key else f"{path}: {who}: {reason}")
        else:
            where = ".".join(str(step) for step in loc)
            if item["type"] == "extra_forbidden":
                reason = "is not a key of the tenants file (only `tenants:`)"
            lines.append(f"{path}: {where} {reason}")
    return list(dict.fromkeys(lines))


def _clashes(tenants: Tenants, listed: list[Tenant]) -> list[str]:
    """Two tenants sharing a folder or an organisation, or a path into another tenant's folder."""
    problems: list[str] = []
    seen_names: dict[str, str] = {}
    seen_orgs: dict[str, str] = {}
    for tenant in listed:
        folded = tenant.name.lower()  # one folder on a case-insensitive disk
        if folded in seen_names:
            problems.append(
                f"{tenants.path}: tenant {tenant.name!r}: name is also tenant {seen_names[folded]!r}'s"
            )
        seen_names.setdefault(folded, tenant.name)
        if tenant.xero_tenant_id in seen_orgs:
            problems.append(
                f"{tenants.path}: tenant {tenant.name!r}: xero_tenant_id is also tenant"
                f" {seen_orgs[tenant.xero_tenant_id]!r}'s: one Xero organisation belongs to one tenant"
            )
        seen_orgs.setdefault(tenant.xero_tenant_id, tenant.name)
    all_tenants = (tenants.home / TENANTS_FOLDER).resolve()
    for tenant in listed:
        rules = tenants.rules_file(tenant)
        if rules is None:
            continue
        own = tenants.folder(tenant).resolve()
        resolved = rules.resolve()
        if resolved.is_relative_to(all_tenants) and not resolved.is_relative_to(own):
            problems.append(
                f"{tenants.path}: tenant {tenant.name!r}: rules points into another tenant's folder"
                f" ({rules}): keep it in {own} or outside {all_tenants}"
            )
    return problems


def chosen_tenant(environ: Mapping[str, str]) -> str:
    return (environ.get(TENANT_VARIABLE) or "").strip()


def tenant_environment(environ: Mapping[str, str]) -> tuple[dict[str, str], Path, Path | None] | None:
    """The settings the chosen tenant puts over ``environ``, the folder of its Xero token store (the
    shared sign-in's, or its own with its own custom connection) and its rules file; None when no
    tenant is chosen. ``TenantsError`` when it cannot be used."""
    name = chosen_tenant(environ)
    if not name:
        return None
    tenants = read_tenants(environ)
    if tenants is None:
        path = tenants_file_path(environ)
        raise TenantsError(
            [f"{TENANT_VARIABLE}={name!r} names a tenant, but there is no tenants file {path}"]
        )
    tenant = tenants.get(name)
    overlay = {
        "CAPSULE_XERO_HOME": str(tenants.folder(tenant)),
        "CAPSULE_API_TOKEN": environ.get(tenant.capsule_token_env, ""),
        "XERO_TENANT_ID": tenant.xero_tenant_id,
        # Its own hook token or none: the top-level one belongs to no client.
        "CAPSULE_HOOK_TOKEN": environ.get(tenant.capsule_hook_token_env, "")
        if tenant.capsule_hook_token_env
        else "",
    }
    if tenant.capsule_api_url:
        overlay["CAPSULE_API_URL"] = tenant.capsule_api_url
    token_home = tenants.home
    if tenant.xero_client_id_env and tenant.xero_client_secret_env:
        overlay["XERO_CLIENT_ID"] = environ.get(tenant.xero_client_id_env, "")
        overlay["XERO_CLIENT_SECRET"] = environ.get(tenant.xero_client_secret_env, "")
        overlay["XERO_CUSTOM_CONNECTION"] = "true"
        token_home = tenants.folder(tenant)  # its connection's tokens are its own, not the shared sign-in's
    rules = tenants.rules_file(tenant)
    if rules is not None:
        overlay["CAPSULE_XERO_CONFIG"] = str(rules)
    return overlay, token_home, rules
