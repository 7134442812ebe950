"""``capsule-xero auth login|status|logout``: sign in to Xero, see the token's state, or sign out."""

from __future__ import annotations

import webbrowser
from datetime import UTC, datetime

import typer

from capsule_xero.display import markup_literal
from capsule_xero.settings import Settings
from capsule_xero.xero.auth import CALLBACK_PORT, XeroAuth, XeroAuthError, login
from capsule_xero.xero.token_store import TokenFileError, TokenStore
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
    # The rules file decides which money scopes sign-in asks for; its problems are shown first.
    return XeroAuth(settings, rules=load_rules_or_exit(settings) if with_rules else None)


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
    """Authorise capsule-xero in Xero (authorization code + PKCE through a loopback redirect)."""
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

    try:
        tokens = login(auth, choose_tenant=_choose_tenant, open_url=show, port=port)
    except XeroAuthError as exc:
        console.print(f"[red]{markup_literal(exc)}[/red]", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"Signed in. capsule-xero will sync to [bold]{markup_literal(tokens.tenant_name)}[/bold] ({markup_literal(tokens.tenant_id)})."
    )


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
