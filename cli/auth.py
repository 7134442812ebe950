"""``capsule-xero auth login|status|logout``: sign in to Xero, see the token's state, or sign out."""

from __future__ import annotations

import os
import webbrowser
from collections.abc import Mapping
from datetime import UTC, datetime

import typer

from capsule_xero.display import markup_literal
from capsule_xero.settings import Settings
from capsule_xero.tenants import TENANT_VARIABLE, Tenants, chosen_tenant, read_tenants
from capsule_xero.xero.auth import CALLBACK_PORT, XeroAuth, XeroAuthError, login
from capsule_xero.xero.scopes import Access, every_access
from capsule_xero.xero.token_store import TokenFileError, TokenSet, TokenStore
from cli.shared import console, load_rules_or_exit

REFRESH_WARNING_DAYS = 14

auth_app = typer.Typer(help="Sign in to Xero, see the token's state, or sign out.", no_args_is_help=True)


def _auth(with_rules: bool = False) -> XeroAuth:
    settings = Settings.from_env()
    missing = settings.missing("XERO_CLIENT_ID")
    if missing:
        console.print(
            f"[red]Set {', '.join(missing)}[/red] (see .env.example): the id of your app at developer.xero.com."
        )
        raise typer.Exit(2)
    if not with_rules:
        return XeroAuth(settings)
    tenants = _every_tenant()
    if tenants is not None:
        # One sign-in serves every tenant: it asks for what all their rules files need together.
        return XeroAuth(settings, money_access=every_access(access for access, _ in tenants.values()))
    # The rules file decides which money scopes sign-in asks for; its problems are shown first.
    return XeroAuth(settings, rules=load_rules_or_exit(settings))


def _every_tenant() -> dict[str, tuple[Mapping[str, Access], Settings]] | None:
    """With a tenants file and no tenant chosen: each tenant's money access and settings (exit 2 on a
    tenant's rules file's problem); None otherwise."""
    from capsule_xero.rules.loading import RulesError, load_rules

    tenants = read_tenants(os.environ)  # the --tenant callback has already checked the file
    if tenants is None or chosen_tenant(os.environ):
        return None
    found: dict[str, tuple[Mapping[str, Access], Settings]] = {}
    for name in tenants.names:
        if tenants.get(name).own_xero_connection:
            continue  # its own custom connection asks for its own scopes, never through this sign-in
        settings = Settings.from_env({**os.environ, TENANT_VARIABLE: name})
        try:
            found[name] = (load_rules(settings.config_file).money_access(), settings)
        except RulesError as error:
            console.print(
                f"[red]{markup_literal(f'tenant {name!r}: the rules file has problems: {error.problems[0]}')}[/red]"
                " (`capsule-xero tenants check` shows each tenant's)",
                highlight=False,
            )
            raise typer.Exit(2) from None
    return found


def _choose_tenant(connections: list[dict]) -> dict:
    console.print("This login can reach several Xero organisations:")
    for number, connection in enumerate(connections, start=1):
        console.print(
            f"  {number}. {markup_literal(connection.get('tenantName'))}  ({markup_literal(connection['tenantId'])})"
        )
    while True:
        choice = typer.prompt("Which one should capsule-xero sync to? (number)", type=int)
        if 1 <= choice <= len(connections):
            return connections[choice - 1]
        console.print(f"Please answer with a number from 1 to {len(connections)}.")


@auth_app.command("login")
def auth_login(
    open_browser: bool = typer.Option(
        True, "--browser/--no-browser", help="Open the Xero login page in a browser."
    ),
    port: int = typer.Option(
        CALLBACK_PORT,
        help="Callback port; register http://localhost:PORT/callback in your Xero app (0: any free port).",
    ),
) -> None:
    """Authorise capsule-xero in Xero (authorization code + PKCE through a loopback redirect).

    It asks Xero for the scopes the rules file needs. With a tenants file, one sign-in serves every
    client: without --tenant it asks for what all their rules files need together (tick every
    client's organisation); with --tenant NAME only what NAME's rules need, and it names any other
    client that sign-in then leaves short."""
    auth = _auth(with_rules=True)
    if auth.settings.xero_custom_connection:
        try:
            tokens = auth.current()
        except XeroAuthError as exc:
            console.print(f"[red]{markup_literal(str(exc))}[/red]", highlight=False)
            raise typer.Exit(1) from None
        console.print(f"Custom connection ready: access token valid until {tokens.expires_at:%H:%M} UTC.")
        return

    def show(url: str) -> None:
        console.print(f"Open this address to sign in to Xero:\n{url}", soft_wrap=True)
        if open_browser:
            webbrowser.open(url)

    tenants = read_tenants(os.environ)
    # With tenants each picks its own organisation (xero_tenant_id): nothing to ask.
    choose = _choose_tenant if tenants is None else (lambda connections: _first_tenants(connections, tenants))
    try:
        tokens = login(auth, choose_tenant=choose, open_url=show, port=port)
    except XeroAuthError as exc:
        console.print(f"[red]{markup_literal(exc)}[/red]", highlight=False)
        raise typer.Exit(1) from None
    if tenants is None:
        console.print(
            f"Signed in. capsule-xero will sync to [bold]{markup_literal(tokens.tenant_name)}[/bold] ({markup_literal(tokens.tenant_id)})."
        )
        return
    console.print(f"Signed in with scopes: {markup_literal(' '.join(tokens.scopes))}", highlight=False)
    _report_each_tenant(auth, tokens, tenants)


def _first_tenants(connections: list[dict], tenants: Tenants) -> dict:
    organisations = {tenant.xero_tenant_id for tenant in tenants.by_name.values()}
    return next((c for c in connections if c["tenantId"] in organisations), connections[0])


def _report_each_tenant(auth: XeroAuth, tokens: TokenSet, tenants: Tenants) -> None:
    """One line per tenant this sign-in cannot serve: its organisation not granted, or a scope its
    rules need missing (a shared sign-in signed for one tenant can leave another short)."""
    try:
        granted = {c["tenantId"] for c in auth.connections(tokens.access_token)}
    except XeroAuthError as exc:
        console.print(f"[yellow]Could not list the organisations granted: {markup_literal(exc)}[/yellow]")
        return
    have = set(tokens.scopes)
    for name in tenants.names:
        if tenants.get(name).own_xero_connection:
            console.print(
                f"{markup_literal(name)}: its own custom connection (not this sign-in)", highlight=False
            )
            continue
        settings = Settings.from_env({**os.environ, TENANT_VARIABLE: name}, lenient=True)
        if settings.xero_tenant_id not in granted:
            line = (
                f"{name}: organisation {settings.xero_tenant_id} was not granted: run `capsule-xero auth login`"
                " again and tick it"
            )
            console.print(f"[yellow]{markup_literal(line)}[/yellow]", highlight=False)
            continue
        try:
            needed = XeroAuth(settings, store=auth.store, http=auth.http).scopes
        except XeroAuthError:
            continue  # its rules file's problems are `tenants check`'s to show
        missing = [scope for scope in needed if scope not in have]
        if missing:
            line = (
                f"{name}: its rules need {' '.join(missing)}, which this sign-in lacks: run"
                " `capsule-xero auth login` without --tenant (it asks for every client's needs)"
            )
            console.print(f"[yellow]{markup_literal(line)}[/yellow]", highlight=False)
        else:
            console.print(f"{markup_literal(name)}: ready", highlight=False)


@auth_app.command("status")
def auth_status() -> None:
    """Show the organisation, scopes and how long until the refresh token dies (warns under 14 days)."""
    settings = Settings.from_env()
    try:
        tokens = TokenStore(settings.xero_token_home).load()
    except TokenFileError as exc:
        console.print(f"[red]{markup_literal(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    if tokens is None:
        console.print("Not signed in to Xero: run `capsule-xero auth login`.")
        raise typer.Exit(1)
    console.print(
        f"Organisation: {markup_literal(tokens.tenant_name or '-')} ({settings.xero_tenant_id or tokens.tenant_id or 'not chosen'})"
    )
    console.print(
        f"Connection:   {'custom connection' if tokens.kind == 'custom' else 'OAuth 2 (authorization code)'}"
    )
    console.print(f"Scopes:       {' '.join(tokens.scopes) or '-'}")
    console.print(
        f"Access token: valid until {tokens.expires_at:%Y-%m-%d %H:%M} UTC (refreshed automatically)"
    )
    dies = tokens.refresh_token_expires_at()
    if dies is not None:
        days = (dies - datetime.now(UTC)).total_seconds() / 86400
        if days <= 0:
            console.print("[red]The refresh token has expired: run `capsule-xero auth login`.[/red]")
            raise typer.Exit(1)
        line = f"Refresh token: dies in {days:.0f} days unless used (every sync uses it)"
        if days < REFRESH_WARNING_DAYS:
            console.print(f"[yellow]{line}. Run a sync or `capsule-xero auth login` soon.[/yellow]")
        else:
            console.print(line)


@auth_app.command("logout")
def auth_logout() -> None:
    """Revoke capsule-xero's access in Xero and delete the stored tokens."""
    auth = _auth()
    try:
        tokens = auth.store.load()
    except TokenFileError as exc:
        _delete_unreadable_token_file(auth, exc)
        return
    if tokens is None:
        console.print("Not signed in.")
        return
    if tokens.refresh_token:
        try:
            auth.revoke(tokens.refresh_token)
        except XeroAuthError as exc:
            console.print(f"[yellow]{markup_literal(exc)} The local tokens are deleted anyway.[/yellow]")
    auth.store.delete()
    console.print("Signed out: tokens revoked and deleted.")


def _delete_unreadable_token_file(auth: XeroAuth, exc: TokenFileError) -> None:
    """Nothing in an unreadable token file can be revoked; Xero drops an unused refresh token after 60
    days (docs/api-facts.md#xero-oauth-2-sign-in-and-tokens), so deleting it is the whole sign-out."""
    try:
        auth.store.delete()
    except OSError:
        console.print(
            f"[red]The Xero token file {markup_literal(str(exc.path))} {markup_literal(exc.what)} and cannot be"
            " deleted: remove it yourself.[/red]",
            highlight=False,
        )
        raise typer.Exit(1) from None
    console.print(
        f"The Xero token file {markup_literal(str(exc.path))} {markup_literal(exc.what)}, so there was nothing"
        " to revoke: it is deleted. Xero forgets a sign-in left unused for 60 days.",
        highlight=False,
    )
