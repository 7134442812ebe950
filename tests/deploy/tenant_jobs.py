"""A small code location for the deploy tests: one job each tenant's runs execute and a nightly schedule,
loaded by Dagster's code server the way the services load `assets.definitions`."""

import dagster as dg


@dg.op
def reconcile(context: dg.OpExecutionContext) -> None:
    context.log.info("reconciled")


# One process per run, no subprocess per step: these runs are about the queue, not the executor.
@dg.job(executor_def=dg.in_process_executor)
def sync_tenant() -> None:
    reconcile()


nightly_sync = dg.ScheduleDefinition(
    name="nightly_sync", job=sync_tenant, cron_schedule="0 2 * * *", execution_timezone="Australia/Sydney"
)

defs = dg.Definitions(jobs=[sync_tenant], schedules=[nightly_sync])
