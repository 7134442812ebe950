"""``capsule-xero webhooks serve``: the webhook receiver (capsule_xero/webhooks.py) in the foreground."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

import typer
from pydantic import SecretStr

from capsule_xero.display import LiteralConsole, markup_literal
from capsule_xero.settings import Settings, SettingsError
from capsule_xero.tenants import TENANT_VARIABLE, TenantsError, chosen_tenant, read_tenants

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from assets.fast_lane import FastLaneWorker, Pass
    from capsule_xero.spool import SpoolFull
    from capsule_xero.webhooks import TenantHooks

logger = logging.getLogger(__name__)

webhooks_app = typer.Typer(
    help="Receive Xero webhooks and Capsule REST hooks into a spool the Dagster sensor turns into runs.",
    no_args_is_help=True,
)


@webhooks_app.command("serve")
def serve_command(
    port: int | None = typer.Option(None, "--port", help="Port to listen on (default: WEBHOOK_PORT, 8790)."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; keep 127.0.0.1 behind a TLS reverse proxy on 443."
    ),
) -> None:
    """Serve POST /xero (signed Xero webhooks, Intent to Receive) and POST /capsule/<CAPSULE_HOOK_TOKEN>.

    With a tenants file one receiver serves every client (or only --tenant's): each Xero event goes to
    the client whose organisation it names, and each client's Capsule hooks post to
    /capsule/<tenant>/<its capsule_hook_token_env's token>."""
    # The receiver (orjson, Starlette and uvicorn: ~0.25 s) and the alerts are imported where they
    # are used: `capsule-xero --help` does without them.
    from capsule_xero.spool import Spool, SpoolLimits
    from capsule_xero.webhooks import (
        CAPSULE_PREFIX,
        XERO_PATH,
        WebhookReceiver,
        receiver_problems,
        tenant_capsule_path,
    )

    console = LiteralConsole(soft_wrap=True, stderr=True)
    hooks: list[TenantHooks] | None = None
    try:
        settings = Settings.from_env(_without_tenant(os.environ))
        hooks = tenant_hooks(os.environ)
        hooks, held_back = _serveable(hooks)
        problems = receiver_problems(settings, hooks)
    except (SettingsError, TenantsError) as error:
        problems = error.problems
    if problems:
        for problem in problems:
            console.print(f"[red]{markup_literal(problem)}[/red]", highlight=False)
        raise typer.Exit(2)
    for line in held_back:
        console.print(f"[yellow]{markup_literal(line)}: its Capsule hooks are off[/yellow]", highlight=False)
    limits = SpoolLimits.of(settings)
    spool = None if hooks is not None else Spool.at_home(settings.home, limits)
    receiver = WebhookReceiver(
        spool,
        xero_key=settings.xero_webhook_key,
        capsule_token=settings.capsule_hook_token,
        host=host,
        port=settings.webhook_port if port is None else port,
        on_spool_full=_SpoolFullAlert(settings),
        tenants=hooks,
    )
    spools = [spool] if spool is not None else [tenant.spool for tenant in hooks or ()]
    where = markup_literal(spool.root if spool is not None else "each client's spool")
    console.print(f"Receiving webhooks on {receiver.base_url} into {where}", highlight=False)
    if settings.xero_webhook_key:
        console.print(f"  Xero:    POST {receiver.base_url}{XERO_PATH}", highlight=False)
    # The token is the Capsule route's only protection: shown as a placeholder, never printed.
    if hooks is None and settings.capsule_hook_token:
        console.print(
            f"  Capsule: POST {receiver.base_url}{CAPSULE_PREFIX}$CAPSULE_HOOK_TOKEN", highlight=False
        )
    for tenant in hooks or ():
        target = (
            f"POST {receiver.base_url}{tenant_capsule_path(tenant.name, '$' + tenant.capsule_token_env)}"
            if tenant.capsule_token
            else "off (see above)"
            if tenant.capsule_token_env
            else "no Capsule hooks (no capsule_hook_token_env)"
        )
        console.print(
            markup_literal(f"  {tenant.name}: Xero organisation {tenant.xero_tenant_id}; Capsule: {target}"),
            highlight=False,
        )
    console.print(
        f"Deliveries a sync has taken are kept {limits.keep_done.days} days (WEBHOOK_SPOOL_DAYS);"
        f" at most {limits.max_pending_bytes // (1024 * 1024):,} MB wait (WEBHOOK_SPOOL_MAX_MB).",
        highlight=False,
        style="dim",
    )
    console.print("Ctrl-C stops.", style="dim")
    # One line per request: method, route name and status (never the path, which holds the token).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for each in spools:
        each.prune_done()
    fast_lane = _start_fast_lane(settings, hooks, console)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            receiver.serve_forever()
    finally:
        receiver.stop()
        if fast_lane is not None:
            fast_lane.stop()


def _dagster_instance(settings: Settings) -> DagsterInstance | None:
    """The Dagster instance the fast lane reports to: DAGSTER_HOME's, or the one `capsule-xero ui` made."""
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    folder = settings.home / "dagster"
    if (folder / "dagster.yaml").is_file():
        return dg.DagsterInstance.from_config(str(folder))
    return None


def _start_fast_lane(
    settings: Settings, hooks: list[TenantHooks] | None, console: LiteralConsole
) -> FastLaneWorker | None:
    """The webhook fast lane (assets/fast_lane.py) for each client served, when Dagster can record it."""
    if not settings.webhook_fast_lane:
        console.print(
            "Fast lane off (WEBHOOK_FAST_LANE=false): webhooks wait for the sensor's runs.", style="dim"
        )
        return None
    from assets.fast_lane import FastLane, FastLaneWorker, dagster_recorder
    from assets.tenancy import settings_of_tenant
    from capsule_xero.rules.loading import load_rules

    instance = _dagster_instance(settings)
    if instance is None:
        console.print(
            "[yellow]No Dagster instance (set DAGSTER_HOME, or run `capsule-xero ui` once): the fast lane is off"
            " and webhooks wait for the sensor's runs.[/yellow]",
            highlight=False,
        )
        return None
    record = dagster_recorder(instance)
    lanes = []
    for name in [tenant.name for tenant in hooks] if hooks is not None else [""]:
        own = settings_of_tenant(name) if name else settings
        lanes.append(FastLane(own, load_rules(own.config_file), tenant=name, record=record))
    worker = FastLaneWorker(lanes, on_pass=_log_pass)
    worker.start()
    console.print(
        "Fast lane on: a contact change is synced here in seconds and reported to Dagster"
        " (WEBHOOK_FAST_LANE=false turns it off).",
        style="dim",
    )
    return worker


def _log_pass(done: Pass) -> None:
    who = f"{done.tenant}: " if done.tenant else ""
    if done.declined:
        logger.info(
            "%sfast lane: %d deliveries left to the sensor's run: %s", who, done.deliveries, done.declined
        )
    elif done.plan is None:
        logger.info("%sfast lane: %d event(s), echoes of our own writes only", who, done.events)
    else:
        written = done.result.status if done.result is not None else done.why_not
        logger.info(
            "%sfast lane: %d event(s) → plan %s (%s) in %.1f s",
            who,
            done.events,
            done.plan.plan_id,
            written,
            done.seconds,
        )


def _serveable(hooks: list[TenantHooks] | None) -> tuple[list[TenantHooks] | None, list[str]]:
    """Each client's share with the Capsule route of any whose hook token is unset or guessable
    turned off, and why: the others are still served (a guessable token is never served)."""
    from capsule_xero.webhooks import tenant_hook_problems

    if hooks is None:
        return None, []
    served, held_back = [], []
    for tenant in hooks:
        problems = tenant_hook_problems(tenant)
        held_back.extend(problems)
        served.append(dataclasses.replace(tenant, capsule_token=SecretStr("")) if problems else tenant)
    return served, held_back


def _without_tenant(environ: Mapping[str, str]) -> dict[str, str]:
    """The deployment's own settings (the webhook key, the port): those of no tenant."""
    return {name: value for name, value in environ.items() if name != TENANT_VARIABLE}


def tenant_hooks(environ: Mapping[str, str]) -> list[TenantHooks] | None:
    """Every client's share of the receiver (only the chosen one's with --tenant); None without a
    tenants file. Each spool is in that client's home, where its own sensor reads it."""
    from capsule_xero.spool import Spool, SpoolLimits
    from capsule_xero.webhooks import TenantHooks

    tenants = read_tenants(environ)
    if tenants is None:
        return None
    chosen = chosen_tenant(environ)
    hooks = []
    for name in [chosen] if chosen else tenants.names:
        tenant = tenants.get(name)
        settings = Settings.from_env({**environ, TENANT_VARIABLE: name})
        hooks.append(
            TenantHooks(
                name=name,
                spool=Spool.at_home(settings.home, SpoolLimits.of(settings)),
                xero_tenant_id=tenant.xero_tenant_id,
                capsule_token=settings.capsule_hook_token,
                capsule_token_env=tenant.capsule_hook_token_env or "",
                on_spool_full=_SpoolFullAlert(settings),
            )
        )
    return hooks


class _SpoolFullAlert:
    """Tells a person the spool is full, from the receiver itself: with the Dagster daemon stopped (the
    usual cause) no sensor would. Sent from a thread of its own, so the sender's 503 never waits for
    Slack or SMTP; tried at most once an hour here, and delivered at most once a day (the sent log)."""

    RETRY_AFTER_SECONDS = 3600.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._last: float | None = None

    def __call__(self, full: SpoolFull) -> None:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last < self.RETRY_AFTER_SECONDS:
                return
            self._last = now
        threading.Thread(target=self._send, args=(full,), name="spool-full-alert", daemon=True).start()

    def _send(self, full: SpoolFull) -> None:
        # Imported here: the rules file's models (pydantic) take ~0.6 s, which `--help` does without.
        from capsule_xero.rules.loading import RulesError, load_rules
        from capsule_xero.spool import Spool
        from reverse_etl.alerts.delivery import SentLog, send
        from reverse_etl.alerts.finding import webhook_backlog

        try:
            rules = load_rules(self.settings.config_file)
        except RulesError:
            logger.error("webhooks: the rules file has problems, so no alert about the full spool was sent")
            return
        spool = Spool.at_home(self.settings.home)
        oldest = timedelta(seconds=spool.oldest_pending_age() or 0.0)
        alert = webhook_backlog(full.pending_bytes, full.limit, oldest, str(spool.root))
        send([alert], rules.alerts.channels, sent_log=SentLog.in_home(self.settings.home))
