"""Schedules: the nightly reconciliation at 02:00 in Sydney, on from a fresh install.

With tenants (assets/tenancy.py), one schedule asks for one run per client each night, each for its
partition and tagged with its client, so the run queue takes them one per client.
"""

from collections.abc import Iterator, Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from assets.jobs import nightly_reconciliation_job
from assets.tenancy import tenant_tags
from capsule_xero.schedule_times import NIGHTLY_CRON, SCHEDULE_NAME, SYDNEY

# What the Dagster UI shows beside the schedule, for a bookkeeper as much as for an engineer.
DESCRIPTION = (
    "On by default: every night at 02:00 Sydney time it reads what changed in Capsule and all of Xero, "
    "reconciles them and refreshes the reports, so anything a missed webhook or a stopped check lost shows "
    "up by morning. It never writes to Xero or Capsule. Turn it off here to stop it.\n\n"
    "See docs/operations.md#when-the-automatic-runs-happen-and-what-they-cost."
)


def nightly_reconciliation_schedule_for(
    job: UnresolvedAssetJobDefinition = nightly_reconciliation_job,
    tenants: Sequence[str] | None = None,
) -> dg.ScheduleDefinition:
    """The nightly schedule; with ``tenants``, one run request per client per night."""
    common = {
        "name": SCHEDULE_NAME,
        "cron_schedule": NIGHTLY_CRON,
        # Sydney, not UTC: 02:00 stays 02:00 local through daylight saving, the quiet hour for both systems.
        "execution_timezone": SYDNEY,
        # The safety net catches what a missed webhook or a stopped sensor lost: on from a fresh install,
        # not once someone finds the toggle (it writes nothing, so running unasked is safe).
        "default_status": dg.DefaultScheduleStatus.RUNNING,
        "description": DESCRIPTION,
    }
    if tenants is None:
        return dg.ScheduleDefinition(job=job, **common)
    names = list(tenants)

    def one_run_per_tenant(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        when = context.scheduled_execution_time
        night = when.strftime("%Y-%m-%d") if when else ""
        for name in names:
            yield dg.RunRequest(run_key=f"nightly-{name}-{night}", partition_key=name, tags=tenant_tags(name))

    return dg.ScheduleDefinition(job=job, execution_fn=one_run_per_tenant, **common)


nightly_reconciliation_schedule = nightly_reconciliation_schedule_for()

SCHEDULES = [nightly_reconciliation_schedule]
