"""``capsule-xero webhooks serve``: the webhook receiver (capsule_xero/webhooks.py) in the foreground.

``register(app)`` adds the ``webhooks`` sub-app to the one ``capsule-xero`` Typer app (capsule_xero/cli.py).
"""

from __future__ import annotations

import contextlib
import logging

import typer

from capsule_xero.settings import Settings

webhooks_app = typer.Typer(
    help="Receive Xero webhooks and Capsule REST hooks into a spool the Dagster sensor turns into runs.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``webhooks serve`` to the ``capsule-xero`` app."""
    app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("serve")
def serve_command(
    port: int | None = typer.Option(None, "--port", help="Port to listen on (default: WEBHOOK_PORT, 8710)."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; keep 127.0.0.1 behind a TLS reverse proxy on 443."
    ),
) -> None:
    """Serve POST /xero (signed Xero webhooks, Intent to Receive) and POST /capsule/<CAPSULE_HOOK_TOKEN>."""
    from rich.console import Console

    from capsule_xero.spool import Spool
    from capsule_xero.webhooks import CAPSULE_PREFIX, XERO_PATH, WebhookReceiver, WebhookSettings

    console = Console(soft_wrap=True, stderr=True)
    try:
        hooks = WebhookSettings.from_env()
    except ValueError:
        console.print("[red]WEBHOOK_PORT must be a number.[/red]")
        raise typer.Exit(2) from None
    problems = hooks.problems()
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/red]", highlight=False)
        raise typer.Exit(2)
    spool = Spool.at_home(Settings.from_env().home)
    receiver = WebhookReceiver(
        spool,
        xero_key=hooks.xero_key,
        capsule_token=hooks.capsule_token,
        host=host,
        port=hooks.port if port is None else port,
    )
    console.print(f"Receiving webhooks on {receiver.base_url} into {spool.root}", highlight=False)
    if hooks.xero_key:
        console.print(f"  Xero:    POST {receiver.base_url}{XERO_PATH}", highlight=False)
    if hooks.capsule_token:
        # The token is the Capsule route's only protection: shown as a placeholder, never printed.
        console.print(
            f"  Capsule: POST {receiver.base_url}{CAPSULE_PREFIX}$CAPSULE_HOOK_TOKEN", highlight=False
        )
    console.print("Ctrl-C stops.", style="dim")
    # One line per request: method, route name and status (never the path, which holds the token).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        receiver.serve_forever()
    receiver.stop()
