"""The one Dagster ``Definitions`` of capsule-xero.

It loads in ``dagster dev`` with no credential set: secrets are read when an asset runs, and a
missing one is named then. Reconcile and reverse-ETL assets join it as they are built.
"""

import dagster as dg
from dagster_dlt import DagsterDltResource

from assets.alerting import SENSORS_ALERTS
from assets.extract import capsule_extract, xero_extract
from assets.jobs import JOBS, SCHEDULES
from assets.reconciling import RECONCILE_ASSETS, RECONCILE_CHECKS
from assets.resources import HomeDuckDBResource, RulesResource
from assets.sensors import SENSORS
from assets.settings_check import settings_sensor
from assets.staging import (
    capsule_parties_follow_the_row_rules,
    staging_capsule_parties,
    staging_quarantine,
    staging_xero_contacts,
)
from assets.webhook_sensor import SENSORS_WEBHOOKS
from assets.writing import xero_contacts_written
from capsule_xero.settings import startup_check

# Every setting checked and CAPSULE_XERO_HOME made private before anything runs; with a wrong one the
# location still loads, and says what is wrong (assets/settings_check.py).
settings, SETTINGS_PROBLEMS = startup_check()

defs = dg.Definitions(
    assets=[
        capsule_extract,
        xero_extract,
        staging_capsule_parties,
        staging_xero_contacts,
        staging_quarantine,
        *RECONCILE_ASSETS,
        xero_contacts_written,
    ],
    jobs=JOBS,
    schedules=[] if SETTINGS_PROBLEMS else SCHEDULES,
    sensors=(
        [settings_sensor(SETTINGS_PROBLEMS)]
        if SETTINGS_PROBLEMS
        else [*SENSORS, *SENSORS_WEBHOOKS, *SENSORS_ALERTS]
    ),
    asset_checks=[capsule_parties_follow_the_row_rules, *RECONCILE_CHECKS],
    # Every step reads or writes the one DuckDB file, one writer at a time (the "duckdb" pool), so
    # a process per step only adds its start-up: ~10 s each, minutes per incremental sync.
    executor=dg.in_process_executor,
    resources={
        "dlt": DagsterDltResource(),
        # The path holds no secret; CAPSULE_XERO_HOME defaults to ./.capsule-xero.
        # Its connections hold CAPSULE_XERO_HOME's lock, as the capsule-xero commands do.
        "duckdb": HomeDuckDBResource(database=str(settings.duckdb_path)),
        # The rules file is read when an asset runs: a mistake in it names its line in that run.
        "rules": RulesResource(),
    },
    metadata={"settings problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in SETTINGS_PROBLEMS))}
    if SETTINGS_PROBLEMS
    else {},
)
