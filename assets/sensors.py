"""The Capsule polling sensor: starts ``incremental_sync_job`` when a party changed or was deleted.

Each check is the smallest question Capsule answers (FACTS §4): ``GET /parties?since=<cursor>&perPage=1``
and ``GET /parties/deleted?since=<cursor>&perPage=1``. An idle account costs two one-record
requests per check. The cursor is the newest ``updatedAt``/``deletedAt`` seen (ISO text, to the
second): list ordering is undocumented (FACTS §3), so after a hit the sensor asks again from the
timestamp it got, a few times, to reach the newest change. The run key is that watermark, so one
change never starts two runs; a change the sensor has passed is still read, because the run it
started reads from the extract's own cursors after the sensor asked.
"""

from collections.abc import Callable

import dagster as dg
import httpx

from assets.jobs import incremental_sync_job
from capsule_xero.capsule.pacing import CapsuleError, CapsuleRequestRejected, shared_pacer
from capsule_xero.settings import Settings
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
    token = settings.capsule_api_token
    pacer = shared_pacer(settings.capsule_api_url, token, **PACER_OPTIONS)
    headers = {
        "Authorization": f"Bearer {token.reveal()}",
        "Accept": "application/json",
        "User-Agent": "capsule-xero (sensor)",
    }
    with httpx.Client(base_url=settings.capsule_api_url, headers=headers, timeout=REQUEST_TIMEOUT) as client:

        def get(path: str, cursor: str) -> httpx.Response:
            response = pacer.call(
                lambda: client.get(path, params={"since": cursor, "perPage": 1}),
                idempotent=True,
                what=f"GET /{path}",
            )
            if response.status_code in (401, 403):
                raise CapsuleRequestRejected(
                    response.status_code,
                    f"Capsule refused the token (HTTP {response.status_code}): check CAPSULE_API_TOKEN",
                )
            if response.status_code >= 400:
                raise CapsuleRequestRejected(
                    response.status_code, f"Capsule answered GET /{path} with HTTP {response.status_code}"
                )
            return response

        stamps = [
            _newest(get, PARTIES_PATH, "parties", "updatedAt", since),
            # restrictedParties carry no timestamp, so they cannot move a watermark: the next
            # run started for any other reason reads them.
            _newest(get, DELETED_PARTIES_PATH, "parties", "deletedAt", since),
        ]
    found = [stamp for stamp in stamps if stamp]
    return max(found) if found else None


@dg.sensor(
    name="capsule_changes_sensor",
    job=incremental_sync_job,
    minimum_interval_seconds=Settings.from_env(lenient=True).capsule_poll_seconds,
    # Polling is the near-real-time path that needs no public URL: on from a fresh install. What its
    # runs write stays a dry run until CAPSULE_XERO_APPLY=true, and big plans wait for approval.
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Asks Capsule whether a party changed or was deleted since the last change seen "
        "(two one-record requests) and starts an incremental sync when one did."
    ),
)
def capsule_changes_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    settings = Settings.from_env()
    if not settings.capsule_api_token:
        return dg.SkipReason(
            "CAPSULE_API_TOKEN is not set: set it (Capsule → My Preferences → API Authentication "
            "Tokens) in the environment Dagster runs in, and the sensor starts polling."
        )
    since = context.cursor or DELETED_SINCE_START
    try:
        newest = newest_capsule_change(settings, since)
    except CapsuleError as exc:
        # Not a crash: the sensor asks again at the next interval.
        return dg.SkipReason(f"Capsule not checked: {exc}")
    if newest is None:
        return dg.SkipReason(f"No Capsule party changed or deleted after {since}.")
    context.update_cursor(newest)
    return dg.RunRequest(
        run_key=RUN_KEY_PREFIX + newest,
        tags={"capsule_xero/trigger": "capsule_changes_sensor", "capsule_xero/capsule_change": newest},
    )


SENSORS = [capsule_changes_sensor]
