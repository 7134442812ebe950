"""``--tenant NAME`` and ``capsule-xero tenants list | check``: one deployment, many clients
(capsule_xero/tenants.py, docs/operations.md#for-consultants)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.table import Table

from capsule_xero.display import markup_literal
from capsule_xero.settings import Settings, SettingsError
from capsule_xero.tenants import (
    TENANT_VARIABLE,
    Tenant,
    Tenants,
    TenantsError,
    read_tenants,
    tenants_file_path,
)
from cli.shared import console

if TYPE_CHECKING:
    from capsule_xero.rules.model import Rules

tenants_app = typer.Typer(
    help="The clients in the tenants file: list them, check each one.", no_args_is_help=True
)

# Commands that work without a tenant when there is a tenants file: the tenants themselves, the
# sandbox, the Xero sign-in (it lives in the top-level home and serves every tenant), deploy (the
# production instance every tenant runs on) and the webhook receiver (one serves every tenant).
WITHOUT_A_TENANT = frozenset({"tenants", "sandbox", "demo", "auth", "deploy", "webhooks", "ui"})


def choose_tenant(command: str | None, tenant: str) -> None:
    """Make ``tenant`` this process's (and its children's) tenant, or exit 2 in one line saying why not."""
    if tenant:
        os.environ[TENANT_VARIABLE] = tenant
    try:
        tenants = read_tenants(os.environ)
        if tenant and tenants is None:
            path = tenants_file_path(os.environ)
            raise TenantsError(
                [
                    f"--tenant {tenant}: there is no tenants file {path}: list your clients there (see tenants.example.yaml)"
                ]
            )
        if tenants is not None and tenant:
            tenants.get(tenant)
    except TenantsError as error:
        for line in error.problems:
            console.print(f"[red]{markup_literal(line)}[/red]", highlight=False)
        raise typer.Exit(2) from None
    if tenants is not None and not tenant and command not in WITHOUT_A_TENANT:
        console.print(
            f"[red]{markup_literal(f'This install has several clients ({tenants.path}): {tenants.choose_one()}')}[/red]",
            highlight=False,
        )
        raise typer.Exit(2)


def _tenants_or_exit() -> Tenants:
    try:
        tenants = read_tenants(os.environ)
    except TenantsError as error:
        for line in error.problems:
            console.print(f"[red]{markup_literal(line)}[/red]", highlight=False)
        raise typer.Exit(2) from None
    if tenants is None:
        console.print(
            "No tenants file: this install syncs one client (its settings and CAPSULE_XERO_HOME)."
            " To run several, list them in $CAPSULE_XERO_HOME/tenants.yaml (see tenants.example.yaml).",
            highlight=False,
        )
        raise typer.Exit(1)
    return tenants


@tenants_app.command("list")
def tenants_list() -> None:
    """Each client: its folder, Xero organisation, rules file and whether its Capsule token is set."""
    tenants = _tenants_or_exit()
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("Tenant", "Folder", "Xero organisation", "Rules file", "Capsule token"):
        table.add_column(column)
    for tenant in tenants.by_name.values():
        token_set = bool(os.environ.get(tenant.capsule_token_env, "").strip())
        rules = tenants.rules_file(tenant)
        table.add_row(
            markup_literal(tenant.name),
            markup_literal(str(tenants.folder(tenant))),
            tenant.xero_tenant_id,
            markup_literal(str(rules) if rules else "defaults"),
            f"{tenant.capsule_token_env} {'set' if token_set else '[red]not set[/red]'}",
        )
    console.print(table)
    if not tenants.by_name:
        console.print(f"{tenants.path} lists no tenant yet (see tenants.example.yaml).", highlight=False)


@dataclass
class _Check:
    """One tenant's row: a short state per column and the problems, each with its fix."""

    cells: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def fail(self, column: str, state: str, problem: str) -> None:
        self.cells[column] = f"[red]{state}[/red]"
        self.problems.append(problem)


COLUMNS = ("Capsule token", "Capsule answers", "Xero connection", "Rules file", "Capsule fields")


@tenants_app.command("check")
def tenants_check() -> None:
    """Per client, in one table: Capsule token set and accepted, Xero connection, rules file, Capsule fields."""
    tenants = _tenants_or_exit()
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("Tenant")
    for column in COLUMNS:
        table.add_column(column)
    problems: list[str] = []
    for tenant in tenants.by_name.values():
        check = _check_tenant(tenant)
        table.add_row(markup_literal(tenant.name), *(check.cells.get(column, "ok") for column in COLUMNS))
        problems.extend(f"{tenant.name}: {problem}" for problem in check.problems)
    console.print(table)
    for problem in problems:
        console.print(f"  {markup_literal(problem)}", highlight=False)
    if problems:
        raise typer.Exit(1)
    console.print("Every tenant is ready to sync.", highlight=False)


def _check_tenant(tenant: Tenant) -> _Check:
    check = _Check()
    try:
        settings = Settings.from_env({**os.environ, TENANT_VARIABLE: tenant.name})
    except SettingsError as error:
        for column in COLUMNS:
            check.cells[column] = "-"
        check.fail("Capsule token", "settings", f"{error.problems[0]}")
        return check
    # The shared sign-in serves every client: signing in for one would ask only its scopes and leave
    # the others short, so the fix is a sign-in without --tenant (it asks what every client needs).
    redo = (
        f"`capsule-xero --tenant {tenant.name} auth login`"
        if settings.xero_custom_connection
        else "`capsule-xero auth login` (one sign-in for every client)"
    )
    definitions = _capsule_check(tenant, settings, check)
    rules = _rules_check(settings, check)
    _xero_check(tenant, settings, check, redo, rules)
    if definitions is None or rules is None:
        check.cells["Capsule fields"] = "-"
    else:
        names = {str(d.get("name", "")).casefold() for d in definitions}
        for key, wanted in (
            ("capsule.abn_field", rules.capsule.abn_field),
            ("capsule.xero_contact_id_field", rules.capsule.xero_contact_id_field),
        ):
            if wanted.casefold() not in names:
                check.fail(
                    "Capsule fields",
                    "missing",
                    f"Capsule has no party field {wanted!r}: add it in Capsule (Settings → Custom Fields)"
                    f" or name the one you use in the rules file ({key})",
                )
    return check


def _capsule_check(tenant: Tenant, settings: Settings, check: _Check) -> list[dict] | None:
    """The Capsule party field definitions: one cheap call that also proves the token is accepted."""
    from capsule_xero.capsule.client import CapsuleClient
    from capsule_xero.capsule.errors import CapsuleError

    if not settings.capsule_api_token.get_secret_value():
        check.cells["Capsule answers"] = "-"
        check.fail(
            "Capsule token",
            "not set",
            f"{tenant.capsule_token_env} is not set: export {tenant.capsule_token_env}=<its Capsule token>"
            " (Capsule → My Preferences → API Authentication Tokens)",
        )
        return None
    check.cells["Capsule token"] = "set"
    try:
        with CapsuleClient.of(settings, pacer_options={"attempts": 2}) as client:
            body = client.get("/parties/fields/definitions", params={"perPage": 100}).json()
    except (CapsuleError, OSError, ValueError, TypeError) as error:
        status = getattr(error, "status", None)
        if status in {401, 403}:
            check.fail(
                "Capsule answers",
                "refused",
                f"Capsule at {settings.capsule_api_url} refused the token in {tenant.capsule_token_env}"
                f" (HTTP {status}): make a new one (Capsule → My Preferences → API Authentication Tokens)"
                f" and export {tenant.capsule_token_env}=<it>",
            )
        else:
            text = (str(error).splitlines() or [type(error).__name__])[0]
            check.fail(
                "Capsule answers",
                "failed",
                f"Capsule at {settings.capsule_api_url} did not answer as expected ({text}):"
                " check capsule_api_url in the tenants file",
            )
        return None
    return list(body.get("definitions", []))


def _xero_check(tenant: Tenant, settings: Settings, check: _Check, redo: str, rules: Rules | None) -> None:
    from capsule_xero.xero.auth import XeroAuth, XeroAuthError
    from capsule_xero.xero.token_store import TokenFileError, TokenStore

    try:
        tokens = TokenStore(settings.xero_token_home).load()
    except TokenFileError as error:
        check.fail("Xero connection", "unusable", str(error))
        return
    if tokens is None:
        check.fail("Xero connection", "not signed in", f"nobody has signed in to Xero yet: run {redo}")
        return
    if tokens.kind == "custom":
        granted = [tokens.tenant_id or ""]
    else:
        try:
            auth = XeroAuth(settings)
            granted = [
                str(c.get("tenantId", "")).lower() for c in auth.connections(auth.current().access_token)
            ]
        except (XeroAuthError, OSError, ValueError) as error:
            check.fail("Xero connection", "failed", f"the Xero sign-in cannot be used ({error}): run {redo}")
            return
    if tenant.xero_tenant_id not in {g.lower() for g in granted}:
        check.fail(
            "Xero connection",
            "not granted",
            f"the Xero sign-in has no connection to organisation {tenant.xero_tenant_id}: run {redo}"
            " and tick that organisation, or correct xero_tenant_id in the tenants file",
        )
        return
    # The scopes this tenant's rules need (money turns on invoices and payments); one sign-in serves
    # every tenant, so it must have been granted what each of them needs.
    needed = [] if rules is None or tokens.kind == "custom" else XeroAuth(settings, rules=rules).scopes
    missing = [scope for scope in needed if scope not in set(tokens.scopes)]
    if missing:
        check.fail(
            "Xero connection",
            "scopes",
            f"the Xero sign-in lacks {' '.join(missing)}, which this tenant's rules need: run {redo}",
        )
    else:
        check.cells["Xero connection"] = "ok"


def _rules_check(settings: Settings, check: _Check) -> Rules | None:
    from capsule_xero.rules.loading import RulesError, load_rules

    try:
        return load_rules(settings.config_file)
    except RulesError as error:
        check.fail("Rules file", "wrong", str(error).splitlines()[0])
        return None


@tenants_app.command("overview")
def tenants_overview(
    as_json: bool = typer.Option(False, "--json", help="Print the same figures as JSON."),
) -> None:
    """Every client at a glance: last successful sync, plans waiting, error queue, calls left, token expiry."""
    from cli.overview import overview

    tenants = _tenants_or_exit()
    rows = overview(tenants)
    unreadable = any(row.state in {"damaged", "unreadable"} for row in rows)
    if as_json:
        console.print_json(json.dumps({"tenants": [row.to_json() for row in rows]}))
        if unreadable:
            raise typer.Exit(1)
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("Tenant", "Last successful sync", "Plans waiting", "Error queue", "Xero calls left today"):
        table.add_column(column)
    table.add_column("Xero sign-in expires")
    for row in rows:
        if row.state == "ok":
            synced = f"{row.last_sync:%Y-%m-%d %H:%M} UTC" if row.last_sync else "never"
            waiting, errors = f"{row.plans_waiting:,}", f"{row.error_queue:,}"
        else:
            shown = {"never": "never", "busy": "[yellow]busy: a sync runs[/yellow]"}
            synced = shown.get(row.state, f"[red]{row.state}[/red]")
            waiting = errors = "-"
        table.add_row(
            markup_literal(row.tenant),
            synced,
            waiting,
            errors,
            markup_literal(row.calls),
            markup_literal(row.sign_in),
        )
    console.print(table)
    for row in rows:
        if row.problem:
            console.print(f"  {markup_literal(row.tenant)}: {markup_literal(row.problem)}", highlight=False)
        elif row.busy_with:
            console.print(
                f"  {markup_literal(row.tenant)}: a sync holds its DuckDB file ({markup_literal(row.busy_with)});"
                " its plans and error queue show once it has finished.",
                highlight=False,
            )
    if not rows:
        console.print(f"{tenants.path} lists no tenant yet (see tenants.example.yaml).", highlight=False)
    if unreadable:
        raise typer.Exit(1)
