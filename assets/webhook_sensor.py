"""``webhook_events_sensor``: spooled webhook events (capsule_xero/spool.py) become ``incremental_sync`` runs.

Events are hints (FACTS Capsule §12: keep polling with ``since``; Xero events are thin), so a batch of
any size asks for one incremental run; the run reads what changed itself. The run key is the newest
event's file name: a re-evaluation of the same batch cannot launch a second run. Consumed files move
to ``spool/done/`` (where they also make a later replay of the same event a duplicate). If the daemon
died between moving the files and launching the run, the next scheduled or hook-triggered
incremental sync still reads the change: nothing is lost that ``since`` polling does not catch.
"""

import json

import dagster as dg

from capsule_xero.settings import Settings
from capsule_xero.spool import Spool

JOB_NAME = "incremental_sync_job"
MAX_EVENTS_PER_RUN = 10_000  # a flood (a bulk import firing thousands of hooks) is still one run per batch


def _spool() -> Spool:
    # Read at evaluation time: CAPSULE_XERO_HOME may differ between the code server and a test.
    return Spool.at_home(Settings.from_env().home)


def _total(cursor: str | None) -> int:
    """Events turned into runs so far (the cursor is informational: the spool itself is the state)."""
    try:
        return int(json.loads(cursor or "{}").get("total", 0))
    except (ValueError, TypeError, AttributeError):
        return 0


@dg.sensor(
    name="webhook_events_sensor",
    job_name=JOB_NAME,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns Xero webhooks and Capsule REST hooks spooled by `capsule-xero webhooks serve` "
    "into incremental sync runs.",
)
def webhook_events_sensor(context: dg.SensorEvaluationContext):
    spool = _spool()
    batch = spool.pending()[:MAX_EVENTS_PER_RUN]
    if not batch:
        return dg.SkipReason(f"no new webhook events in {spool.root}")
    sources: dict[str, int] = {}
    for path in batch:
        source = path.name.split("-", 1)[0]
        sources[source] = sources.get(source, 0) + 1
    newest = batch[-1].stem
    run = dg.RunRequest(
        run_key=newest,
        tags={
            "capsule_xero/trigger": "webhooks",
            "capsule_xero/webhook_events": str(len(batch)),
            "capsule_xero/webhook_sources": ",".join(f"{s}:{n}" for s, n in sorted(sources.items())),
        },
    )
    spool.mark_done(batch)
    context.log.info(
        f"{len(batch)} webhook event(s) → one {JOB_NAME} run ({run.tags['capsule_xero/webhook_sources']})"
    )
    return dg.SensorResult(
        run_requests=[run],
        cursor=json.dumps(
            {"newest": newest, "events": len(batch), "total": _total(context.cursor) + len(batch)}
        ),
    )


SENSORS_WEBHOOKS = [webhook_events_sensor]
