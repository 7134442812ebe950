"""Schedules: the nightly reconciliation at 02:00 in Sydney, on from a fresh install."""

import dagster as dg

from assets.jobs import nightly_reconciliation_job

NIGHTLY_CRON = "0 2 * * *"
SYDNEY = "Australia/Sydney"

nightly_reconciliation_schedule = dg.ScheduleDefinition(
    name="nightly_reconciliation_schedule",
    job=nightly_reconciliation_job,
    cron_schedule=NIGHTLY_CRON,
    # Sydney, not UTC: 02:00 stays 02:00 local through daylight saving, the quiet hour for both systems.
    execution_timezone=SYDNEY,
    # The safety net catches what a missed webhook or a stopped sensor lost: on from a fresh install,
    # not once someone finds the toggle (it writes nothing, so running unasked is safe).
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

SCHEDULES = [nightly_reconciliation_schedule]
