"""The one Dagster ``Definitions`` of capsule-xero, built when the code location loads (not on import).

It loads in ``dagster dev`` with no credential set: secrets are read when a step runs, and a missing
one is named then. With a wrong setting it still loads and says what is wrong
(assets/sensors/settings_problems.py).

With a tenants file, every asset, check and job is partitioned by the clients' names, and the
schedule and sensors ask for one run per client (assets/tenancy.py); without one, nothing changes.
"""

import warnings

import dagster as dg
from dagster_dlt import DagsterDltResource

from assets.approval import approve_and_apply_plan_job
from assets.checks import build_checks
from assets.ingest import capsule_extract, xero_extract
from assets.jobs import NIGHTLY_RECONCILIATION, build_jobs
from assets.money_checks import build_money_checks
from assets.queues import build_queue_checks, build_release_job
from assets.reconcile import RECONCILE_ASSETS
from assets.resources import HomeDuckDBResource, RulesResource
from assets.schedules import nightly_reconciliation_schedule_for
from assets.sensors.alerts import alert_on_failed_run, alerts_sensor, tenants_alerts_sensor
from assets.sensors.daily_limit import daily_limit_sensor
from assets.sensors.polling import polling_sensor
from assets.sensors.settings_problems import settings_problems_sensor
from assets.sensors.webhooks import webhook_sensor
from assets.staging import STAGING_ASSETS
from assets.tenancy import tenant_partitions
from assets.writeback import xero_contacts_written
from capsule_xero.settings import startup_check
from capsule_xero.tenants import TenantsError

ASSETS = [capsule_extract, xero_extract, *STAGING_ASSETS, *RECONCILE_ASSETS, xero_contacts_written]


def partitioned(
    assets: list[dg.AssetsDefinition], partitions_def: dg.PartitionsDefinition | None
) -> list[dg.AssetsDefinition]:
    """Every asset partitioned by ``partitions_def`` (the clients); as they are without one."""
    if partitions_def is None:
        return assets
    return [
        asset.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions_def))
        for asset in assets
    ]


@dg.definitions
def defs() -> dg.Definitions:
    """Every setting checked and files made private (umask) first: a wrong setting replaces every
    sensor and schedule by the one sensor that names it, and fails any run at its first step."""
    settings, problems = startup_check()
    try:
        partitions_def = tenant_partitions()
    except TenantsError as error:
        # A broken tenants file is a wrong setting like the others: no run could pick a client.
        partitions_def, problems = None, [*problems, *error.problems]
    tenants = None if partitions_def is None else partitions_def.get_partition_keys()
    jobs = build_jobs(partitions_def)
    nightly_job = next(job for job in jobs if job.name == NIGHTLY_RECONCILIATION)
    sensors = [
        polling_sensor(settings.capsule_poll_seconds, tenants),
        webhook_sensor(tenants=tenants),
        alerts_sensor if tenants is None else tenants_alerts_sensor(tenants),
        alert_on_failed_run,
        daily_limit_sensor(tenants),
    ]
    with warnings.catch_warnings():
        # Checks with partitions are a preview in Dagster 1.13 (the warning says so at every load):
        # without them a client's run could not check that client's tables.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        checks = [
            *build_checks(partitions_def),
            *build_money_checks(partitions_def),
            *build_queue_checks(partitions_def),
        ]
    return dg.Definitions(
        assets=partitioned(ASSETS, partitions_def),
        asset_checks=checks,
        jobs=[*jobs, approve_and_apply_plan_job(partitions_def), build_release_job(partitions_def)],
        schedules=[] if problems else [nightly_reconciliation_schedule_for(nightly_job, tenants)],
        sensors=[settings_problems_sensor(problems)] if problems else sensors,
        # Every step reads or writes the one DuckDB file, one writer at a time (the "duckdb" pool), so
        # a process per step only adds its start-up: ~10 s each, minutes per incremental sync.
        executor=dg.in_process_executor,
        resources={
            "dlt": DagsterDltResource(),
            # The file in CAPSULE_XERO_HOME (with tenants, the run's client's), read when a step opens
            # it; its connections hold the home's lock, as the capsule-xero commands do.
            "duckdb": HomeDuckDBResource(),
            # The rules file is read when an asset runs: a mistake in it names its line in that run.
            "rules": RulesResource(),
        },
        metadata={"settings problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))}
        if problems
        else {},
    )
