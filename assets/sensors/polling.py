"""The Capsule polling sensor: syncs a party changed or deleted, in its tick or by ``incremental_sync_job``.

Each check is the smallest question Capsule answers: ``GET /parties?since=<cursor>&perPage=1`` and
``GET /parties/deleted?since=<cursor>&perPage=1`` (docs/api-facts.md#capsule-incremental-reads-and-deletions).
An idle account costs two one-record requests per check. The cursor is the newest
``updatedAt``/``deletedAt`` seen (ISO text, to the second): list ordering is undocumented
(docs/api-facts.md#capsule-paging), so after a hit the sensor asks again from the timestamp it got,
a few times, to reach the newest change. The run key is that watermark, so one change never starts
two runs; a change the sensor has passed is still read, because the run it started reads from the
extract's own cursors after the sensor asked. How often it asks is ``CAPSULE_POLL_SECONDS``, read
when the code location loads (assets/definitions.py); everything else when a check runs.

With tenants (assets/tenancy.py) each check asks every client's Capsule with that client's settings,
and asks for one run per client that changed, for its partition. The cursor is then a JSON object of
each client's watermark. A client whose token is not set or whose Capsule fails is skipped, with its
reason in the tick's log; the others still get their runs.

A change found after the first check is synced inside the tick (``sync_in_tick``: what a webhook
fast-lane pass does, assets/fast_lane.py), which returns its materialisation; a bulk change, a home a
run holds or a failure starts the run as before. While the webhook fast lane runs, Capsule's hooks
carry the changes and a check is made only every ``WEBHOOK_BACKSTOP_SECONDS``
(docs/operations.md#the-webhook-fast-lane).
"""

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import dagster as dg
import httpx

from assets.fast_lane import FastLane, Pass, capsule_synced_through, materialisation
from assets.tenancy import every_tenants_tick, settings_of_tenant, tenant_tags
from capsule_xero.capsule.client import CapsuleClient
from capsule_xero.capsule.errors import CapsuleError
from capsule_xero.rules.loading import load_rules
from capsule_xero.settings import Settings, SettingsError
from capsule_xero.spool import Spool
from capsule_xero.tenants import TenantsError, read_tenants
from pipelines.capsule.settings import DELETED_SINCE_START

PARTIES_PATH = "parties"
DELETED_PARTIES_PATH = "parties/deleted"
# How many one-record requests a feed may take to find its newest change in one check. Past it,
# the watermark is the newest change found; the next check starts one more run for the rest.
FOLLOW_LIMIT = 8
REQUEST_TIMEOUT = httpx.Timeout(10.0, read=20.0)
# A sensor tick has about a minute: wait briefly for a rate-limit window, never the extractor's 5 min.
PACER_OPTIONS = {"max_wait": 15.0, "attempts": 3, "backoff_max": 2.0}
RUN_KEY_PREFIX = "capsule-change-"
JOB_NAME = "incremental_sync_job"
# CAPSULE_POLL_SECONDS unset: two one-record requests every 20 s are 360 an hour, 9% of Capsule's
# 4,000 (docs/api-facts.md); a change found is synced in the tick (docs/operations.md#capsule-polling).
DEFAULT_POLL_SECONDS = 20
# While the webhook fast lane watches the spool, a check every five minutes is the backstop.
WEBHOOK_BACKSTOP_SECONDS = 300
POLLED_FILE = "capsule-polled"
# A change this large is a bulk edit: the run the sensor starts writes it, with its progress and retries.
IN_TICK_MAX_OPERATIONS = 50


def _newest(
    get: Callable[[str, str], httpx.Response], path: str, key: str, stamp: str, since: str
) -> str | None:
    """The newest ``stamp`` of ``key`` records after ``since`` on ``path`` (None: nothing after it)."""
    newest: str | None = None
    cursor = since
    for _ in range(FOLLOW_LIMIT):
        rows = get(path, cursor).json().get(key) or []
        stamps = [row[stamp] for row in rows if isinstance(row, dict) and row.get(stamp)]
        # `since` is documented as "changed after"; an inclusive server would hand back the
        # record we asked from, so a stamp that is not newer ends the walk.
        if not stamps or max(stamps) <= cursor:
            break
        newest = cursor = max(stamps)
    return newest


def newest_capsule_change(settings: Settings, since: str) -> str | None:
    """The newest party change or deletion after ``since`` (ISO text), or None when there is none."""
    with CapsuleClient.of(
        settings, pacer_options=PACER_OPTIONS, timeout=REQUEST_TIMEOUT, user_agent="capsule-xero (sensor)"
    ) as client:

        def get(path: str, cursor: str) -> httpx.Response:
            return client.get(path, params={"since": cursor, "perPage": 1})

        stamps = [
            _newest(get, PARTIES_PATH, "parties", "updatedAt", since),
            # restrictedParties carry no timestamp, so they cannot move a watermark: the next
            # run started for any other reason reads them.
            _newest(get, DELETED_PARTIES_PATH, "parties", "deletedAt", since),
        ]
    found = [stamp for stamp in stamps if stamp]
    return max(found) if found else None


def synced_by_fast_lane(settings: Settings, newest: str) -> bool:
    """Whether a webhook fast-lane pass has already read, planned and written the change of ``newest``
    (assets/fast_lane.py): then polling starts no run for it, and costs its two requests only."""
    through = capsule_synced_through(settings.home)
    try:
        return through is not None and datetime.fromisoformat(newest.replace("Z", "+00:00")) <= through
    except ValueError:
        return False


def sync_in_tick(settings: Settings, tenant: str, log: Callable[[str], None]) -> Pass | None:
    """The change synced inside this tick, or None: an incremental run is to do it.

    The code server evaluating the sensor is already running, so this costs no run worker's start-up
    (seconds on a quiet machine, a minute on a busy one): what a webhook fast-lane pass does
    (assets/fast_lane.py), for the parties changed since the last read. A plan larger than
    ``IN_TICK_MAX_OPERATIONS``, a home a run holds, a first sync not yet made, or any failure is left
    to the run, as before."""
    try:
        lane = FastLane(settings, load_rules(settings.config_file), tenant=tenant)
        done = lane.sync_capsule_change(IN_TICK_MAX_OPERATIONS)
    except Exception as exc:  # the run the sensor starts instead reports it properly
        log(f"{tenant + ': ' if tenant else ''}synced by a run, not in the tick: {_first_line(exc)}")
        return None
    return None if done.too_large else done


def webhooks_carry_changes(settings: Settings) -> str | None:
    """Why this check is skipped: while the webhook fast lane watches the home's spool, Capsule's hooks
    bring each change in seconds and polling is the backstop for a lost one, every
    ``WEBHOOK_BACKSTOP_SECONDS`` (96 requests in an 8-hour day instead of 2,880 at 20 s). None: check."""
    if not Spool.at_home(settings.home).fast_lane_watching():
        return None
    try:
        age = time.time() - (settings.home / POLLED_FILE).stat().st_mtime
    except FileNotFoundError:
        return None
    if age >= WEBHOOK_BACKSTOP_SECONDS:
        return None
    return (
        "The webhook fast lane is receiving Capsule's hooks: the next check, a backstop for a lost hook,"
        f" is in {WEBHOOK_BACKSTOP_SECONDS - age:.0f} s."
    )


def _checked(settings: Settings) -> None:
    # A client's folder is made by its first run: until then there is no backstop to time.
    with contextlib.suppress(OSError):
        (settings.home / POLLED_FILE).touch()


def check_capsule(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason | dg.SensorResult:
    """One check: the change synced in the tick, a run request keyed by the newest change after the
    cursor, or why there is none."""
    settings = Settings.from_env()
    if not settings.capsule_api_token:
        return dg.SkipReason(
            "CAPSULE_API_TOKEN is not set: set it (Capsule → My Preferences → API Authentication "
            "Tokens) in the environment Dagster runs in, and the sensor starts polling."
        )
    backstop = webhooks_carry_changes(settings)
    if backstop is not None:
        return dg.SkipReason(backstop)
    since = context.cursor or DELETED_SINCE_START
    try:
        newest = newest_capsule_change(settings, since)
    except CapsuleError as exc:
        # Not a crash: the sensor asks again at the next interval.
        return dg.SkipReason(f"Capsule not checked: {exc}")
    _checked(settings)
    if newest is None:
        return dg.SkipReason(f"No Capsule party changed or deleted after {since}.")
    if synced_by_fast_lane(settings, newest):
        context.update_cursor(newest)
        return dg.SkipReason(f"The Capsule change of {newest} was synced by the webhook fast lane.")
    # The first check has no cursor: what it found is everything since Capsule began, a catch-up for
    # a run (with its retries and progress), not for a tick.
    synced = sync_in_tick(settings, "", context.log.info) if context.cursor else None
    if synced is not None:
        return dg.SensorResult(asset_events=[materialisation(synced)], cursor=newest)
    context.update_cursor(newest)
    return dg.RunRequest(
        run_key=RUN_KEY_PREFIX + newest,
        tags={"capsule_xero/trigger": "capsule_changes_sensor", "capsule_xero/capsule_change": newest},
    )


def tenant_watermarks(cursor: str | None) -> dict[str, str]:
    """Each client's watermark from the cursor (a single install's plain-text cursor names none)."""
    try:
        data = json.loads(cursor or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(name): str(stamp) for name, stamp in data.items() if isinstance(stamp, str) and stamp}


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def check_tenant(name: str, token_variable: str, since: str) -> tuple[str | None, str]:
    """One client's check: the newest change after ``since`` (None: none), or why there is none."""
    try:
        settings = settings_of_tenant(name)
    except SettingsError as exc:
        return None, f"{name}: not checked, its settings are wrong: {_first_line(exc)}"
    if not settings.capsule_api_token:
        return None, (
            f"{name}: not checked, {token_variable} is not set: set it to {name}'s Capsule token (Capsule →"
            " My Preferences → API Authentication Tokens) in the environment Dagster runs in."
        )
    backstop = webhooks_carry_changes(settings)
    if backstop is not None:
        return None, f"{name}: {backstop}"
    try:
        newest = newest_capsule_change(settings, since)
    except CapsuleError as exc:
        return None, f"{name}: Capsule not checked: {exc}"
    except Exception as exc:  # one client's failure never stops another's check
        return None, f"{name}: Capsule not checked: {type(exc).__name__}: {_first_line(exc)}"
    _checked(settings)
    if newest is None:
        return None, f"{name}: no Capsule party changed or deleted after {since}."
    if synced_by_fast_lane(settings, newest):
        return None, f"{name}: the Capsule change of {newest} was synced by the webhook fast lane."
    return newest, ""


def check_every_tenant(names: Sequence[str]) -> Callable[[dg.SensorEvaluationContext], dg.SensorResult]:
    """The evaluation of a check across ``names``: a run request per client whose Capsule changed."""
    names = list(names)

    def check_tenants(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        watermarks = tenant_watermarks(context.cursor)
        try:
            tenants = read_tenants(os.environ)
        except TenantsError as exc:
            return dg.SensorResult(skip_reason="\n".join(exc.problems))
        requests: list[dg.RunRequest] = []
        synced: list[dg.AssetMaterialization] = []
        skipped: list[str] = []
        for name in names:
            tenant = None if tenants is None else tenants.by_name.get(name)
            if tenant is None:
                skipped.append(f"{name}: no longer in the tenants file: reload the code location")
                continue
            since = watermarks.get(name) or DELETED_SINCE_START
            newest, why_not = check_tenant(name, tenant.capsule_token_env, since)
            if newest is None:
                skipped.append(why_not)
                continue
            first_check = name not in watermarks
            watermarks[name] = newest
            done = None if first_check else sync_in_tick(settings_of_tenant(name), name, context.log.info)
            if done is not None:
                synced.append(materialisation(done))
                skipped.append(f"{name}: the Capsule change of {newest} was synced in this tick.")
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{RUN_KEY_PREFIX}{name}-{newest}",
                    partition_key=name,
                    tags={
                        "capsule_xero/trigger": "capsule_changes_sensor",
                        "capsule_xero/capsule_change": newest,
                        **tenant_tags(name),
                    },
                )
            )
        return every_tenants_tick(requests, skipped, watermarks, context.log.warning, synced)

    return check_tenants


def polling_sensor(poll_seconds: int, tenants: Sequence[str] | None = None) -> dg.SensorDefinition:
    """``capsule_changes_sensor``, checking every ``poll_seconds``; on from a fresh install. With
    ``tenants`` (the partitions' names), it checks each client's Capsule."""
    return dg.SensorDefinition(
        name="capsule_changes_sensor",
        evaluation_fn=check_capsule if tenants is None else check_every_tenant(tenants),
        job_name=JOB_NAME,
        minimum_interval_seconds=poll_seconds,
        # Polling is the near-real-time path that needs no public URL: on from a fresh install. What its
        # runs write stays a dry run until CAPSULE_XERO_APPLY=true, and big plans wait for approval.
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "On by default: every CAPSULE_POLL_SECONDS (20 s unless set) it asks Capsule whether a party "
            "changed or was deleted (two small requests, at most 360 of Capsule's 4,000 calls an hour) and "
            "syncs the change in its tick, or starts an incremental sync for a bulk change. It writes to "
            "Xero only once CAPSULE_XERO_APPLY is true, and big plans still wait for approval. Turn it off "
            "here to stop it. See docs/operations.md#running-dagster."
        ),
    )


# At the default interval: what a test or bench/latency.py evaluates outside a code location. The
# code location builds its own from CAPSULE_POLL_SECONDS.
capsule_changes_sensor = polling_sensor(DEFAULT_POLL_SECONDS)
