"""The one Dagster ``Definitions`` of capsule-xero, built when the code location loads (not on import).

It loads in ``dagster dev`` with no credential set: secrets are read when a step runs, and a missing
one is named then. With a wrong setting it still loads and says what is wrong
(assets/sensors/settings_problems.py).
"""

import dagster as dg
from dagster_dlt import DagsterDltResource

from assets.checks import CHECKS
from assets.ingest import capsule_extract, xero_extract
from assets.jobs import JOBS
from assets.money_checks import MONEY_CHECKS
from assets.reconcile import RECONCILE_ASSETS
from assets.resources import HomeDuckDBResource, RulesResource
from assets.schedules import SCHEDULES
from assets.sensors.alerts import ALERT_SENSORS
from assets.sensors.polling import polling_sensor
from assets.sensors.settings_problems import settings_problems_sensor
from assets.sensors.webhooks import webhook_events_sensor
from assets.staging import STAGING_ASSETS
from assets.writeback import xero_contacts_written
from capsule_xero.settings import startup_check


@dg.definitions
def defs() -> dg.Definitions:
    """Every setting checked and files made private (umask) first: a wrong setting replaces every
    sensor and schedule by the one sensor that names it, and fails any run at its first step."""
    settings, problems = startup_check()
    return dg.Definitions(
        assets=[capsule_extract, xero_extract, *STAGING_ASSETS, *RECONCILE_ASSETS, xero_contacts_written],
        asset_checks=[*CHECKS, *MONEY_CHECKS],
        jobs=JOBS,
        schedules=[] if problems else SCHEDULES,
        sensors=[settings_problems_sensor(problems)]
        if problems
        else [polling_sensor(settings.capsule_poll_seconds), webhook_events_sensor, *ALERT_SENSORS],
        # Every step reads or writes the one DuckDB file, one writer at a time (the "duckdb" pool), so
        # a process per step only adds its start-up: ~10 s each, minutes per incremental sync.
        executor=dg.in_process_executor,
        resources={
            "dlt": DagsterDltResource(),
            # The file in CAPSULE_XERO_HOME, read when a step opens it; its connections hold the
            # home's lock, as the capsule-xero commands do.
            "duckdb": HomeDuckDBResource(),
            # The rules file is read when an asset runs: a mistake in it names its line in that run.
            "rules": RulesResource(),
        },
        metadata={"settings problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))}
        if problems
        else {},
    )
